// The registry operations (registrar/operations.hpp): each case, its false
// cases and its errors, with the id index kept in step.
#include "registrar/operations.hpp"

#include <limits>

#include <gtest/gtest.h>

namespace stoa::registrar {
// Named so that this file's helpers stay apart from other test files'
// when CI compiles the test files of one binary as one unit (unity build).
namespace operations_test {
namespace {

using registry::Operation;
using registry::Registry;

SlaveInfo slave(const std::string& id, const std::string& host = "h") {
  SlaveInfo s;
  s.set_hostname(host);
  s.mutable_id()->set_value(id);
  return s;
}

SlaveID sid(const std::string& id) {
  SlaveID s;
  s.set_value(id);
  return s;
}

Operation admit(const std::string& id, const std::string& host = "h") {
  Operation op;
  *op.mutable_admit_slave()->mutable_info() = slave(id, host);
  return op;
}
Operation update(const std::string& id, const std::string& host) {
  Operation op;
  *op.mutable_update_slave()->mutable_info() = slave(id, host);
  return op;
}
Operation unreachable(const std::string& id, int64_t ns = 7) {
  Operation op;
  *op.mutable_mark_slave_unreachable()->mutable_slave_id() = sid(id);
  op.mutable_mark_slave_unreachable()->mutable_timestamp()->set_nanoseconds(ns);
  return op;
}
Operation reachable(const std::string& id, const std::string& host = "h") {
  Operation op;
  *op.mutable_mark_slave_reachable()->mutable_info() = slave(id, host);
  return op;
}
Operation remove(const std::string& id) {
  Operation op;
  *op.mutable_remove_slave()->mutable_slave_id() = sid(id);
  return op;
}
Operation gone(const std::string& id, int64_t ns = 9) {
  Operation op;
  *op.mutable_mark_slave_gone()->mutable_slave_id() = sid(id);
  op.mutable_mark_slave_gone()->mutable_timestamp()->set_nanoseconds(ns);
  return op;
}
Operation prune(std::initializer_list<std::string> ids) {
  Operation op;
  op.mutable_prune_unreachable();
  for (const auto& id : ids) {
    *op.mutable_prune_unreachable()->add_slave_ids() = sid(id);
  }
  return op;
}
Operation weights(std::initializer_list<std::pair<std::string, double>> ws) {
  Operation op;
  for (const auto& [role, w] : ws) {
    registry::Weight* weight = op.mutable_update_weights()->add_weights();
    weight->set_role(role);
    weight->set_weight(w);
  }
  return op;
}
Operation quota(const std::string& role, double cpus) {
  Operation op;
  registry::Quota* q = op.mutable_update_quota()->mutable_quota();
  q->set_role(role);
  if (cpus > 0) {
    Resource* r = q->add_guarantee();
    r->set_name("cpus");
    r->set_type(Value::SCALAR);
    r->mutable_scalar()->set_value(cpus);
  }
  return op;
}
Operation remove_quota(const std::string& role) {
  Operation op;
  op.mutable_remove_quota()->set_role(role);
  return op;
}
Operation framework_removed(const std::string& id, int64_t ns = 11) {
  Operation op;
  op.mutable_mark_framework_removed()->mutable_framework_id()->set_value(id);
  op.mutable_mark_framework_removed()->mutable_timestamp()->set_nanoseconds(ns);
  return op;
}

// A registry and its index; every apply checks the index stays exact and
// that an unchanged answer left the registry byte for byte as it was.
class Operations : public ::testing::Test {
 protected:
  Try<bool> run(const Operation& op) {
    std::string before = registry_.SerializeAsString();
    Try<bool> result = apply(registry_, ids_, op);
    EXPECT_EQ(ids_, SlaveIds::of(registry_)) << operation_name(op);
    if (!result || !*result) {
      EXPECT_EQ(before, registry_.SerializeAsString()) << operation_name(op) << " changed the registry";
    }
    return result;
  }
  bool changed(const Operation& op) {
    Try<bool> r = run(op);
    EXPECT_TRUE(r) << r.error();
    return r && *r;
  }
  std::string error_of(const Operation& op) {
    Try<bool> r = run(op);
    return r.is_error() ? r.error() : "(no error)";
  }
  std::vector<std::string> admitted() const {
    std::vector<std::string> out;
    for (const auto& s : registry_.slaves().slaves()) {
      out.push_back(s.id().value() + "@" + s.hostname());
    }
    return out;
  }
  Registry registry_;
  SlaveIds ids_;
};

using V = std::vector<std::string>;

TEST_F(Operations, AdmitSlaveAdmitsANewIdOnly) {
  EXPECT_TRUE(changed(admit("S1")));
  EXPECT_TRUE(changed(admit("S2")));
  EXPECT_FALSE(changed(admit("S1", "other")));
  EXPECT_EQ(admitted(), (V{"S1@h", "S2@h"}));
  // Ids of unreachable and gone slaves are never handed out again.
  EXPECT_TRUE(changed(unreachable("S1")));
  EXPECT_FALSE(changed(admit("S1")));
  EXPECT_TRUE(changed(gone("S2")));
  EXPECT_FALSE(changed(admit("S2")));
  EXPECT_NE(error_of(admit("")).find("AdmitSlave: the SlaveInfo of host 'h' has no slave id"), std::string::npos);
}

TEST_F(Operations, UpdateSlaveReplacesAnAdmittedSlavesInfo) {
  EXPECT_FALSE(changed(update("S1", "new")));
  ASSERT_TRUE(changed(admit("S1", "old")));
  ASSERT_TRUE(changed(admit("S2")));
  EXPECT_TRUE(changed(update("S1", "new")));
  EXPECT_EQ(admitted(), (V{"S1@new", "S2@h"}));
  ASSERT_TRUE(changed(unreachable("S2")));
  EXPECT_FALSE(changed(update("S2", "x")));
  EXPECT_NE(error_of(update("", "x")).find("UpdateSlave"), std::string::npos);
}

TEST_F(Operations, MarkSlaveUnreachableMovesAnAdmittedSlave) {
  EXPECT_FALSE(changed(unreachable("S1")));
  ASSERT_TRUE(changed(admit("S1")));
  ASSERT_TRUE(changed(admit("S2")));
  EXPECT_TRUE(changed(unreachable("S1", 42)));
  EXPECT_EQ(admitted(), (V{"S2@h"}));
  ASSERT_EQ(registry_.unreachable().slaves_size(), 1);
  EXPECT_EQ(registry_.unreachable().slaves(0).id().value(), "S1");
  EXPECT_EQ(registry_.unreachable().slaves(0).timestamp().nanoseconds(), 42);
  EXPECT_FALSE(changed(unreachable("S1")));  // already unreachable
  EXPECT_NE(error_of(unreachable("")).find("MarkSlaveUnreachable: the slave id is empty"), std::string::npos);
}

TEST_F(Operations, MarkSlaveReachableReadmitsUnreachableOrUnknownSlaves) {
  ASSERT_TRUE(changed(admit("S1")));
  EXPECT_FALSE(changed(reachable("S1")));  // already admitted: master failover
  ASSERT_TRUE(changed(unreachable("S1")));
  EXPECT_TRUE(changed(reachable("S1", "back")));
  EXPECT_EQ(admitted(), (V{"S1@back"}));
  EXPECT_EQ(registry_.unreachable().slaves_size(), 0);
  // Unknown (its unreachable entry was pruned): admitted.
  EXPECT_TRUE(changed(reachable("S9")));
  ASSERT_TRUE(changed(gone("S9")));
  EXPECT_FALSE(changed(reachable("S9")));  // gone stays gone
  EXPECT_NE(error_of(reachable("")).find("MarkSlaveReachable"), std::string::npos);
}

TEST_F(Operations, RemoveSlaveForgetsAdmittedOrUnreachableSlaves) {
  EXPECT_FALSE(changed(remove("S1")));
  ASSERT_TRUE(changed(admit("S1")));
  ASSERT_TRUE(changed(admit("S2")));
  ASSERT_TRUE(changed(admit("S3")));
  EXPECT_TRUE(changed(remove("S2")));
  EXPECT_EQ(admitted(), (V{"S1@h", "S3@h"}));  // order kept
  ASSERT_TRUE(changed(unreachable("S3")));
  EXPECT_TRUE(changed(remove("S3")));
  EXPECT_EQ(registry_.unreachable().slaves_size(), 0);
  ASSERT_TRUE(changed(gone("S1")));
  EXPECT_FALSE(changed(remove("S1")));  // gone is kept
  EXPECT_NE(error_of(remove("")).find("RemoveSlave"), std::string::npos);
}

TEST_F(Operations, MarkSlaveGoneFromAdmittedOrUnreachable) {
  EXPECT_FALSE(changed(gone("S1")));
  ASSERT_TRUE(changed(admit("S1")));
  ASSERT_TRUE(changed(admit("S2")));
  ASSERT_TRUE(changed(unreachable("S2")));
  EXPECT_TRUE(changed(gone("S1", 5)));
  EXPECT_TRUE(changed(gone("S2", 6)));
  EXPECT_TRUE(admitted().empty());
  EXPECT_EQ(registry_.unreachable().slaves_size(), 0);
  ASSERT_EQ(registry_.gone().slaves_size(), 2);
  EXPECT_EQ(registry_.gone().slaves(1).timestamp().nanoseconds(), 6);
  EXPECT_FALSE(changed(gone("S1")));
  EXPECT_NE(error_of(gone("")).find("MarkSlaveGone"), std::string::npos);
}

TEST_F(Operations, PruneUnreachableDropsListedEntries) {
  for (const char* id : {"S1", "S2", "S3"}) {
    ASSERT_TRUE(changed(admit(id)));
    ASSERT_TRUE(changed(unreachable(id)));
  }
  EXPECT_FALSE(changed(prune({})));
  EXPECT_FALSE(changed(prune({"S9"})));
  EXPECT_TRUE(changed(prune({"S1", "S3", "S9"})));
  ASSERT_EQ(registry_.unreachable().slaves_size(), 1);
  EXPECT_EQ(registry_.unreachable().slaves(0).id().value(), "S2");
  // A pruned id is unknown now, so it may come back through MarkSlaveReachable.
  EXPECT_TRUE(changed(reachable("S1")));
}

TEST_F(Operations, UpdateWeightsSetsEachRole) {
  EXPECT_TRUE(changed(weights({{"a", 2}, {"b", 3}})));
  EXPECT_FALSE(changed(weights({{"a", 2}})));
  EXPECT_TRUE(changed(weights({{"a", 2}, {"b", 4}})));
  ASSERT_EQ(registry_.weights_size(), 2);
  EXPECT_EQ(registry_.weights(1).weight(), 4);
  EXPECT_NE(error_of(weights({{"", 1}})).find("UpdateWeights: the role is empty"), std::string::npos);
  EXPECT_NE(error_of(weights({{"a", 5}, {"c", -1}})).find("role 'c' has weight -1"), std::string::npos);
  EXPECT_NE(error_of(weights({{"c", std::numeric_limits<double>::infinity()}})).find("not a positive finite"),
            std::string::npos);
  EXPECT_EQ(registry_.weights(0).weight(), 2);  // the bad update changed nothing
}

TEST_F(Operations, UpdateQuotaSetsReplacesOrRemoves) {
  EXPECT_TRUE(changed(quota("a", 2)));
  EXPECT_FALSE(changed(quota("a", 2)));
  EXPECT_TRUE(changed(quota("a", 3)));
  ASSERT_EQ(registry_.quotas_size(), 1);
  EXPECT_EQ(registry_.quotas(0).guarantee(0).scalar().value(), 3);
  EXPECT_TRUE(changed(quota("a", 0)));  // an empty guarantee removes it
  EXPECT_EQ(registry_.quotas_size(), 0);
  EXPECT_FALSE(changed(quota("a", 0)));
  EXPECT_NE(error_of(quota("", 1)).find("UpdateQuota: the role is empty"), std::string::npos);
}

TEST_F(Operations, RemoveQuotaRemovesAnExistingQuota) {
  EXPECT_FALSE(changed(remove_quota("a")));
  ASSERT_TRUE(changed(quota("a", 1)));
  ASSERT_TRUE(changed(quota("b", 1)));
  EXPECT_TRUE(changed(remove_quota("a")));
  ASSERT_EQ(registry_.quotas_size(), 1);
  EXPECT_EQ(registry_.quotas(0).role(), "b");
  EXPECT_NE(error_of(remove_quota("")).find("RemoveQuota"), std::string::npos);
}

TEST_F(Operations, MarkFrameworkRemovedRecordsEachIdOnce) {
  EXPECT_TRUE(changed(framework_removed("F1", 5)));
  EXPECT_TRUE(changed(framework_removed("F2", 6)));
  EXPECT_FALSE(changed(framework_removed("F1", 7)));
  ASSERT_EQ(registry_.removed_frameworks().frameworks_size(), 2);
  EXPECT_EQ(registry_.removed_frameworks().frameworks(0).id().value(), "F1");
  EXPECT_EQ(registry_.removed_frameworks().frameworks(0).timestamp().nanoseconds(), 5);
  EXPECT_NE(error_of(framework_removed("")).find("MarkFrameworkRemoved: the framework id is empty"),
            std::string::npos);
  EXPECT_EQ(operation_name(framework_removed("F3")), "MarkFrameworkRemoved");
}

TEST_F(Operations, OnlyTheNewestRemovedFrameworksAreKept) {
  for (int i = 0; i < MAX_REMOVED_FRAMEWORKS + 3; ++i) {
    ASSERT_TRUE(*apply(registry_, ids_, framework_removed("F" + std::to_string(i), i)));
  }
  EXPECT_EQ(ids_, SlaveIds::of(registry_));
  const auto& list = registry_.removed_frameworks().frameworks();
  ASSERT_EQ(list.size(), MAX_REMOVED_FRAMEWORKS);
  EXPECT_EQ(list.Get(0).id().value(), "F3");  // F0..F2, the oldest, went
  EXPECT_EQ(list.Get(MAX_REMOVED_FRAMEWORKS - 1).id().value(), "F" + std::to_string(MAX_REMOVED_FRAMEWORKS + 2));
  EXPECT_EQ(ids_.removed_frameworks.count("F2"), 0u);
  // A forgotten id can be recorded again (as the newest).
  EXPECT_TRUE(changed(framework_removed("F0", 99999)));
  EXPECT_EQ(list.Get(MAX_REMOVED_FRAMEWORKS - 1).id().value(), "F0");
}

// A schedule of one window with `hosts`, and `down` of them down.
Operation maintenance(const std::vector<std::string>& hosts, const std::vector<std::string>& down = {}) {
  Operation op;
  registry::Maintenance* m = op.mutable_update_maintenance()->mutable_maintenance();
  if (!hosts.empty()) {
    registry::MaintenanceWindow* w = m->add_windows();
    for (const std::string& h : hosts) {
      w->add_machine_ids()->set_hostname(h);
    }
    w->mutable_start()->set_nanoseconds(1000);
    w->set_duration_nanoseconds(3600);
  }
  for (const std::string& h : down) {
    m->add_down()->set_hostname(h);
  }
  return op;
}

TEST_F(Operations, UpdateMaintenanceReplacesTheScheduleAndTheDownMachines) {
  EXPECT_FALSE(changed(maintenance({})));  // nothing to clear
  EXPECT_TRUE(changed(maintenance({"a", "b"})));
  EXPECT_FALSE(changed(maintenance({"a", "b"})));
  EXPECT_TRUE(changed(maintenance({"a", "b"}, {"a"})));
  ASSERT_TRUE(registry_.has_maintenance());
  ASSERT_EQ(registry_.maintenance().windows_size(), 1);
  EXPECT_EQ(registry_.maintenance().windows(0).machine_ids(1).hostname(), "b");
  EXPECT_EQ(registry_.maintenance().windows(0).duration_nanoseconds(), 3600);
  ASSERT_EQ(registry_.maintenance().down_size(), 1);
  EXPECT_EQ(registry_.maintenance().down(0).hostname(), "a");
  // A machine with neither hostname nor ip: an error naming it, no change.
  Operation bad = maintenance({"c"});
  bad.mutable_update_maintenance()->mutable_maintenance()->mutable_windows(0)->add_machine_ids();
  EXPECT_NE(error_of(bad).find("UpdateMaintenance: windows[0].machine_ids[1] has neither hostname nor ip"),
            std::string::npos)
      << error_of(bad);
  Operation bad_down = maintenance({"a"});
  bad_down.mutable_update_maintenance()->mutable_maintenance()->add_down()->set_ip("");
  EXPECT_NE(error_of(bad_down).find("down[0] has neither hostname nor ip"), std::string::npos);
  EXPECT_EQ(registry_.maintenance().down_size(), 1);
  // Emptied: the field goes.
  EXPECT_TRUE(changed(maintenance({})));
  EXPECT_FALSE(registry_.has_maintenance());
  EXPECT_EQ(operation_name(maintenance({})), "UpdateMaintenance");
}

TEST_F(Operations, AnEmptyOperationIsAnError) {
  EXPECT_NE(error_of(Operation()).find("no case set"), std::string::npos);
  EXPECT_EQ(operation_name(admit("S1")), "AdmitSlave");
  EXPECT_EQ(operation_name(remove_quota("a")), "RemoveQuota");
}

TEST(OperationsWithoutIndex, BuildTheIndexFromTheRegistry) {
  Registry r;
  ASSERT_TRUE(*apply(r, admit("S1")));
  EXPECT_FALSE(*apply(r, admit("S1")));
  ASSERT_TRUE(*apply(r, unreachable("S1")));
  EXPECT_TRUE(*apply(r, reachable("S1")));
}

}  // namespace
}  // namespace operations_test
}  // namespace stoa::registrar
