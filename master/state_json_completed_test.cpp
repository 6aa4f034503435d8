// Completed tasks keep their JSON, rendered once as they complete
// (CompletedTasks, master_state.hpp; issue #17). These tests drive a master
// through every path that moves a task to completed_tasks (an acknowledged
// terminal update, a terminal update without uuid, the slave removed, tasks
// a re-registering slave no longer reports, a framework torn down with
// tasks unreachable), with and without trimming, and check that what
// /master/state and /master/frameworks serve from those bytes is what the
// tree renderer makes of the tasks themselves (/master/tasks).
// The same scenario checks, after every step, that the master's rope
// render (state_rope.hpp, fragments kept across the steps) has the bytes
// of the streamed render of the same state: a change that left a stale
// fragment behind shows.
#include "master/master_fixture.hpp"  // first: it includes caf/all.hpp

#include <map>
#include <set>
#include <string>

#include "common/json.hpp"
#include "master/master_actor.hpp"
#include "master/state_json.hpp"
#include "master/state_rope.hpp"

namespace stoa::master::testing {
namespace {

// A rope's bytes read through spans(), `chunk` bytes at a time, as the
// HTTP server writes it.
std::string read_in_chunks(const Rope& rope, size_t chunk) {
  std::string out;
  for (size_t at = 0; at < rope.size(); at += chunk) {
    size_t before = out.size();
    rope.spans(at, chunk, [&out](const char* data, size_t n) { out.append(data, n); });
    if (out.size() - before != std::min(chunk, rope.size() - at)) {
      ADD_FAILURE() << "spans(" << at << ", " << chunk << ") gave " << out.size() - before << " bytes";
      break;
    }
  }
  return out;
}

class CompletedTasksTest : public MasterFixture {
 protected:
  struct Fw {
    caf::actor actor;
    std::shared_ptr<Inbox> inbox;
    std::string id;
  };

  // The body of a view, parsed, and its bytes.
  std::pair<picojson::value, std::string> fetch(const std::string& endpoint,
                                                const std::map<std::string, std::string>& query) {
    picojson::value v;
    std::string bytes;
    auto h = self_->request(master_, caf::infinite, state_atom_v, endpoint, query);
    sched_.run();
    h.receive(
        [&](int status, std::string& body) {
          EXPECT_EQ(status, 200) << body;
          EXPECT_TRUE(picojson::parse(v, body).empty()) << endpoint;
          bytes = std::move(body);
        },
        [&](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    return {v, bytes};
  }

  // With rope_each_step_: the master's own rope renders (its RopeRenderer,
  // fragments kept from step to step) against write_state() and
  // write_frameworks() of its state, now (every other step also before
  // any refresh); after a refresh in one slice that stops at once, so that
  // the next check resumes it.
  void check_rope(const std::string& when) {
    if (!rope_each_step_) {
      return;
    }
    auto* actor = dynamic_cast<master_actor*>(caf::actor_cast<caf::abstract_actor*>(master_));
    ASSERT_NE(actor, nullptr);
    Master& m = actor->state;
    ++rope_checks_;
    std::string streamed;
    write_state(m.st, &streamed);
    if (rope_checks_ % 2 == 0) {
      // Every other step, collected with the step's changes not refreshed
      // yet (as when a task changes between a render's refresh and its
      // collect): rendered in the collect, into fragments of their own.
      EXPECT_EQ(m.rope.state(m.st).concat(), streamed) << when << ", collected before a refresh";
    }
    m.rope.refresh(m.st, std::chrono::steady_clock::now());
    Rope state = m.rope.state(m.st);
    EXPECT_EQ(state.concat(), streamed) << when;
    EXPECT_EQ(state.size(), streamed.size()) << when;
    // As the HTTP server writes it: spans of chunks that cut across pieces.
    for (size_t chunk : {size_t{1}, size_t{7}, size_t{4096}}) {
      EXPECT_EQ(read_in_chunks(state, chunk), streamed) << when << ", chunks of " << chunk;
    }
    std::vector<std::map<std::string, std::string>> queries = {{}};
    for (const auto& [id, f] : m.st.frameworks) {
      queries.push_back({{"framework_id", id}});
    }
    for (const auto& query : queries) {
      std::string frameworks;
      write_frameworks(m.st, query, &frameworks);
      Rope rope = m.rope.frameworks(m.st, query);
      EXPECT_EQ(rope.concat(), frameworks) << when;
      EXPECT_EQ(read_in_chunks(rope, 13), frameworks) << when;
    }
  }


  // Accepts the framework's offers with `per_offer` tasks each.
  void launch_on_offers(const Fw& f, const std::string& prefix, int per_offer) {
    int n = 0;
    for (const Event& e : f.inbox->events) {
      if (e.type() != Event::OFFERS) {
        continue;
      }
      for (const Offer& o : e.offers().offers()) {
        Call accept;
        accept.set_type(Call::ACCEPT);
        accept.mutable_framework_id()->set_value(f.id);
        *accept.mutable_accept()->add_offer_ids() = o.id();
        Offer::Operation* op = accept.mutable_accept()->add_operations();
        op->set_type(Offer::Operation::LAUNCH);
        for (int i = 0; i < per_offer; ++i) {
          TaskInfo* t = op->mutable_launch()->add_task_infos();
          t->set_name(prefix + " \"quoted\"\n");
          t->mutable_task_id()->set_value(prefix + "-" + std::to_string(n++));
          *t->mutable_slave_id() = o.slave_id();
          t->mutable_command()->set_value("sleep 1000");
          Resources::parse(i % 2 == 0 ? "cpus:0.5;mem:64" : "cpus:0.25;mem:32")->to_proto(t->mutable_resources());
          Label* l = t->mutable_labels()->add_labels();
          l->set_key("k");
          l->set_value("v\u00e9");
        }
        caf::send_as(f.actor, master_, accept);
        sched_.run();
        check_rope("launched " + prefix);
      }
    }
    sched_.run();
  }

  void update(const caf::actor& slave, const std::string& sid, const Fw& f, const std::string& tid, TaskState state,
              const std::string& uuid, const std::string& message = "") {
    StatusUpdateMessage m = status_update(sid, f.id, tid, state, uuid);
    TaskStatus* st = m.mutable_update()->mutable_status();
    st->set_source(TaskStatus::SOURCE_EXECUTOR);
    if (!message.empty()) {
      st->set_message(message);
      st->set_reason(TaskStatus::REASON_COMMAND_EXECUTOR_FAILED);
    }
    st->set_timestamp(1.5e9 + static_cast<double>(tid.size()) + 0.125);
    caf::send_as(slave, master_, m);
    sched_.run();
    check_rope("update " + tid + " " + TaskState_Name(state));
  }

  void acknowledge(const Fw& f, const std::string& sid, const std::string& tid, const std::string& uuid) {
    caf::send_as(f.actor, master_, acknowledge_call(f.id, sid, tid, uuid));
    sched_.run();
    check_rope("acknowledged " + tid);
  }

  void teardown(const Fw& f) {
    caf::send_as(f.actor, master_, teardown_call(f.id));
    sched_.run();
    check_rope("torn down " + f.id);
  }

  // Every completed task of /master/state and /master/frameworks against
  // /master/tasks (tree-rendered from the Task records), and the states
  // that the completed tasks of /master/state show.
  std::multiset<std::string> check_completed(const std::string& when) {
    check_rope(when);
    auto [state, state_bytes] = fetch("state", {});
    auto [frameworks, frameworks_bytes] = fetch("frameworks", {});
    auto [tasks, tasks_bytes] = fetch("tasks", {{"limit", "100000"}});
    std::map<std::pair<std::string, std::string>, std::string> by_id;
    for (const picojson::value& t : tasks.get("tasks").get<picojson::array>()) {
      by_id[{t.get("framework_id").to_str(), t.get("id").to_str()}] = json_serialize(t);
    }
    std::multiset<std::string> states;
    for (const auto* view : {&state, &frameworks}) {
      size_t seen = 0;
      for (const char* list : {"frameworks", "completed_frameworks"}) {
        for (const picojson::value& f : view->get(list).get<picojson::array>()) {
          for (const picojson::value& t : f.get("completed_tasks").get<picojson::array>()) {
            ++seen;
            auto it = by_id.find({t.get("framework_id").to_str(), t.get("id").to_str()});
            if (it == by_id.end()) {
              ADD_FAILURE() << when << ": completed task " << json_serialize(t) << " is not in /master/tasks";
              continue;
            }
            EXPECT_EQ(json_serialize(t), it->second) << when;
            if (view == &state) {
              states.insert(t.get("state").to_str());
            }
          }
        }
      }
      EXPECT_EQ(seen, states.size()) << when << ": /master/frameworks and /master/state differ";
    }
    // The served bytes are the tree's: the same view re-serialized.
    EXPECT_EQ(json_serialize(state), state_bytes) << when;
    EXPECT_EQ(json_serialize(frameworks), frameworks_bytes) << when;
    return states;
  }

  // Tasks end by every path that completes one; returns the states of the
  // completed tasks /master/state shows at the end.
  std::multiset<std::string> run_scenario(std::vector<const char*> flags) {
    flags.push_back("--slave_ping_timeout=1secs");
    flags.push_back("--max_slave_ping_timeouts=2");
    start(flags);
    auto a_inbox = std::make_shared<Inbox>();
    caf::actor a = peer(a_inbox);
    std::string a_id = add_slave(a, a_inbox, "cpus:4;mem:1024");
    auto b_inbox = std::make_shared<Inbox>();
    caf::actor b = peer(b_inbox);
    std::string b_id = add_slave(b, b_inbox, "cpus:4;mem:1024");

    Fw aware;
    aware.inbox = std::make_shared<Inbox>();
    aware.actor = peer(aware.inbox);
    check_rope("two slaves");
    aware.id = subscribe(aware.actor, aware.inbox, 1000, true, false);
    advance(1s);
    check_rope("offers to the aware framework");
    launch_on_offers(aware, "aware", 3);
    Fw plain;
    plain.inbox = std::make_shared<Inbox>();
    plain.actor = peer(plain.inbox);
    plain.id = subscribe(plain.actor, plain.inbox, 0, false, false);
    advance(1s);
    launch_on_offers(plain, "plain", 2);
    EXPECT_GE(a_inbox->runs.size(), 3u);
    EXPECT_GE(b_inbox->runs.size(), 3u);
    std::map<std::string, const Fw*> fw = {{aware.id, &aware}, {plain.id, &plain}};
    for (auto [slave, sid, inbox] : {std::tuple{a, a_id, a_inbox}, std::tuple{b, b_id, b_inbox}}) {
      for (const RunTaskMessage& run : inbox->runs) {
        const std::string& tid = run.task().task_id().value();
        update(slave, sid, *fw.at(run.framework_id().value()), tid, TASK_RUNNING, "r-" + tid);
        acknowledge(*fw.at(run.framework_id().value()), sid, tid, "r-" + tid);
      }
    }
    check_completed("running");

    // On slave a: one task finishes (acknowledged), one fails without a
    // uuid (completed at once).
    const RunTaskMessage& first = a_inbox->runs[0];
    const RunTaskMessage& second = a_inbox->runs[1];
    update(a, a_id, *fw.at(first.framework_id().value()), first.task().task_id().value(), TASK_FINISHED, "f-1");
    acknowledge(*fw.at(first.framework_id().value()), a_id, first.task().task_id().value(), "f-1");
    update(a, a_id, *fw.at(second.framework_id().value()), second.task().task_id().value(), TASK_FAILED, "",
           "exit \"1\"\t\x01");
    check_completed("a finished and a failed task");

    // Slave a stops answering: the plain framework's tasks there are lost,
    // the aware one's unreachable; a re-registers reporting none of them
    // (the unreachable ones are dropped).
    a_inbox->pong = false;
    advance(4s);
    check_completed("slave a unreachable");
    a_inbox->pong = true;
    reregister(a, a_id, {}, {}, "cpus:4;mem:1024");
    check_completed("slave a re-registered without its tasks");

    // Slave b stops answering too; then the aware framework is torn down
    // with its tasks there unreachable, and the plain one with its tasks.
    b_inbox->pong = false;
    advance(4s);
    teardown(aware);
    teardown(plain);
    return check_completed("both frameworks torn down");
  }

  bool rope_each_step_ = false;
  int rope_checks_ = 0;
};

TEST_F(CompletedTasksTest, EveryPathServesTheTasksOwnJson) {
  std::multiset<std::string> states = run_scenario({});
  // Each path left its mark: acknowledged, failed without uuid, lost with
  // its slave, dropped at re-registration, unreachable at teardown, killed
  // at teardown.
  for (const char* s : {"TASK_FINISHED", "TASK_FAILED", "TASK_LOST", "TASK_DROPPED", "TASK_UNREACHABLE"}) {
    EXPECT_GE(states.count(s), 1u) << s;
  }
  std::string all;
  for (const std::string& s : states) {
    all += s + " ";
  }
  EXPECT_GE(states.size(), 8u) << all;
}

// Launch, status updates and acknowledgements, a failure without uuid, a
// slave lost (tasks lost or unreachable), its re-registration without its
// tasks, offers outstanding, teardowns: after each, the rope is the
// streamed render.
TEST_F(CompletedTasksTest, TheRopeIsTheStreamedRenderAfterEveryStep) {
  rope_each_step_ = true;
  std::multiset<std::string> states = run_scenario({});
  EXPECT_GE(states.size(), 8u);
  EXPECT_GE(rope_checks_, 30);
}

// Offers made, declined and made again change no slave's fragment, only
// the offered resources cut into its run: the master marks the run
// (RenderedMap::regroup) as each offer comes and goes.
TEST_F(CompletedTasksTest, TheRopeShowsOffersMadeAndDeclined) {
  rope_each_step_ = true;
  start({});
  auto a_inbox = std::make_shared<Inbox>();
  add_slave(peer(a_inbox), a_inbox, "cpus:4;mem:1024");
  auto b_inbox = std::make_shared<Inbox>();
  add_slave(peer(b_inbox), b_inbox, "cpus:2;mem:512");
  Fw f;
  f.inbox = std::make_shared<Inbox>();
  f.actor = peer(f.inbox);
  f.id = subscribe(f.actor, f.inbox, 0, false, false);
  check_rope("subscribed");
  advance(1s);
  check_rope("offered");
  std::vector<OfferID> offered;
  for (const Event& e : f.inbox->events) {
    if (e.type() == Event::OFFERS) {
      for (const Offer& o : e.offers().offers()) {
        offered.push_back(o.id());
      }
    }
  }
  ASSERT_EQ(offered.size(), 2u);
  for (const OfferID& id : offered) {
    Call decline;
    decline.set_type(Call::DECLINE);
    decline.mutable_framework_id()->set_value(f.id);
    *decline.mutable_decline()->add_offer_ids() = id;
    decline.mutable_decline()->mutable_filters()->set_refuse_seconds(0);
    caf::send_as(f.actor, master_, decline);
    sched_.run();
    check_rope("declined " + id.value());
  }
  advance(1s);
  check_rope("offered again");
  EXPECT_EQ(rope_checks_, 5);
}

TEST_F(CompletedTasksTest, TrimmedTasksTakeTheirJsonWithThem) {
  std::multiset<std::string> states = run_scenario({"--max_completed_tasks_per_framework=2"});
  EXPECT_LE(states.size(), 4u);  // two frameworks, two each
  EXPECT_GE(states.size(), 3u);
}

TEST(CompletedTasks, EachTaskKeepsItsOwnJson) {
  CompletedTasks c;
  for (int i = 0; i < 5; ++i) {
    Task t;
    t.mutable_task_id()->set_value("t" + std::to_string(i));
    t.mutable_framework_id()->set_value("F");
    t.mutable_slave_id()->set_value("S");
    t.set_name(i == 3 ? std::string("\x02\"") : "n");
    t.set_state(TASK_FINISHED);
    Resources::parse("cpus:" + std::to_string(i + 1))->to_proto(t.mutable_resources());
    c.push_back(t);
  }
  c.pop_front();
  c.pop_front();
  ASSERT_EQ(c.size(), 3u);
  size_t i = 0;
  for (const Task& t : c) {
    EXPECT_EQ(c.json(i), json_serialize(task_json(t)));
    EXPECT_EQ(t.task_id().value(), "t" + std::to_string(i + 2));
    ++i;
  }
  CompletedTasks copy = c;
  c.clear();
  EXPECT_TRUE(c.empty());
  ASSERT_EQ(copy.size(), 3u);
  EXPECT_EQ(copy.json(2), json_serialize(task_json(copy.back())));
}

// The rope joins completed tasks in runs of 256 by their number since the
// first pushed: pops from the front, pushes, copies and clears keep its
// bytes those of write_state() and write_frameworks().
TEST(CompletedTasks, RopeRunsFollowPushesPopsAndClears) {
  MasterState s;
  s.info.set_id("M");
  FrameworkRecord& f = s.frameworks["F"];
  f.id = "F";
  int next = 0;
  auto push = [&](int n) {
    for (int i = 0; i < n; ++i, ++next) {
      Task t;
      t.mutable_task_id()->set_value("t" + std::to_string(next));
      t.mutable_framework_id()->set_value("F");
      t.mutable_slave_id()->set_value("S");
      t.set_state(TASK_FINISHED);
      Resources::parse("cpus:0.5;mem:" + std::to_string(next % 7 + 1))->to_proto(t.mutable_resources());
      f.completed_tasks.push_back(t);
    }
  };
  RopeRenderer rope;
  auto check = [&](const std::string& when) {
    std::string streamed;
    write_state(s, &streamed);
    Rope state = rope.state(s);
    EXPECT_EQ(state.concat(), streamed) << when;
    EXPECT_EQ(read_in_chunks(state, 4093), streamed) << when;
    std::string frameworks;
    write_frameworks(s, {}, &frameworks);
    EXPECT_EQ(rope.frameworks(s, {}).concat(), frameworks) << when;
  };
  push(600);
  check("600 pushed");
  for (int i = 0; i < 100; ++i) {
    f.completed_tasks.pop_front();
  }
  check("100 popped");
  push(300);
  for (int i = 0; i < 300; ++i) {
    f.completed_tasks.pop_front();
  }
  check("300 pushed, 300 popped");
  EXPECT_TRUE(rope.refresh(s, std::chrono::steady_clock::time_point::max()));
  MasterState copy = s;
  copy.frameworks["F"].completed_tasks.pop_front();
  std::string streamed;
  write_state(copy, &streamed);
  EXPECT_EQ(rope.state(copy).concat(), streamed) << "a copy, popped";
  check("the original after its copy");
  f.completed_tasks.clear();
  check("cleared");
  push(513);
  check("513 pushed after the clear");
}

// A refresh stops at its deadline after its first run, however many runs
// are stale: with a changed task in every run of 256 (as status updates
// spread over all running tasks do), each slice still joins one run, not
// all of them (it did: the first run of each stale run was free).
TEST(RopeRefresh, ASliceStopsAtItsDeadlineAfterOneRunWhenEveryRunIsStale) {
  constexpr int RUNS = 8;
  MasterState s;
  s.info.set_id("M");
  FrameworkRecord& f = s.frameworks["F"];
  f.id = "F";
  auto id = [](int i) {
    std::string n = std::to_string(i);
    return "t" + std::string(5 - n.size(), '0') + n;
  };
  for (int i = 0; i < RUNS * 256; ++i) {
    Task t;
    t.mutable_task_id()->set_value(id(i));
    t.mutable_framework_id()->set_value("F");
    t.mutable_slave_id()->set_value("S");
    t.set_state(TASK_RUNNING);
    Resources::parse("cpus:0.1;mem:1")->to_proto(t.mutable_resources());
    f.tasks.insert_or_assign(t.task_id().value(), t);
  }
  RopeRenderer rope;
  ASSERT_TRUE(rope.refresh(s, std::chrono::steady_clock::time_point::max()));
  for (int r = 0; r < RUNS; ++r) {
    f.tasks.edit(id(r * 256 + 7)).set_state(TASK_KILLING);
  }
  const size_t before = rope.tasks_rendered();
  const auto passed = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  int calls = 1;
  while (!rope.refresh(s, passed)) {
    EXPECT_EQ(rope.tasks_rendered(), before + calls) << "one run, with its one changed task, per slice";
    ASSERT_LT(++calls, 10 * RUNS) << "a refresh past its deadline must still make progress";
  }
  EXPECT_EQ(calls, RUNS);
  EXPECT_EQ(rope.tasks_rendered(), before + RUNS);
  std::string streamed;
  write_state(s, &streamed);
  EXPECT_EQ(rope.state(s).concat(), streamed);
}

// The slaves of /master/state as runs: a fresh run is one piece, so a
// collect with nothing changed pushes a piece per run of 64 slaves, not
// per slave; a slave changed, inserted or erased, or an offer made or gone,
// shows in the next collect before any refresh (its run collected slave by
// slave), and in runs again after one.
class RopeSlaves : public ::testing::Test {
 protected:
  static constexpr int SLAVES = 300;

  static std::string sid(int i) {
    std::string n = std::to_string(i);
    return "S" + std::string(4 - n.size(), '0') + n;
  }

  void SetUp() override {
    s_.info.set_id("M");
    for (int i = 0; i < SLAVES; ++i) {
      add_slave(sid(i));
    }
    FrameworkRecord& f = s_.frameworks["F"];
    f.id = "F";
    for (int i = 0; i < SLAVES; i += 7) {
      Task t;
      t.mutable_task_id()->set_value("t" + std::to_string(i));
      t.mutable_framework_id()->set_value("F");
      t.mutable_slave_id()->set_value(sid(i));
      t.set_state(TASK_RUNNING);
      Resources::parse("cpus:0.5;mem:32")->to_proto(t.mutable_resources());
      s_.slaves.edit(sid(i)).tasks.insert({"F", t.task_id().value()});
      f.tasks.insert_or_assign(t.task_id().value(), t);
    }
  }

  void add_slave(const std::string& id) {
    SlaveRecord r;
    r.id = id;
    r.info.set_hostname("h-" + id);
    r.pid = "slave(1)@127.0.0.1:5051";
    r.total = *Resources::parse("cpus:4;mem:1024;ports:[31000-31010]");
    s_.slaves.emplace(r.id, std::move(r));
    s_.tally.slaves_active += 1;
  }

  // An offer of `resources` on slave `id`, as the master makes one.
  void offer(const std::string& oid, const std::string& id, const std::string& resources) {
    OfferRecord o;
    o.offer.mutable_id()->set_value(oid);
    o.offer.mutable_framework_id()->set_value("F");
    o.offer.mutable_slave_id()->set_value(id);
    o.resources = *Resources::parse(resources);
    o.resources.to_proto(o.offer.mutable_resources());
    s_.offers.emplace(oid, std::move(o));
    s_.frameworks.at("F").offers.insert(oid);
    auto it = s_.slaves.find(id);
    it->second.offers.insert(oid);
    s_.slaves.regroup(it);
  }

  void rescind(const std::string& oid) {
    auto it = s_.slaves.find(s_.offers.at(oid).offer.slave_id().value());
    it->second.offers.erase(oid);
    s_.slaves.regroup(it);
    s_.frameworks.at("F").offers.erase(oid);
    s_.offers.erase(oid);
  }

  // The collect now (changes not refreshed), then after a full refresh,
  // are write_state()'s bytes; returns the pieces of the second.
  size_t check(const std::string& when) {
    std::string streamed;
    write_state(s_, &streamed);
    EXPECT_EQ(rope_.state(s_).concat(), streamed) << when << ", before a refresh";
    EXPECT_TRUE(rope_.refresh(s_, std::chrono::steady_clock::time_point::max())) << when;
    Rope after = rope_.state(s_);
    EXPECT_EQ(after.concat(), streamed) << when;
    return after.pieces.size();
  }

  MasterState s_;
  RopeRenderer rope_;
};

TEST_F(RopeSlaves, ACollectPushesAPiecePerRunAndShowsEveryChange) {
  const size_t fresh = check("first render");
  // 300 slaves in runs of 64 (5 pieces), 2 task runs, the head's glue.
  EXPECT_LE(fresh, 12u) << "a fresh collect pushes a piece per run of slaves, not one per slave";

  offer("O1", sid(10), "cpus:1;mem:64");
  offer("O2", sid(150), "cpus:2;mem:128;ports:[31005-31006]");
  // (The framework's "offers" are a piece per offer.)
  EXPECT_EQ(check("two offers made"), fresh + 2) << "the offered resources are joined into the runs";
  rescind("O1");
  EXPECT_EQ(check("an offer gone"), fresh + 1);

  s_.slaves.edit(sid(77)).active = false;
  EXPECT_EQ(check("a slave deactivated"), fresh + 1);
  add_slave(sid(77) + "a");  // between two slaves of a run
  add_slave("A");            // before the first
  add_slave("Z");            // after the last
  EXPECT_LE(check("three slaves inserted"), fresh + 1 + 3);
  s_.slaves.erase(sid(0));
  s_.slaves.erase(sid(140));
  s_.slaves.erase("Z");
  check("three slaves erased");
  s_.frameworks.at("F").tasks.edit("t21").set_state(TASK_KILLING);
  check("a task changed: its slave's used resources");
  rescind("O2");
  for (int i = SLAVES - 1; i >= 0; --i) {
    if (i != 0 && i != 140) {
      s_.slaves.erase(sid(i));
    }
  }
  s_.slaves.erase("A");
  s_.slaves.erase(sid(77) + "a");
  s_.frameworks.at("F").tasks.clear();
  EXPECT_TRUE(s_.slaves.empty());
  check("every slave erased");
  add_slave("B");
  check("a slave into an empty map");
}

// As the tasks' runs: a refresh with every run stale joins one run per
// slice past its deadline, and the slices together leave runs of 64.
TEST_F(RopeSlaves, ASliceStopsAtItsDeadlineAfterOneRun) {
  const size_t fresh = check("first render");
  for (int i = 0; i < SLAVES; i += 64) {
    s_.slaves.edit(sid(i)).active = false;
  }
  const auto passed = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  int calls = 1;
  while (!rope_.refresh(s_, passed)) {
    ASSERT_LT(++calls, 100) << "a refresh past its deadline must still make progress";
  }
  EXPECT_EQ(calls, (SLAVES + 63) / 64) << "one run of 64 per slice";
  std::string streamed;
  write_state(s_, &streamed);
  Rope after = rope_.state(s_);
  EXPECT_EQ(after.concat(), streamed);
  EXPECT_EQ(after.pieces.size(), fresh);
}

}  // namespace
}  // namespace stoa::master::testing
