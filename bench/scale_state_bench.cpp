// stoa-bench-scale-state: what /master/state costs at Mesos' published
// scale (20k slaves, 200k running + 200k completed tasks), on a MasterState
// built in memory (no cluster): the render before (one picojson tree, with
// STOA_BENCH_TREE=1) and after (streamed), a snapshot by copy, the fork the
// master does instead and the child's render, gzip at several levels.
// STOA_BENCH_RENDERS=N renders N times in place and prints each (wall and
// CPU time), so that a loaded machine's noise shows. STOA_BENCH_ROPE=N
// renders N times as a rope (state_rope.hpp): refresh slices (each
// ≤ 10 ms), the collect turn, the concatenation, and a render after
// 1,000 tasks changed; STOA_BENCH_ONLY_ROPE=1 stops after it.
//
//   stoa-bench-scale-state [slaves=20000] [running=200000] [completed=200000] [frameworks=10]

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "common/json.hpp"
#include "master/state_json.hpp"
#include "master/state_json_writer.hpp"
#include "master/state_rope.hpp"
#include "master/state_serving.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

stoa::Task make_task(const std::string& fid, const std::string& sid, long n, bool done) {
  stoa::Task t;
  std::string id = "task-" + std::to_string(n);
  t.set_name(id);
  t.mutable_task_id()->set_value(id);
  t.mutable_framework_id()->set_value(fid);
  t.mutable_slave_id()->set_value(sid);
  t.mutable_executor_id()->set_value("");
  t.set_state(done ? stoa::TASK_FINISHED : stoa::TASK_RUNNING);
  (*stoa::Resources::parse("cpus:0.01;mem:8")).to_proto(t.mutable_resources());
  stoa::TaskState states[] = {stoa::TASK_STARTING, stoa::TASK_RUNNING, stoa::TASK_FINISHED};
  for (int i = 0; i < (done ? 3 : 2); ++i) {
    stoa::TaskStatus* st = t.add_statuses();
    st->mutable_task_id()->set_value(id);
    st->set_state(states[i]);
    st->set_timestamp(1.7e9 + static_cast<double>(n) + i);
    st->set_source(stoa::TaskStatus::SOURCE_EXECUTOR);
  }
  return t;
}


long rss_kb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) {
    return -1;
  }
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "VmRSS: %ld kB", &kb) == 1) {
      break;
    }
  }
  std::fclose(f);
  return kb;
}

// One rope render as the master does it: refresh in slices of at most
// 10 ms, then collect in one turn, then concatenate (off the master's
// thread there). Prints each part; returns the bytes.
std::string rope_render(stoa::master::RopeRenderer& rope, stoa::master::MasterState& s, const char* label) {
  auto t0 = Clock::now();
  int slices = 0;
  double longest = 0;
  size_t tasks0 = rope.tasks_rendered();
  size_t slaves0 = rope.slaves_rendered();
  for (bool done = false; !done;) {
    auto t = Clock::now();
    done = rope.refresh(s, t + std::chrono::milliseconds(10));
    longest = std::max(longest, ms_since(t));
    ++slices;
  }
  double refresh_ms = ms_since(t0);
  auto t1 = Clock::now();
  stoa::master::Rope r = rope.state(s);
  double collect_ms = ms_since(t1);
  auto t2 = Clock::now();
  std::string body = r.concat();
  double concat_ms = ms_since(t2);
  std::printf("rope (%s): refresh %.0f ms in %d slices (longest %.1f ms; %zu tasks, %zu slaves rendered), "
              "collect %.1f ms (%zu pieces, %.1f MB glue), concat %.0f ms, total %.0f ms\n",
              label, refresh_ms, slices, longest, rope.tasks_rendered() - tasks0, rope.slaves_rendered() - slaves0,
              collect_ms, r.pieces.size(), static_cast<double>(r.glue.size()) / 1e6, concat_ms, ms_since(t0));
  return body;
}

void rope_mode(stoa::master::MasterState& s, const std::string& streamed, int renders) {
  stoa::master::RopeRenderer rope;
  long rss0 = rss_kb();
  size_t records = s.slaves.size();
  for (const auto& [id, f] : s.frameworks) {
    records += f.tasks.size();
  }
  for (int i = 0; i < renders; ++i) {
    std::string body = rope_render(rope, s, i == 0 ? "first, every fragment stale" : "nothing changed");
    std::printf("  %s\n", body == streamed ? "identical bytes" : "BYTES DIFFER");
    if (i == 0) {
      long rss1 = rss_kb();
      std::printf("  RSS +%.1f MB for %zu fragments: %.0f B per running task or slave\n",
                  static_cast<double>(rss1 - rss0) / 1024, records,
                  static_cast<double>(rss1 - rss0) * 1024 / static_cast<double>(records));
    }
  }
  // A status update's cost: edit() drops the task's fragment and tells the
  // slave; the same edits again find no fragment to drop.
  auto& f = s.frameworks.begin()->second;
  constexpr int CHANGED = 1000;
  for (int pass = 0; pass < 2; ++pass) {
    auto t0 = Clock::now();
    int n = 0;
    for (auto it = f.tasks.begin(); it != f.tasks.end() && n < CHANGED; ++it, ++n) {
      stoa::Task& t = f.tasks.edit(it);
      t.mutable_statuses(t.statuses_size() - 1)->set_timestamp(t.statuses(t.statuses_size() - 1).timestamp() + 1);
    }
    std::printf("%d task edits %s: %.1f us each\n", CHANGED,
                pass == 0 ? "dropping fresh fragments" : "with fragments already dropped", ms_since(t0) * 1e3 / CHANGED);
  }
  std::string expected;
  stoa::master::write_state(s, &expected);
  for (int i = 0; i < renders; ++i) {
    std::string body = rope_render(rope, s, i == 0 ? "after 1,000 task changes" : "nothing changed");
    std::printf("  %s\n", body == expected ? "identical bytes" : "BYTES DIFFER");
  }
}

}  // namespace

int main(int argc, char** argv) {
  long slaves = argc > 1 ? std::atol(argv[1]) : 20000;
  long running = argc > 2 ? std::atol(argv[2]) : 200000;
  long completed = argc > 3 ? std::atol(argv[3]) : 200000;
  long frameworks = argc > 4 ? std::atol(argv[4]) : 10;
  if (slaves < 1 || running < 0 || completed < 0 || frameworks < 1) {
    std::fprintf(stderr, "usage: %s [slaves>=1] [running>=0] [completed>=0] [frameworks>=1]\n", argv[0]);
    return 2;
  }
  auto t0 = Clock::now();
  stoa::master::MasterState s;
  s.info.set_id("M");
  s.info.set_pid("master@127.0.0.1:5050");
  s.info.set_hostname("m");
  s.info.set_port(5050);
  for (long i = 0; i < slaves; ++i) {
    stoa::master::SlaveRecord r;
    r.id = "M-S" + std::to_string(i);
    r.info.set_hostname("sim-" + std::to_string(i));
    r.info.set_port(5051);
    r.pid = "slave(" + std::to_string(i) + ")@127.0.0.1:5051";
    r.total = *stoa::Resources::parse("cpus:64;mem:262144;disk:1000000;ports:[31000-32000]");
    s.slaves.emplace(r.id, std::move(r));
    s.tally.slaves_active += 1;  // active, as master_tally.hpp keeps it
  }
  for (long i = 0; i < frameworks; ++i) {
    stoa::master::FrameworkRecord f;
    f.id = "M-" + std::to_string(i);
    f.info.set_name("fw-" + std::to_string(i));
    f.info.set_user("root");
    f.roles = {"*"};
    s.frameworks.emplace(f.id, std::move(f));
  }
  for (long n = 0; n < running + completed; ++n) {
    bool done = n >= running;
    std::string fid = "M-" + std::to_string(n % frameworks);
    std::string sid = "M-S" + std::to_string(n % slaves);
    stoa::Task t = make_task(fid, sid, n, done);
    auto& f = s.frameworks.at(fid);
    if (done) {
      f.completed_tasks.push_back(std::move(t));
    } else {
      s.slaves.edit(sid).tasks.insert({fid, t.task_id().value()});
      f.tasks.emplace(t.task_id().value(), std::move(t));
    }
  }
  std::printf("build %ld slaves, %ld running, %ld completed tasks: %.0f ms\n", slaves, running, completed,
              ms_since(t0));

  bool tree = std::getenv("STOA_BENCH_TREE") != nullptr;
  std::string before;
  if (tree) {
    t0 = Clock::now();
    before = stoa::json_serialize(stoa::master::state_json(s));
    std::printf("render, picojson tree of the whole state + serialize (before #17): %.0f ms, %.1f MB\n",
                ms_since(t0), static_cast<double>(before.size()) / 1e6);
  }
  const char* renders_text = std::getenv("STOA_BENCH_RENDERS");
  int renders = renders_text != nullptr ? std::max(1, std::atoi(renders_text)) : 1;
  std::string streamed;
  for (int i = 0; i < renders; ++i) {
    streamed.clear();
    streamed.shrink_to_fit();
    t0 = Clock::now();
    std::clock_t cpu0 = std::clock();
    stoa::master::write_state(s, &streamed);
    std::printf("render, streamed (write_state): %.0f ms (%.0f ms CPU), %.1f MB%s\n", ms_since(t0),
                static_cast<double>(std::clock() - cpu0) * 1000.0 / CLOCKS_PER_SEC,
                static_cast<double>(streamed.size()) / 1e6,
                tree ? (streamed == before ? ", identical bytes" : ", BYTES DIFFER") : "");
  }

  if (const char* rope_text = std::getenv("STOA_BENCH_ROPE")) {
    rope_mode(s, streamed, std::max(1, std::atoi(rope_text)));
    if (std::getenv("STOA_BENCH_ONLY_ROPE") != nullptr) {
      return 0;
    }
  }

  t0 = Clock::now();
  {
    stoa::master::MasterState copy = s;
    std::printf("copy of MasterState (a snapshot by copy would stall the master this long): %.0f ms\n",
                ms_since(t0));
  }

  // Through the child: streamed (the body handed over in parts while it
  // renders), then whole (the body handed over after the render, as before
  // session 13), each STOA_BENCH_CHILD_RENDERS times (default 1).
  const char* child_text = std::getenv("STOA_BENCH_CHILD_RENDERS");
  int child_renders = child_text != nullptr ? std::max(1, std::atoi(child_text)) : 1;
  for (bool streamed_body : {true, false}) {
    for (int i = 0; i < child_renders; ++i) {
      rusage children0{};
      ::getrusage(RUSAGE_CHILDREN, &children0);
      std::clock_t collector0 = std::clock();
      t0 = Clock::now();
      stoa::Try<stoa::master::ForkedRender> child =
          stoa::master::fork_render([&s, streamed_body](std::string* out) {
            stoa::master::ScopedBodyPipe whole(streamed_body ? stoa::master::current_body_pipe() : nullptr);
            stoa::master::write_state(s, out);
            return 200;
          });
      double fork_ms = ms_since(t0);
      if (child.is_error()) {
        std::printf("fork_render failed: %s\n", child.error().c_str());
        return 1;
      }
      auto view = stoa::master::collect_render(*child, std::chrono::minutes(5));
      double total_ms = ms_since(t0);
      if (view.is_error()) {
        std::printf("collect_render failed: %s\n", view.error().c_str());
        return 1;
      }
      rusage children1{};
      ::getrusage(RUSAGE_CHILDREN, &children1);
      auto cpu_ms = [](const timeval& a, const timeval& b) {
        return static_cast<double>(b.tv_sec - a.tv_sec) * 1e3 + static_cast<double>(b.tv_usec - a.tv_usec) / 1e3;
      };
      std::printf(
          "fork (the master's stall): %.1f ms; child render (%s) until the collector has it: %.0f ms, %s; "
          "CPU: child %.0f ms user + %.0f ms sys, collector %.0f ms\n",
          fork_ms, streamed_body ? "streamed" : "whole", total_ms,
          view->body == streamed ? "identical bytes" : "BYTES DIFFER",
          cpu_ms(children0.ru_utime, children1.ru_utime), cpu_ms(children0.ru_stime, children1.ru_stime),
          static_cast<double>(std::clock() - collector0) * 1000.0 / CLOCKS_PER_SEC);
    }
  }

  // The child's cost without the render: a body of the same size through
  // the pipe to the collector.
  t0 = Clock::now();
  stoa::Try<stoa::master::ForkedRender> copier = stoa::master::fork_render([&streamed](std::string* out) {
    out->assign(streamed);
    return 200;
  });
  if (copier.is_some()) {
    auto copied = stoa::master::collect_render(*copier, std::chrono::minutes(5));
    std::printf("child that only copies the rendered bytes, until the collector has them: %.0f ms\n",
                ms_since(t0));
  }

  for (int level : {1, 2, 3, 6}) {
    t0 = Clock::now();
    std::string gz = stoa::master::gzip(streamed, level);
    std::printf("gzip level %d: %.0f ms, %.1f MB -> %.2f MB\n", level, ms_since(t0),
                static_cast<double>(streamed.size()) / 1e6, static_cast<double>(gz.size()) / 1e6);
  }
  return 0;
}
