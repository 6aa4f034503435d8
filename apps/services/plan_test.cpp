#include "apps/services/plan.hpp"

#include <cmath>

#include <gtest/gtest.h>

namespace stoa::services {
namespace {

App app(const std::string& id, int instances = 1, std::vector<std::string> dependencies = {}) {
  App a;
  a.id = id;
  a.cmd = "sleep 100";
  a.instances = instances;
  a.dependencies = std::move(dependencies);
  return a;
}

std::map<std::string, App> apps(std::initializer_list<App> list) {
  std::map<std::string, App> out;
  for (const App& a : list) {
    out.emplace(a.id, a);
  }
  return out;
}

// The plan as "Action:/app" strings, step by step.
std::vector<std::vector<std::string>> steps_of(const Deployment& d) {
  std::vector<std::vector<std::string>> out;
  for (const auto& step : d.steps) {
    std::vector<std::string> actions;
    for (const DeploymentAction& a : step) {
      actions.push_back(a.action + ":" + a.app);
    }
    std::sort(actions.begin(), actions.end());
    out.push_back(actions);
  }
  return out;
}

using Steps = std::vector<std::vector<std::string>>;

TEST(PlanTest, NewAppsStartThenScale) {
  Deployment d = make_plan({}, apps({app("/web", 3)}), {}, 42);
  EXPECT_EQ(steps_of(d), (Steps{{"StartApplication:/web"}, {"ScaleApplication:/web"}}));
  EXPECT_EQ(d.version, 42);
  EXPECT_EQ(d.affected_apps, (std::vector<std::string>{"/web"}));
  EXPECT_TRUE(d.original.empty());
  ASSERT_TRUE(d.target.contains("/web"));
  EXPECT_EQ(d.target.at("/web").instances, 3);
  EXPECT_EQ(d.id.size(), 36U);
  EXPECT_NE(d.id, make_plan({}, apps({app("/web", 3)}), {}, 42).id);
}

TEST(PlanTest, StopScaleRestartAndUnchanged) {
  App changed = app("/changed", 2);
  App changed_after = changed;
  changed_after.cmd = "sleep 200";
  std::map<std::string, App> original = apps({app("/gone"), app("/same", 2), app("/scaled", 1), changed, app("/kicked")});
  std::map<std::string, App> target = apps({app("/same", 2), app("/scaled", 4), changed_after, app("/kicked")});
  Deployment d = make_plan(original, target, {"/kicked"}, 1);
  EXPECT_EQ(steps_of(d), (Steps{{"StopApplication:/gone"},
                                {"RestartApplication:/changed", "RestartApplication:/kicked",
                                 "ScaleApplication:/scaled"}}));
  EXPECT_EQ(d.affected_apps, (std::vector<std::string>{"/changed", "/gone", "/kicked", "/scaled"}));
  EXPECT_FALSE(d.original.contains("/same"));
  EXPECT_FALSE(d.target.contains("/same"));
  EXPECT_TRUE(d.original.contains("/gone"));
  EXPECT_FALSE(d.target.contains("/gone"));
  EXPECT_EQ(d.target.at("/changed").cmd, "sleep 200");
}

TEST(PlanTest, NothingChangedGivesNoSteps) {
  std::map<std::string, App> same = apps({app("/a"), app("/b", 3)});
  Deployment d = make_plan(same, same, {}, 1);
  EXPECT_TRUE(d.steps.empty());
  EXPECT_TRUE(d.affected_apps.empty());
}

TEST(PlanTest, DependenciesOrderTheSteps) {
  std::map<std::string, App> target =
      apps({app("/lb", 1, {"/web"}), app("/web", 1, {"/db", "/cache"}), app("/db"), app("/cache"), app("/other")});
  Deployment d = make_plan({}, target, {}, 1);
  ASSERT_EQ(d.steps.size(), 4U);
  EXPECT_EQ(steps_of(d)[1], (std::vector<std::string>{"ScaleApplication:/cache", "ScaleApplication:/db",
                                                       "ScaleApplication:/other"}));
  EXPECT_EQ(steps_of(d)[2], (std::vector<std::string>{"ScaleApplication:/web"}));
  EXPECT_EQ(steps_of(d)[3], (std::vector<std::string>{"ScaleApplication:/lb"}));

  // Only changed apps get actions; an unchanged dependency leaves no empty step behind.
  std::map<std::string, App> scaled = target;
  scaled["/lb"].instances = 2;
  Deployment scale = make_plan(target, scaled, {}, 2);
  EXPECT_EQ(steps_of(scale), (Steps{{"ScaleApplication:/lb"}}));
}

TEST(PlanTest, ADependencyCycleGoesLastInOneStep) {
  std::map<std::string, App> target =
      apps({app("/a", 1, {"/b"}), app("/b", 1, {"/a"}), app("/c"), app("/d", 1, {"/a"}), app("/e", 1, {"/c"})});
  Deployment d = make_plan({}, target, {}, 1);
  Steps steps = steps_of(d);
  ASSERT_EQ(steps.size(), 4U);
  EXPECT_EQ(steps[1], (std::vector<std::string>{"ScaleApplication:/c"}));
  EXPECT_EQ(steps[2], (std::vector<std::string>{"ScaleApplication:/e"}));
  EXPECT_EQ(steps[3], (std::vector<std::string>{"ScaleApplication:/a", "ScaleApplication:/b", "ScaleApplication:/d"}));
}

TEST(PlanTest, RevertGoesBackToTheOriginal) {
  std::map<std::string, App> original = apps({app("/web", 2), app("/old")});
  std::map<std::string, App> target = apps({app("/web", 5), app("/new", 3), app("/old")});
  Deployment d = make_plan(original, target, {}, 1);
  // Halfway through, the apps are as the target says.
  Deployment revert = revert_plan(d, target, 2);
  EXPECT_EQ(steps_of(revert), (Steps{{"StopApplication:/new"}, {"ScaleApplication:/web"}}));
  EXPECT_EQ(revert.version, 2);
  EXPECT_NE(revert.id, d.id);
  EXPECT_EQ(revert.target.at("/web").instances, 2);
  EXPECT_FALSE(revert.target.contains("/new"));

  // A removed app comes back.
  Deployment removal = make_plan(original, apps({app("/web", 2)}), {}, 3);
  Deployment back = revert_plan(removal, apps({app("/web", 2)}), 4);
  EXPECT_EQ(steps_of(back), (Steps{{"StartApplication:/old"}, {"ScaleApplication:/old"}}));
}

TEST(PlanTest, ConflictingDeploymentsShareAnApp) {
  Deployment a = make_plan({}, apps({app("/a"), app("/b")}), {}, 1);
  Deployment c = make_plan({}, apps({app("/c")}), {}, 1);
  EXPECT_EQ(conflicting_deployments({a, c}, {"/b"}), (std::vector<std::string>{a.id}));
  EXPECT_EQ(conflicting_deployments({a, c}, {"/c", "/a"}), (std::vector<std::string>{a.id, c.id}));
  EXPECT_TRUE(conflicting_deployments({a, c}, {"/z"}).empty());
}

UpgradeStrategy strategy(double min_health, double max_over) {
  UpgradeStrategy s;
  s.minimum_health_capacity = min_health;
  s.maximum_over_capacity = max_over;
  return s;
}

TEST(PlanTest, RestartStepExamples) {
  // Defaults (1, 1): start all n new ones, kill nothing yet.
  RestartState s{.instances = 3, .old_healthy = 3, .old_active = 3, .new_started = 0, .new_ready = 0};
  RestartDecision d = restart_step(strategy(1, 1), s);
  EXPECT_EQ(d.kill_old, 0U);
  EXPECT_EQ(d.launch_new, 3U);
  EXPECT_FALSE(d.done);
  // One new instance ready: one old may go.
  s.new_started = 3;
  s.new_ready = 1;
  EXPECT_EQ(restart_step(strategy(1, 1), s).kill_old, 1U);

  // (0, 0): every old instance first, nothing launched while they live.
  RestartState z{.instances = 4, .old_healthy = 4, .old_active = 4};
  d = restart_step(strategy(0, 0), z);
  EXPECT_EQ(d.kill_old, 4U);
  EXPECT_EQ(d.launch_new, 0U);
  z = RestartState{.instances = 4, .old_terminating = 4};
  EXPECT_EQ(restart_step(strategy(0, 0), z).launch_new, 0U);
  z.old_terminating = 0;
  EXPECT_EQ(restart_step(strategy(0, 0), z).launch_new, 4U);

  // (0.5, 0) with n = 4: kill 2, then start 2.
  RestartState h{.instances = 4, .old_healthy = 4, .old_active = 4};
  d = restart_step(strategy(0.5, 0), h);
  EXPECT_EQ(d.kill_old, 2U);
  EXPECT_EQ(d.launch_new, 0U);
  h = RestartState{.instances = 4, .old_healthy = 2, .old_active = 2};
  d = restart_step(strategy(0.5, 0), h);
  EXPECT_EQ(d.kill_old, 0U);
  EXPECT_EQ(d.launch_new, 2U);

  // (1, 0): minHealthy == maxCapacity == healthy, so one extra is allowed.
  RestartState b{.instances = 2, .old_healthy = 2, .old_active = 2};
  d = restart_step(strategy(1, 0), b);
  EXPECT_EQ(d.kill_old, 0U);
  EXPECT_EQ(d.launch_new, 1U);

  // More old instances than n: the extras go at once.
  RestartState extra{.instances = 2, .old_healthy = 1, .old_active = 5};
  EXPECT_EQ(restart_step(strategy(1, 1), extra).kill_old, 3U);

  RestartState finished{.instances = 2, .new_started = 2, .new_ready = 2};
  EXPECT_TRUE(restart_step(strategy(1, 1), finished).done);
  finished.old_terminating = 1;
  EXPECT_FALSE(restart_step(strategy(1, 1), finished).done);
}

// A simulated rolling restart: each round one old instance being killed
// dies and one new instance becomes ready, then the decision is applied.
// Healthy instances never fall below minHealthy and live ones never exceed
// maxCapacity (plus the one extra allowed when minHealthy == maxCapacity).
TEST(PlanTest, SimulatedRollingRestartKeepsCapacityBounds) {
  const std::vector<std::pair<double, double>> strategies = {{1, 1},   {1, 0},     {0, 0},   {0.5, 0}, {0.5, 0.5},
                                                             {0.3, 0}, {0.9, 0.1}, {0, 1},  {0.75, 0.25}};
  for (size_t n : {1U, 2U, 3U, 4U, 5U, 10U}) {
    for (auto [min_health, max_over] : strategies) {
      SCOPED_TRACE("n=" + std::to_string(n) + " strategy=(" + std::to_string(min_health) + "," +
                   std::to_string(max_over) + ")");
      const auto min_healthy = static_cast<size_t>(std::ceil(static_cast<double>(n) * min_health - 1e-9));
      auto max_capacity = static_cast<size_t>(std::floor(static_cast<double>(n) * (1 + max_over) + 1e-9));
      if (min_healthy == max_capacity) {
        max_capacity += 1;
      }
      RestartState s{.instances = n, .old_healthy = n, .old_active = n};
      size_t new_pending = 0;  // started, not ready yet
      bool done = false;
      for (int round = 0; round < 1000 && !done; ++round) {
        if (s.old_terminating > 0) {
          --s.old_terminating;
        }
        if (new_pending > 0) {
          --new_pending;
          ++s.new_ready;
        }
        const RestartDecision d = restart_step(strategy(min_health, max_over), s);
        done = d.done;
        ASSERT_LE(d.kill_old, s.old_active);
        // Kill healthy old ones (the worst case for the minimum).
        s.old_active -= d.kill_old;
        s.old_healthy -= std::min(s.old_healthy, d.kill_old);
        s.old_terminating += d.kill_old;
        s.new_started += d.launch_new;
        new_pending += d.launch_new;
        EXPECT_GE(s.old_healthy + s.new_ready, min_healthy) << "round " << round;
        EXPECT_LE(s.old_active + s.old_terminating + s.new_started, max_capacity) << "round " << round;
        EXPECT_LE(s.new_started, n);
      }
      EXPECT_TRUE(done);
      EXPECT_EQ(s.new_ready, n);
      EXPECT_EQ(s.old_active, 0U);
    }
  }
}

}  // namespace
}  // namespace stoa::services
