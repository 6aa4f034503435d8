// The registry's storage layout (registrar/parts.hpp).
#include "registrar/parts.hpp"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "registrar/operations.hpp"

namespace stoa::registrar {
namespace {

using registry::Registry;

Registry sample(int slaves) {
  Registry r;
  r.mutable_master()->set_id("m1");
  r.mutable_master()->set_ip(1);
  r.mutable_master()->set_port(5050);
  for (int i = 0; i < slaves; ++i) {
    SlaveInfo* s = r.mutable_slaves()->add_slaves();
    s->set_hostname("host" + std::to_string(i));
    s->mutable_id()->set_value("S" + std::to_string(i));
  }
  auto* u = r.mutable_unreachable()->add_slaves();
  u->mutable_id()->set_value("U1");
  u->mutable_timestamp()->set_nanoseconds(5);
  auto* g = r.mutable_gone()->add_slaves();
  g->mutable_id()->set_value("G1");
  g->mutable_timestamp()->set_nanoseconds(6);
  auto* w = r.add_weights();
  w->set_role("a");
  w->set_weight(2);
  auto* f = r.mutable_removed_frameworks()->add_frameworks();
  f->mutable_id()->set_value("F1");
  f->mutable_timestamp()->set_nanoseconds(7);
  return r;
}

TEST(RegistryParts, JoinGivesBackWhatWasSplit) {
  Registry r = sample(1000);
  std::vector<std::string> parts = split_registry(r);
  ASSERT_EQ(parts.size(), 1u + REGISTRY_BUCKETS);
  Try<Registry> back = join_registry(parts);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->slaves().slaves_size(), 1000);
  EXPECT_EQ(SlaveIds::of(*back), SlaveIds::of(r));
  EXPECT_EQ(back->master().id(), "m1");
  EXPECT_EQ(back->weights_size(), 1);
  EXPECT_EQ(back->unreachable().slaves(0).timestamp().nanoseconds(), 5);
  EXPECT_EQ(back->gone().slaves(0).id().value(), "G1");
  ASSERT_EQ(back->removed_frameworks().frameworks_size(), 1);
  EXPECT_EQ(back->removed_frameworks().frameworks(0).id().value(), "F1");
  // Slaves come back grouped by bucket; splitting again gives the same parts.
  EXPECT_EQ(split_registry(*back), parts);
  // A registry written whole (one part) joins too.
  Try<Registry> whole = join_registry({r.SerializeAsString()});
  ASSERT_TRUE(whole) << whole.error();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*whole, r));
}

TEST(RegistryParts, OneSlaveChangesOnePart) {
  Registry r = sample(5000);
  std::vector<std::string> before = split_registry(r);
  registry::Operation op;
  op.mutable_admit_slave()->mutable_info()->set_hostname("new");
  op.mutable_admit_slave()->mutable_info()->mutable_id()->set_value("S-new");
  ASSERT_TRUE(*apply(r, op));
  std::vector<std::string> after = split_registry(r);
  int changed = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    changed += before[i] != after[i] ? 1 : 0;
  }
  EXPECT_EQ(changed, 1);
  EXPECT_NE(before[1 + bucket_of("S-new")], after[1 + bucket_of("S-new")]);
  // Removing a slave from the middle of the list changes only its bucket.
  registry::Operation rm;
  rm.mutable_remove_slave()->mutable_slave_id()->set_value("S17");
  ASSERT_TRUE(*apply(r, rm));
  std::vector<std::string> removed = split_registry(r);
  changed = 0;
  for (size_t i = 0; i < removed.size(); ++i) {
    changed += removed[i] != after[i] ? 1 : 0;
  }
  EXPECT_EQ(changed, 1);
}

// Updating only the parts each operation touches gives what a whole split
// gives, for every kind of operation.
TEST(RegistryParts, UpdatingTouchedPartsEqualsAWholeSplit) {
  Registry r = sample(300);
  SlaveIds ids = SlaveIds::of(r);
  std::vector<std::string> parts = split_registry(r);
  std::vector<registry::Operation> ops;
  auto op = [&](auto fill) {
    registry::Operation o;
    fill(o);
    ops.push_back(o);
  };
  for (int i = 0; i < 40; ++i) {
    std::string id = "S" + std::to_string(i * 7);
    std::string fresh = "N" + std::to_string(i);
    op([&](auto& o) { o.mutable_admit_slave()->mutable_info()->set_hostname("n"); 
                      o.mutable_admit_slave()->mutable_info()->mutable_id()->set_value(fresh); });
    op([&](auto& o) { o.mutable_update_slave()->mutable_info()->set_hostname("u");
                      o.mutable_update_slave()->mutable_info()->mutable_id()->set_value(fresh); });
    op([&](auto& o) { o.mutable_mark_slave_unreachable()->mutable_slave_id()->set_value(id);
                      o.mutable_mark_slave_unreachable()->mutable_timestamp()->set_nanoseconds(i); });
    if (i % 3 == 0) {
      op([&](auto& o) { o.mutable_mark_slave_reachable()->mutable_info()->set_hostname("r");
                        o.mutable_mark_slave_reachable()->mutable_info()->mutable_id()->set_value(id); });
    }
    if (i % 3 == 1) {
      op([&](auto& o) { o.mutable_prune_unreachable()->add_slave_ids()->set_value(id); });
    }
    op([&](auto& o) { o.mutable_mark_slave_gone()->mutable_slave_id()->set_value("S" + std::to_string(i * 7 + 1));
                      o.mutable_mark_slave_gone()->mutable_timestamp()->set_nanoseconds(i); });
    op([&](auto& o) { o.mutable_remove_slave()->mutable_slave_id()->set_value("S" + std::to_string(i * 7 + 2)); });
    op([&](auto& o) { auto* w = o.mutable_update_weights()->add_weights(); w->set_role("r"); w->set_weight(i + 1); });
    op([&](auto& o) { auto* q = o.mutable_update_quota()->mutable_quota(); q->set_role("q" + std::to_string(i));
                      auto* res = q->add_guarantee(); res->set_name("cpus"); res->set_type(Value::SCALAR);
                      res->mutable_scalar()->set_value(1); });
    op([&](auto& o) { o.mutable_remove_quota()->set_role("q" + std::to_string(i / 2)); });
    op([&](auto& o) { o.mutable_mark_framework_removed()->mutable_framework_id()->set_value("F" + std::to_string(i));
                      o.mutable_mark_framework_removed()->mutable_timestamp()->set_nanoseconds(i); });
    op([&](auto& o) { auto* w = o.mutable_update_maintenance()->mutable_maintenance()->add_windows();
                      w->add_machine_ids()->set_hostname("m" + std::to_string(i % 4));
                      w->mutable_start()->set_nanoseconds(i); });
  }
  int changed = 0;
  for (size_t i = 0; i < ops.size(); i += 5) {
    std::vector<bool> dirty(1 + REGISTRY_BUCKETS, false);
    // A batch of up to 5 operations, as the registrar applies them.
    for (size_t j = i; j < ops.size() && j < i + 5; ++j) {
      Try<bool> result = apply(r, ids, ops[j]);
      ASSERT_TRUE(result) << result.error();
      changed += *result ? 1 : 0;
      for (int p : parts_touched(ops[j])) {
        dirty[p] = true;
      }
    }
    update_parts(parts, r, dirty);
    ASSERT_EQ(parts, split_registry(r)) << "after operation " << i;
  }
  EXPECT_GT(changed, 300);
}

TEST(RegistryParts, GarbageIsAnErrorNamingItsSize) {
  Try<Registry> bad = join_registry({"\xff\xff\xff", "junk"});
  ASSERT_TRUE(bad.is_error());
  EXPECT_NE(bad.error().find("(7 bytes) does not parse as a Registry"), std::string::npos) << bad.error();
  EXPECT_TRUE(join_registry({}));  // nothing stored: the empty registry
}

// What a new leader is answered with: everything but the admitted slaves
// parsed, and those as (id, encoded SlaveInfo), in the registry's order.
TEST(RegistryParts, AScanHoldsWhatAJoinHolds) {
  Registry r = sample(1000);
  std::vector<std::string> parts = split_registry(r);
  Try<ScannedRegistry> scan = scan_registry(parts);
  ASSERT_TRUE(scan) << scan.error();
  Try<Registry> joined = join_registry(parts);
  ASSERT_TRUE(joined) << joined.error();
  ASSERT_EQ(scan->slave_ids.size(), 1000u);
  ASSERT_EQ(scan->slave_infos.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(scan->slave_ids[i], joined->slaves().slaves(i).id().value());
    EXPECT_EQ(scan->slave_infos[i], joined->slaves().slaves(i).SerializeAsString());
  }
  EXPECT_EQ(scan->rest.slaves().slaves_size(), 0);
  EXPECT_EQ(scan->rest.master().id(), "m1");
  EXPECT_EQ(scan->rest.unreachable().slaves(0).id().value(), "U1");
  EXPECT_EQ(scan->rest.gone().slaves(0).id().value(), "G1");
  EXPECT_EQ(scan->rest.weights_size(), 1);
  EXPECT_EQ(scan->rest.removed_frameworks().frameworks(0).id().value(), "F1");
  Try<Registry> back = to_registry(*scan);
  ASSERT_TRUE(back) << back.error();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*back, *joined));
  // A registry written whole (one part) scans too.
  Try<ScannedRegistry> whole = scan_registry({r.SerializeAsString()});
  ASSERT_TRUE(whole) << whole.error();
  ASSERT_EQ(whole->slave_ids.size(), 1000u);
  EXPECT_EQ(whole->slave_ids[0], "S0");
  Try<Registry> whole_back = to_registry(*whole);
  ASSERT_TRUE(whole_back) << whole_back.error();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*whole_back, r));
}

TEST(RegistryParts, AScanLeavesOutSlavesWithoutIdAndRefusesGarbage) {
  Registry r = sample(2);
  r.mutable_slaves()->add_slaves()->set_hostname("no-id");
  Try<ScannedRegistry> scan = scan_registry({r.SerializeAsString()});
  ASSERT_TRUE(scan) << scan.error();
  EXPECT_EQ(scan->slave_ids, (std::vector<std::string>{"S0", "S1"}));
  Try<ScannedRegistry> bad = scan_registry({"\xff\xff\xff", "junk"});
  ASSERT_TRUE(bad.is_error());
  EXPECT_NE(bad.error().find("(7 bytes) does not parse as a Registry"), std::string::npos) << bad.error();
  // An admitted slave whose id is cut short.
  std::string info = r.slaves().slaves(0).SerializeAsString();
  std::string cut = info.substr(0, info.size() - 1);
  std::string list = "\x0a" + std::string(1, static_cast<char>(cut.size())) + cut;
  std::string registry = "\x12" + std::string(1, static_cast<char>(list.size())) + list;
  EXPECT_TRUE(scan_registry({registry}).is_error());
  EXPECT_TRUE(join_registry({registry}).is_error());
  Try<ScannedRegistry> empty = scan_registry({});
  ASSERT_TRUE(empty) << empty.error();  // nothing stored: the empty registry
  EXPECT_TRUE(empty->slave_ids.empty());
}

TEST(RegistryParts, BucketsAreStable) {
  EXPECT_EQ(fnv1a64(""), 14695981039346656037ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(bucket_of("S1"), bucket_of(std::string("S1")));
}

}  // namespace
}  // namespace stoa::registrar
