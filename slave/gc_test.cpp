// The garbage collector on virtual time (CAF's test_coordinator, driven
// directly): schedule, unschedule, reschedule, prune by disk usage, the
// view and the metrics. The worker double removes for real, on the test
// scheduler, and reports a scripted disk usage.
#include "slave/gc.hpp"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <gtest/gtest.h>
#include <picojson.h>

#include "actors/atoms.hpp"
#include "common/json.hpp"
#include "common/metrics.hpp"

namespace stoa::slave {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

caf::behavior worker_double(caf::event_based_actor*, std::shared_ptr<double> usage) {
  return {
      [](gc_remove_atom, const std::vector<std::string>& paths) {
        std::vector<std::string> errors;
        for (const auto& p : paths) {
          std::error_code ec;
          fs::remove_all(p, ec);
          errors.emplace_back(ec ? ec.message() : std::string());
        }
        return errors;
      },
      [usage](gc_usage_atom, const std::string&) { return *usage; },
  };
}

struct GcTest : ::testing::Test {
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("scheduler.policy", caf::atom("testing"));
    c.set("logger.inline-output", true);
    return c;
  }
  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};
  caf::scheduler::test_coordinator& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  caf::scoped_actor self{sys, true};
  std::shared_ptr<double> usage = std::make_shared<double>(0.0);
  metrics::Registry registry;
  std::string root;
  caf::actor worker;
  caf::actor gc;

  GcTest() {
    std::string templ = (fs::temp_directory_path() / "stoa-gc-XXXXXX").string();
    root = ::mkdtemp(templ.data());
    worker = sys.spawn(worker_double, usage);
    GcOptions opts;
    opts.gc_delay = 100s;
    opts.disk_headroom = 0.1;
    opts.disk_watch_interval = 10s;
    opts.work_dir = root;
    opts.metrics = &registry;
    opts.worker = worker;
    gc = spawn_gc(sys, opts);
    sched.run();  // the first disk check: usage 0, nothing to prune
  }
  ~GcTest() override {
    self->send_exit(gc, caf::exit_reason::user_shutdown);
    self->send_exit(worker, caf::exit_reason::user_shutdown);
    sched.run();
    std::error_code ec;
    fs::remove_all(root, ec);
  }

  std::string dir(const std::string& name) {
    std::string p = root + "/" + name;
    fs::create_directories(p + "/sub");
    return p;
  }

  // The reply to a schedule, once it came: true removed, false cancelled.
  struct Pending {
    std::shared_ptr<std::optional<bool>> outcome = std::make_shared<std::optional<bool>>();
  };
  Pending schedule(Duration delay, const std::string& path) {
    Pending p;
    auto outcome = p.outcome;
    // A helper actor on the test scheduler keeps the continuation.
    sys.spawn([=, this](caf::event_based_actor* a) {
      a->request(gc, caf::infinite, gc_schedule_atom::value, delay, path)
          .then([outcome](bool b) { *outcome = b; }, [outcome](caf::error&) { *outcome = false; });
    });
    sched.run();
    return p;
  }
  std::optional<bool> unschedule(const std::string& path) {
    auto out = std::make_shared<std::optional<bool>>();
    sys.spawn([=, this](caf::event_based_actor* a) {
      a->request(gc, caf::infinite, gc_unschedule_atom::value, path).then([out](bool b) { *out = b; });
    });
    sched.run();
    return *out;
  }
  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }
  picojson::value view() {
    auto out = std::make_shared<std::string>();
    sys.spawn([=, this](caf::event_based_actor* a) {
      a->request(gc, caf::infinite, state_atom_v, std::string("gc"), std::map<std::string, std::string>{})
          .then([out](int, const std::string& body) { *out = body; });
    });
    sched.run();
    auto v = json_parse(*out);
    EXPECT_TRUE(v.is_some()) << *out;
    return v.is_some() ? *v : picojson::value();
  }
};

TEST(GcAge, MaxAgeShrinksWithDiskUsageDownToZero) {
  EXPECT_EQ(max_gc_age(100s, 0.1, 0.0), Duration(90s));
  EXPECT_EQ(max_gc_age(100s, 0.1, 0.4), Duration(50s));
  EXPECT_EQ(max_gc_age(100s, 0.1, 0.95), Duration(0));
  auto usage = disk_usage("/");
  ASSERT_TRUE(usage.is_some());
  EXPECT_GE(*usage, 0.0);
  EXPECT_LE(*usage, 1.0);
  auto bad = disk_usage("/no/such/dir/here");
  ASSERT_TRUE(bad.is_error());
  EXPECT_NE(bad.error().find("'/no/such/dir/here'"), std::string::npos);
}

TEST_F(GcTest, APathIsRemovedOnlyOnceItsDelayHasPassed) {
  std::string a = dir("a");
  Pending p = schedule(30s, a);
  EXPECT_EQ(registry.value("gc/path_removals_pending"), 1);
  advance(29s);
  EXPECT_TRUE(fs::exists(a));
  EXPECT_FALSE(p.outcome->has_value());
  advance(1s);
  EXPECT_FALSE(fs::exists(a));
  ASSERT_TRUE(p.outcome->has_value());
  EXPECT_TRUE(**p.outcome);
  EXPECT_EQ(registry.value("gc/path_removals_succeeded"), 1);
  EXPECT_EQ(registry.value("gc/path_removals_pending"), 0);
}

TEST_F(GcTest, UnscheduleKeepsThePathAndAnswersTheSchedule) {
  std::string a = dir("a");
  Pending p = schedule(30s, a);
  EXPECT_EQ(unschedule(a), std::optional<bool>(true));
  ASSERT_TRUE(p.outcome->has_value());
  EXPECT_FALSE(**p.outcome);
  advance(60s);
  EXPECT_TRUE(fs::exists(a));
  EXPECT_EQ(unschedule(a), std::optional<bool>(false)) << "nothing scheduled any more";
  EXPECT_EQ(registry.value("gc/path_removals_succeeded"), 0);
}

TEST_F(GcTest, SchedulingAgainRestartsTheDelay) {
  std::string a = dir("a");
  Pending first = schedule(30s, a);
  advance(20s);
  Pending second = schedule(30s, a);
  ASSERT_TRUE(first.outcome->has_value());
  EXPECT_FALSE(**first.outcome);
  advance(20s);  // 40 s after the first schedule, 20 s after the second
  EXPECT_TRUE(fs::exists(a));
  advance(10s);
  EXPECT_FALSE(fs::exists(a));
  EXPECT_TRUE(second.outcome->value_or(false));
}

TEST_F(GcTest, AFillingDiskPrunesWhatIsOlderThanTheShorterMaxAge) {
  std::string old_dir = dir("old");
  std::string young_dir = dir("young");
  schedule(100s, old_dir);
  advance(5s);  // not a disk check yet (every 10 s)
  schedule(100s, young_dir);
  // Usage 0.6: max age = 100 s * (1 - 0.1 - 0.6) = 30 s.
  *usage = 0.6;
  advance(25s);  // checks at 10, 20, 30 s: old is 30 s old at the last one
  EXPECT_FALSE(fs::exists(old_dir));
  EXPECT_TRUE(fs::exists(young_dir));
  picojson::value v = view();
  EXPECT_NEAR(v.get("max_age_secs").get<double>(), 30, 0.001);
  EXPECT_NEAR(v.get("disk_usage").get<double>(), 0.6, 0.001);
  ASSERT_EQ(v.get("scheduled").get<picojson::array>().size(), 1u);
  EXPECT_EQ(v.get("scheduled").get<picojson::array>()[0].get("path").to_str(), young_dir);
  // Over 1 - headroom: everything goes at the next check.
  *usage = 0.95;
  advance(10s);
  EXPECT_FALSE(fs::exists(young_dir));
  EXPECT_EQ(registry.value("gc/path_removals_succeeded"), 2);
}

TEST_F(GcTest, PruneRemovesEveryPathScheduledAtLeastThatLongAgo) {
  std::string a = dir("a");
  std::string b = dir("b");
  schedule(1000s, a);
  advance(5s);
  schedule(1000s, b);
  auto pruned = std::make_shared<uint64_t>(99);
  sys.spawn([=, this](caf::event_based_actor* x) {
    x->request(gc, caf::infinite, gc_prune_atom::value, Duration(5s)).then([pruned](uint64_t n) { *pruned = n; });
  });
  sched.run();
  EXPECT_EQ(*pruned, 1u);
  EXPECT_FALSE(fs::exists(a));
  EXPECT_TRUE(fs::exists(b));
}

}  // namespace
}  // namespace stoa::slave
