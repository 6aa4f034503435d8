#include "master/state_serving.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
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
constexpr int RENDER_PIPE_BYTES = 1 << 20;
// The longest header a child writes ("<status> <size>\n").
constexpr size_t MAX_HEADER = 64;

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
    // "<status> <body bytes>\n" then the body: the collector reads it
    // straight into a string of that size.
    if (code == 0 && !(write_all(fds[1], std::to_string(status) + " " + std::to_string(body.size()) + "\n") &&
                       write_all(fds[1], body))) {
      code = 3;
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  // A bigger pipe: fewer wake-ups for a 170 MB body (best effort; the
  // default 64 KiB works too).
  ::fcntl(fds[0], F_SETPIPE_SZ, RENDER_PIPE_BYTES);
  return ForkedRender{pid, fds[0]};
}

Try<RenderedView> collect_render(ForkedRender child, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Until the header is complete, `out` holds the header; then the body,
  // sized from it, read in place.
  std::string out;
  std::optional<size_t> header_end;
  size_t filled = 0;
  RenderedView view;
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
    if (!header_end) {
      // The header, a byte at a time up to its newline (it is short).
      char c = 0;
      ssize_t n = ::read(child.fd, &c, 1);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        if (n < 0) {
          ::kill(child.pid, SIGKILL);
          failure = std::string("reading the render child's output failed: ") + std::strerror(errno);
        }
        break;
      }
      if (c != '\n') {
        out.push_back(c);
        if (out.size() > MAX_HEADER) {
          ::kill(child.pid, SIGKILL);
          failure = "the render child wrote no status line";
          break;
        }
        continue;
      }
      unsigned long long size = 0;
      if (std::sscanf(out.c_str(), "%d %llu", &view.status, &size) != 2) {
        ::kill(child.pid, SIGKILL);
        failure = "the render child wrote a bad status line: " + out;
        break;
      }
      header_end = out.size();
      out.assign(static_cast<size_t>(size), '\0');
      continue;
    }
    size_t want = out.size() > filled ? std::min(out.size() - filled, READ_CHUNK) : 1;
    char extra = 0;
    char* into = out.size() > filled ? out.data() + filled : &extra;
    ssize_t n = ::read(child.fd, into, want);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      ::kill(child.pid, SIGKILL);
      failure = std::string("reading the render child's output failed: ") + std::strerror(errno);
      break;
    }
    if (n == 0) {
      break;
    }
    if (into == &extra) {
      ::kill(child.pid, SIGKILL);
      failure = "the render child wrote more than the " + std::to_string(out.size()) + " bytes it announced";
      break;
    }
    filled += static_cast<size_t>(n);
  }
  ::close(child.fd);
  std::optional<std::string> ended = reap(child.pid);
  if (failure) {
    return Error(*failure);
  }
  if (ended) {
    return Error(*ended);
  }
  if (!header_end || view.status < 100 || view.status > 599) {
    return Error("the render child wrote no status line");
  }
  if (filled != out.size()) {
    return Error("the render child wrote " + std::to_string(filled) + " of the " + std::to_string(out.size()) +
                 " bytes it announced");
  }
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
