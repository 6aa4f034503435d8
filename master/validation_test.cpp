#include "master/validation.hpp"

#include <gtest/gtest.h>

namespace stoa::master {
namespace {

MasterState with_offers() {
  MasterState s;
  for (auto [oid, fid, sid] : {std::tuple{"O1", "F", "S1"}, std::tuple{"O2", "F", "S2"},
                               std::tuple{"O3", "G", "S1"}, std::tuple{"O4", "F", "S1"}}) {
    OfferRecord r;
    r.offer.mutable_id()->set_value(oid);
    r.offer.mutable_framework_id()->set_value(fid);
    r.offer.mutable_slave_id()->set_value(sid);
    r.offer.set_hostname("h");
    s.offers.emplace(oid, r);
  }
  return s;
}

TEST(Validation, Offers) {
  MasterState s = with_offers();
  EXPECT_FALSE(validate_offers(s, "F", {"O1", "O4"}));
  EXPECT_NE(validate_offers(s, "F", {})->find("No offers"), std::string::npos);
  EXPECT_NE(validate_offers(s, "F", {"O9"})->find("O9"), std::string::npos);
  EXPECT_NE(validate_offers(s, "F", {"O3"})->find("O3"), std::string::npos);
  EXPECT_NE(validate_offers(s, "F", {"O1", "O2"})->find("single slave"), std::string::npos);
  EXPECT_NE(validate_offers(s, "F", {"O1", "O1"})->find("more than once"), std::string::npos);
}

TaskInfo task(const char* id, const char* resources, const char* slave = "S1") {
  TaskInfo t;
  t.set_name(id);
  t.mutable_task_id()->set_value(id);
  t.mutable_slave_id()->set_value(slave);
  t.mutable_command()->set_value("true");
  Resources::parse(resources)->to_proto(t.mutable_resources());
  return t;
}

TEST(Validation, Tasks) {
  FrameworkRecord f;
  f.tasks["running"] = Task();
  Resources available = *Resources::parse("cpus:1;mem:256");
  Resources r;
  EXPECT_FALSE(validate_task(task("a", "cpus:0.5;mem:128"), f, "S1", available, {}, &r));
  EXPECT_EQ(r.scalar("cpus"), 0.5);
  auto too_big = validate_task(task("a", "cpus:1000"), f, "S1", available, {}, &r);
  ASSERT_TRUE(too_big);
  EXPECT_NE(too_big->find("more resources"), std::string::npos);
  EXPECT_NE(validate_task(task("running", "cpus:0.1"), f, "S1", available, {}, &r)->find("already in use"),
            std::string::npos);
  EXPECT_NE(validate_task(task("b", "cpus:0.1"), f, "S1", available, {"b"}, &r)->find("already in use"),
            std::string::npos);
  EXPECT_NE(validate_task(task("c", "cpus:0.1", "S2"), f, "S1", available, {}, &r)->find("S2"),
            std::string::npos);
  EXPECT_TRUE(validate_task(task("bad/id", "cpus:0.1"), f, "S1", available, {}, &r));
  TaskInfo no_cmd = task("d", "cpus:0.1");
  no_cmd.clear_command();
  EXPECT_TRUE(validate_task(no_cmd, f, "S1", available, {}, &r));
  TaskInfo no_res = task("e", "cpus:0.1");
  no_res.clear_resources();
  EXPECT_NE(validate_task(no_res, f, "S1", available, {}, &r)->find("no resources"), std::string::npos);
}

TEST(Validation, WeightsAndRoles) {
  auto w = parse_weights("web=2,batch=0.5");
  ASSERT_TRUE(w.is_some());
  EXPECT_EQ(w->at("web"), 2.0);
  for (const char* bad : {"web", "web=-1", "web=nan", "web=0", "=2", "web=2x"}) {
    auto e = parse_weights(bad);
    ASSERT_TRUE(e.is_error()) << bad;
  }
  EXPECT_FALSE(validate_role("*"));
  EXPECT_FALSE(validate_role("web"));
  EXPECT_TRUE(validate_role(""));
  EXPECT_TRUE(validate_role("a b"));
  EXPECT_TRUE(validate_role(".."));
  FrameworkInfo info;
  info.set_user("u");
  info.set_name("n");
  info.set_role("web");
  EXPECT_FALSE(validate_framework_info(info, std::nullopt));
  EXPECT_FALSE(validate_framework_info(info, std::string("web,db")));
  EXPECT_TRUE(validate_framework_info(info, std::string("db")));
  info.set_name("");
  EXPECT_TRUE(validate_framework_info(info, std::nullopt));
}

}  // namespace
}  // namespace stoa::master
