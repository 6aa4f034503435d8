#pragma once
// Reliable status-update streams (Mesos' task status update manager), as a
// plain class the slave actor drives. One stream per (framework, task):
// strictly FIFO, one update in flight; the next update is forwarded only
// after the master acknowledges the head. Duplicates (same uuid) are
// ignored; an acknowledgement that does not match the head is ignored.
// A duplicate is an executor's retry of an update the slave took but whose
// acknowledgement the executor did not get (a restart in between): one of
// the stream's last updates. So a stream remembers the uuids of its queued
// updates and of the last RECENT_UUIDS before them, not every uuid it ever
// saw: a task whose health checks send TASK_RUNNING every few seconds for
// months would otherwise grow its set, and its insert cost, without bound.
// Retrying is the caller's: it re-sends `head()` of the streams that
// UpdateRetries (below) says are due, with backoff
// (STATUS_UPDATE_RETRY_INTERVAL_MIN doubling to _MAX).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/messages.pb.h"

namespace stoa::slave {

constexpr auto STATUS_UPDATE_RETRY_INTERVAL_MIN = std::chrono::seconds(10);
constexpr auto STATUS_UPDATE_RETRY_INTERVAL_MAX = std::chrono::minutes(10);

// A uuid a stream remembers: a valid one (16 bytes) or any up to 16 bytes
// inline, zero-padded, compared as two words; a longer one (an executor's
// malformed uuid, a checkpoint's) in a string of its own.
class RememberedUuid {
 public:
  RememberedUuid() = default;
  explicit RememberedUuid(const std::string& uuid);
  bool operator==(const RememberedUuid& o) const {
    return size_ == o.size_ && words_[0] == o.words_[0] && words_[1] == o.words_[1] &&
           (size_ <= INLINE || *spilled_ == *o.spilled_);
  }
  // 16 bits of a hash of the uuid (equal uuids, equal fingerprints),
  // scanned first: 64 of them fill two cache lines.
  uint16_t fingerprint() const {
    uint64_t h = (words_[0] ^ (words_[1] * 0x9E3779B97F4A7C15ull) ^ size_) * 0xD6E8FEB86659FD93ull;
    return static_cast<uint16_t>(h >> 48);
  }

 private:
  static constexpr size_t INLINE = 16;
  uint64_t words_[2] = {0, 0};
  size_t size_ = 0;
  std::unique_ptr<const std::string> spilled_;  // size_ > INLINE only
};

// A FIFO queue in one growing array whose popped elements are not
// destroyed: the next push gets the slot back (`push()`), with what its
// last occupant allocated, for the caller to overwrite. A stream's queue
// holds one update most of the time; a std::deque constructed and
// destroyed every update (a dozen allocations of its protobuf fields and
// strings each), and a chunk every few, where a protobuf copy into a kept
// slot reuses them (#17).
template <class T>
class SlotQueue {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& front() { return slots_[head_]; }
  const T& front() const { return slots_[head_]; }
  // The i-th from the front (REQUIRES: i < size()).
  T& operator[](size_t i) { return slots_[physical(i)]; }
  const T& operator[](size_t i) const { return slots_[physical(i)]; }
  // Whether f(slot) is true for an element's slot, front to back (two
  // runs of the array, without a division per element). Two queues pushed
  // and popped together have their elements in the same slots.
  template <class F>
  bool any_slot(F f) const {
    const size_t first = std::min(size_, slots_.size() - head_);
    for (size_t i = head_; i < head_ + first; ++i) {
      if (f(i)) {
        return true;
      }
    }
    for (size_t i = 0; i < size_ - first; ++i) {
      if (f(i)) {
        return true;
      }
    }
    return false;
  }
  const T& slot(size_t index) const { return slots_[index]; }
  // The slot after the last, now part of the queue: a default T or what a
  // popped element left there.
  T& push() {
    if (size_ == slots_.size()) {
      grow();
    }
    ++size_;
    return (*this)[size_ - 1];
  }
  // REQUIRES: !empty(). The front's slot is kept for a later push().
  void pop() {
    head_ = head_ + 1 == slots_.size() ? 0 : head_ + 1;
    --size_;
  }

 private:
  size_t physical(size_t i) const {
    const size_t at = head_ + i;
    return at < slots_.size() ? at : at - slots_.size();
  }
  void grow() {
    std::vector<T> bigger(std::max<size_t>(1, 2 * slots_.size()));
    for (size_t i = 0; i < size_; ++i) {
      bigger[i] = std::move((*this)[i]);
    }
    slots_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<T> slots_;
  size_t head_ = 0;
  size_t size_ = 0;
};

class StatusUpdateManager {
 public:
  using Key = std::pair<std::string, std::string>;  // (framework id, task id)
  // A key's ids where they are (an update's, an acknowledgement's): what a
  // lookup takes, without copying them (a framework id is longer than a
  // string keeps inline: an allocation per Key made).
  using KeyView = std::pair<std::string_view, std::string_view>;
  // Task ids first: a slave's streams mostly share their framework's id
  // (~40 bytes, compared whole at every step of a lookup), their task
  // ids differ at once (#17). Compares Keys and KeyViews alike.
  struct KeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      const int c = std::string_view(a.second).compare(std::string_view(b.second));
      return c != 0 ? c < 0 : std::string_view(a.first) < std::string_view(b.first);
    }
  };
  static constexpr size_t RECENT_UUIDS = 64;

  // Adds an update (REQUIRES: non-empty uuid). Returns true when it became
  // the head of its stream and must be forwarded now; false when it is
  // queued behind an unacknowledged update or is a duplicate.
  bool update(const internal::StatusUpdate& u);

  // Rebuilds a stream from its checkpoint (slave recovery): `updates` in the
  // order received, of which the first `acknowledged` were acknowledged. The
  // rest is pending again (its head must be forwarded once registered).
  // Nothing is kept once a terminal update was acknowledged.
  void recover(const std::vector<internal::StatusUpdate>& updates, size_t acknowledged);

  // Handles the master's acknowledgement. Returns the next update to
  // forward, if any. Sets *matched to whether `uuid` was the head's.
  std::optional<internal::StatusUpdate> acknowledge(const std::string& framework_id,
                                                    const std::string& task_id,
                                                    const std::string& uuid, bool* matched);

  // Whether `key`'s stream remembers `uuid` (queued, or one of the last
  // RECENT_UUIDS before them): an update with it would be a duplicate.
  bool remembers(KeyView key, const std::string& uuid) const;

  // The head (in flight) of a stream, if any.
  const internal::StatusUpdate* head(KeyView key) const;
  std::vector<Key> streams() const;
  // True once a stream's terminal update has been acknowledged (the stream
  // is then gone) or never existed.
  bool done(KeyView key) const { return streams_.find(key) == streams_.end(); }
  // Drops every stream of a framework (framework removed).
  void remove_framework(const std::string& framework_id);
  size_t pending(KeyView key) const;

 private:
  struct Stream {
    SlotQueue<internal::StatusUpdate> queue;  // front = in flight
    // The uuids remembered (above), in the order received: the last
    // queue.size() are the queued updates'.
    // Kept inline (RememberedUuid) and scanned: at most 64 + the queued
    // most of the time, where a hash set (and a second copy in the order)
    // cost three allocations per update and ~130 bytes per uuid, which the
    // slave simulator's 20,000 streams paid in CPU and page faults (#17).
    // The scan reads their fingerprints, 2 bytes each side by side, and a
    // whole RememberedUuid (32) only where one matches: the streams of a
    // busy slave are rarely in the cache, and a scan of the RememberedUuids
    // themselves read 2 KiB per update (#17).
    SlotQueue<RememberedUuid> order;
    SlotQueue<uint16_t> fingerprints;  // order's, in the same slots
    bool terminated = false;
    // Remembers `uuid`; false if it is remembered already.
    bool receive(const std::string& uuid);
    bool remembers(const std::string& uuid) const;
  };
  std::map<Key, Stream, KeyLess> streams_;
};

// When each stream's forwarded head is re-sent unless acknowledged first:
// one deadline per stream, kept in one ordered queue, so that the slave
// arms a single timer (for the earliest) instead of one per update. A
// timer per update cost a push to CAF's clock thread when forwarded and a
// tick into the slave's mailbox ten seconds later, acknowledged or not:
// at hundreds of updates a second, two thread wake-ups each (#17).
class UpdateRetries {
 public:
  using Key = StatusUpdateManager::Key;
  using TimePoint = std::chrono::steady_clock::time_point;
  using Interval = std::chrono::steady_clock::duration;

  struct Due {
    Key key;
    std::string uuid;
    Interval interval;  // the wait that just ended
  };

  // `uuid`, the head of `key`'s stream, was sent at `now`: it is due after
  // `interval` (replacing what the stream had).
  void sent(const Key& key, const std::string& uuid, TimePoint now, Interval interval);
  // The stream's head was acknowledged (or the stream is gone).
  void acknowledged(StatusUpdateManager::KeyView key);
  // Removes and returns the entries due at `now`, earliest first.
  std::vector<Due> take_due(TimePoint now);
  // The earliest deadline, if any.
  std::optional<TimePoint> next() const;
  size_t size() const { return entries_.size(); }

  // The wait after `interval`: doubled, at most STATUS_UPDATE_RETRY_INTERVAL_MAX.
  static Interval backoff(Interval interval);

 private:
  using Queue = std::multimap<TimePoint, Key>;
  struct Entry {
    std::string uuid;
    Interval interval;
    Queue::iterator at;
  };
  Queue queue_;
  std::map<Key, Entry, StatusUpdateManager::KeyLess> entries_;
};

}  // namespace stoa::slave
