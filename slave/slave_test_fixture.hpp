#pragma once
// The slave under virtual time, for its unit tests (slave_timers_test.cpp,
// slave_recovery_test.cpp): CAF's test_coordinator runs the slave, a fake
// master, a fake router, a fake containerizer and a fake executor on the
// test's thread, and `advance_time` moves the clock the slave's delayed
// messages use. No test sleeps or waits in real time. (CAF's
// caf/test/dsl.hpp crashes under GoogleTest: the scheduler is driven
// directly, as in the CAF cookbook §6.)

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include <memory>
#include <optional>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "slave/slave.hpp"
#include "slave/slave_actor.hpp"
#include "slave/status_update_manager.hpp"

namespace stoa::slave {
namespace {

using namespace std::chrono_literals;
using namespace stoa::internal;

// What a fake peer received (everything the slave sent it).
struct Inbox {
  std::vector<caf::message> messages;

  template <class T>
  std::vector<T> all() const {
    std::vector<T> out;
    for (const caf::message& m : messages) {
      if (m.match_elements<T>()) {
        out.push_back(m.get_as<T>(0));
      }
    }
    return out;
  }
  template <class T>
  size_t count() const {
    return all<T>().size();
  }
};

void record_everything_else(caf::event_based_actor* self, std::shared_ptr<Inbox> inbox) {
  self->set_default_handler([inbox](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
    inbox->messages.push_back(x.move_content_to_message());
    return caf::message{};
  });
}

// The master: what the test hands it goes to the slave (from the master);
// what the slave sends it is recorded.
caf::behavior fake_master(caf::event_based_actor* self, std::shared_ptr<Inbox> inbox,
                          std::shared_ptr<caf::actor> slave) {
  record_everything_else(self, inbox);
  return {
      [self, slave](SlaveRegisteredMessage& m) { self->send(*slave, m); },
      [self, slave](SlaveReregisteredMessage& m) { self->send(*slave, m); },
      [self, slave](PingSlaveMessage& m) { self->send(*slave, m); },
      [self, slave](RunTaskMessage& m) { self->send(*slave, m); },
      [self, slave](StatusUpdateAcknowledgementMessage& m) { self->send(*slave, m); },
      [self, slave](StatusUpdateAcknowledgementsMessage& m) { self->send(*slave, m); },
      [self, slave](ShutdownFrameworkMessage& m) { self->send(*slave, m); },
      [self, slave](ShutdownMessage& m) { self->send(*slave, m); },
  };
}

// An executor: registers with the slave when the test says so.
caf::behavior fake_executor(caf::event_based_actor* self, std::shared_ptr<Inbox> inbox,
                            std::shared_ptr<caf::actor> slave) {
  record_everything_else(self, inbox);
  return {
      [self, slave](RegisterExecutorMessage& m) { self->send(*slave, m); },
      [self, slave](ReregisterExecutorMessage& m) { self->send(*slave, m); },
  };
}

caf::behavior fake_router(caf::event_based_actor*, caf::actor master) {
  return {
      [master](resolve_atom, const std::string&) { return master; },
  };
}

// The containerizer: launches succeed with made-up pids and nothing runs; a
// container exits when the test sends `(reaped_atom, container_id, status)`.
struct FakeContainers {
  std::vector<ContainerConfig> launched;
  std::vector<std::string> destroyed;
  std::vector<AdoptConfig> adopted;
  std::map<std::string, caf::response_promise> waits;
};

caf::behavior fake_containerizer(caf::event_based_actor* self, std::shared_ptr<FakeContainers> fc) {
  return {
      [fc](launch_atom, const ContainerConfig& c) {
        fc->launched.push_back(c);
        return LaunchResult{static_cast<int32_t>(1000 + fc->launched.size()), ""};
      },
      [self, fc](wait_atom, const std::string& cid) {
        fc->waits[cid] = self->make_response_promise();
        return fc->waits[cid];
      },
      [fc](destroy_atom, const std::string& cid) { fc->destroyed.push_back(cid); },
      [](usage_atom, const std::vector<std::string>&) { return ContainerUsages{}; },
      [fc](adopt_atom, const AdoptConfig& c) {
        fc->adopted.push_back(c);
        return true;
      },
      [fc](destroy_all_atom) {
        for (const ContainerConfig& c : fc->launched) {
          fc->destroyed.push_back(c.container_id);
        }
        return true;
      },
      [fc](reaped_atom, const std::string& cid, int32_t status) { fc->waits.at(cid).deliver(status); },
  };
}

// A work dir of its own (the slave writes its checkpoint there), removed at the end.
struct TempWorkDir {
  TempWorkDir() {
    char tmpl[] = "/tmp/stoa-slave-test-XXXXXX";
    path = ::mkdtemp(tmpl) != nullptr ? tmpl : "/tmp/stoa-slave-test-unusable";
  }
  ~TempWorkDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

class SlaveTimers : public ::testing::Test {
 protected:
  // With `recovered`: a slave restarted on that checkpoint.
  explicit SlaveTimers(std::optional<SlaveCheckpoint> recovered = std::nullopt)
      : sys(init(cfg)), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    master = sys.spawn(fake_master, to_master, slave_handle);
    executor = sys.spawn(fake_executor, to_executor, slave_handle);
    containerizer = sys.spawn(fake_containerizer, containers);
    caf::actor router = sys.spawn(fake_router, master);
    start = sched.clock().now();
    SlaveOptions opts;
    const std::string work_dir_flag = "--work_dir=" + work_dir.path;
    const char* argv[] = {"stoa-slave", "--master=127.0.0.1:5050", work_dir_flag.c_str()};
    EXPECT_FALSE(opts.flags.load(3, argv, {}));
    opts.upid = Upid{"slave(1)", "127.0.0.1", 5051};
    opts.master = Upid{"master", "127.0.0.1", 5050};
    opts.hostname = "node1";
    opts.resources = *Resources::parse("cpus:2;mem:1024");
    opts.executor_path = "/nonexistent/stoa-executor";
    opts.containerizer = caf::actor_cast<containerizer_actor>(containerizer);
    opts.recovered = std::move(recovered);
    opts.rng_seed = RNG_SEED;  // the random waits, the same in every run
    *slave_handle = spawn_slave(sys, router, opts);
    sched.run();
  }
  ~SlaveTimers() override {
    stop_actor(sys, *slave_handle);
    for (const caf::actor& a : {master, executor, containerizer}) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    sched.run();
  }
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    add_message_types(c);
    c.set("scheduler.policy", caf::atom("testing"));
    c.set("logger.inline-output", true);
    return c;
  }

  // Moves virtual time on with a ping from the master every 30 s (so the
  // slave keeps its master), ending with the last step.
  void advance_with_pings(caf::timespan d) {
    while (d > caf::timespan(30s)) {
      ping();
      advance(30s);
      d -= caf::timespan(30s);
    }
    ping();
    advance(d);
  }
  // Moves virtual time on and runs everything that became due.
  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }
  // How long until the slave's next registration retry. The only other
  // timer then pending is the timeout of the slave's first request to the
  // router (answered, so it fires into nothing), due RESOLVE_TIMEOUT after
  // the start.
  static constexpr uint64_t RNG_SEED = 17;
  caf::timespan next_retry() {
    for (const auto& [when, event] : sched.clock().schedule()) {
      if (when != start + RESOLVE_TIMEOUT) {
        return when - sched.clock().now();
      }
    }
    ADD_FAILURE() << "no retry pending";
    return caf::timespan{0};
  }
  template <class T>
  void tell_master(const T& m) {
    caf::anon_send(master, m);
    sched.run();
  }
  void ping() {
    PingSlaveMessage m;
    m.set_connected(true);
    tell_master(m);
  }
  void register_slave() {
    SlaveRegisteredMessage m;
    m.mutable_slave_id()->set_value("S1");
    tell_master(m);
  }
  // The master runs task `tid` of framework F1 on the slave.
  void run_task(const std::string& tid) {
    RunTaskMessage m;
    m.mutable_framework_id()->set_value("F1");
    m.mutable_framework()->mutable_id()->set_value("F1");
    m.mutable_framework()->set_name("test");
    m.mutable_framework()->set_user("root");
    m.set_pid("scheduler@127.0.0.1:1");
    TaskInfo* t = m.mutable_task();
    t->set_name(tid);
    t->mutable_task_id()->set_value(tid);
    t->mutable_slave_id()->set_value("S1");
    Resources::parse("cpus:1;mem:128")->to_proto(t->mutable_resources());
    t->mutable_command()->set_value("true");
    tell_master(m);
  }
  // The fake executor registers executor `eid` of framework F1.
  void register_executor(const std::string& eid) {
    RegisterExecutorMessage m;
    m.mutable_framework_id()->set_value("F1");
    m.mutable_executor_id()->set_value(eid);
    caf::anon_send(executor, m);
    sched.run();
  }
  // The fake executor sends the slave an update of task `tid` (its own
  // executor's) of framework F1.
  void executor_update(const std::string& tid, TaskState state, const std::string& uuid, double timestamp = 0) {
    StatusUpdateMessage m;
    StatusUpdate* u = m.mutable_update();
    u->mutable_framework_id()->set_value("F1");
    u->mutable_executor_id()->set_value(tid);
    u->mutable_status()->mutable_task_id()->set_value(tid);
    u->mutable_status()->set_state(state);
    u->mutable_status()->set_uuid(uuid);
    u->mutable_status()->set_timestamp(timestamp);
    u->set_uuid(uuid);
    caf::send_as(executor, *slave_handle, m);
    sched.run();
  }
  // The slave's /slave/state, as its HTTP route renders it.
  std::string slave_state() {
    auto out = std::make_shared<std::string>();
    sys.spawn([out, slave = *slave_handle](caf::event_based_actor* self) {
      self->request(slave, caf::infinite, state_atom_v, std::string("state"), std::map<std::string, std::string>{})
          .then([out](int, const std::string& body) { *out = body; });
    });
    sched.run();
    return *out;
  }
  // The master shuts framework `fid` down.
  void shutdown_framework(const std::string& fid) {
    ShutdownFrameworkMessage m;
    m.mutable_framework_id()->set_value(fid);
    tell_master(m);
  }
  std::vector<StatusUpdate> updates_to_master() {
    std::vector<StatusUpdate> out;
    for (const StatusUpdateMessage& m : to_master->all<StatusUpdateMessage>()) {
      out.push_back(m.update());
    }
    return out;
  }

  TempWorkDir work_dir;
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<Inbox> to_master = std::make_shared<Inbox>();
  std::shared_ptr<Inbox> to_executor = std::make_shared<Inbox>();
  std::shared_ptr<FakeContainers> containers = std::make_shared<FakeContainers>();
  std::shared_ptr<caf::actor> slave_handle = std::make_shared<caf::actor>();
  caf::actor master;
  caf::actor executor;
  caf::actor containerizer;
  caf::actor_clock::time_point start;
};

}  // namespace
}  // namespace stoa::slave
