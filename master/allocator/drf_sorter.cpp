#include "master/allocator/drf_sorter.hpp"

namespace stoa::allocator {

bool DrfSorter::Less::operator()(const Key& a, const Key& b) const {
  if (a.share != b.share) {
    return a.share < b.share;
  }
  if (a.count != b.count) {
    return a.count < b.count;
  }
  return a.client->name < b.client->name;
}

DrfSorter::Client* DrfSorter::find(const std::string& client) const {
  auto it = clients_.find(client);
  return it == clients_.end() ? nullptr : it->second.get();
}

double DrfSorter::compute_share(const Client& c) const { return shares_.dominant(c.alloc) / c.weight; }

void DrfSorter::add_client(const std::string& client) {
  if (clients_.count(client) != 0) {
    return;
  }
  auto c = std::make_unique<Client>();
  c->name = client;
  Client* raw = c.get();
  clients_.emplace(client, std::move(c));
  if (!dirty_) {
    raw->pos = order_.insert(Key{compute_share(*raw), raw->count, raw}).first;
  }
}

void DrfSorter::remove_client(const std::string& client) {
  auto it = clients_.find(client);
  if (it == clients_.end()) {
    return;
  }
  if (it->second->active && !dirty_) {
    order_.erase(it->second->pos);
  }
  clients_.erase(it);
}

bool DrfSorter::contains(const std::string& client) const { return clients_.count(client) != 0; }

void DrfSorter::activate(const std::string& client) {
  Client* c = find(client);
  if (c == nullptr || c->active) {
    return;
  }
  c->active = true;
  if (!dirty_) {
    c->pos = order_.insert(Key{compute_share(*c), c->count, c}).first;
  }
}

void DrfSorter::deactivate(const std::string& client) {
  Client* c = find(client);
  if (c == nullptr || !c->active) {
    return;
  }
  c->active = false;
  if (!dirty_) {
    order_.erase(c->pos);
  }
}

bool DrfSorter::is_active(const std::string& client) const {
  Client* c = find(client);
  return c != nullptr && c->active;
}

void DrfSorter::rekey(Client& c) {
  if (!c.active || dirty_) {
    return;
  }
  auto node = order_.extract(c.pos);
  node.value().share = compute_share(c);
  node.value().count = c.count;
  c.pos = order_.insert(std::move(node)).position;
}

void DrfSorter::update_weight(const std::string& client, double weight) {
  Client* c = find(client);
  if (c == nullptr || !(weight > 0)) {
    return;
  }
  c->weight = weight;
  rekey(*c);
}

void DrfSorter::set_total(const Resources& total) {
  if (shares_.set_total(total)) {
    dirty_ = true;
    order_.clear();
  }
}

void DrfSorter::allocated(const std::string& client, const Resources& r) {
  Client* c = find(client);
  if (c == nullptr) {
    return;
  }
  shares_.add(c->alloc, r, +1);
  ++c->count;
  rekey(*c);
}

void DrfSorter::unallocated(const std::string& client, const Resources& r) {
  Client* c = find(client);
  if (c == nullptr) {
    return;
  }
  shares_.add(c->alloc, r, -1);
  rekey(*c);
}

Resources DrfSorter::allocation(const std::string& client) const {
  Client* c = find(client);
  return c == nullptr ? Resources() : shares_.to_resources(c->alloc);
}

double DrfSorter::share(const std::string& client) const {
  Client* c = find(client);
  return c == nullptr ? 0.0 : compute_share(*c);
}

void DrfSorter::rebuild() {
  order_.clear();
  for (auto& [name, c] : clients_) {
    if (c->active) {
      c->pos = order_.insert(Key{compute_share(*c), c->count, c.get()}).first;
    }
  }
  dirty_ = false;
}

std::vector<std::string> DrfSorter::sort() {
  if (dirty_) {
    rebuild();
  }
  std::vector<std::string> out;
  out.reserve(order_.size());
  for (const Key& k : order_) {
    out.push_back(k.client->name);
  }
  return out;
}

void DrfSorter::visit(ClientVisitor visit) {
  if (dirty_) {
    rebuild();
  }
  for (const Key& k : order_) {
    if (!visit(k.client->name)) {
      return;
    }
  }
}

}  // namespace stoa::allocator
