// disk/du (Mesos' disk/du, also named posix/disk): measures each sandbox
// with a walk of its files (like `du`, blocks actually used, each inode
// once) at most every --container_disk_watch_interval, reports it in usage,
// and with --enforce_container_disk_quota reports a container whose sandbox
// grew past its disk resource (REASON_CONTAINER_LIMITATION_DISK).

#include <ftw.h>
#include <sys/stat.h>

#include <chrono>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>

#include "slave/isolator.hpp"

namespace stoa::slave {

namespace {

constexpr uint64_t DISK_MB = 1024 * 1024;

// nftw has no user pointer: one walk at a time (the lock), its sums here.
std::mutex walk_mutex;
uint64_t walk_bytes = 0;
std::set<std::pair<dev_t, ino_t>>* walk_seen = nullptr;

int add_file(const char*, const struct stat* st, int, struct FTW*) {
  if (walk_seen->insert({st->st_dev, st->st_ino}).second) {
    walk_bytes += static_cast<uint64_t>(st->st_blocks) * 512;
  }
  return 0;
}

}  // namespace

// The bytes the files under `dir` use on disk (0 when it is missing).
uint64_t directory_bytes(const std::string& dir) {
  std::lock_guard<std::mutex> lock(walk_mutex);
  std::set<std::pair<dev_t, ino_t>> seen;
  walk_seen = &seen;
  walk_bytes = 0;
  ::nftw(dir.c_str(), add_file, 32, FTW_PHYS | FTW_MOUNT);
  walk_seen = nullptr;
  return walk_bytes;
}

namespace {

class DiskDuIsolator : public Isolator {
 public:
  explicit DiskDuIsolator(const IsolatorOptions& options) : options_(options) {}

  std::string name() const override { return "disk/du"; }

  std::optional<Error> recover(const std::vector<RecoveredContainer>& containers) override {
    for (const RecoveredContainer& c : containers) {
      track(c.container_id, c.directory, c.resources);
    }
    return std::nullopt;
  }

  std::optional<Error> prepare(const std::string& cid, const ContainerSpec& spec) override {
    track(cid, spec.directory, spec.resources);
    return std::nullopt;
  }

  std::optional<Error> update(const std::string& cid, const Resources& resources) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = sandboxes_.find(cid); it != sandboxes_.end()) {
      it->second.limit = limit_of(resources);
    }
    return std::nullopt;
  }

  std::optional<Error> usage(const std::string& cid, pid_t, const Resources&,
                             ResourceStatistics* stats) override {
    Sandbox s = measured(cid);
    if (s.directory.empty()) {
      return Error("disk/du: container " + cid + " is unknown");
    }
    stats->disk_used_bytes = s.used;
    if (s.limit > 0) {
      stats->disk_limit_bytes = s.limit;
    }
    return std::nullopt;
  }

  bool watches() const override { return true; }

  std::optional<ContainerLimitation> limitation(const std::string& cid) override {
    Sandbox s = measured(cid);
    if (!options_.enforce_container_disk_quota || s.limit == 0 || s.used <= s.limit) {
      return std::nullopt;
    }
    return ContainerLimitation{TaskStatus::REASON_CONTAINER_LIMITATION_DISK,
                               "Disk usage (" + std::to_string(s.used / 1024) + "KB) exceeds quota (" +
                                   std::to_string(s.limit / DISK_MB) + "MB)"};
  }

  std::optional<Error> cleanup(const std::string& cid) override {
    std::lock_guard<std::mutex> lock(mutex_);
    sandboxes_.erase(cid);
    return std::nullopt;
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Sandbox {
    std::string directory;
    uint64_t limit = 0;  // bytes; 0: no disk resource
    uint64_t used = 0;
    std::optional<Clock::time_point> measured_at;
  };

  static uint64_t limit_of(const Resources& resources) {
    return static_cast<uint64_t>(resources.scalar("disk") * DISK_MB);
  }

  void track(const std::string& cid, const std::string& directory, const Resources& resources) {
    std::lock_guard<std::mutex> lock(mutex_);
    sandboxes_[cid] = Sandbox{directory, limit_of(resources), 0, std::nullopt};
  }

  // The sandbox, measured again when its last walk is older than the
  // interval (the walk runs outside the lock).
  Sandbox measured(const std::string& cid) {
    Sandbox s;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = sandboxes_.find(cid);
      if (it == sandboxes_.end()) {
        return {};
      }
      s = it->second;
    }
    if (s.measured_at && Clock::now() - *s.measured_at < options_.container_disk_watch_interval) {
      return s;
    }
    s.used = directory_bytes(s.directory);
    s.measured_at = Clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = sandboxes_.find(cid); it != sandboxes_.end()) {
      it->second.used = s.used;
      it->second.measured_at = s.measured_at;
    }
    return s;
  }

  IsolatorOptions options_;
  std::mutex mutex_;
  std::unordered_map<std::string, Sandbox> sandboxes_;
};

}  // namespace

std::unique_ptr<Isolator> create_disk_du_isolator(const IsolatorOptions& options) {
  return std::make_unique<DiskDuIsolator>(options);
}

}  // namespace stoa::slave
