#include "common/resources.hpp"

#include <gtest/gtest.h>

namespace stoa {
namespace {

Resources R(std::string_view text) {
  Try<Resources> r = Resources::parse(text);
  EXPECT_TRUE(r.is_some()) << text << ": " << (r ? "" : r.error());
  return r ? *r : Resources();
}

void expect_parse_error(std::string_view text, const std::string& token) {
  Try<Resources> r = Resources::parse(text);
  ASSERT_TRUE(r.is_error()) << "parsed: " << text;
  EXPECT_NE(r.error().find(token), std::string::npos) << "error '" << r.error() << "' lacks '" << token << "'";
}

TEST(ResourcesTest, ParseScalarsRangesSetsAndRoles) {
  Resources r = R("cpus:4;mem:4096;disk:10000;ports:[31000-32000];cpus(web):2;set:{b,a}");
  EXPECT_DOUBLE_EQ(6.0, r.scalar("cpus"));
  EXPECT_DOUBLE_EQ(4096.0, r.scalar("mem"));
  EXPECT_DOUBLE_EQ(10000.0, r.scalar("disk"));
  EXPECT_DOUBLE_EQ(0.0, r.scalar("gpus"));
  EXPECT_EQ((std::vector<Range>{{31000, 32000}}), r.ranges("ports"));
  EXPECT_EQ((std::vector<std::string>{"a", "b"}), r.set("set"));
  EXPECT_DOUBLE_EQ(2.0, r.reserved("web").scalar("cpus"));
  EXPECT_DOUBLE_EQ(4.0, r.unreserved().scalar("cpus"));
  EXPECT_EQ((std::set<std::string>{"*", "web"}), r.roles());
}

TEST(ResourcesTest, ParseToleratesWhitespaceEmptyTokensAndSumsDuplicates) {
  Resources r = R(" cpus : 1 ; ;cpus:0.5; ports:[1-2, 5-6];ports:[3-4]; ");
  EXPECT_DOUBLE_EQ(1.5, r.scalar("cpus"));
  EXPECT_EQ((std::vector<Range>{{1, 6}}), r.ranges("ports"));
  EXPECT_TRUE(R("").empty());
  EXPECT_TRUE(R("cpus:0").empty());
}

TEST(ResourcesTest, ParseDefaultRole) {
  Try<Resources> r = Resources::parse("cpus:2;mem(*):10", "web");
  ASSERT_TRUE(r.is_some());
  EXPECT_DOUBLE_EQ(2.0, r->reserved("web").scalar("cpus"));
  EXPECT_DOUBLE_EQ(10.0, r->unreserved().scalar("mem"));
}

TEST(ResourcesTest, ParseErrorsNameTheBadToken) {
  expect_parse_error("cpus:1;mem", "mem");
  expect_parse_error("cpus:nan", "cpus:nan");
  expect_parse_error("cpus:inf", "cpus:inf");
  expect_parse_error("cpus:-1", "cpus:-1");
  expect_parse_error("cpus:abc", "cpus:abc");
  expect_parse_error("ports:[5-1]", "ports:[5-1]");
  expect_parse_error("ports:[1-x]", "ports:[1-x]");
  expect_parse_error("ports:[1-2", "ports:[1-2");
  expect_parse_error("ports:[-3]", "ports:[-3]");
  expect_parse_error("cpus():1", "cpus():1");
  expect_parse_error("cpus(web:1", "cpus(web:1");
  expect_parse_error(":1", ":1");
  expect_parse_error("cpus:", "cpus:");
  expect_parse_error("cpus:1;cpus:[1-2]", "cpus:[1-2]");
  expect_parse_error("x:{a,b};x(web):3", "x(web):3");
}

TEST(ResourcesTest, ParseRejectsWhatAHostileUserWouldTry) {
  // Each bad text, and the part of it the error must quote.
  const std::pair<const char*, const char*> bad[] = {
      // gpus are whole numbers.
      {"gpus:1.5", "gpus:1.5"},
      {"cpus:1;gpus:0.001", "gpus:0.001"},
      // ports are ranges within 0..65535.
      {"ports:{1,2}", "ports:{1,2}"},
      {"ports:31000", "ports:31000"},
      {"ports:[1-99999999999]", "ports:[1-99999999999]"},
      {"ports:[65536-65536]", "ports:[65536-65536]"},
      {"ports(web):[70000]", "ports(web):[70000]"},
      {"ports:[1-99999999999999999999999]", "ports:[1-99999999999999999999999]"},
      // Well-known scalars are scalars.
      {"cpus:[1-2]", "cpus:[1-2]"},
      {"mem:{a}", "mem:{a}"},
      {"disk:[1-2]", "disk:[1-2]"},
      {"gpus:{1}", "gpus:{1}"},
      // Reversed and overlapping ranges, in one token or across tokens.
      {"ports:[2-1]", "ports:[2-1]"},
      {"ports:[1-10, 5-20]", "ports:[1-10, 5-20]"},
      {"ports:[5-20, 1-5]", "ports:[5-20, 1-5]"},
      {"ports:[1-10];ports:[10-20]", "ports:[10-20]"},
      {"x:[1-10, 3-3]", "x:[1-10, 3-3]"},
      {"ports:[1-2,,3-4]", "ports:[1-2,,3-4]"},
      {"ports:[1-2-3]", "ports:[1-2-3]"},
      {"ports:[1-]", "ports:[1-]"},
      {"ports:[]]", "ports:[]]"},
      // Duplicate set items, in one token or across tokens.
      {"s:{a,b,a}", "s:{a,b,a}"},
      {"s:{a};s:{b,a}", "s:{b,a}"},
      {"s:{a,{b}}", "s:{a,{b}}"},
      // Negative, NaN, infinite, huge or malformed scalars.
      {"cpus:-1", "cpus:-1"},
      {"cpus:-0.5", "cpus:-0.5"},
      {"cpus:nan", "cpus:nan"},
      {"cpus:NaN", "cpus:NaN"},
      {"cpus:inf", "cpus:inf"},
      {"cpus:-inf", "cpus:-inf"},
      {"mem:1e400", "mem:1e400"},
      {"mem:1e300", "mem:1e300"},
      {"mem:1e13", "mem:1e13"},
      {"cpus:0x10", "cpus:0x10"},
      {"cpus:1,5", "cpus:1,5"},
      {"cpus:+1", "cpus:+1"},
      {"cpus:1 2", "cpus:1 2"},
      // Sums that would overflow.
      {"mem:900000000000;mem:900000000000", "mem"},
      // Empty or odd names and roles.
      {":1", ":1"},
      {" :1", ":1"},
      {"(web):1", "(web):1"},
      {"cpus(web)x:1", "cpus(web)x:1"},
      {"cpus(a)(b):1", "cpus(a)(b):1"},
      {"cp us:1", "cp us:1"},
      {"cpus{:1", "cpus{:1"},
      {"cpus(we b):1", "cpus(we b):1"},
      {"cpus(..):1", "cpus(..):1"},
      {"cpus(-web):1", "cpus(-web):1"},
      {"cpus(a/b):1", "cpus(a/b):1"},
      {"cpus(a*):1", "cpus(a*):1"},
      // One name, two types.
      {"cpus:1;cpus:[1-2]", "cpus:[1-2]"},
      {"x:1;x(web):{a}", "x(web):{a}"},
  };
  for (const auto& [text, quoted] : bad) {
    SCOPED_TRACE(text);
    expect_parse_error(text, quoted);
  }
  // A control character in a name.
  EXPECT_TRUE(Resources::parse(std::string("cp\x01us:1")).is_error());
  EXPECT_TRUE(Resources::parse(std::string("cpus:1\0", 7)).is_error());
}

TEST(ResourcesTest, ParseAcceptsTheEdgesOfWhatIsValid) {
  Resources r = R("gpus:2;ports:[0-0, 65535-65535];cpus:0.5;mem:1000000000000;ports(web):[1-10]");
  EXPECT_DOUBLE_EQ(2.0, r.scalar("gpus"));
  EXPECT_EQ((std::vector<Range>{{0, 10}, {65535, 65535}}), r.ranges("ports"));  // merged over roles
  EXPECT_DOUBLE_EQ(1e12, r.scalar("mem"));
  // Adjacent ranges are not overlapping; a range of one other resource may exceed 65535.
  EXPECT_EQ((std::vector<Range>{{1, 6}}), R("ports:[1-2, 3-4];ports:[5-6]").ranges("ports"));
  EXPECT_EQ((std::vector<Range>{{1, 99999999999ULL}}), R("x:[1-99999999999]").ranges("x"));
  // The same range in two roles is two resources.
  EXPECT_EQ(2u, R("ports:[1-5];ports(web):[1-5]").size());
  EXPECT_EQ(R("cpus:2"), R("cpus:1;cpus:1"));
  EXPECT_EQ(R("gpus:1"), R("gpus:1.0"));
}

TEST(ResourcesTest, FromProtoRejectsOverlapsDuplicatesAndHugeScalars) {
  {
    google::protobuf::RepeatedPtrField<stoa::Resource> proto;
    stoa::Resource* res = proto.Add();
    res->set_name("ports");
    res->set_role("*");
    res->set_type(stoa::Value::RANGES);
    for (auto [b, e] : {std::pair{1, 10}, std::pair{5, 20}}) {
      stoa::Value::Range* range = res->mutable_ranges()->add_range();
      range->set_begin(static_cast<uint64_t>(b));
      range->set_end(static_cast<uint64_t>(e));
    }
    Try<Resources> r = Resources::from_proto(proto);
    ASSERT_TRUE(r.is_error());
    EXPECT_NE(r.error().find("overlap"), std::string::npos) << r.error();
  }
  {
    google::protobuf::RepeatedPtrField<stoa::Resource> proto;
    stoa::Resource* res = proto.Add();
    res->set_name("s");
    res->set_role("*");
    res->set_type(stoa::Value::SET);
    res->mutable_set()->add_item("a");
    res->mutable_set()->add_item("a");
    Try<Resources> r = Resources::from_proto(proto);
    ASSERT_TRUE(r.is_error());
    EXPECT_NE(r.error().find("duplicate"), std::string::npos) << r.error();
  }
  for (double huge : {1e13, 1e300, 1.7976931348623157e308}) {
    google::protobuf::RepeatedPtrField<stoa::Resource> proto;
    stoa::Resource* res = proto.Add();
    res->set_name("mem");
    res->set_role("*");
    res->set_type(stoa::Value::SCALAR);
    res->mutable_scalar()->set_value(huge);
    Try<Resources> r = Resources::from_proto(proto);
    ASSERT_TRUE(r.is_error()) << huge;
    EXPECT_NE(r.error().find("too large"), std::string::npos) << r.error();
  }
}

TEST(ResourcesTest, FixedPointScalarsAreEpsilonSafe) {
  Resources a = R("cpus:0.1") + R("cpus:0.2");
  EXPECT_EQ(R("cpus:0.3"), a);
  EXPECT_TRUE(a.contains(R("cpus:0.3")));
  EXPECT_TRUE(R("cpus:0.3").contains(a));
  EXPECT_EQ(R("cpus:0.001"), R("cpus:0.0012"));
  // Three decimal places, like Mesos.
  EXPECT_TRUE(R("cpus:0.0004").empty());
  Resources b = R("cpus:1");
  for (int i = 0; i < 10; ++i) {
    b -= R("cpus:0.1");
  }
  EXPECT_TRUE(b.empty());
}

TEST(ResourcesTest, AddAndSubtractRanges) {
  Resources ports = R("ports:[31000-32000]");
  // Subtract from the middle: the range splits.
  Resources split = ports - R("ports:[31100-31199]");
  EXPECT_EQ((std::vector<Range>{{31000, 31099}, {31200, 32000}}), split.ranges("ports"));
  // Subtract touching both ends and a missing piece.
  Resources trimmed = split - R("ports:[31000-31000, 31050-31150, 32000-33000]");
  EXPECT_EQ((std::vector<Range>{{31001, 31049}, {31200, 31999}}), trimmed.ranges("ports"));
  // Adding back merges adjacent and overlapping ranges.
  Resources merged = trimmed + R("ports:[31000-31000, 31050-31199, 32000-32000]");
  EXPECT_EQ(ports, merged);
  EXPECT_EQ("ports:[31000-32000]", merged.to_string());
  // Removing everything drops the entry.
  EXPECT_TRUE((ports - R("ports:[0-40000]")).empty());
}

TEST(ResourcesTest, SubtractScalarsFloorAtZeroAndSets) {
  Resources r = R("cpus:2;mem:100;set:{a,b,c}") - R("cpus:3;mem:40;set:{b,z}");
  EXPECT_EQ(R("mem:60;set:{a,c}"), r);
  EXPECT_DOUBLE_EQ(0.0, r.scalar("cpus"));
}

TEST(ResourcesTest, SubtractIsPerRole) {
  Resources r = R("cpus:4;cpus(web):2") - R("cpus(web):1");
  EXPECT_DOUBLE_EQ(4.0, r.unreserved().scalar("cpus"));
  EXPECT_DOUBLE_EQ(1.0, r.reserved("web").scalar("cpus"));
  // Unreserved cpus do not pay for reserved ones.
  EXPECT_EQ(r, r - R("cpus(db):1"));
}

TEST(ResourcesTest, HotPathHelpers) {
  Resources acc = R("cpus:1;mem:10");
  acc.add_scalars(R("cpus:2;disk:5;ports:[1-2];cpus(web):1"));
  EXPECT_EQ(R("cpus:3;mem:10;disk:5;cpus(web):1"), acc);
  acc.subtract_scalars(R("cpus:3;mem:4;ports:[1-2];gpus:1"));
  EXPECT_EQ(R("mem:6;disk:5;cpus(web):1"), acc);

  Resources a = R("cpus:1;ports:[1-5]");
  EXPECT_TRUE(a.all_allocatable_to("web"));
  a += R("cpus(web):1");
  EXPECT_TRUE(a.all_allocatable_to("web"));
  EXPECT_FALSE(a.all_allocatable_to("db"));

  Resources empty;
  Resources moved = R("cpus:2;ports:[7-9]");
  empty += std::move(moved);
  EXPECT_EQ(R("cpus:2;ports:[7-9]"), empty);
  Resources more = R("cpus:1;ports:[10-10]");
  empty += std::move(more);
  EXPECT_EQ(R("cpus:3;ports:[7-10]"), empty);
  empty.clear();
  EXPECT_TRUE(empty.empty());
}

TEST(ResourcesTest, CopiesAreIndependentValues) {
  Resources a = R("cpus:2;ports:[1-10]");
  Resources b = a;
  b -= R("ports:[5-5]");
  b += R("mem:1");
  EXPECT_EQ(R("cpus:2;ports:[1-10]"), a);
  EXPECT_EQ(R("cpus:2;mem:1;ports:[1-4, 6-10]"), b);
  Resources c = a;
  c.add_scalars(R("cpus:1"));
  c.subtract_scalars(R("cpus:3"));
  EXPECT_EQ(R("cpus:2;ports:[1-10]"), a);
  EXPECT_EQ(R("ports:[1-10]"), c);
  // Self-operations.
  Resources d = a;
  d += d;
  EXPECT_EQ(R("cpus:4;ports:[1-10]"), d);
  d.add_scalars(d);
  EXPECT_EQ(R("cpus:8;ports:[1-10]"), d);
  Resources e = a;
  e -= e;
  EXPECT_TRUE(e.empty());
  Resources f = a;
  f -= a;  // Shared storage.
  EXPECT_TRUE(f.empty());
  EXPECT_FALSE(a.empty());
  // Views that keep everything share; others copy.
  EXPECT_EQ(a, a.allocatable_to("x"));
  EXPECT_EQ(R("cpus:2"), a.scalars());
  EXPECT_EQ(R("cpus:2;ports:[1-10]"), a);
}

TEST(ResourcesTest, Contains) {
  Resources total = R("cpus:4;mem:1024;ports:[1-10, 20-30];cpus(web):2;s:{a,b}");
  EXPECT_TRUE(total.contains(R("cpus:4;mem:1024")));
  EXPECT_TRUE(total.contains(R("ports:[2-5, 20-20]")));
  EXPECT_TRUE(total.contains(R("cpus(web):2;s:{a}")));
  EXPECT_TRUE(total.contains(Resources()));
  EXPECT_FALSE(total.contains(R("cpus:4.001")));
  EXPECT_FALSE(total.contains(R("ports:[9-11]")));
  EXPECT_FALSE(total.contains(R("cpus(web):3")));
  EXPECT_FALSE(total.contains(R("cpus(db):1")));
  EXPECT_FALSE(total.contains(R("gpus:1")));
  EXPECT_FALSE(total.contains(R("s:{c}")));
  EXPECT_FALSE(Resources().contains(R("cpus:1")));
}

TEST(ResourcesTest, RolesReservedAllocatableFlatten) {
  Resources r = R("cpus:4;cpus(web):2;mem(db):10;ports(web):[1-5];ports:[6-9]");
  EXPECT_EQ((std::set<std::string>{"*", "db", "web"}), r.roles());
  EXPECT_EQ(R("cpus(web):2;ports(web):[1-5]"), r.reserved("web"));
  EXPECT_EQ(R("cpus:4;ports:[6-9]"), r.unreserved());
  EXPECT_EQ(R("cpus:4;cpus(web):2;ports(web):[1-5];ports:[6-9]"), r.allocatable_to("web"));
  EXPECT_EQ(R("cpus:6;mem:10;ports:[1-9]"), r.flatten());
  EXPECT_EQ(R("cpus(x):6;mem(x):10;ports(x):[1-9]"), r.flatten("x"));
  EXPECT_EQ((std::vector<Range>{{1, 9}}), r.ranges("ports"));
  EXPECT_EQ(R("cpus(web):2;mem(db):10;ports(web):[1-5]"), r.all_reserved());
  EXPECT_EQ(R("cpus:4;cpus(web):2;mem(db):10"), r.scalars());
  EXPECT_EQ(R("ports(web):[1-5];ports:[6-9]"), r.non_scalars());
}

TEST(ResourcesTest, ToStringRoundTrips) {
  for (const char* text : {"cpus:4;mem:4096;disk:10000;ports:[31000-32000];cpus(web):2;set:{a,b}",
                           "cpus:0.125;ports:[1-2, 4-4]", "mem(a):1;mem(b):2.5", ""}) {
    Resources r = R(text);
    EXPECT_EQ(r, R(r.to_string())) << text << " -> " << r.to_string();
  }
  EXPECT_EQ("cpus:0.5;cpus(web):2;mem:10", R("mem:10;cpus(web):2;cpus:0.5").to_string());
}

TEST(ResourcesTest, ProtoRoundTrip) {
  Resources r = R("cpus:4.5;mem:4096;ports:[31000-31010, 31020-32000];cpus(web):2;s:{a,b}");
  google::protobuf::RepeatedPtrField<stoa::Resource> proto;
  r.to_proto(&proto);
  ASSERT_EQ(5, proto.size());
  Try<Resources> back = Resources::from_proto(proto);
  ASSERT_TRUE(back.is_some()) << back.error();
  EXPECT_EQ(r, *back);
}

TEST(ResourcesTest, FromProtoValidates) {
  google::protobuf::RepeatedPtrField<stoa::Resource> proto;
  stoa::Resource* res = proto.Add();
  res->set_name("cpus");
  res->set_type(stoa::Value::SCALAR);
  res->mutable_scalar()->set_value(-1);
  Try<Resources> bad = Resources::from_proto(proto);
  ASSERT_TRUE(bad.is_error());
  EXPECT_NE(bad.error().find("cpus"), std::string::npos);

  res->mutable_scalar()->set_value(1);
  res->set_role("");
  EXPECT_TRUE(Resources::from_proto(proto).is_error());

  res->set_role("*");
  res->clear_scalar();
  EXPECT_TRUE(Resources::from_proto(proto).is_error());

  res->set_type(stoa::Value::RANGES);
  stoa::Value::Range* range = res->mutable_ranges()->add_range();
  range->set_begin(5);
  range->set_end(1);
  Try<Resources> bad_range = Resources::from_proto(proto);
  ASSERT_TRUE(bad_range.is_error());
  EXPECT_NE(bad_range.error().find("begin > end"), std::string::npos);
}

TEST(ResourcesTest, JsonShape) {
  Resources r = R("cpus:4;mem:4096;ports:[31000-32000, 33000-33001];cpus(web):2;s:{a,b};foo:1.5");
  picojson::value v = resources_to_json(r);
  ASSERT_TRUE(v.is<picojson::object>());
  const picojson::object& o = v.get<picojson::object>();
  EXPECT_DOUBLE_EQ(6.0, o.at("cpus").get<double>());
  EXPECT_DOUBLE_EQ(0.0, o.at("gpus").get<double>());
  EXPECT_DOUBLE_EQ(4096.0, o.at("mem").get<double>());
  EXPECT_DOUBLE_EQ(0.0, o.at("disk").get<double>());
  EXPECT_DOUBLE_EQ(1.5, o.at("foo").get<double>());
  EXPECT_EQ("[31000-32000, 33000-33001]", o.at("ports").get<std::string>());
  EXPECT_EQ("{a,b}", o.at("s").get<std::string>());
  EXPECT_EQ(7u, o.size());

  EXPECT_EQ(R"({"cpus":0,"disk":0,"gpus":0,"mem":0})", resources_to_json(Resources()).serialize());

  picojson::value reserved = reserved_resources_to_json(r);
  const picojson::object& ro = reserved.get<picojson::object>();
  ASSERT_EQ(1u, ro.size());
  EXPECT_DOUBLE_EQ(2.0, ro.at("web").get<picojson::object>().at("cpus").get<double>());
  EXPECT_DOUBLE_EQ(0.0, ro.at("web").get<picojson::object>().at("mem").get<double>());
}

TEST(ResourcesTest, EqualityIgnoresConstructionOrder) {
  EXPECT_EQ(R("cpus:1;mem:2;ports:[5-6];ports:[1-2]"), R("ports:[1-2, 5-6];mem:2;cpus:1"));
  EXPECT_FALSE(R("cpus:1") == R("cpus(web):1"));
  Resources a = R("mem:1");
  a += R("cpus:1;disk:2;zz:1;cpus(a):3");
  EXPECT_EQ(R("cpus:1;cpus(a):3;disk:2;mem:1;zz:1"), a);
  EXPECT_EQ("cpus:1;cpus(a):3;disk:2;mem:1;zz:1", a.to_string());
}

}  // namespace
}  // namespace stoa
