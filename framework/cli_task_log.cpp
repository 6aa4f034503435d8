// `stoa task log <task> [--file=stdout|stderr] [--lines=N] [--follow]`:
// the task's sandbox file read through the master's /files/read (the master
// proxies to the slave named by slave_id), by offset and length.

#include <chrono>
#include <iostream>
#include <thread>

#include "common/json.hpp"
#include "framework/cli_client.hpp"
#include "framework/cli_commands.hpp"
#include "framework/cli_output.hpp"
#include "framework/cli_tasks.hpp"

namespace stoa::cli {

namespace {

// The most one read asks for (the files service caps reads at 16 pages).
constexpr long LOG_READ_LENGTH = 64 * 1024;
// How often --follow asks for more (and for the task's state when nothing came).
constexpr auto LOG_FOLLOW_INTERVAL = std::chrono::milliseconds(250);

struct Chunk {
  std::string data;
  long offset = 0;  // where `data` starts; for offset -1, the file's size
};

class SandboxFile {
 public:
  SandboxFile(MasterClient& client, const TaskRef& task, const std::string& file)
      : client_(client),
        slave_id_(task.slave_id),
        path_("/frameworks/" + task.framework_id + "/executors/" + task.executor_id + "/runs/latest/" + file) {}

  Result<Chunk> read(long offset, long length) {
    std::string target = "/files/read?slave_id=" + url_encode(slave_id_) + "&path=" + url_encode(path_) +
                         "&offset=" + std::to_string(offset);
    if (length >= 0) {
      target += "&length=" + std::to_string(length);
    }
    Result<picojson::value> answer = get_json(client_, target);
    if (!answer) {
      Failure f = answer.failure();
      if (f.code == EXIT_NOT_FOUND) {
        f.message = "cannot read " + path_ + " of slave " + slave_id_ + " (the sandbox may be gone): " + f.message;
      }
      return f;
    }
    Chunk c;
    c.data = string_at(*answer, "data");
    c.offset = static_cast<long>(number_at(*answer, "offset"));
    return c;
  }

  Result<long> size() {
    Result<Chunk> c = read(-1, -1);
    if (!c) {
      return c.failure();
    }
    return c->offset;
  }

  // Bytes [from, to) in reads of at most LOG_READ_LENGTH.
  Result<std::string> range(long from, long to) {
    std::string out;
    long at = from;
    while (at < to) {
      Result<Chunk> c = read(at, std::min(LOG_READ_LENGTH, to - at));
      if (!c) {
        return c.failure();
      }
      if (c->data.empty()) {
        break;  // the file shrank
      }
      out += c->data;
      at += static_cast<long>(c->data.size());
    }
    return out;
  }

 private:
  MasterClient& client_;
  std::string slave_id_;
  std::string path_;
};

// Where the last `lines` lines of a file of `size` bytes start.
Result<long> start_of_last_lines(SandboxFile& file, long size, long lines) {
  if (lines == 0) {
    return size;
  }
  long from = size;
  std::string tail;
  while (from > 0) {
    long step = std::min(LOG_READ_LENGTH, from);
    Result<std::string> more = file.range(from - step, from);
    if (!more) {
      return more.failure();
    }
    tail = *more + tail;
    from -= step;
    // A final newline ends the last line; it does not start another.
    long newlines = 0;
    size_t end = tail.size() - (!tail.empty() && tail.back() == '\n' ? 1 : 0);
    for (size_t i = end; i-- > 0;) {
      if (tail[i] == '\n' && ++newlines == lines) {
        return from + static_cast<long>(i) + 1;
      }
    }
  }
  return 0;
}

Result<long> parse_lines(const std::string& text) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) {
    return Failure{EXIT_USAGE, "invalid value '" + text + "' for '--lines': expected a number of lines (0 or more)"};
  }
  return std::stol(text);
}

}  // namespace

int run_task_log(Context& c, const Invocation& inv) {
  const std::string file = inv.option("file").value_or("stdout");
  if (file != "stdout" && file != "stderr") {
    return c.fail(Failure{EXIT_USAGE, "invalid value '" + file + "' for '--file': expected stdout or stderr"});
  }
  std::optional<long> lines;
  if (std::optional<std::string> given = inv.option("lines")) {
    Result<long> n = parse_lines(*given);
    if (!n) {
      return c.fail(n.failure());
    }
    lines = *n;
  }
  const std::string framework = inv.option("framework").value_or("");
  if (inv.has("framework") && framework.empty()) {
    return c.fail(Failure{EXIT_USAGE, "option '--framework' needs a framework ID"});
  }
  Result<TaskRef> task = find_task(*c.client, inv.args[0], framework);
  if (!task) {
    return c.fail(task.failure());
  }
  SandboxFile sandbox(*c.client, *task, file);
  Result<long> size = sandbox.size();
  // A task still starting may have no sandbox file yet: --follow waits for
  // it (as long as the task is not terminal); without --follow say so.
  bool waiting_said = false;
  while (!size && size.failure().code == EXIT_NOT_FOUND && !is_terminal_state_name(task->state)) {
    if (!inv.has("follow")) {
      return c.fail(Failure{EXIT_NOT_FOUND, "task " + task->task_id + " is " + task->state + " and has no " + file +
                                                " yet (--follow waits for it)"});
    }
    if (!waiting_said) {
      c.progress("Waiting for the sandbox of task " + task->task_id + " (" + task->state + ")...");
      waiting_said = true;
    }
    std::this_thread::sleep_for(LOG_FOLLOW_INTERVAL);
    Result<TaskRef> now = find_task(*c.client, task->task_id, task->framework_id);
    if (!now) {
      return c.fail(now.failure());
    }
    task = now;
    size = sandbox.size();
  }
  if (!size) {
    return c.fail(size.failure());
  }
  long offset = 0;
  if (lines) {
    Result<long> start = start_of_last_lines(sandbox, *size, *lines);
    if (!start) {
      return c.fail(start.failure());
    }
    offset = *start;
  }
  Result<std::string> text = sandbox.range(offset, *size);
  if (!text) {
    return c.fail(text.failure());
  }
  *c.out << *text << std::flush;
  offset += static_cast<long>(text->size());
  if (!inv.has("follow")) {
    return EXIT_OK;
  }

  c.progress("Following " + file + " of task " + task->task_id + " on slave " + task->slave_id +
             " (Ctrl-C to stop)");
  bool terminal = is_terminal_state_name(task->state);
  std::string state = task->state;
  while (true) {
    // Drain what is there.
    while (true) {
      Result<Chunk> chunk = sandbox.read(offset, LOG_READ_LENGTH);
      if (!chunk) {
        return c.fail(chunk.failure());
      }
      if (chunk->data.empty()) {
        break;
      }
      *c.out << chunk->data << std::flush;
      offset = chunk->offset + static_cast<long>(chunk->data.size());
    }
    if (terminal) {
      // Everything written before the task ended has been read.
      c.progress("Task " + task->task_id + " is " + state);
      return EXIT_OK;
    }
    std::this_thread::sleep_for(LOG_FOLLOW_INTERVAL);
    Result<TaskRef> now = find_task(*c.client, task->task_id, task->framework_id);
    if (!now) {
      return c.fail(now.failure());
    }
    state = now->state;
    terminal = is_terminal_state_name(state);
  }
}

}  // namespace stoa::cli
