#pragma once
// Random sorter (Mesos `RandomSorter`, flat): every sort()/visit() yields a
// fresh random permutation of the active clients, weighted by weight (a
// client of weight 2 is twice as likely as one of weight 1 to come before
// any given other client, Efraimidis-Spirakis).
//
// With equal weights visit() is a lazy Fisher-Yates shuffle: it costs only
// the clients actually visited. Allocations are tracked for share()/
// allocation() (introspection) but do not affect the order.

#include <random>
#include <unordered_map>

#include "master/allocator/shares.hpp"
#include "master/allocator/sorter.hpp"

namespace stoa::allocator {

class RandomSorter final : public Sorter {
 public:
  explicit RandomSorter(uint64_t seed);

  void add_client(const std::string& client) override;
  void remove_client(const std::string& client) override;
  bool contains(const std::string& client) const override;
  size_t count() const override { return clients_.size(); }
  void activate(const std::string& client) override;
  void deactivate(const std::string& client) override;
  bool is_active(const std::string& client) const override;
  void update_weight(const std::string& client, double weight) override;
  void set_total(const Resources& total) override;
  void allocated(const std::string& client, const Resources& r) override;
  void unallocated(const std::string& client, const Resources& r) override;
  Resources allocation(const std::string& client) const override;
  double share(const std::string& client) const override;
  std::vector<std::string> sort() override;
  void visit(ClientVisitor visit) override;

 private:
  struct Client {
    std::string name;
    double weight = 1.0;
    bool active = true;
    size_t index = 0;  // Position in active_ when active.
    std::vector<int64_t> alloc;
  };

  Client* find(const std::string& client) const;
  void insert_active(Client* c);
  void erase_active(Client* c);

  Shares shares_;
  std::unordered_map<std::string, std::unique_ptr<Client>> clients_;
  std::vector<Client*> active_;
  size_t non_unit_weights_ = 0;  // Clients whose weight != 1.
  std::mt19937_64 rng_;
  std::vector<std::pair<double, Client*>> keys_;  // Scratch for weighted shuffles.
};

}  // namespace stoa::allocator
