// The master's HTTP server against bad clients.

#include <gtest/gtest.h>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

TEST(ClusterHttp, MalformedRequestGets400AndMasterKeepsServing) {
  STOA_REQUIRE_BINARIES("stoa-master");
  Cluster cluster;
  Try<Process*> master = cluster.start_master();
  ASSERT_TRUE(master) << master.error();
  const int port = cluster.master_port();

  for (const std::string& garbage :
       {std::string("GARBAGE\r\n\r\n"), std::string("GET /master/health HTTP/1.1\r\nContent-Length: nope\r\n\r\n"),
        std::string("\x01\x02\x03\xff junk\r\n\r\n")}) {
    Try<HttpResponse> r = http_raw("127.0.0.1", port, garbage);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 400) << "for request bytes '" << garbage << "'";
  }

  Try<HttpResponse> health = http_get("127.0.0.1", port, "/master/health");
  ASSERT_TRUE(health) << health.error();
  EXPECT_EQ(health->status, 200);
  Try<picojson::value> state = cluster.state();
  EXPECT_TRUE(state) << state.error();
  EXPECT_TRUE((*master)->running()) << (*master)->describe_exit();
}

TEST(ClusterHttp, UnknownPathGets404AndMetricsAnswer) {
  STOA_REQUIRE_BINARIES("stoa-master");
  Cluster cluster;
  Try<Process*> master = cluster.start_master();
  ASSERT_TRUE(master) << master.error();

  Try<HttpResponse> missing = http_get("127.0.0.1", cluster.master_port(), "/no/such/endpoint");
  ASSERT_TRUE(missing) << missing.error();
  EXPECT_EQ(missing->status, 404);
  Try<picojson::value> metrics = http_get_json("127.0.0.1", cluster.master_port(), "/metrics/snapshot");
  ASSERT_TRUE(metrics) << metrics.error();
  EXPECT_TRUE(metrics->is<picojson::object>());
}

}  // namespace
}  // namespace stoa::tests
