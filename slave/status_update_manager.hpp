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
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "proto/messages.pb.h"

namespace stoa::slave {

constexpr auto STATUS_UPDATE_RETRY_INTERVAL_MIN = std::chrono::seconds(10);
constexpr auto STATUS_UPDATE_RETRY_INTERVAL_MAX = std::chrono::minutes(10);

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
    std::deque<std::string> order;
    // Hashed, never scanned: libstdc++ compares a std::hash<std::string>
    // set of up to 20 strings one by one (memcmp of each) instead of
    // hashing; a hasher of our own is taken as cheap and always used. A
    // uuid's set held ~20 most of the time: its scan was ~10 % of the slave
    // simulator's CPU under the status update flood (#17).
    struct UuidHash {
      size_t operator()(const std::string& uuid) const noexcept { return std::hash<std::string_view>{}(uuid); }
    };
    std::unordered_set<std::string, UuidHash> received;
    bool terminated = false;
    // Remembers `uuid`; false if it is remembered already.
    bool receive(const std::string& uuid);
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
