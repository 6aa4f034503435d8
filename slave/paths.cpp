#include "slave/paths.hpp"
#include "common/strings.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>

namespace stoa::slave {
namespace {

constexpr std::uint64_t MiB = 1024ULL * 1024ULL;
constexpr std::uint64_t GiB = 1024ULL * MiB;
constexpr std::uint64_t MEM_RESERVED = 1 * GiB;        // Left to the OS when total >= 2 GiB.
constexpr std::uint64_t MEM_RESERVE_THRESHOLD = 2 * GiB;
constexpr std::uint64_t MEM_FALLBACK = 1 * GiB;
constexpr std::uint64_t DISK_RESERVED = 5 * GiB;       // Left free when the fs is >= 10 GiB.
constexpr std::uint64_t DISK_RESERVE_THRESHOLD = 10 * GiB;
constexpr std::uint64_t DISK_FALLBACK = 10 * GiB;
constexpr Range DEFAULT_PORTS{31000, 32000};

std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) {
    if (!out.empty() && out.back() != '/') {
      out += '/';
    }
    out += part;
  }
  return out;
}

std::uint64_t total_memory_bytes() {
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) {
    return 0;
  }
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
}

// Size of the filesystem holding `path`, or of its nearest existing ancestor.
std::uint64_t filesystem_bytes(std::string path) {
  if (path.empty()) {
    path = ".";
  }
  while (true) {
    struct statvfs fs {};
    if (::statvfs(path.c_str(), &fs) == 0) {
      return static_cast<std::uint64_t>(fs.f_blocks) * static_cast<std::uint64_t>(fs.f_frsize);
    }
    std::size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) {
      path = ".";
      if (::statvfs(path.c_str(), &fs) == 0) {
        return static_cast<std::uint64_t>(fs.f_blocks) * static_cast<std::uint64_t>(fs.f_frsize);
      }
      return 0;
    }
    if (slash == 0) {
      if (path == "/") {
        return 0;
      }
      path = "/";
    } else {
      path.resize(slash);
    }
  }
}

}  // namespace

std::string sandbox_root(const std::string& work_dir, const std::string& slave_id) {
  return join({work_dir, "slaves", slave_id});
}

std::string executor_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                          const std::string& executor_id) {
  return join({sandbox_root(work_dir, slave_id), "frameworks", framework_id, "executors", executor_id});
}

std::string sandbox_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                         const std::string& executor_id, const std::string& container_id) {
  return join({executor_path(work_dir, slave_id, framework_id, executor_id), "runs", container_id});
}

std::string latest_run_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                            const std::string& executor_id) {
  return join({executor_path(work_dir, slave_id, framework_id, executor_id), "runs", "latest"});
}

std::string virtual_sandbox_path(const std::string& framework_id, const std::string& executor_id) {
  return "/frameworks/" + framework_id + "/executors/" + executor_id + "/runs/latest";
}

std::string meta_root(const std::string& work_dir) { return join({work_dir, "meta"}); }

std::string slave_meta_path(const std::string& work_dir, const std::string& slave_id) {
  return join({meta_root(work_dir), "slaves", slave_id});
}

std::string latest_slave_meta_path(const std::string& work_dir) {
  return join({meta_root(work_dir), "slaves", "latest"});
}

std::string slave_info_path(const std::string& work_dir, const std::string& slave_id) {
  return join({slave_meta_path(work_dir, slave_id), "slave.info"});
}

std::string framework_meta_path(const std::string& work_dir, const std::string& slave_id,
                                const std::string& framework_id) {
  return join({slave_meta_path(work_dir, slave_id), "frameworks", framework_id});
}

std::string executor_meta_path(const std::string& work_dir, const std::string& slave_id,
                               const std::string& framework_id, const std::string& executor_id) {
  return join({framework_meta_path(work_dir, slave_id, framework_id), "executors", executor_id});
}

std::string run_meta_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                          const std::string& executor_id, const std::string& container_id) {
  return join({executor_meta_path(work_dir, slave_id, framework_id, executor_id), "runs", container_id});
}

std::string forked_pid_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                            const std::string& executor_id, const std::string& container_id) {
  return join({run_meta_path(work_dir, slave_id, framework_id, executor_id, container_id), "pids", "forked.pid"});
}

std::string task_meta_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                           const std::string& executor_id, const std::string& container_id,
                           const std::string& task_id) {
  return join({run_meta_path(work_dir, slave_id, framework_id, executor_id, container_id), "tasks", task_id});
}

std::string framework_info_path(const std::string& work_dir, const std::string& slave_id,
                                const std::string& framework_id) {
  return join({framework_meta_path(work_dir, slave_id, framework_id), "framework.info"});
}

std::string framework_pid_path(const std::string& work_dir, const std::string& slave_id,
                               const std::string& framework_id) {
  return join({framework_meta_path(work_dir, slave_id, framework_id), "framework.pid"});
}

std::string executor_info_path(const std::string& work_dir, const std::string& slave_id,
                               const std::string& framework_id, const std::string& executor_id) {
  return join({executor_meta_path(work_dir, slave_id, framework_id, executor_id), "executor.info"});
}

std::string latest_run_meta_path(const std::string& work_dir, const std::string& slave_id,
                                 const std::string& framework_id, const std::string& executor_id) {
  return join({executor_meta_path(work_dir, slave_id, framework_id, executor_id), "runs", "latest"});
}

std::string libprocess_pid_path(const std::string& work_dir, const std::string& slave_id,
                                const std::string& framework_id, const std::string& executor_id,
                                const std::string& container_id) {
  return join({run_meta_path(work_dir, slave_id, framework_id, executor_id, container_id), "pids", "libprocess.pid"});
}

std::string executor_sentinel_path(const std::string& work_dir, const std::string& slave_id,
                                   const std::string& framework_id, const std::string& executor_id,
                                   const std::string& container_id) {
  return join({run_meta_path(work_dir, slave_id, framework_id, executor_id, container_id), "executor.sentinel"});
}

std::string task_info_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                           const std::string& executor_id, const std::string& container_id,
                           const std::string& task_id) {
  return join({task_meta_path(work_dir, slave_id, framework_id, executor_id, container_id, task_id), "task.info"});
}

std::string task_updates_path(const std::string& work_dir, const std::string& slave_id,
                              const std::string& framework_id, const std::string& executor_id,
                              const std::string& container_id, const std::string& task_id) {
  return join({task_meta_path(work_dir, slave_id, framework_id, executor_id, container_id, task_id), "task.updates"});
}

std::optional<Error> validate_path_id(std::string_view what, const std::string& id) {
  if (id.empty()) {
    return Error(std::string(what) + " is empty");
  }
  if (id == "." || id == ".." || id == "latest" || id.find('/') != std::string::npos ||
      id.find('\0') != std::string::npos) {
    return Error(std::string(what) + " '" + id + "' cannot be used as a path component");
  }
  return std::nullopt;
}

Try<bool> mkdirs(const std::string& path) {
  if (path.empty()) {
    return Error("Failed to create directory '': empty path");
  }
  // Create each prefix in turn; an existing directory is fine.
  bool created = false;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    if (prefix.empty() || prefix.back() == '/') {
      continue;
    }
    if (::mkdir(prefix.c_str(), 0755) == 0) {
      created = true;
      continue;
    }
    int err = errno;
    struct stat st {};
    if (err == EEXIST && ::stat(prefix.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        created = false;
        continue;
      }
      return Error("Failed to create directory '" + path + "': '" + prefix + "' exists and is not a directory");
    }
    return Error("Failed to create directory '" + prefix + "': " + errno_text(err));
  }
  return created;
}

Try<bool> DirectoryCache::make(const std::string& path, Stats* stats) {
  Stats local;
  Stats& st = stats != nullptr ? *stats : local;
  if (path.empty() || path[0] != '/') {
    st.mkdir_calls = -1;  // not counted: relative paths bypass the cache
    return mkdirs(path);
  }
  // The deepest remembered ancestor.
  std::size_t start = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t pos = path.rfind('/'); pos != std::string::npos && pos > 0; pos = path.rfind('/', pos - 1)) {
      if (known_.count(path.substr(0, pos)) != 0) {
        start = pos;
        break;
      }
    }
  }
  bool created = false;
  bool stale = false;
  if (start == 0) {
    stale = true;  // nothing known: the plain walk from the root
  }
  for (std::size_t pos = start; !stale && pos != std::string::npos;) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    if (prefix.back() == '/') {
      continue;
    }
    ++st.mkdir_calls;
    if (::mkdir(prefix.c_str(), 0755) == 0) {
      created = true;
      continue;
    }
    ++st.failed;
    struct stat info {};
    if (errno == EEXIST && ::stat(prefix.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      created = false;
      continue;
    }
    stale = true;  // a remembered directory is gone, or an error mkdirs reports best
  }
  if (stale) {
    Try<bool> made = mkdirs(path);
    if (made.is_error()) {
      std::lock_guard<std::mutex> lock(mutex_);
      known_.clear();
      return made;
    }
    created = *made;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (stale || known_.size() >= MAX_KNOWN) {
    known_.clear();
  }
  for (std::size_t pos = path.rfind('/'); pos != std::string::npos && pos > 0; pos = path.rfind('/', pos - 1)) {
    if (!known_.insert(path.substr(0, pos)).second) {
      break;  // its ancestors are known too
    }
  }
  return created;
}

Try<std::string> create_sandbox(const std::string& work_dir, const std::string& slave_id,
                                const std::string& framework_id, const std::string& executor_id,
                                const std::string& container_id, DirectoryCache* cache) {
  static DirectoryCache shared;
  const std::pair<const char*, const std::string*> ids[] = {
      {"Slave id", &slave_id}, {"Framework id", &framework_id}, {"Executor id", &executor_id},
      {"Container id", &container_id}};
  for (const auto& [what, id] : ids) {
    if (std::optional<Error> error = validate_path_id(what, *id)) {
      return Error("Failed to create sandbox: " + error->message);
    }
  }
  std::string sandbox = sandbox_path(work_dir, slave_id, framework_id, executor_id, container_id);
  Try<bool> made = (cache != nullptr ? cache : &shared)->make(sandbox);
  if (made.is_error()) {
    return Error("Failed to create sandbox: " + made.error());
  }
  std::string latest = latest_run_path(work_dir, slave_id, framework_id, executor_id);
  // An executor's first run (the usual case: one per executor id) links
  // `latest` at once; a later run replaces the link atomically, through a
  // temporary link renamed over it (#17: a rename fewer per task).
  if (::symlink(container_id.c_str(), latest.c_str()) == 0) {
    return sandbox;
  }
  if (errno != EEXIST) {
    return Error("Failed to create symlink '" + latest + "': " + errno_text(errno));
  }
  std::string temp = latest + ".tmp." + container_id;
  // A leftover of a crash between symlink and rename is removed only then.
  if (::symlink(container_id.c_str(), temp.c_str()) != 0 &&
      (errno != EEXIST || ::unlink(temp.c_str()) != 0 || ::symlink(container_id.c_str(), temp.c_str()) != 0)) {
    return Error("Failed to create symlink '" + temp + "': " + errno_text(errno));
  }
  if (::rename(temp.c_str(), latest.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return Error("Failed to rename '" + temp + "' to '" + latest + "': " + errno_text(err));
  }
  return sandbox;
}

Try<Resources> detect_resources(const std::string& flag, const std::string& work_dir) {
  Try<Resources> given = Resources::parse(flag);
  if (given.is_error()) {
    return Error("Invalid --resources '" + flag + "': " + given.error());
  }
  const std::set<std::string> names = given->names();
  Resources resources = *given;
  if (!names.contains("cpus")) {
    long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    resources += Resources::scalar_resource("cpus", static_cast<double>(cpus > 0 ? cpus : 1));
  }
  if (!names.contains("mem")) {
    std::uint64_t total = total_memory_bytes();
    std::uint64_t mem = total == 0                           ? MEM_FALLBACK
                        : total >= MEM_RESERVE_THRESHOLD ? total - MEM_RESERVED
                                                             : total / 2;
    resources += Resources::scalar_resource("mem", static_cast<double>(mem / MiB));
  }
  if (!names.contains("disk")) {
    std::uint64_t total = filesystem_bytes(work_dir);
    std::uint64_t disk = total == 0                            ? DISK_FALLBACK
                         : total >= DISK_RESERVE_THRESHOLD ? total - DISK_RESERVED
                                                               : total / 2;
    resources += Resources::scalar_resource("disk", static_cast<double>(disk / MiB));
  }
  if (!names.contains("ports")) {
    resources += Resources::ranges_resource("ports", {DEFAULT_PORTS});
  }
  return resources;
}

}  // namespace stoa::slave
