// The Cluster: one master (restartable on its port) and any number of
// slaves, each in its own work dir, plus the checks its destructor runs.
#include "tests/cluster.hpp"

#include <signal.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>

#include "tests/cluster_internal.hpp"

namespace stoa::tests {

namespace {

namespace fs = std::filesystem;

using internal::CLEANUP_TIMEOUT;
using internal::STARTUP_TIMEOUT;
using internal::become_subreaper;
using internal::reap_adopted_zombies;
using internal::test_failed;

// How often a master or slave is started on a new port (free_loopback_port)
// when another process took the one it was given meanwhile.
constexpr int PORT_ATTEMPTS = 3;

}  // namespace

const std::regex& listening_line() {
  static const std::regex re(R"(listening on http://127\.0\.0\.1:([0-9]+))");
  return re;
}

Cluster::Cluster() { become_subreaper(); }

Cluster::~Cluster() {
  expect_invariants_held();
  if (test_failed()) {
    print_logs();
  }
  // Clients first, then slaves, then the master.
  while (!processes_.empty()) {
    processes_.pop_back();
  }
  // Executors and tasks whose slave is gone, or that outlived a test failure.
  const std::string root = dir();
  std::vector<pid_t> leftovers;
  poll_until(
      [&] {
        leftovers = processes_under(root);
        for (pid_t pid : leftovers) {
          ::kill(pid, SIGKILL);
        }
        reap_adopted_zombies();
        return leftovers.empty();
      },
      deadline_in(CLEANUP_TIMEOUT));
  if (!leftovers.empty()) {
    ADD_FAILURE() << leftovers.size() << " processes inside " << root << " survived SIGKILL";
  }
}

void Cluster::expect_invariants_held() {
  if (master_ != nullptr && master_port_ != 0 && master_->running()) {
    Try<picojson::value> metrics =
        http_get_json("127.0.0.1", master_port_, "/metrics/snapshot", deadline_in(std::chrono::seconds(2)));
    if (metrics) {
      Try<double> violations = invariant_violations(*metrics);
      if (violations.is_error()) {
        ADD_FAILURE() << master_->name() << ": " << violations.error();
      } else {
        EXPECT_EQ(*violations, 0.0) << master_->name() << " logged accounting invariant violations";
      }
    }
  }
  // Masters killed by the test cannot be asked: their logs tell.
  for (const Process* master : masters_) {
    for (const std::string& line : invariant_violations_logged(*master)) {
      ADD_FAILURE() << master->name() << " broke an accounting invariant: " << line;
    }
  }
}

Try<Process*> Cluster::start(const std::string& binary, const std::string& label,
                             const std::vector<std::string>& args) {
  Try<std::unique_ptr<Process>> p = Process::start(binary, args, dir() + "/" + label + ".log");
  if (p.is_error()) {
    return Error(p.error());
  }
  processes_.push_back(std::move(*p));
  return processes_.back().get();
}

Try<bool> Cluster::start_with_slaves(size_t slaves) {
  Try<Process*> master = start_master();
  if (master.is_error()) {
    return Error(master.error());
  }
  for (size_t i = 0; i < slaves; ++i) {
    Try<Process*> slave = start_slave();
    if (slave.is_error()) {
      return Error(slave.error());
    }
  }
  if (!wait_for_active_slaves(slaves, deadline_in(DEFAULT_TIMEOUT))) {
    return Error(std::to_string(slaves) + " slaves never registered");
  }
  return true;
}

Try<Process*> Cluster::start_master(const std::vector<std::string>& extra_args) {
  return start_master_with_env({}, extra_args);
}

Try<Process*> Cluster::start_slave(const std::string& resources, const std::vector<std::string>& extra_args) {
  if (master_port_ == 0) {
    return Error("start_slave: no master");
  }
  size_t index = slaves_.size();
  std::string work_dir = dir() + "/slave" + std::to_string(index);
  fs::create_directories(work_dir);
  std::vector<std::string> args;
  std::optional<std::vector<std::string>> m;
  Process* p = nullptr;
  for (int attempt = 1;; ++attempt) {
    // A port below the kernel's ephemeral range (free_loopback_port), as a
    // restart binds it again: one of that range may meanwhile be the local
    // end of any process's outgoing connection, and the restarted slave then
    // could not serve HTTP. Another test may pick the same port in between:
    // then a new one.
    args = {"--master=" + master_address(), "--ip=127.0.0.1", "--port=" + std::to_string(free_loopback_port()),
            "--work_dir=" + work_dir};
    if (!resources.empty()) {
      args.push_back("--resources=" + resources);
    }
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    Try<Process*> started = start("stoa-slave", "slave" + std::to_string(index), args);
    if (started.is_error()) {
      return started;
    }
    p = *started;
    m = p->wait_for_line(listening_line(), deadline_in(STARTUP_TIMEOUT));
    if (m) {
      break;
    }
    if (attempt == PORT_ATTEMPTS || !port_was_taken(*p)) {
      return Error("stoa-slave did not log 'listening on http://127.0.0.1:PORT' (" + p->describe_exit() +
                   "); log tail:\n" + tail_of_file(p->log_path(), 20));
    }
  }
  slaves_.push_back(p);
  slave_ports_.push_back(std::stoi((*m)[1]));
  slave_work_dirs_.push_back(work_dir);
  slave_args_.push_back(args);
  return p;
}

bool Cluster::port_was_taken(Process& p) {
  // It says so on stderr (its log) before it exits.
  return !p.running() && read_file(p.log_path()).find("cannot serve HTTP") != std::string::npos;
}

Try<Process*> Cluster::restart_slave(size_t index, const std::string& label, const std::vector<std::string>& extra_args) {
  // The old flags (with the port start_slave gave it), each of `extra_args`
  // replacing a flag of the same name.
  auto name_of = [](const std::string& arg) { return arg.substr(0, arg.find('=')); };
  std::vector<std::string> args;
  for (const std::string& a : slave_args_.at(index)) {
    bool replaced = false;
    for (const std::string& extra : extra_args) {
      replaced |= name_of(extra) == name_of(a);
    }
    if (!replaced) {
      args.push_back(a);
    }
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  Try<Process*> p = start("stoa-slave", label, args);
  if (p.is_error()) {
    return p;
  }
  auto m = (*p)->wait_for_line(listening_line(), deadline_in(STARTUP_TIMEOUT));
  if (!m) {
    return Error("the restarted stoa-slave did not log 'listening on http://127.0.0.1:PORT' (" +
                 (*p)->describe_exit() + "); log tail:\n" + tail_of_file((*p)->log_path(), 20));
  }
  slaves_.at(index) = *p;
  return p;
}

Try<picojson::value> Cluster::state() { return http_get_json("127.0.0.1", master_port_, "/master/state"); }

bool Cluster::wait_for_active_slaves(size_t count, Deadline deadline) {
  std::optional<std::string> broken;
  bool reached = poll_until(
      [&] {
        Try<picojson::value> s = state();
        if (s.is_error()) {
          return false;
        }
        Try<size_t> active = count_active_slaves(*s);
        if (active.is_error()) {
          broken = active.error();
          return true;  // stop polling: this will not get better
        }
        return *active == count;
      },
      deadline);
  if (broken) {
    ADD_FAILURE() << *broken;
    return false;
  }
  return reached;
}

void Cluster::print_logs(size_t lines) const {
  for (const auto& p : processes_) {
    std::cerr << "----- " << p->name() << " (" << p->log_path() << ", last " << lines << " lines) -----\n"
              << tail_of_file(p->log_path(), lines) << "\n";
  }
  // A few sandboxes (executor and task output), to see why a task failed.
  size_t shown = 0;
  for (const char* name : {"stderr", "stdout"}) {
    for (const std::string& file : find_files_named(dir(), name)) {
      if (shown++ == 6) {
        return;
      }
      std::cerr << "----- " << file << " (last 15 lines) -----\n" << tail_of_file(file, 15) << "\n";
    }
  }
}

// ---------------------------------------------------------------------------
// Masters: with an environment, and restarted on their port. All of them
// check their accounting invariants.

Try<Process*> Cluster::start(const std::string& binary, const std::string& label,
                             const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  Try<std::unique_ptr<Process>> p = Process::start(binary, args, dir() + "/" + label + ".log", env);
  if (p.is_error()) {
    return Error(p.error());
  }
  processes_.push_back(std::move(*p));
  return processes_.back().get();
}

Try<std::pair<Process*, int>> Cluster::start_checked_master(const std::string& label,
                                                            const std::vector<std::string>& args,
                                                            const std::map<std::string, std::string>& env,
                                                            const std::string& what) {
  // Every test master checks its accounting invariants after each
  // allocation run (see expect_invariants_held).
  std::map<std::string, std::string> full_env = env;
  full_env["STOA_CHECK_INVARIANTS"] = "1";
  Try<Process*> p = start("stoa-master", label, args, full_env);
  if (p.is_error()) {
    return Error(p.error());
  }
  masters_.push_back(*p);
  auto m = (*p)->wait_for_line(listening_line(), deadline_in(STARTUP_TIMEOUT));
  if (!m) {
    return Error(what + " did not log 'listening on http://127.0.0.1:PORT' (" + (*p)->describe_exit() +
                 "); log tail:\n" + tail_of_file((*p)->log_path(), 20));
  }
  const int port = std::stoi((*m)[1]);
  // A master alone leads once it has read its registry (its views answer
  // 503 until then): tests start talking to it after that.
  int status = 0;
  poll_until(
      [&] {
        Try<HttpResponse> r = http_get("127.0.0.1", port, "/master/state-summary",
                                     deadline_in(std::chrono::seconds(2)));
        status = r ? r->status : 0;
        return status == 200 || !(*p)->running();
      },
      deadline_in(STARTUP_TIMEOUT));
  if (status != 200) {
    return Error(what + " did not finish recovering (last status " + std::to_string(status) + ", " +
                 (*p)->describe_exit() + "); log tail:\n" + tail_of_file((*p)->log_path(), 20));
  }
  return std::make_pair(*p, port);
}

Try<Process*> Cluster::start_master_with_env(const std::map<std::string, std::string>& env,
                                             const std::vector<std::string>& extra_args) {
  std::string work_dir = dir() + "/master";
  fs::create_directories(work_dir);
  Try<std::pair<Process*, int>> started = Error("not started");
  for (int attempt = 1; attempt <= PORT_ATTEMPTS; ++attempt) {
    // Below the ephemeral range, as the slaves' (start_slave): a restart
    // binds the same port again.
    std::vector<std::string> args = {"--ip=127.0.0.1", "--port=" + std::to_string(free_loopback_port()),
                                     "--work_dir=" + work_dir};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    const size_t before = masters_.size();
    started = start_checked_master("master", args, env, "stoa-master");
    if (started.is_some() || masters_.size() == before || !port_was_taken(*masters_.back())) {
      break;
    }
  }
  if (started.is_error()) {
    return Error(started.error());
  }
  master_ = started->first;
  master_port_ = started->second;
  return master_;
}

Try<Process*> Cluster::restart_master(const std::string& label, const std::vector<std::string>& extra_args) {
  if (master_port_ == 0) {
    return Error("restart_master: no master was started before");
  }
  std::string work_dir = dir() + "/master";
  fs::create_directories(work_dir);
  std::vector<std::string> args = {"--ip=127.0.0.1", "--port=" + std::to_string(master_port_),
                                   "--work_dir=" + work_dir};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  Try<std::pair<Process*, int>> started = start_checked_master(label, args, {}, "restarted stoa-master");
  if (started.is_error()) {
    return Error(started.error());
  }
  if (started->second != master_port_) {
    return Error("restarted stoa-master listens on port " + std::to_string(started->second) + ", not on " +
                 std::to_string(master_port_));
  }
  master_ = started->first;
  return master_;
}

}  // namespace stoa::tests
