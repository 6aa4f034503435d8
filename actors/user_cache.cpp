#include "actors/user_cache.hpp"

#include <sys/stat.h>

namespace stoa {

UserCache::UserCache(Lookup lookup, std::vector<std::string> files, Clock::duration lifetime,
                     std::function<Clock::time_point()> now)
    : lookup_(std::move(lookup)), files_(std::move(files)), lifetime_(lifetime), now_(std::move(now)) {}

std::vector<UserCache::FileState> UserCache::file_states() const {
  std::vector<FileState> states;
  for (const std::string& file : files_) {
    struct stat st {};
    FileState s;  // a missing file has the default state
    if (::stat(file.c_str(), &st) == 0) {
      s.ino = st.st_ino;
      s.size = st.st_size;
      s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    }
    states.push_back(s);
  }
  return states;
}

Try<UserIds> UserCache::get(const std::string& user) {
  std::vector<FileState> states = file_states();  // before the lookup: a change during it drops the entry next time
  const Clock::time_point now = now_();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (states != seen_) {
      entries_.clear();
      seen_ = states;
    }
    auto it = entries_.find(user);
    if (it != entries_.end() && now - it->second.fetched < lifetime_) {
      return it->second.ids;
    }
  }
  Try<UserIds> ids = lookup_(user);  // outside the lock: NSS may be slow
  if (ids.is_some()) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (states == seen_) {
      entries_[user] = Entry{*ids, now};
    }
  }
  return ids;
}

}  // namespace stoa
