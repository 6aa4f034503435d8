#include "actors/send_batch.hpp"

#include <chrono>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <gtest/gtest.h>

#include "actors/buffered_tcp.hpp"
#include "actors/messages.hpp"

namespace stoa {
namespace {

using internal::StatusUpdateMessage;
using internal::StatusUpdatesMessage;

using got_atom = caf::atom_constant<caf::atom("sb_got")>;

StatusUpdatesMessage batch_of(int n, const std::string& prefix) {
  StatusUpdatesMessage batch;
  for (int i = 0; i < n; ++i) {
    StatusUpdateMessage* m = batch.add_updates();
    m->set_pid("slave(1)@127.0.0.1:5051");
    internal::StatusUpdate* u = m->mutable_update();
    u->mutable_framework_id()->set_value(prefix + "-framework");
    u->set_timestamp(i);
    u->set_uuid(std::string(16, static_cast<char>('a' + i)));
    u->mutable_status()->mutable_task_id()->set_value(prefix + "-task-" + std::to_string(i));
    u->mutable_status()->set_state(TASK_RUNNING);
  }
  return batch;
}

// What an actor received, in order: "batch:<bytes>" or "single:<bytes>";
// anything else (a Serialized it cannot handle) as "other".
caf::behavior recorder(caf::event_based_actor* self) {
  auto got = std::make_shared<std::vector<std::string>>();
  self->set_default_handler([got](caf::scheduled_actor*, caf::message_view&) -> caf::result<caf::message> {
    got->push_back("other");
    return caf::message{};
  });
  return {
      [got](StatusUpdatesMessage& m) { got->push_back("batch:" + m.SerializeAsString()); },
      [got](StatusUpdateMessage& m) { got->push_back("single:" + m.SerializeAsString()); },
      [got](got_atom) { return *got; },
  };
}

class SendBatch : public ::testing::Test {
 protected:
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    load_middleman(c);
    add_message_types(c);
    c.set("logger.console-verbosity", caf::atom("quiet"));
    c.set("middleman.workers", static_cast<size_t>(0));
    return c;
  }
  SendBatch() : a_(init(cfg_a_)), b_(init(cfg_b_)) {}

  // What `to` (on a or b) received, asked through `asker`'s connection:
  // the answer comes after what `asker` sent it.
  std::vector<std::string> received(caf::scoped_actor& asker, const caf::actor& to) {
    std::vector<std::string> got;
    asker->request(to, std::chrono::seconds(30), got_atom::value)
        .receive([&](std::vector<std::string>& g) { got = std::move(g); },
                 [&](caf::error& e) { ADD_FAILURE() << a_.render(e); });
    return got;
  }

  caf::actor_system_config cfg_a_;
  caf::actor_system_config cfg_b_;
  caf::actor_system a_;
  caf::actor_system b_;
};

TEST_F(SendBatch, ARemotePeerGetsTheBatchTypeAndTheSenderKeepsItsStorage) {
  caf::actor far = a_.spawn(recorder);
  auto port = a_.middleman().publish(far, 0, "127.0.0.1");
  ASSERT_TRUE(port) << a_.render(port.error());
  auto remote = b_.middleman().remote_actor("127.0.0.1", *port);
  ASSERT_TRUE(remote) << b_.render(remote.error());
  caf::scoped_actor sender(b_);

  const StatusUpdatesMessage three = batch_of(3, "three");
  StatusUpdatesMessage batch = three;
  const StatusUpdateMessage* first = &batch.updates(0);
  EXPECT_EQ(send_batch(sender.ptr(), *remote, batch, batch.mutable_updates()), 3);
  EXPECT_EQ(batch.updates_size(), 0);

  // The next batch built on this thread is built in the elements sent,
  // cleared: nothing of the old update is left in them.
  StatusUpdatesMessage next;
  take_recycled(next);
  EXPECT_EQ(next.updates_size(), 0);
  StatusUpdateMessage* reused = next.add_updates();
  EXPECT_EQ(reused, first) << "a fresh element, not the one sent";
  EXPECT_FALSE(reused->has_update());
  EXPECT_FALSE(reused->has_pid());
  reused->mutable_update()->mutable_framework_id()->set_value("reused");
  EXPECT_EQ(reused->update().ShortDebugString(), "framework_id { value: \"reused\" }");

  // A batch of one goes as its element; none sends nothing.
  const StatusUpdatesMessage one = batch_of(1, "one");
  StatusUpdatesMessage single = one;
  EXPECT_EQ(send_batch(sender.ptr(), *remote, single, single.mutable_updates()), 0);
  StatusUpdatesMessage none;
  EXPECT_EQ(send_batch(sender.ptr(), *remote, none, none.mutable_updates()), 0);

  std::vector<std::string> got = received(sender, *remote);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "batch:" + three.SerializeAsString());
  EXPECT_EQ(got[1], "single:" + one.updates(0).SerializeAsString());
  anon_send_exit(far, caf::exit_reason::user_shutdown);
}

TEST_F(SendBatch, ALocalActorGetsTheBatchItself) {
  caf::actor near = b_.spawn(recorder);
  caf::scoped_actor sender(b_);
  const StatusUpdatesMessage two = batch_of(2, "two");
  StatusUpdatesMessage batch = two;
  EXPECT_EQ(send_batch(sender.ptr(), near, batch, batch.mutable_updates()), 2);
  EXPECT_EQ(batch.updates_size(), 0);
  std::vector<std::string> got = received(sender, near);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "batch:" + two.SerializeAsString());
  anon_send_exit(near, caf::exit_reason::user_shutdown);
}

}  // namespace
}  // namespace stoa
