#include "slave/status_update_manager.hpp"

#include <algorithm>
#include <cstring>

#include "common/task_state.hpp"

namespace stoa::slave {

RememberedUuid::RememberedUuid(const std::string& uuid) : size_(uuid.size()) {
  std::memcpy(words_, uuid.data(), std::min(uuid.size(), INLINE));
  if (size_ > INLINE) {
    spilled_ = std::make_unique<const std::string>(uuid);
  }
}

bool StatusUpdateManager::Stream::remembers(const std::string& uuid) const {
  // Made once per scan (it allocates only for a malformed, longer uuid).
  const RememberedUuid probe(uuid);
  const uint16_t fingerprint = probe.fingerprint();
  return fingerprints.any_slot(
      [&](size_t i) { return fingerprints.slot(i) == fingerprint && order.slot(i) == probe; });
}

bool StatusUpdateManager::Stream::receive(const std::string& uuid) {
  if (remembers(uuid)) {
    return false;
  }
  // The oldest go first; the queued (the last queue.size(), with the one
  // being added) stay. (Before the push: the slots stay as many.)
  while (!order.empty() && order.size() >= std::max(RECENT_UUIDS, queue.size() + 1)) {
    order.pop();
    fingerprints.pop();
  }
  RememberedUuid& slot = order.push();
  slot = RememberedUuid(uuid);
  fingerprints.push() = slot.fingerprint();
  return true;
}

bool StatusUpdateManager::update(const internal::StatusUpdate& u) {
  const KeyView key{u.framework_id().value(), u.status().task_id().value()};
  auto it = streams_.lower_bound(key);
  if (it == streams_.end() || KeyLess()(key, it->first)) {
    it = streams_.emplace_hint(it, std::piecewise_construct, std::forward_as_tuple(key.first, key.second),
                               std::forward_as_tuple());
  }
  Stream& s = it->second;
  if (!s.receive(u.uuid())) {
    return false;  // duplicate
  }
  // Into a kept slot: the copy reuses the fields and strings of the
  // update that last left it.
  s.queue.push().CopyFrom(u);
  return s.queue.size() == 1;
}

bool StatusUpdateManager::remembers(KeyView key, const std::string& uuid) const {
  auto s = streams_.find(key);
  return s != streams_.end() && s->second.remembers(uuid);
}

void StatusUpdateManager::recover(const std::vector<internal::StatusUpdate>& updates, size_t acknowledged) {
  if (updates.empty()) {
    return;
  }
  Key key{updates.front().framework_id().value(), updates.front().status().task_id().value()};
  Stream s;
  for (size_t i = 0; i < updates.size(); ++i) {
    s.receive(updates[i].uuid());
    if (i < acknowledged) {
      s.terminated |= is_terminal_state(updates[i].status().state());
    } else {
      s.queue.push() = updates[i];
    }
  }
  if (s.terminated && s.queue.empty()) {
    streams_.erase(key);
    return;
  }
  streams_[key] = std::move(s);
}

std::optional<internal::StatusUpdate> StatusUpdateManager::acknowledge(
    const std::string& framework_id, const std::string& task_id, const std::string& uuid,
    bool* matched) {
  *matched = false;
  auto it = streams_.find(KeyView{framework_id, task_id});
  if (it == streams_.end() || it->second.queue.empty() || it->second.queue.front().uuid() != uuid) {
    return std::nullopt;
  }
  *matched = true;
  Stream& s = it->second;
  bool terminal = is_terminal_state(s.queue.front().status().state());
  s.queue.pop();
  if (terminal && s.queue.empty()) {
    streams_.erase(it);
    return std::nullopt;
  }
  if (s.queue.empty()) {
    return std::nullopt;
  }
  return s.queue.front();
}

const internal::StatusUpdate* StatusUpdateManager::head(KeyView key) const {
  auto it = streams_.find(key);
  if (it == streams_.end() || it->second.queue.empty()) {
    return nullptr;
  }
  return &it->second.queue.front();
}

std::vector<StatusUpdateManager::Key> StatusUpdateManager::streams() const {
  std::vector<Key> keys;
  for (const auto& [k, s] : streams_) {
    keys.push_back(k);
  }
  return keys;
}

void StatusUpdateManager::remove_framework(const std::string& framework_id) {
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (it->first.first == framework_id) {
      it = streams_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t StatusUpdateManager::pending(KeyView key) const {
  auto it = streams_.find(key);
  return it == streams_.end() ? 0 : it->second.queue.size();
}

void UpdateRetries::sent(const Key& key, const std::string& uuid, TimePoint now, Interval interval) {
  auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted) {
    queue_.erase(it->second.at);
  }
  it->second.uuid = uuid;
  it->second.interval = interval;
  it->second.at = queue_.emplace(now + interval, key);
}

void UpdateRetries::acknowledged(StatusUpdateManager::KeyView key) {
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    queue_.erase(it->second.at);
    entries_.erase(it);
  }
}

std::vector<UpdateRetries::Due> UpdateRetries::take_due(TimePoint now) {
  std::vector<Due> due;
  while (!queue_.empty() && queue_.begin()->first <= now) {
    auto it = entries_.find(queue_.begin()->second);
    due.push_back({it->first, std::move(it->second.uuid), it->second.interval});
    queue_.erase(queue_.begin());
    entries_.erase(it);
  }
  return due;
}

std::optional<UpdateRetries::TimePoint> UpdateRetries::next() const {
  if (queue_.empty()) {
    return std::nullopt;
  }
  return queue_.begin()->first;
}

UpdateRetries::Interval UpdateRetries::backoff(Interval interval) {
  return std::min<Interval>(interval * 2, STATUS_UPDATE_RETRY_INTERVAL_MAX);
}

}  // namespace stoa::slave
