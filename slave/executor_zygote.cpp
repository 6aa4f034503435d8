#include "slave/executor_zygote.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>

#include "common/io.hpp"
#include "common/logging.hpp"
#include "common/strings.hpp"

namespace stoa::slave {

namespace {

// The zygote answers at once (a fork); this bounds a hung one.
constexpr int ANSWER_TIMEOUT_MS = 5000;

}  // namespace

std::optional<Error> ExecutorZygote::start_locked() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Error("socketpair: " + errno_text(errno));
  }
  LaunchSpec spec = spec_;
  spec.stdin_fd = sv[1];
  Try<pid_t> pid = launch(spec);
  ::close(sv[1]);
  if (pid.is_error()) {
    ::close(sv[0]);
    return Error(pid.error());
  }
  pid_ = *pid;
  fd_ = sv[0];
  buffer_.clear();
  LOG_INFO << "Started the executor zygote (pid " << pid_ << ")";
  return std::nullopt;
}

void ExecutorZygote::stop_locked() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
}

void ExecutorZygote::stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_locked();
}

pid_t ExecutorZygote::pid() {
  std::lock_guard<std::mutex> lock(mu_);
  return pid_;
}

Try<pid_t> ExecutorZygote::fork_pooled(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pid_ <= 0) {
    if (std::optional<Error> e = start_locked()) {
      return Error("cannot start the executor zygote: " + e->message);
    }
  }
  auto broken = [this](const std::string& why) {
    LOG_WARNING << "The executor zygote (pid " << pid_ << ") " << why << "; it is stopped and started again";
    stop_locked();
    return Error("the executor zygote " + why);
  };
  if (!send_all(fd_, token + "\n")) {
    return broken("is gone (" + errno_text(errno) + ")");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ANSWER_TIMEOUT_MS);
  size_t nl;
  while ((nl = buffer_.find('\n')) == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0 || buffer_.size() > 64) {
      return broken(left <= 0 ? "did not answer within " + std::to_string(ANSWER_TIMEOUT_MS) + " ms"
                              : "answered '" + buffer_ + "'");
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
      return broken("cannot be read (" + errno_text(errno) + ")");
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      continue;
    }
    char chunk[64];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return broken("is gone (it closed its socket)");
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
  const std::string answer = buffer_.substr(0, nl);
  buffer_.erase(0, nl + 1);
  char* end = nullptr;
  const long value = std::strtol(answer.c_str(), &end, 10);
  if (answer.empty() || end == nullptr || *end != '\0') {
    return broken("answered '" + answer + "'");
  }
  if (value <= 0) {
    return Error("the executor zygote could not fork: " + errno_text(static_cast<int>(-value)));
  }
  return static_cast<pid_t>(value);
}

}  // namespace stoa::slave
