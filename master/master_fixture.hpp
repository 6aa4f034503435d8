#pragma once
// The master-level test fixture (master_timers_test.cpp,
// master_partition_test.cpp): a master driven by CAF's test_coordinator
// (virtual time; cookbook §6) and fake slave and scheduler actors that record
// what the master sends them. Test-only: included by *_test.cpp files.

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <gtest/gtest.h>
#include <picojson.h>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/safety.hpp"
#include "common/metrics.hpp"
#include "common/resources.hpp"
#include "master/master.hpp"
#include "registrar/registrar.hpp"
#include "registrar/storage.hpp"

namespace stoa::master::testing {

using namespace std::chrono_literals;
using namespace stoa::internal;
using stoa::scheduler::Call;
using stoa::scheduler::Event;

// What a fake peer (slave or scheduler) received.
struct Inbox {
  std::vector<Event> events;
  int pings = 0;
  std::vector<std::string> registered;  // slave ids from (Re)Registered messages
  std::vector<MasterSlaveConnection> connections;  // from the same messages
  bool pong = true;                     // answer pings
  std::vector<RunTaskMessage> runs;
  std::vector<KillTaskMessage> kills;
  std::vector<std::string> shutdown_frameworks;  // framework ids
  std::vector<std::string> shutdowns;            // ShutdownMessage texts
  // Batches (master/batches.cpp): the size of each scheduler::Events (its
  // events are in `events` too), the acknowledgements as they came
  // (alone or in batches) with the size of each batch, and the order in
  // which acknowledgements ("ack:<task>") and kills ("kill:<task>") came.
  std::vector<int> event_batches;
  std::vector<StatusUpdateAcknowledgementMessage> acks;
  std::vector<int> ack_batches;
  std::vector<std::string> order;
};

// A fake peer with what it received and the id the master gave it.
struct Peer {
  caf::actor actor;
  std::shared_ptr<Inbox> inbox;
  std::string id;
};

class MasterFixture : public ::testing::Test {
 protected:
  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    add_message_types(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.inline-output", true);
    return cfg;
  }

  MasterFixture()
      : sys_(configure(cfg_)),
        sched_(dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler())),
        self_(sys_, true) {}

  ~MasterFixture() override {
    for (auto& a : peers_) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    if (real_storage_.actor) {
      caf::anon_send_exit(real_storage_.actor, caf::exit_reason::user_shutdown);
    }
    if (master_) {
      stop_actor(sys_, master_);  // the master refuses anonymous exits
    }
    sched_.run();
  }

  // Starts a master; a later start() (after stop_master()) is its successor
  // over the same in-memory registry store.
  void start(std::vector<const char*> flags) {
    ::setenv("STOA_CHECK_INVARIANTS", "1", 1);
    flags.insert(flags.begin(), "stoa-master");
    MasterOptions opts;
    ASSERT_FALSE(opts.flags.load(static_cast<int>(flags.size()), flags.data(), {}));
    opts.upid = Upid{"master", "127.0.0.1", 5050};
    opts.hostname = "localhost";
    opts.metrics = &metrics_;
    opts.detached_allocator = false;  // scheduled by the test coordinator
    opts.view_render_rest_max = std::chrono::milliseconds(0);
    opts.detached_registrar = false;
    opts.registry_storage = std::make_shared<registrar::Storage>(storage_proxy());
    Try<caf::actor> m = spawn_master(sys_, opts);
    ASSERT_TRUE(m.is_some()) << m.error();
    master_ = *m;
    sched_.run();
  }

  // The registry's store, shared by successive masters. A registrar links to
  // its store and dies with its master: each gets a proxy, so that the store
  // itself outlives them.
  registrar::Storage storage_proxy() {
    if (!real_storage_.actor) {
      real_storage_ = registrar::spawn_in_memory_storage(sys_);
    }
    registrar::storage_actor real = real_storage_.actor;
    auto proxy = sys_.spawn([real](registrar::storage_actor::pointer self) -> registrar::storage_actor::behavior_type {
      return {
          [self, real](registrar::fetch_atom a) { return self->delegate(real, a); },
          [self, real](registrar::store_atom a, std::vector<std::string>& parts, uint64_t version) {
            return self->delegate(real, a, std::move(parts), version);
          },
          [self, real](registrar::storage_stats_atom a) { return self->delegate(real, a); },
      };
    });
    return registrar::Storage{proxy, real_storage_.description, real_storage_.reset_hint};
  }

  // Applies `op` to the stored registry (between two masters).
  void apply_to_registry(const registry::Operation& op) {
    registrar::Options ropts;
    ropts.detached = false;
    caf::actor r = registrar::spawn_registrar(sys_, storage_proxy(), ropts);
    MasterInfo info;
    info.set_id("test");
    info.set_ip(0);
    info.set_port(1);
    auto recovered = self_->request(r, caf::infinite, registrar::recover_atom_v, info);
    sched_.run();
    recovered.receive([](registrar::ScannedRegistry&) {}, [](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    auto applied = self_->request(r, caf::infinite, registrar::apply_atom_v, op);
    sched_.run();
    applied.receive([](bool changed) { EXPECT_TRUE(changed); },
                    [](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    stop_actor(sys_, r);
    sched_.run();
  }

  void stop_master() {
    stop_actor(sys_, master_);
    master_ = caf::actor{};
    sched_.run();
  }

  // A fake slave or scheduler: an actor that records what the master sends.
  caf::actor peer(std::shared_ptr<Inbox> inbox) {
    caf::actor a = sys_.spawn([inbox](caf::event_based_actor* self) -> caf::behavior {
      return {
          [inbox](Event& e) { inbox->events.push_back(e); },
          [inbox](scheduler::Events& b) {
            inbox->event_batches.push_back(b.events_size());
            for (Event& e : *b.mutable_events()) {
              inbox->events.push_back(std::move(e));
            }
          },
          [inbox](SlaveRegisteredMessage& m) {
            inbox->registered.push_back(m.slave_id().value());
            inbox->connections.push_back(m.connection());
          },
          [inbox](SlaveReregisteredMessage& m) {
            inbox->registered.push_back(m.slave_id().value());
            inbox->connections.push_back(m.connection());
          },
          [inbox, self](PingSlaveMessage&) {
            ++inbox->pings;
            if (inbox->pong) {
              self->send(caf::actor_cast<caf::actor>(self->current_sender()), PongSlaveMessage{});
            }
          },
          [inbox](RunTaskMessage& m) { inbox->runs.push_back(m); },
          [inbox](KillTaskMessage& m) {
            inbox->order.push_back("kill:" + m.task_id().value());
            inbox->kills.push_back(m);
          },
          [inbox](ShutdownFrameworkMessage& m) { inbox->shutdown_frameworks.push_back(m.framework_id().value()); },
          [inbox](ShutdownMessage& m) { inbox->shutdowns.push_back(m.message()); },
          [inbox](StatusUpdateAcknowledgementMessage& m) {
            inbox->order.push_back("ack:" + m.task_id().value());
            inbox->acks.push_back(m);
          },
          [inbox](StatusUpdateAcknowledgementsMessage& b) {
            inbox->ack_batches.push_back(b.acknowledgements_size());
            for (StatusUpdateAcknowledgementMessage& m : *b.mutable_acknowledgements()) {
              inbox->order.push_back("ack:" + m.task_id().value());
              inbox->acks.push_back(m);
            }
          },
      };
    });
    peers_.push_back(a);
    sched_.run();
    return a;
  }

  std::string add_slave(const caf::actor& slave, const std::shared_ptr<Inbox>& inbox,
                        const std::string& resources = "cpus:4;mem:1024", bool batched_acknowledgements = false) {
    RegisterSlaveMessage m;
    m.set_batched_acknowledgements(batched_acknowledgements);
    m.mutable_slave()->set_hostname("host1");
    Try<Resources> r = Resources::parse(resources);
    EXPECT_TRUE(r.is_some());
    r->to_proto(m.mutable_slave()->mutable_resources());
    m.set_pid("slave(1)@127.0.0.1:" + std::to_string(5051 + peers_.size()));
    caf::send_as(slave, master_, m);
    sched_.run();
    EXPECT_FALSE(inbox->registered.empty());
    return inbox->registered.empty() ? "" : inbox->registered.back();
  }

  // The slave re-registers (a known or an unknown slave) reporting
  // `tasks` and `frameworks`.
  void reregister(const caf::actor& slave, const std::string& slave_id, const std::vector<Task>& tasks,
                  const std::vector<FrameworkInfo>& frameworks, const std::string& resources = "cpus:4;mem:1024") {
    ReregisterSlaveMessage m;
    m.mutable_slave()->set_hostname("host1");
    m.mutable_slave()->mutable_id()->set_value(slave_id);
    Resources::parse(resources)->to_proto(m.mutable_slave()->mutable_resources());
    for (const Task& t : tasks) {
      *m.add_tasks() = t;
    }
    for (const FrameworkInfo& f : frameworks) {
      *m.add_frameworks() = f;
    }
    m.set_pid("slave(1)@127.0.0.1:6000");
    caf::send_as(slave, master_, m);
    sched_.run();
  }

  std::string subscribe(const caf::actor& fw, const std::shared_ptr<Inbox>& inbox, double failover_timeout = 0,
                        bool partition_aware = false, bool checkpoint = false, bool batched_events = false) {
    Call call;
    call.set_type(Call::SUBSCRIBE);
    call.mutable_subscribe()->set_batched_events(batched_events);
    FrameworkInfo* info = call.mutable_subscribe()->mutable_framework_info();
    info->set_name("timers");
    info->set_user("nobody");
    info->set_failover_timeout(failover_timeout);
    info->set_checkpoint(checkpoint);
    if (partition_aware) {
      info->add_capabilities()->set_type(FrameworkInfo::Capability::PARTITION_AWARE);
    }
    call.mutable_subscribe()->set_pid("scheduler@127.0.0.1:9999");
    caf::send_as(fw, master_, call);
    sched_.run();
    for (const Event& e : inbox->events) {
      if (e.type() == Event::SUBSCRIBED) {
        return e.subscribed().framework_id().value();
      }
    }
    ADD_FAILURE() << "not subscribed";
    return "";
  }

  // Advances virtual time in steps (each firing what is due, then running
  // every actor until idle), so chains of timers behave as in real time.
  void advance(caf::timespan total, caf::timespan step = 100ms) {
    for (caf::timespan t{0}; t < total; t += step) {
      sched_.advance_time(std::min(step, total - t));
      sched_.run();
    }
  }

  picojson::value view(const std::string& endpoint) {
    picojson::value v;
    auto h = self_->request(master_, caf::infinite, state_atom_v, endpoint, std::map<std::string, std::string>{});
    sched_.run();
    h.receive(
        [&](int status, std::string& body) {
          EXPECT_EQ(status, 200) << body;
          EXPECT_TRUE(picojson::parse(v, body).empty());
        },
        [&](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    return v;
  }

  double metric(const std::string& name) {
    view("metrics");  // refreshes the gauges
    std::optional<double> v = metrics_.value(name);
    EXPECT_TRUE(v.has_value()) << name << " is not declared";
    return v.value_or(-1);
  }

  size_t offers_of(const std::shared_ptr<Inbox>& inbox) {
    size_t n = 0;
    for (const Event& e : inbox->events) {
      n += e.type() == Event::OFFERS ? static_cast<size_t>(e.offers().offers_size()) : 0;
    }
    return n;
  }

  const Offer* last_offer(const std::shared_ptr<Inbox>& inbox) {
    for (auto it = inbox->events.rbegin(); it != inbox->events.rend(); ++it) {
      if (it->type() == Event::OFFERS && it->offers().offers_size() > 0) {
        return &it->offers().offers(0);
      }
    }
    return nullptr;
  }

  metrics::Registry metrics_;  // outlives the actors that write to it
  registrar::Storage real_storage_;  // the registry, shared by successive masters
  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::scheduler::test_coordinator& sched_;
  caf::scoped_actor self_;
  caf::actor master_;
  std::vector<caf::actor> peers_;
};

// Subscribes `fw` as a new instance of framework `fid` (failover).
inline void resubscribe(caf::actor_system&, const caf::actor& fw, const caf::actor& master, const std::string& fid,
                 double failover_timeout, bool force) {
  Call call;
  call.set_type(Call::SUBSCRIBE);
  call.mutable_framework_id()->set_value(fid);
  FrameworkInfo* info = call.mutable_subscribe()->mutable_framework_info();
  info->set_name("timers");
  info->set_user("nobody");
  info->mutable_id()->set_value(fid);
  info->set_failover_timeout(failover_timeout);
  call.mutable_subscribe()->set_pid("scheduler@127.0.0.1:9998");
  call.mutable_subscribe()->set_force(force);
  caf::send_as(fw, master, call);
}

inline const Event* last_event(const std::shared_ptr<Inbox>& inbox, Event::Type type) {
  for (auto it = inbox->events.rbegin(); it != inbox->events.rend(); ++it) {
    if (it->type() == type) {
      return &*it;
    }
  }
  return nullptr;
}

// Launches task `tid` on the framework's last offer.
inline void launch_on_last_offer(const caf::actor& fw, const caf::actor& master, const std::string& fid,
                          const Offer& offer, const std::string& tid) {
  Call accept;
  accept.set_type(Call::ACCEPT);
  accept.mutable_framework_id()->set_value(fid);
  *accept.mutable_accept()->add_offer_ids() = offer.id();
  Offer::Operation* op = accept.mutable_accept()->add_operations();
  op->set_type(Offer::Operation::LAUNCH);
  TaskInfo* t = op->mutable_launch()->add_task_infos();
  t->set_name(tid);
  t->mutable_task_id()->set_value(tid);
  *t->mutable_slave_id() = offer.slave_id();
  t->mutable_command()->set_value("sleep 1000");
  Resources::parse("cpus:1;mem:64")->to_proto(t->mutable_resources());
  caf::send_as(fw, master, accept);
}

// A slave's status update of task `tid` of framework `fid` (update and
// status carry the same uuid), for a test to send as that slave.
inline StatusUpdateMessage status_update(const std::string& sid, const std::string& fid, const std::string& tid,
                                         TaskState state, const std::string& uuid) {
  StatusUpdateMessage m;
  m.mutable_update()->mutable_framework_id()->set_value(fid);
  m.mutable_update()->mutable_slave_id()->set_value(sid);
  TaskStatus* st = m.mutable_update()->mutable_status();
  st->mutable_task_id()->set_value(tid);
  st->mutable_slave_id()->set_value(sid);
  st->set_state(state);
  st->set_uuid(uuid);
  m.mutable_update()->set_timestamp(1);
  m.mutable_update()->set_uuid(uuid);
  return m;
}

// Framework `fid`'s acknowledgement of update `uuid` of task `tid`.
inline Call acknowledge_call(const std::string& fid, const std::string& sid, const std::string& tid,
                             const std::string& uuid) {
  Call call;
  call.set_type(Call::ACKNOWLEDGE);
  call.mutable_framework_id()->set_value(fid);
  call.mutable_acknowledge()->mutable_slave_id()->set_value(sid);
  call.mutable_acknowledge()->mutable_task_id()->set_value(tid);
  call.mutable_acknowledge()->set_uuid(uuid);
  return call;
}

// Framework `fid`'s TEARDOWN.
inline Call teardown_call(const std::string& fid) {
  Call call;
  call.set_type(Call::TEARDOWN);
  call.mutable_framework_id()->set_value(fid);
  return call;
}

// The task a slave reports for a RunTaskMessage it received.
inline Task reported_task(const RunTaskMessage& run, TaskState state = TASK_RUNNING) {
  Task t;
  t.set_name(run.task().name());
  *t.mutable_task_id() = run.task().task_id();
  *t.mutable_framework_id() = run.framework_id();
  *t.mutable_slave_id() = run.task().slave_id();
  *t.mutable_resources() = run.task().resources();
  t.set_state(state);
  return t;
}

// The status updates the framework got for task `tid`, in order.
inline std::vector<TaskStatus> updates_for(const std::shared_ptr<Inbox>& inbox, const std::string& tid) {
  std::vector<TaskStatus> out;
  for (const Event& e : inbox->events) {
    if (e.type() == Event::UPDATE && e.update().status().task_id().value() == tid) {
      out.push_back(e.update().status());
    }
  }
  return out;
}

}  // namespace stoa::master::testing
