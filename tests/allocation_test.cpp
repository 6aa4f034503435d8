// Issue 3 through the real master: weights, quota, roles, offer timeout and
// reservations over HTTP and offers.

#include <gtest/gtest.h>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

Try<HttpResponse> send(int port, const std::string& method, const std::string& path,
                       const std::string& body = "") {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                    "Content-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  return http_raw("127.0.0.1", port, req);
}

TEST(ClusterAllocation, WeightsChangeAtRunTimeAndBadInputChangesNothing) {
  STOA_REQUIRE_BINARIES("stoa-master");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master({"--weights=web=2", "--roles=web,db"}));
  int port = cluster.master_port();
  Try<picojson::value> w = http_get_json("127.0.0.1", port, "/master/weights");
  ASSERT_TRUE(w) << w.error();
  ASSERT_EQ(json_array(*w).size(), 1u);
  EXPECT_EQ(json_number(json_at(json_array(*w)[0], "weight")), 2.0);
  Try<picojson::value> before = master_snapshot(port);
  ASSERT_TRUE(before) << before.error();

  for (const std::string& bad : {std::string(R"([{"role":"web","weight":-1}])"),
                                 std::string(R"([{"role":"web","weight":0}])"),
                                 std::string(R"([{"role":"web","weight":"heavy"}])"),
                                 std::string(R"([{"role":"nosuchrole","weight":3}])"),
                                 std::string(R"({"role":"web"})"), std::string("not json")}) {
    Try<HttpResponse> r = send(port, "PUT", "/master/weights", bad);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 400) << bad << " -> " << r->body;
    EXPECT_NE(r->body.find("message"), std::string::npos) << r->body;
  }
  // Nothing an operator can see changed: roles, weights, quota, state.
  Try<picojson::value> after = master_snapshot(port);
  ASSERT_TRUE(after) << after.error();
  EXPECT_EQ(snapshot_difference(*before, *after), "");
  w = http_get_json("127.0.0.1", port, "/master/weights");
  ASSERT_TRUE(w);
  EXPECT_EQ(json_number(json_at(json_array(*w)[0], "weight")), 2.0);  // unchanged

  Try<HttpResponse> ok = send(port, "PUT", "/master/weights", R"([{"role":"db","weight":0.5}])");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  w = http_get_json("127.0.0.1", port, "/master/weights");
  ASSERT_TRUE(w);
  EXPECT_EQ(json_array(*w).size(), 2u);
}

TEST(ClusterAllocation, QuotaIsValidatedSetShownAndRemoved) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  ASSERT_TRUE(cluster.start_slave("cpus:4;mem:2048;disk:1000;ports:[31000-32000]"));
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
  int port = cluster.master_port();
  Try<picojson::value> before = master_snapshot(port);
  ASSERT_TRUE(before) << before.error();

  for (const std::string& bad :
       {std::string(R"({"role":"web","guarantee":"cpus:100"})"),          // above the cluster
        std::string(R"({"role":"web","guarantee":{"cpus":-1}})"),         // negative
        std::string(R"({"role":"web","guarantee":{"cpus":"lots"}})"),     // not a number
        std::string(R"({"role":"*","guarantee":{"cpus":1}})"),            // default role
        std::string(R"({"role":"a b","guarantee":{"cpus":1}})"),          // bad role name
        std::string(R"({"guarantee":{"cpus":1}})"), std::string("{")}) {
    Try<HttpResponse> r = send(port, "POST", "/master/quota", bad);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 400) << bad << " -> " << r->body;
  }
  Try<picojson::value> after = master_snapshot(port);
  ASSERT_TRUE(after) << after.error();
  EXPECT_EQ(snapshot_difference(*before, *after), "");
  Try<picojson::value> q = http_get_json("127.0.0.1", port, "/master/quota");
  ASSERT_TRUE(q);
  EXPECT_TRUE(json_array(json_at(*q, "infos")).empty());

  Try<HttpResponse> set = send(port, "POST", "/master/quota",
                               R"({"role":"web","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":2}}]})");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 200) << set->body;
  Try<picojson::value> roles = http_get_json("127.0.0.1", port, "/master/roles");
  ASSERT_TRUE(roles);
  bool found = false;
  for (const picojson::value& r : json_array(json_at(*roles, "roles"))) {
    if (json_string(json_at(r, "name")) == "web") {
      found = true;
      EXPECT_EQ(json_number(json_at(json_at(json_at(r, "quota"), "guarantee"), "cpus")), 2.0);
    }
  }
  EXPECT_TRUE(found) << roles->serialize();

  Try<HttpResponse> del = send(port, "DELETE", "/master/quota/web");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200) << del->body;
  Try<HttpResponse> again = send(port, "DELETE", "/master/quota/web");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 400);
  q = http_get_json("127.0.0.1", port, "/master/quota");
  ASSERT_TRUE(q);
  EXPECT_TRUE(json_array(json_at(*q, "infos")).empty());
}

TEST(ClusterAllocation, UnansweredOffersAreRescindedAfterOfferTimeoutAndReservedStayWithTheirRole) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-example-framework");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master({"--offer_timeout=300ms"}));
  ASSERT_TRUE(cluster.start_slave("cpus:3;cpus(web):1;mem:1024;disk:1000;ports:[31000-32000]"));
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
  Try<Process*> fw = cluster.start("stoa-example-framework", "holder",
                                   {"--master=" + cluster.master_address(), "--hold_offers"});
  ASSERT_TRUE(fw) << fw.error();
  // The held offer only has unreserved resources: 3 cpus, not the web role's one.
  bool seen = poll_until(
      [&] {
        Try<picojson::value> st = cluster.state();
        if (!st) {
          return false;
        }
        for (const picojson::value& f : json_array(json_at(*st, "frameworks"))) {
          for (const picojson::value& o : json_array(json_at(f, "offers"))) {
            EXPECT_EQ(json_number(json_at(json_at(o, "resources"), "cpus")), 3.0);
            return true;
          }
        }
        return false;
      },
      deadline_in(DEFAULT_TIMEOUT));
  EXPECT_TRUE(seen);
  // Offers time out, are rescinded, and the resources are offered again.
  auto rescinds = (*fw)->wait_for_line(std::regex("RESCIND .*"), deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(rescinds) << (*fw)->log();
  EXPECT_TRUE(poll_until([&] { return (*fw)->lines_matching(std::regex("^OFFER ")).size() >= 2; },
                         deadline_in(DEFAULT_TIMEOUT)))
      << (*fw)->log();
  Try<picojson::value> metrics = http_get_json("127.0.0.1", cluster.master_port(), "/metrics/snapshot");
  ASSERT_TRUE(metrics);
  EXPECT_GE(json_number(json_at(*metrics, "master/offers_timed_out")), 1.0);
}

}  // namespace
}  // namespace stoa::tests
