#include "slave/work_dir_lock.hpp"
#include "common/strings.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/io.hpp"

namespace stoa::slave {

namespace {

// The pid the holder wrote into the lock file, if it reads as one.
std::optional<long> holder_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) {
    return std::nullopt;
  }
  char* end = nullptr;
  long pid = std::strtol(buf, &end, 10);
  if (end == buf || pid <= 0 || (*end != '\n' && *end != '\0')) {
    return std::nullopt;
  }
  return pid;
}

}  // namespace

std::string work_dir_lock_path(const std::string& work_dir) {
  std::string dir = work_dir;
  while (dir.size() > 1 && dir.back() == '/') {
    dir.pop_back();
  }
  return dir + "/slave.lock";
}

Try<std::unique_ptr<WorkDirLock>> WorkDirLock::acquire(const std::string& work_dir) {
  const std::string path = work_dir_lock_path(work_dir);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    return Error("Cannot open the work_dir lock file '" + path + "': " + errno_text(errno));
  }
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EINTR) {
      continue;
    }
    if (err == EWOULDBLOCK) {
      std::optional<long> pid = holder_pid(fd);
      ::close(fd);
      return Error("The work_dir '" + work_dir + "' is locked (" + path + "): another slave is using it" +
                   (pid ? " (pid " + std::to_string(*pid) + ")" : std::string()) +
                   "; give each slave its own --work_dir");
    }
    ::close(fd);
    return Error("Cannot lock '" + path + "': " + errno_text(err));
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || !pwrite_all(fd, pid, 0)) {
    int err = errno;
    ::close(fd);
    return Error("Cannot write the work_dir lock file '" + path + "': " + errno_text(err));
  }
  return std::unique_ptr<WorkDirLock>(new WorkDirLock(path, fd));
}

WorkDirLock::~WorkDirLock() { ::close(fd_); }

std::optional<Error> check_writable(const std::string& dir) {
  const std::string probe = dir + "/.stoa-write-probe." + std::to_string(::getpid());
  auto fail = [&](const std::string& what, int err) {
    return Error("The work_dir '" + dir + "' is not writable: cannot " + what + " '" + probe +
                 "': " + errno_text(err));
  };
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return fail("create", errno);
  }
  static const std::string text = "stoa write probe\n";
  bool written = pwrite_all(fd, text, 0);
  int write_err = errno;
  if (!written) {
    ::close(fd);
    ::unlink(probe.c_str());
    return fail("write", write_err);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(probe.c_str());
    return fail("fsync", err);
  }
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(probe.c_str());
    return fail("close", err);
  }
  if (::unlink(probe.c_str()) != 0) {
    return fail("remove", errno);
  }
  return std::nullopt;
}

}  // namespace stoa::slave
