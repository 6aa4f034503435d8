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

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
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
  explicit RememberedUuid(const std::string& uuid);
  bool operator==(const RememberedUuid& o) const {
    return size_ == o.size_ && words_[0] == o.words_[0] && words_[1] == o.words_[1] &&
           (size_ <= INLINE || *spilled_ == *o.spilled_);
  }

 private:
  static constexpr size_t INLINE = 16;
  uint64_t words_[2] = {0, 0};
  size_t size_ = 0;
  std::unique_ptr<const std::string> spilled_;  // size_ > INLINE only
};

class StatusUpdateManager {
 public:
  using Key = std::pair<std::string, std::string>;  // (framework id, task id)
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
  bool remembers(const Key& key, const std::string& uuid) const;

  // The head (in flight) of a stream, if any.
  const internal::StatusUpdate* head(const Key& key) const;
  std::vector<Key> streams() const;
  // True once a stream's terminal update has been acknowledged (the stream
  // is then gone) or never existed.
  bool done(const Key& key) const { return streams_.count(key) == 0; }
  // Drops every stream of a framework (framework removed).
  void remove_framework(const std::string& framework_id);
  size_t pending(const Key& key) const;

 private:
  struct Stream {
    std::deque<internal::StatusUpdate> queue;  // front = in flight
    // The uuids remembered (above), in the order received: the last
    // queue.size() are the queued updates'.
    // Kept inline (RememberedUuid) and scanned: at most 64 + the queued
    // most of the time, where a hash set (and a second copy in the order)
    // cost three allocations per update and ~130 bytes per uuid, which the
    // slave simulator's 20,000 streams paid in CPU and page faults (#17).
    std::deque<RememberedUuid> order;
    bool terminated = false;
    // Remembers `uuid`; false if it is remembered already.
    bool receive(const std::string& uuid);
    bool remembers(const std::string& uuid) const;
  };
  std::map<Key, Stream> streams_;
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
  void acknowledged(const Key& key);
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
  std::map<Key, Entry> entries_;
};

}  // namespace stoa::slave
