#include "master/state_serving.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdlib>
#include <csignal>
#include <cstring>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "common/io.hpp"
#include "common/strings.hpp"
#include "master/operator_json.hpp"

namespace stoa::master {

namespace {

// The child yields to the master when both want the CPU.
constexpr int RENDER_CHILD_NICENESS = 5;
constexpr size_t READ_CHUNK = 1 << 20;

// Reaps `pid`, blocking; describes how it ended when not with status 0.
std::optional<std::string> reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return "waitpid(" + std::to_string(pid) + ") failed: " + std::strerror(errno);
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return std::nullopt;
  }
  if (WIFSIGNALED(status)) {
    return "the render child " + std::to_string(pid) + " was killed by signal " + std::to_string(WTERMSIG(status));
  }
  return "the render child " + std::to_string(pid) + " exited with status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

Try<ForkedRender> fork_render(const std::function<int(std::string* body)>& render) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Error(std::string("pipe2 failed: ") + std::strerror(errno));
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return Error(std::string("fork failed: ") + std::strerror(e));
  }
  if (pid == 0) {
    // The child: one thread (the master's), a snapshot of its memory. No
    // logging, no destructors, no atexit handlers.
    ::close(fds[0]);
    ::setpriority(PRIO_PROCESS, 0, RENDER_CHILD_NICENESS);
    std::string body;
    int status = 0;
    int code = 0;
    try {
      status = render(&body);
    } catch (...) {
      code = 2;
    }
    if (code == 0 && !(write_all(fds[1], std::to_string(status) + "\n") && write_all(fds[1], body))) {
      code = 3;
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  return ForkedRender{pid, fds[0]};
}

Try<RenderedView> collect_render(ForkedRender child, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out;
  std::optional<std::string> failure;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(child.pid, SIGKILL);
      failure = "the render child " + std::to_string(child.pid) + " did not finish within " +
                std::to_string(timeout.count()) + " ms";
      break;
    }
    pollfd p{child.fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      continue;  // the deadline check above decides
    }
    size_t old = out.size();
    out.resize(old + READ_CHUNK);
    ssize_t n = ::read(child.fd, out.data() + old, READ_CHUNK);
    if (n < 0 && errno == EINTR) {
      out.resize(old);
      continue;
    }
    if (n < 0) {
      out.resize(old);
      ::kill(child.pid, SIGKILL);
      failure = std::string("reading the render child's output failed: ") + std::strerror(errno);
      break;
    }
    out.resize(old + static_cast<size_t>(n));
    if (n == 0) {
      break;
    }
  }
  ::close(child.fd);
  std::optional<std::string> ended = reap(child.pid);
  if (failure) {
    return Error(*failure);
  }
  if (ended) {
    return Error(*ended);
  }
  size_t eol = out.find('\n');
  RenderedView view;
  view.status = eol == std::string::npos ? 0 : std::atoi(out.substr(0, eol).c_str());
  if (view.status < 100 || view.status > 599) {
    return Error("the render child wrote no status line");
  }
  out.erase(0, eol + 1);
  view.body = std::move(out);
  return view;
}

caf::actor spawn_render_collector(caf::actor_system& sys, ForkedRender child, std::chrono::milliseconds timeout) {
  return sys.spawn<caf::detached>([child, timeout](caf::event_based_actor* self) -> caf::behavior {
    return {
        [self, child, timeout](state_atom) -> caf::result<int, std::string> {
          Try<RenderedView> view = collect_render(child, timeout);
          self->quit();
          if (view.is_error()) {
            auto [status, text] = json_error(500, "Cannot render this view: " + view.error());
            return {status, text};
          }
          return {view->status, std::move(view->body)};
        },
    };
  });
}

std::string gzip(std::string_view data, int level) {
  z_stream z{};
  // 15 window bits + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};
  }
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : std::string();
}

bool accepts_gzip(const std::string& accept_encoding) {
  for (const std::string& part : split(accept_encoding, ',')) {
    std::vector<std::string> fields = split(part, ';');
    std::string coding = lower(trim(fields.empty() ? std::string_view() : std::string_view(fields[0])));
    if (coding != "gzip" && coding != "x-gzip" && coding != "*") {
      continue;
    }
    bool refused = false;
    for (size_t i = 1; i < fields.size(); ++i) {
      std::string param = lower(trim(fields[i]));
      if (param.rfind("q=", 0) == 0) {
        refused = std::strtod(param.c_str() + 2, nullptr) <= 0.0;
      }
    }
    if (!refused) {
      return true;
    }
  }
  return false;
}

}  // namespace stoa::master
