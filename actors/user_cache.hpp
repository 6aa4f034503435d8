#pragma once
// What lookup_user() (actors/launcher.hpp) found, kept for a short while.
// A launch looks its user up twice (the containerizer for the sandbox's
// owner, the launcher for the child's ids): getpwnam_r and getgrouplist
// read and parse /etc/passwd and /etc/group and ask every NSS module
// (libnss_systemd's among them) each time — 3 % of the slave's CPU at 450
// launches a second (#17, session 27). An entry is used again only while
// it is younger than the cache's lifetime (10 s: a user added, removed or
// regrouped through a non-file NSS source shows within that) and the files
// it was read from are unchanged (inode, size and modification time of
// /etc/passwd and /etc/group: a local change shows at once). Failed
// lookups are not kept. Thread-safe: launches look users up from their
// own threads.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "actors/launcher.hpp"

namespace stoa {

class UserCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Lookup = std::function<Try<UserIds>(const std::string&)>;

  // `files`: whose change drops every entry; `now`: the clock (tests).
  UserCache(Lookup lookup, std::vector<std::string> files, Clock::duration lifetime,
            std::function<Clock::time_point()> now = Clock::now);

  Try<UserIds> get(const std::string& user);

 private:
  struct FileState {
    ino_t ino = 0;
    off_t size = -1;
    int64_t mtime_ns = -1;
    bool operator==(const FileState&) const = default;
  };
  std::vector<FileState> file_states() const;

  struct Entry {
    UserIds ids;
    Clock::time_point fetched;
  };
  Lookup lookup_;
  std::vector<std::string> files_;
  Clock::duration lifetime_;
  std::function<Clock::time_point()> now_;
  std::mutex mutex_;
  std::vector<FileState> seen_;  // the files' states when the entries were read
  std::map<std::string, Entry> entries_;
};

}  // namespace stoa
