// Every timer of the master and its allocator, driven by virtual time:
// CAF's test_coordinator runs the actors on this thread and
// advance_time() fires delayed messages, so minutes of cluster time pass
// in milliseconds (cookbook §6; caf/test/dsl.hpp is not usable under gtest).

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

namespace stoa::master {
namespace {

using namespace std::chrono_literals;
using namespace stoa::internal;
using stoa::scheduler::Call;
using stoa::scheduler::Event;

// What a fake peer (slave or scheduler) received.
struct Inbox {
  std::vector<Event> events;
  int pings = 0;
  std::vector<std::string> registered;  // slave ids from (Re)Registered messages
  bool pong = true;                     // answer pings
};

class MasterTimers : public ::testing::Test {
 protected:
  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    add_message_types(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.inline-output", true);
    return cfg;
  }

  MasterTimers()
      : sys_(configure(cfg_)),
        sched_(dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler())),
        self_(sys_, true) {}

  ~MasterTimers() override {
    for (auto& a : peers_) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    if (master_) {
      stop_actor(sys_, master_);  // the master refuses anonymous exits
    }
    sched_.run();
  }

  void start(std::vector<const char*> flags) {
    ::setenv("STOA_CHECK_INVARIANTS", "1", 1);
    flags.insert(flags.begin(), "stoa-master");
    MasterOptions opts;
    ASSERT_FALSE(opts.flags.load(static_cast<int>(flags.size()), flags.data(), {}));
    opts.upid = Upid{"master", "127.0.0.1", 5050};
    opts.hostname = "localhost";
    opts.metrics = &metrics_;
    opts.detached_allocator = false;  // scheduled by the test coordinator
    opts.detached_registrar = false;
    Try<caf::actor> m = spawn_master(sys_, opts);
    ASSERT_TRUE(m.is_some()) << m.error();
    master_ = *m;
    sched_.run();
  }

  // A fake slave or scheduler: an actor that records what the master sends.
  caf::actor peer(std::shared_ptr<Inbox> inbox) {
    caf::actor master = master_;
    caf::actor a = sys_.spawn([inbox, master](caf::event_based_actor* self) -> caf::behavior {
      return {
          [inbox](Event& e) { inbox->events.push_back(e); },
          [inbox](SlaveRegisteredMessage& m) { inbox->registered.push_back(m.slave_id().value()); },
          [inbox](SlaveReregisteredMessage& m) { inbox->registered.push_back(m.slave_id().value()); },
          [inbox, self, master](PingSlaveMessage&) {
            ++inbox->pings;
            if (inbox->pong) {
              self->send(master, PongSlaveMessage{});
            }
          },
          [](RunTaskMessage&) {},
          [](KillTaskMessage&) {},
          [](ShutdownFrameworkMessage&) {},
          [](StatusUpdateAcknowledgementMessage&) {},
      };
    });
    peers_.push_back(a);
    sched_.run();
    return a;
  }

  std::string add_slave(const caf::actor& slave, const std::shared_ptr<Inbox>& inbox,
                        const std::string& resources = "cpus:4;mem:1024") {
    RegisterSlaveMessage m;
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

  std::string subscribe(const caf::actor& fw, const std::shared_ptr<Inbox>& inbox, double failover_timeout = 0) {
    Call call;
    call.set_type(Call::SUBSCRIBE);
    FrameworkInfo* info = call.mutable_subscribe()->mutable_framework_info();
    info->set_name("timers");
    info->set_user("nobody");
    info->set_failover_timeout(failover_timeout);
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
  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::scheduler::test_coordinator& sched_;
  caf::scoped_actor self_;
  caf::actor master_;
  std::vector<caf::actor> peers_;
};

TEST_F(MasterTimers, SlaveThatStopsAnsweringPingsIsRemovedAfterMaxTimeouts) {
  start({"--slave_ping_timeout=15secs", "--max_slave_ping_timeouts=3"});
  auto inbox = std::make_shared<Inbox>();
  caf::actor slave = peer(inbox);
  add_slave(slave, inbox);
  advance(60s);  // answered pings keep it
  EXPECT_EQ(inbox->pings, 4);
  EXPECT_EQ(metric("master/slaves_active"), 1.0);
  inbox->pong = false;
  // The ping sent at 75 s goes unanswered: misses are counted at 90, 105
  // and 120 s, and the third removes the slave.
  advance(59s);
  EXPECT_EQ(metric("master/slaves_active"), 1.0);
  EXPECT_EQ(inbox->pings, 7);
  advance(2s);
  EXPECT_EQ(metric("master/slaves_active"), 0.0);
  EXPECT_EQ(metric("master/slave_removals/reason_unhealthy"), 1.0);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
}

TEST_F(MasterTimers, DisconnectedSlaveIsRemovedAfterTheReregisterTimeout) {
  start({"--slave_reregister_timeout=10mins", "--slave_ping_timeout=1hrs"});
  auto inbox = std::make_shared<Inbox>();
  caf::actor slave = peer(inbox);
  add_slave(slave, inbox);
  caf::anon_send_exit(slave, caf::exit_reason::kill);
  sched_.run();
  EXPECT_EQ(metric("master/slaves_inactive"), 1.0);
  advance(9min + 59s, 10s);
  EXPECT_EQ(metric("master/slaves_inactive"), 1.0);
  advance(2s);
  EXPECT_EQ(metric("master/slaves_inactive"), 0.0);
  EXPECT_EQ(metric("master/slave_removals/reason_unregistered"), 1.0);
}

TEST_F(MasterTimers, DisconnectedFrameworkIsRemovedAfterItsFailoverTimeout) {
  start({});
  auto inbox = std::make_shared<Inbox>();
  caf::actor fw = peer(inbox);
  std::string fid = subscribe(fw, inbox, 120);
  caf::anon_send_exit(fw, caf::exit_reason::kill);
  sched_.run();
  EXPECT_EQ(metric("master/frameworks_disconnected"), 1.0);
  advance(119s, 1s);
  EXPECT_EQ(view("frameworks").get("frameworks").get<picojson::array>().size(), 1u);
  advance(2s);
  picojson::value fws = view("frameworks");
  EXPECT_TRUE(fws.get("frameworks").get<picojson::array>().empty());
  ASSERT_EQ(fws.get("completed_frameworks").get<picojson::array>().size(), 1u);
  EXPECT_EQ(fws.get("completed_frameworks").get<picojson::array>()[0].get("id").to_str(), fid);
}

// Subscribes `fw` as a new instance of framework `fid` (failover).
void resubscribe(caf::actor_system&, const caf::actor& fw, const caf::actor& master, const std::string& fid,
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

const Event* last_event(const std::shared_ptr<Inbox>& inbox, Event::Type type) {
  for (auto it = inbox->events.rbegin(); it != inbox->events.rend(); ++it) {
    if (it->type() == type) {
      return &*it;
    }
  }
  return nullptr;
}

// Launches task `tid` on the framework's last offer.
void launch_on_last_offer(const caf::actor& fw, const caf::actor& master, const std::string& fid,
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

TEST_F(MasterTimers, AFailedOverFrameworkKeepsItsTasksAndTheOldInstanceIsTold) {
  start({"--slave_ping_timeout=1hrs"});
  auto s_inbox = std::make_shared<Inbox>();
  add_slave(peer(s_inbox), s_inbox);
  auto old_inbox = std::make_shared<Inbox>();
  caf::actor old_fw = peer(old_inbox);
  std::string fid = subscribe(old_fw, old_inbox, 120);
  advance(2s);
  const Offer* offer = last_offer(old_inbox);
  ASSERT_NE(offer, nullptr);
  launch_on_last_offer(old_fw, master_, fid, *offer, "t1");
  sched_.run();

  // A second instance takes over while the first is still connected.
  auto new_inbox = std::make_shared<Inbox>();
  caf::actor new_fw = peer(new_inbox);
  resubscribe(sys_, new_fw, master_, fid, 120, true);
  sched_.run();
  const Event* error = last_event(old_inbox, Event::ERROR);
  ASSERT_NE(error, nullptr) << "the old instance was not told";
  EXPECT_EQ(error->error().message(), "Framework failed over");
  const Event* subscribed = last_event(new_inbox, Event::SUBSCRIBED);
  ASSERT_NE(subscribed, nullptr);
  EXPECT_EQ(subscribed->subscribed().framework_id().value(), fid);
  // Its task stays; the old instance's calls are dropped.
  caf::anon_send_exit(old_fw, caf::exit_reason::kill);
  advance(10min, 10s);
  picojson::value fws = view("frameworks");
  ASSERT_EQ(fws.get("frameworks").get<picojson::array>().size(), 1u);
  const picojson::value& f = fws.get("frameworks").get<picojson::array>()[0];
  EXPECT_TRUE(f.get("connected").get<bool>());
  ASSERT_EQ(f.get("tasks").get<picojson::array>().size(), 1u);
  EXPECT_EQ(f.get("tasks").get<picojson::array>()[0].get("id").to_str(), "t1");
}

TEST_F(MasterTimers, AFrameworkGoneLongerThanItsFailoverTimeoutIsRemovedForGood) {
  start({"--slave_ping_timeout=1hrs"});
  auto s_inbox = std::make_shared<Inbox>();
  add_slave(peer(s_inbox), s_inbox);
  auto inbox = std::make_shared<Inbox>();
  caf::actor fw = peer(inbox);
  std::string fid = subscribe(fw, inbox, 60);
  advance(2s);
  const Offer* offer = last_offer(inbox);
  ASSERT_NE(offer, nullptr);
  launch_on_last_offer(fw, master_, fid, *offer, "t1");
  sched_.run();
  caf::anon_send_exit(fw, caf::exit_reason::kill);
  advance(61s, 1s);
  picojson::value fws = view("frameworks");
  EXPECT_TRUE(fws.get("frameworks").get<picojson::array>().empty());
  ASSERT_EQ(fws.get("completed_frameworks").get<picojson::array>().size(), 1u);
  const picojson::value& done = fws.get("completed_frameworks").get<picojson::array>()[0];
  ASSERT_EQ(done.get("completed_tasks").get<picojson::array>().size(), 1u);
  EXPECT_EQ(done.get("completed_tasks").get<picojson::array>()[0].get("state").to_str(), "TASK_KILLED");
  EXPECT_EQ(metric("master/cpus_used"), 0.0);
  // A later instance with that id is refused.
  auto late_inbox = std::make_shared<Inbox>();
  caf::actor late = peer(late_inbox);
  resubscribe(sys_, late, master_, fid, 60, true);
  sched_.run();
  const Event* error = last_event(late_inbox, Event::ERROR);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->error().message(), "Framework has been removed");
  EXPECT_EQ(last_event(late_inbox, Event::SUBSCRIBED), nullptr);
}

TEST_F(MasterTimers, OfferIsRescindedAfterTheOfferTimeout) {
  start({"--offer_timeout=30secs", "--slave_ping_timeout=1hrs"});
  auto s_inbox = std::make_shared<Inbox>();
  auto f_inbox = std::make_shared<Inbox>();
  caf::actor slave = peer(s_inbox);
  caf::actor fw = peer(f_inbox);
  add_slave(slave, s_inbox);
  subscribe(fw, f_inbox);
  advance(10ms, 1ms);  // the event-triggered pass
  ASSERT_EQ(offers_of(f_inbox), 1u);
  advance(29s);
  EXPECT_EQ(metric("master/outstanding_offers"), 1.0);
  advance(2s);
  bool rescinded = false;
  for (const Event& e : f_inbox->events) {
    rescinded |= e.type() == Event::RESCIND;
  }
  EXPECT_TRUE(rescinded);
  EXPECT_EQ(metric("master/offers_timed_out"), 1.0);
  // The resources come back and are offered again.
  EXPECT_GE(offers_of(f_inbox), 2u);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
  EXPECT_GT(metric("master/accounting_checks"), 0.0);
}

TEST_F(MasterTimers, DeclineFilterHoldsForRefuseSecondsThenExpires) {
  start({"--allocation_interval=1secs", "--slave_ping_timeout=1hrs"});
  auto s_inbox = std::make_shared<Inbox>();
  auto f_inbox = std::make_shared<Inbox>();
  caf::actor slave = peer(s_inbox);
  caf::actor fw = peer(f_inbox);
  add_slave(slave, s_inbox);
  std::string fid = subscribe(fw, f_inbox);
  advance(10ms, 1ms);
  const Offer* offer = last_offer(f_inbox);
  ASSERT_NE(offer, nullptr);
  Call decline;
  decline.set_type(Call::DECLINE);
  decline.mutable_framework_id()->set_value(fid);
  *decline.mutable_decline()->add_offer_ids() = offer->id();
  decline.mutable_decline()->mutable_filters()->set_refuse_seconds(60);
  caf::send_as(fw, master_, decline);
  sched_.run();
  size_t before = offers_of(f_inbox);
  advance(59s);  // 59 periodic passes: the filter holds
  EXPECT_EQ(offers_of(f_inbox), before);
  EXPECT_EQ(metric("master/outstanding_offers"), 0.0);
  advance(2s);  // expired: the next pass offers again
  EXPECT_EQ(offers_of(f_inbox), before + 1);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
}

TEST_F(MasterTimers, AllocationRunsEveryIntervalAndSoonAfterEvents) {
  start({"--allocation_interval=5secs", "--slave_ping_timeout=1hrs"});
  double runs = metric("allocator/mesos/allocation_runs");
  advance(20s, 1s);
  EXPECT_EQ(metric("allocator/mesos/allocation_runs") - runs, 4.0);
  // An event (a slave registering) triggers a pass within 2 ms, not 5 s.
  auto s_inbox = std::make_shared<Inbox>();
  auto f_inbox = std::make_shared<Inbox>();
  subscribe(peer(f_inbox), f_inbox);
  advance(10ms, 1ms);
  add_slave(peer(s_inbox), s_inbox);
  EXPECT_EQ(offers_of(f_inbox), 0u);
  advance(3ms, 1ms);
  EXPECT_EQ(offers_of(f_inbox), 1u);
}

}  // namespace
}  // namespace stoa::master
