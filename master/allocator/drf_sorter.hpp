#pragma once
// DRF sorter (Mesos `DRFSorter`, flat): clients ordered by ascending
// weighted dominant share, then ascending number of allocations received,
// then name.
//
// Incremental: active clients live in an ordered set keyed by (share,
// count, name). allocated()/unallocated()/update_weight() re-key one client
// in O(log n) without allocating (node extract/insert). Only set_total()
// changes every share; it marks the order dirty and the next sort()/visit()
// rebuilds it once, so adding 50k slaves costs no re-sorting.

#include <set>
#include <unordered_map>

#include "master/allocator/shares.hpp"
#include "master/allocator/sorter.hpp"

namespace stoa::allocator {

class DrfSorter final : public Sorter {
 public:
  DrfSorter() = default;

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
  struct Client;
  struct Key {
    double share;
    uint64_t count;
    Client* client;
  };
  struct Less {
    bool operator()(const Key& a, const Key& b) const;
  };
  using Order = std::set<Key, Less>;
  struct Client {
    std::string name;
    double weight = 1.0;
    bool active = true;
    uint64_t count = 0;
    std::vector<int64_t> alloc;
    Order::iterator pos;  // Valid iff active && !dirty_.
  };

  Client* find(const std::string& client) const;
  double compute_share(const Client& c) const;
  // Re-keys an active client after its share or count changed.
  void rekey(Client& c);
  void rebuild();

  Shares shares_;
  std::unordered_map<std::string, std::unique_ptr<Client>> clients_;
  Order order_;
  bool dirty_ = false;
};

}  // namespace stoa::allocator
