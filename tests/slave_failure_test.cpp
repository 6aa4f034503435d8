// A slave that dies: the master stops offering it and rescinds its offers.

#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <regex>
#include <set>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

// slave id -> active, from /master/state.
std::map<std::string, bool> slaves_in_state(Cluster& cluster) {
  std::map<std::string, bool> out;
  Try<picojson::value> state = cluster.state();
  if (state.is_error()) {
    return out;
  }
  for (const auto& s : json_array(json_at(*state, "slaves"))) {
    const picojson::value& active = json_at(s, "active");
    if (!active.is<bool>()) {  // a broken view, not an active slave
      ADD_FAILURE() << "a slave in /master/state has no boolean \"active\": " << s.serialize();
      continue;
    }
    out[json_string(json_at(s, "id"))] = active.get<bool>();
  }
  return out;
}

// offer id -> slave id, from the framework's "OFFER <offer_id> <slave_id>" lines.
std::map<std::string, std::string> offers_seen(const Process& framework) {
  static const std::regex offer(R"(\bOFFER (\S+) (\S+)\s*$)");
  std::map<std::string, std::string> out;
  for (const std::string& line : framework.lines_matching(offer)) {
    std::smatch m;
    std::regex_search(line, m, offer);
    out[m[1]] = m[2];
  }
  return out;
}

TEST(ClusterSlaves, KilledSlaveIsRemovedAndItsOffersRescinded) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-example-framework");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(2);
  ASSERT_TRUE(started) << started.error();
  const std::map<std::string, bool> before = slaves_in_state(cluster);
  ASSERT_EQ(before.size(), 2U);

  Try<Process*> framework = cluster.start("stoa-example-framework", "framework",
                                          {"--master=" + cluster.master_address(), "--tasks=1",
                                           "--command=true", "--task_resources=cpus:0.1;mem:32", "--hold_offers"});
  ASSERT_TRUE(framework) << framework.error();
  // Held offers: one (or more) per slave, never answered.
  std::map<std::string, std::string> offers;
  ASSERT_TRUE(poll_until(
      [&] {
        offers = offers_seen(**framework);
        std::set<std::string> slaves;
        for (const auto& [offer, slave] : offers) {
          slaves.insert(slave);
        }
        return slaves.size() == 2;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "expected OFFER lines for both slaves, saw " << offers.size() << " offers";

  cluster.slave(0)->kill(SIGKILL);
  ASSERT_TRUE(cluster.slave(0)->wait_exit(deadline_in(5s)));

  // The master notices: the slave disappears or is marked inactive; the other stays active.
  std::string killed;
  std::map<std::string, bool> after;
  ASSERT_TRUE(poll_until(
      [&] {
        after = slaves_in_state(cluster);
        std::vector<std::string> gone;
        for (const auto& [id, active] : before) {
          if (!after.contains(id) || !after.at(id)) {
            gone.push_back(id);
          }
        }
        if (gone.size() == 1) {
          killed = gone.front();
        }
        return gone.size() == 1;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "/master/state still shows both slaves active after one was killed";
  for (const auto& [id, active] : before) {
    if (id != killed) {
      EXPECT_TRUE(after.contains(id) && after.at(id)) << "the surviving slave " << id << " is not active";
    }
  }

  // Every offer of the dead slave is rescinded, and /master/state no longer lists it.
  for (const auto& [offer, slave] : offers) {
    if (slave == killed) {
      EXPECT_TRUE((*framework)->wait_for_line(std::regex("\\bRESCIND " + regex_escape(offer) + "(\\s|$)"), deadline_in(5s)))
          << "offer " << offer << " of killed slave " << killed << " was not rescinded";
    }
  }
  Try<picojson::value> state = cluster.state();
  ASSERT_TRUE(state) << state.error();
  for (const auto& fw : json_array(json_at(*state, "frameworks"))) {
    for (const auto& o : json_array(json_at(fw, "offers"))) {
      EXPECT_NE(json_string(json_at(o, "slave_id")), killed)
          << "offer " << json_string(json_at(o, "id")) << " of the killed slave is still outstanding";
    }
  }
}

}  // namespace
}  // namespace stoa::tests
