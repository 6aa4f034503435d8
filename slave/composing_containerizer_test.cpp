// The composing containerizer routes by container kind (docker_containerizer.hpp).
#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "slave/docker_containerizer.hpp"
#include "slave/slave_test_fixture.hpp"
#include "tests/poll.hpp"

namespace stoa::slave {
namespace {

using namespace std::chrono_literals;
using tests::deadline_in;
using tests::poll_until;

struct Composed {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::shared_ptr<FakeContainers> mesos = std::make_shared<FakeContainers>();
  std::shared_ptr<FakeContainers> docker = std::make_shared<FakeContainers>();
  caf::actor mesos_actor;
  caf::actor docker_actor;
  containerizer_actor composing;

  Composed() {
    composing = spawn_composing_containerizer(
        sys,
        [this](caf::actor) {
          mesos_actor = sys.spawn(fake_containerizer, mesos);
          return caf::actor_cast<containerizer_actor>(mesos_actor);
        },
        [this](caf::actor) {
          docker_actor = sys.spawn(fake_containerizer, docker);
          return caf::actor_cast<containerizer_actor>(docker_actor);
        },
        caf::actor{});
  }
  ~Composed() { caf::anon_send_exit(composing, caf::exit_reason::user_shutdown); }

  LaunchResult launch(const std::string& cid, bool is_docker) {
    ContainerConfig c;
    c.container_id = cid;
    c.docker = is_docker;
    LaunchResult result;
    caf::scoped_actor self{sys};
    self->request(composing, 10s, launch_atom::value, c)
        .receive([&](const LaunchResult& r) { result = r; },
                 [&](caf::error& e) { result.error = sys.render(e); });
    return result;
  }
};

TEST(ComposingContainerizer, LaunchesWaitsAndDestroysGoToTheContainersOwnKind) {
  Composed c;
  LaunchResult d = c.launch("d1", true);
  LaunchResult m = c.launch("m1", false);
  EXPECT_GT(d.pid, 0) << d.error;
  EXPECT_GT(m.pid, 0) << m.error;
  caf::scoped_actor self{c.sys};
  // A round trip to each fake orders what it recorded before our reads.
  auto sync = [&](const caf::actor& fake) {
    self->request(fake, 10s, usage_atom::value, std::vector<std::string>{}).receive([](ContainerUsages&) {},
                                                                                      [](caf::error&) {});
  };
  self->send(c.composing, destroy_atom::value, std::string("d1"));
  self->send(c.composing, destroy_atom::value, std::string("nobody"));
  // Waits relay the owner's answer; unknown containers answer -1 at once.
  int32_t unknown = 0;
  self->request(c.composing, 10s, wait_atom::value, std::string("nobody"))
      .receive([&](int32_t s) { unknown = s; }, [](caf::error&) {});
  EXPECT_EQ(unknown, -1);
  auto wait = self->request(c.composing, 10s, wait_atom::value, std::string("m1"));
  // The mesos fake answers once told the container exited.
  bool asked = poll_until(
      [&] {
        sync(c.mesos_actor);
        return c.mesos->waits.count("m1") != 0;
      },
      deadline_in(10s));
  ASSERT_TRUE(asked);
  self->send(c.mesos_actor, reaped_atom_v, std::string("m1"), int32_t{7});
  int32_t status = 0;
  wait.receive([&](int32_t s) { status = s; }, [](caf::error&) {});
  EXPECT_EQ(status, 7);
  sync(c.mesos_actor);
  sync(c.docker_actor);
  ASSERT_EQ(c.docker->launched.size(), 1U);
  EXPECT_EQ(c.docker->launched[0].container_id, "d1");
  ASSERT_EQ(c.mesos->launched.size(), 1U);
  EXPECT_EQ(c.mesos->launched[0].container_id, "m1");
  EXPECT_EQ(c.docker->destroyed, std::vector<std::string>{"d1"});
  EXPECT_TRUE(c.mesos->destroyed.empty());
}

TEST(ComposingContainerizer, AdoptionsAndDestroyAllReachTheirKinds) {
  Composed c;
  caf::scoped_actor self{c.sys};
  for (auto [cid, is_docker] : {std::pair{"d2", true}, std::pair{"m2", false}}) {
    bool adopted = false;
    self->request(c.composing, 10s, adopt_atom::value, AdoptConfig{cid, 1234, Resources(), is_docker})
        .receive([&](bool a) { adopted = a; }, [](caf::error&) {});
    EXPECT_TRUE(adopted) << cid;
  }
  // The same container twice is refused.
  bool again = true;
  self->request(c.composing, 10s, adopt_atom::value, AdoptConfig{"d2", 1234, Resources(), true})
      .receive([&](bool a) { again = a; }, [](caf::error&) {});
  EXPECT_FALSE(again);
  EXPECT_GT(c.launch("d3", true).pid, 0);
  bool all = false;
  self->request(c.composing, 10s, destroy_all_atom::value).receive([&](bool ok) { all = ok; }, [](caf::error&) {});
  EXPECT_TRUE(all);
  ASSERT_EQ(c.docker->adopted.size(), 1U);
  EXPECT_EQ(c.docker->adopted[0].container_id, "d2");
  ASSERT_EQ(c.mesos->adopted.size(), 1U);
  EXPECT_EQ(c.mesos->adopted[0].container_id, "m2");
  EXPECT_EQ(c.docker->destroyed, std::vector<std::string>{"d3"});
  // The usage of both kinds comes back as one answer.
  bool answered = false;
  self->request(c.composing, 10s, usage_atom::value, std::vector<std::string>{"d2", "m2", "d3"})
      .receive([&](ContainerUsages&) { answered = true; }, [](caf::error&) {});
  EXPECT_TRUE(answered);
}

}  // namespace
}  // namespace stoa::slave
