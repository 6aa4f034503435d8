#include "master/allocator/random_sorter.hpp"

#include <algorithm>
#include <cmath>

namespace stoa::allocator {

RandomSorter::RandomSorter(uint64_t seed) : rng_(seed) {}

RandomSorter::Client* RandomSorter::find(const std::string& client) const {
  auto it = clients_.find(client);
  return it == clients_.end() ? nullptr : it->second.get();
}

void RandomSorter::insert_active(Client* c) {
  c->index = active_.size();
  active_.push_back(c);
}

void RandomSorter::erase_active(Client* c) {
  Client* last = active_.back();
  active_[c->index] = last;
  last->index = c->index;
  active_.pop_back();
}

void RandomSorter::add_client(const std::string& client) {
  if (clients_.count(client) != 0) {
    return;
  }
  auto c = std::make_unique<Client>();
  c->name = client;
  insert_active(c.get());
  clients_.emplace(client, std::move(c));
}

void RandomSorter::remove_client(const std::string& client) {
  auto it = clients_.find(client);
  if (it == clients_.end()) {
    return;
  }
  if (it->second->active) {
    erase_active(it->second.get());
  }
  if (it->second->weight != 1.0) {
    --non_unit_weights_;
  }
  clients_.erase(it);
}

bool RandomSorter::contains(const std::string& client) const { return clients_.count(client) != 0; }

void RandomSorter::activate(const std::string& client) {
  Client* c = find(client);
  if (c != nullptr && !c->active) {
    c->active = true;
    insert_active(c);
  }
}

void RandomSorter::deactivate(const std::string& client) {
  Client* c = find(client);
  if (c != nullptr && c->active) {
    c->active = false;
    erase_active(c);
  }
}

bool RandomSorter::is_active(const std::string& client) const {
  Client* c = find(client);
  return c != nullptr && c->active;
}

void RandomSorter::update_weight(const std::string& client, double weight) {
  Client* c = find(client);
  if (c == nullptr || !(weight > 0)) {
    return;
  }
  non_unit_weights_ -= c->weight != 1.0 ? 1 : 0;
  c->weight = weight;
  non_unit_weights_ += c->weight != 1.0 ? 1 : 0;
}

void RandomSorter::set_total(const Resources& total) { shares_.set_total(total); }

void RandomSorter::allocated(const std::string& client, const Resources& r) {
  if (Client* c = find(client)) {
    shares_.add(c->alloc, r, +1);
  }
}

void RandomSorter::unallocated(const std::string& client, const Resources& r) {
  if (Client* c = find(client)) {
    shares_.add(c->alloc, r, -1);
  }
}

Resources RandomSorter::allocation(const std::string& client) const {
  Client* c = find(client);
  return c == nullptr ? Resources() : shares_.to_resources(c->alloc);
}

double RandomSorter::share(const std::string& client) const {
  Client* c = find(client);
  return c == nullptr ? 0.0 : shares_.dominant(c->alloc) / c->weight;
}

std::vector<std::string> RandomSorter::sort() {
  std::vector<std::string> out;
  out.reserve(active_.size());
  visit([&out](const std::string& name) {
    out.push_back(name);
    return true;
  });
  return out;
}

void RandomSorter::visit(ClientVisitor visit) {
  bool uniform = non_unit_weights_ == 0;
  if (!uniform) {
    // All active weights may still be equal (e.g. all 2).
    uniform = std::all_of(active_.begin(), active_.end(),
                          [&](const Client* c) { return c->weight == active_.front()->weight; });
  }
  if (uniform) {
    // Lazy Fisher-Yates: position i gets a uniformly chosen remaining client.
    // Any permutation left in active_ is a valid starting point next time.
    for (size_t i = 0; i < active_.size(); ++i) {
      std::uniform_int_distribution<size_t> pick(i, active_.size() - 1);
      size_t j = pick(rng_);
      std::swap(active_[i], active_[j]);
      active_[i]->index = i;
      active_[j]->index = j;
      if (!visit(active_[i]->name)) {
        return;
      }
    }
    return;
  }
  // Weighted: key = log(u) / w, largest first.
  std::uniform_real_distribution<double> unit(std::nextafter(0.0, 1.0), 1.0);
  keys_.clear();
  for (Client* c : active_) {
    keys_.emplace_back(std::log(unit(rng_)) / c->weight, c);
  }
  std::sort(keys_.begin(), keys_.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  // Copy the order first: `visit` must not see our scratch buffer change.
  std::vector<Client*> order;
  order.reserve(keys_.size());
  for (const auto& [key, c] : keys_) {
    order.push_back(c);
  }
  for (Client* c : order) {
    if (!visit(c->name)) {
      return;
    }
  }
}

}  // namespace stoa::allocator
