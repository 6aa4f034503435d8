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
#include <variant>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/safety.hpp"
#include "common/io.hpp"
#include "common/strings.hpp"
#include "master/state_json_writer.hpp"
#include "master/operator_json.hpp"

namespace stoa::master {

namespace {

// The child yields to the master when both want the CPU.
constexpr int RENDER_CHILD_NICENESS = 5;
constexpr size_t READ_CHUNK = 1 << 20;
constexpr int RENDER_PIPE_BYTES = 1 << 20;
// The longest frame header a child writes ("E <status> <size>\n").
constexpr size_t MAX_HEADER = 64;
// The largest frame (and body-size hint) a reader accepts: a bigger one is
// a broken child, not a body to allocate for.
constexpr unsigned long long MAX_FRAME_BYTES = 1ULL << 30;
// The child's exit codes: its render threw; writing to the pipe failed.
constexpr int CHILD_RENDER_THREW = 2;
constexpr int CHILD_PIPE_FAILED = 3;

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

// The child's side of the framing (see fork_render in the header): every
// write is a frame, and a failed write ends the child.
class ChildPipe final : public BodyPipe {
 public:
  explicit ChildPipe(int fd) : fd_(fd) {}

  void expect(size_t bytes) override { frame("H " + std::to_string(bytes) + "\n"); }

  void write(std::string_view bytes) override {
    if (bytes.empty()) {
      return;
    }
    frame("D " + std::to_string(bytes.size()) + "\n");
    frame(bytes);
    sent_ += bytes.size();
  }

  // Tells the reader to drop the data frames so far.
  void reset() {
    frame("R\n");
    sent_ = 0;
  }

  void end(int status) { frame("E " + std::to_string(status) + " " + std::to_string(sent_) + "\n"); }

  size_t sent() const { return sent_; }

 private:
  void frame(std::string_view bytes) {
    if (!write_all(fd_, bytes)) {
      ::_exit(CHILD_PIPE_FAILED);
    }
  }

  int fd_;
  size_t sent_ = 0;
};

// Reads up to `n` bytes into `buf`, polling until `deadline`. Returns the
// count read (0 at end of file), or an error text ("timeout" when the
// deadline passed).
std::variant<size_t, std::string> read_some(int fd, std::chrono::steady_clock::time_point deadline, char* buf,
                                            size_t n) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return std::string("timeout");
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      continue;  // EINTR, or the deadline check above decides
    }
    ssize_t got = ::read(fd, buf, n);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      return std::string("reading the render child's output failed: ") + std::strerror(errno);
    }
    return static_cast<size_t>(got);
  }
}

// Reads one frame header line into `*line` (without its newline), polling
// until `deadline`. Returns an error text ("timeout" when the deadline
// passed), or nullopt with an empty `*line` at end of file before any byte.
std::optional<std::string> read_frame_header(int fd, std::chrono::steady_clock::time_point deadline,
                                             std::string* line) {
  line->clear();
  for (;;) {
    char c = 0;
    auto got = read_some(fd, deadline, &c, 1);
    if (auto* error = std::get_if<std::string>(&got)) {
      return *error;
    }
    if (std::get<size_t>(got) == 0) {
      return line->empty() ? std::nullopt
                           : std::optional<std::string>("the render child's output ends inside a frame header");
    }
    if (c == '\n') {
      return std::nullopt;
    }
    line->push_back(c);
    if (line->size() > MAX_HEADER) {
      return "the render child wrote a bad frame header: " + line->substr(0, MAX_HEADER);
    }
  }
}

// Reads `size` bytes of a data frame onto the end of `*body`.
std::optional<std::string> read_frame_data(int fd, std::chrono::steady_clock::time_point deadline, size_t size,
                                           std::string* body) {
  size_t at = body->size();
  body->resize(at + size);
  size_t end = at + size;
  while (at < end) {
    auto got = read_some(fd, deadline, body->data() + at, std::min(end - at, READ_CHUNK));
    if (auto* error = std::get_if<std::string>(&got)) {
      return *error;
    }
    size_t n = std::get<size_t>(got);
    if (n == 0) {
      return "the render child's output ends " + std::to_string(end - at) + " bytes into a " +
             std::to_string(size) + "-byte frame";
    }
    at += n;
  }
  return std::nullopt;
}

// Parses "<letter> <number>..." frame headers; false when `line` is not one.
bool parse_numbers(const std::string& line, unsigned long long* a, unsigned long long* b, int count) {
  char tail = 0;
  int got = count == 1 ? std::sscanf(line.c_str() + 1, " %llu%c", a, &tail)
                       : std::sscanf(line.c_str() + 1, " %llu %llu%c", a, b, &tail);
  return got == count;
}

// Reads frames to the end frame. Returns an error text (without the
// child's exit, which the caller adds), or nullopt with `*view` filled.
std::optional<std::string> read_frames(int fd, std::chrono::steady_clock::time_point deadline, RenderedView* view) {
  std::string line;
  for (;;) {
    if (std::optional<std::string> e = read_frame_header(fd, deadline, &line)) {
      return e;
    }
    unsigned long long a = 0;
    unsigned long long b = 0;
    if (line.empty()) {
      return "the render child's output ends after " + std::to_string(view->body.size()) +
             " body bytes, without its end frame";
    }
    if ((line[0] == 'H' || line[0] == 'D') && parse_numbers(line, &a, &b, 1) && a > MAX_FRAME_BYTES) {
      return "the render child announced a frame of " + std::to_string(a) + " bytes, more than " +
             std::to_string(MAX_FRAME_BYTES);
    }
    if (line[0] == 'H' && parse_numbers(line, &a, &b, 1)) {
      view->body.reserve(static_cast<size_t>(a));
    } else if (line[0] == 'D' && parse_numbers(line, &a, &b, 1)) {
      if (std::optional<std::string> e = read_frame_data(fd, deadline, static_cast<size_t>(a), &view->body)) {
        return e;
      }
    } else if (line == "R") {
      view->body.clear();
    } else if (line[0] == 'E' && parse_numbers(line, &a, &b, 2)) {
      if (a < 100 || a > 599) {
        return "the render child ended with status " + std::to_string(a);
      }
      if (b != view->body.size()) {
        return "the render child announced " + std::to_string(b) + " body bytes and wrote " +
               std::to_string(view->body.size());
      }
      view->status = static_cast<int>(a);
      // Then end of file, within the deadline.
      std::optional<std::string> e = read_frame_header(fd, deadline, &line);
      if (e && *e == "timeout") {
        return e;
      }
      if (e || !line.empty()) {
        return std::string("the render child wrote past its end frame");
      }
      return std::nullopt;
    } else {
      return "the render child wrote a bad frame header: " + line;
    }
  }
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
    ChildPipe pipe(fds[1]);
    std::string body;
    int status = 0;
    try {
      ScopedBodyPipe scoped(&pipe);
      status = render(&body);
    } catch (...) {
      ::_exit(CHILD_RENDER_THREW);
    }
    if (pipe.sent() > 0 && (status < 200 || status > 299)) {
      // A render that failed after streaming part of its body returns the
      // whole error body: the reader drops the part.
      pipe.reset();
    }
    pipe.write(body);
    pipe.end(status);
    ::_exit(0);
  }
  ::close(fds[1]);
  // A bigger pipe: fewer wake-ups for a 170 MB body (best effort; the
  // default 64 KiB works too).
  ::fcntl(fds[0], F_SETPIPE_SZ, RENDER_PIPE_BYTES);
  return ForkedRender{pid, fds[0]};
}

Try<RenderedView> collect_render(ForkedRender child, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  RenderedView view;
  std::optional<std::string> failure = read_frames(child.fd, deadline, &view);
  if (failure) {
    // A reader that gives up ends the child (a no-op when it has exited).
    ::kill(child.pid, SIGKILL);
    if (*failure == "timeout") {
      failure = "the render child " + std::to_string(child.pid) + " did not finish within " +
                std::to_string(timeout.count()) + " ms";
    }
  }
  ::close(child.fd);
  std::optional<std::string> ended = reap(child.pid);
  if (ended && failure) {
    return Error(*ended + " (" + *failure + ")");
  }
  if (ended || failure) {
    return Error(ended ? *ended : *failure);
  }
  return view;
}

Try<caf::actor> spawn_render_collector(caf::actor_system& sys, ForkedRender child, std::chrono::milliseconds timeout) {
  Try<caf::actor> collector = spawn_with_thread(sys, ThreadActor::detached, [&] {
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
  });
  if (collector.is_error()) {  // nobody reads the child: it goes
    ::kill(child.pid, SIGKILL);
    ::close(child.fd);
    reap(child.pid);
  }
  return collector;
}

namespace {

// One gzip member of the bytes `each` hands to its callback, in order;
// empty if zlib fails.
std::string deflate_gzip(size_t size, int level,
                         const std::function<void(const std::function<void(const char*, size_t)>&)>& each) {
  z_stream z{};
  // 15 window bits + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};
  }
  std::string out(deflateBound(&z, static_cast<uLong>(size)), '\0');
  bool ok = true;
  // Deflates what is in z.next_in with `flush`, growing `out` if the bound
  // was not enough.
  auto run = [&](int flush) {
    while (true) {
      if (z.avail_out == 0) {
        size_t used = out.size();
        out.resize(used * 2 + 4096);
        z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
        z.avail_out = static_cast<uInt>(out.size() - used);
      }
      int rc = deflate(&z, flush);
      if (rc == Z_STREAM_END) {
        return;
      }
      if (rc != Z_OK && !(rc == Z_BUF_ERROR && z.avail_out == 0)) {
        ok = false;
        return;
      }
      if (flush != Z_FINISH && z.avail_in == 0 && z.avail_out > 0) {
        return;
      }
    }
  };
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  each([&](const char* data, size_t n) {
    while (ok && n > 0) {
      auto part = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
      z.avail_in = part;
      run(Z_NO_FLUSH);
      data += part;
      n -= part;
    }
  });
  z.next_in = nullptr;
  z.avail_in = 0;
  if (ok) {
    run(Z_FINISH);
  }
  out.resize(z.total_out);
  deflateEnd(&z);
  return ok ? out : std::string();
}

}  // namespace

std::string gzip(std::string_view data, int level) {
  return deflate_gzip(data.size(), level, [data](const auto& out) { out(data.data(), data.size()); });
}

std::string gzip(const http::BodySpans& body, int level) {
  return deflate_gzip(body.size(), level, [&body](const auto& out) { body.spans(0, body.size(), out); });
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
