#pragma once
// One slave per work_dir: an exclusive flock(2) on "<work_dir>/slave.lock",
// taken at start and held for the life of the process, and a check that the
// work_dir can really be written (what recovery and sandboxes need).
//
// The lock belongs to the open file description, so it goes away with the
// process however it ends (a stale slave.lock file left by a dead slave does
// not block anyone), and the descriptor is close-on-exec, so executors the
// slave starts do not keep it. The holder writes its pid into the file, for
// the message a second slave prints. Plain POSIX, no CAF, never throws.

#include <memory>
#include <optional>
#include <string>

#include "common/try.hpp"

namespace stoa::slave {

// "<work_dir>/slave.lock".
std::string work_dir_lock_path(const std::string& work_dir);

class WorkDirLock {
 public:
  // Locks `work_dir` (which must exist) without waiting. Error naming the
  // lock path: when another process holds the lock ("another slave is using
  // it", with that slave's pid when the file names one), or when the file
  // cannot be created or opened (errno text).
  static Try<std::unique_ptr<WorkDirLock>> acquire(const std::string& work_dir);
  ~WorkDirLock();  // Releases the lock (the file stays).
  WorkDirLock(const WorkDirLock&) = delete;
  WorkDirLock& operator=(const WorkDirLock&) = delete;

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  WorkDirLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

// Checks that files can be created in `dir`: creates, writes, fsyncs and
// removes a probe file ("<dir>/.stoa-write-probe.<pid>"). Error naming `dir`
// (and the errno text) otherwise.
std::optional<Error> check_writable(const std::string& dir);

}  // namespace stoa::slave
