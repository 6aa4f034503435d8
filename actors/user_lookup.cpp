#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <vector>

#include "actors/launcher.hpp"
#include "actors/user_cache.hpp"
#include "common/strings.hpp"

// The user lookups of actors/launcher.hpp, apart from launch() so that a
// static stoa-http-executor (slave/CMakeLists.txt), which never switches
// users, does not link glibc's NSS (getpwnam_r, getgrouplist).

namespace stoa {

Try<UserIds> lookup_user_uncached(const std::string& user) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<size_t>(size) : 16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  int err = 0;
  while ((err = ::getpwnam_r(user.c_str(), &pw, buffer.data(), buffer.size(), &found)) == ERANGE) {
    buffer.resize(buffer.size() * 2);
  }
  if (err != 0) {
    return Error("cannot look up user '" + user + "': " + errno_text(err));
  }
  if (found == nullptr) {
    return Error("user '" + user + "' does not exist");
  }
  UserIds ids;
  ids.uid = pw.pw_uid;
  ids.gid = pw.pw_gid;
  ids.home = pw.pw_dir != nullptr ? pw.pw_dir : "";
  int count = 16;
  std::vector<gid_t> groups(static_cast<size_t>(count));
  while (::getgrouplist(user.c_str(), pw.pw_gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<size_t>(count) + 16);
    count = static_cast<int>(groups.size());
  }
  groups.resize(static_cast<size_t>(count));
  ids.groups = std::move(groups);
  return ids;
}

Try<UserIds> lookup_user(const std::string& user) {
  static UserCache cache(lookup_user_uncached, {"/etc/passwd", "/etc/group"}, USER_CACHE_LIFETIME);
  return cache.get(user);
}

}  // namespace stoa
