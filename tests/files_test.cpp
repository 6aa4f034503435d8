// Sandbox files over HTTP on a real cluster: a task's stdout read through
// the slave's /files/read (under its real path and the virtual
// runs/latest), through the master's proxy (slave id from the path or
// given), browsing, downloading, /slave/log, and the refusals (an escape
// through `..` or a symlink, an unknown slave, a path naming none).

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

std::string message_of(const HttpResponse& r) {
  picojson::value parsed;
  std::string err = picojson::parse(parsed, r.body);
  return err.empty() ? json_string(json_at(parsed, "message")) : r.body;
}

std::string data_of(const HttpResponse& r) {
  picojson::value parsed;
  std::string err = picojson::parse(parsed, r.body);
  return err.empty() ? json_string(json_at(parsed, "data")) : std::string();
}

TEST(ClusterFiles, AsTasksStdoutIsReadThroughTheSlaveAndTheMastersProxy) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  Try<Process*> slave = cluster.start_slave("cpus:2;mem:1024;disk:1000;ports:[31000-32000]",
                                            {"--log_dir=" + cluster.dir() + "/slave-logs"});
  ASSERT_TRUE(slave) << slave.error();
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));

  Try<Process*> execute = cluster.start("stoa-execute", "execute",
                                        {"--master=" + cluster.master_address(), "--name=files",
                                         "--command=echo hello-files", "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(execute) << execute.error();
  std::optional<int> code = (*execute)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code && *code == 0) << (*execute)->describe_exit();

  std::vector<std::string> stdouts = find_files_named(cluster.slave_work_dir(0) + "/slaves", "stdout");
  ASSERT_EQ(stdouts.size(), 1u);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(stdouts[0], m,
                                std::regex(R"(/slaves/([^/]+)/frameworks/([^/]+)/executors/([^/]+)/runs/[^/]+/stdout$)")))
      << stdouts[0];
  const std::string sid = m[1], fid = m[2], eid = m[3];
  const std::string dir = stdouts[0].substr(0, stdouts[0].size() - std::string("/stdout").size());
  const std::string latest = "/frameworks/" + fid + "/executors/" + eid + "/runs/latest";
  const int sport = cluster.slave_port(0);
  const int mport = cluster.master_port();

  // The slave, under the real path and the virtual one.
  for (const std::string& path : {dir + "/stdout", latest + "/stdout"}) {
    Try<HttpResponse> r = http_get("127.0.0.1", sport, "/files/read?path=" + path + "&offset=0");
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    EXPECT_NE(data_of(*r).find("hello-files"), std::string::npos) << r->body;
  }
  Try<HttpResponse> size = http_get("127.0.0.1", sport, "/files/read?path=" + latest + "/stdout&offset=-1");
  ASSERT_TRUE(size);
  EXPECT_NE(size->body.find("\"offset\":" + std::to_string(std::filesystem::file_size(stdouts[0]))),
            std::string::npos)
      << size->body;

  // The master: the slave id from the real path, or given with a virtual one.
  Try<HttpResponse> proxied = http_get("127.0.0.1", mport, "/files/read?path=" + dir + "/stdout&offset=0");
  ASSERT_TRUE(proxied) << proxied.error();
  EXPECT_EQ(proxied->status, 200) << proxied->body;
  EXPECT_NE(data_of(*proxied).find("hello-files"), std::string::npos) << proxied->body;
  Try<HttpResponse> by_id =
      http_get("127.0.0.1", mport, "/files/read?path=" + latest + "/stdout&offset=0&slave_id=" + sid);
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->status, 200) << by_id->body;
  EXPECT_NE(data_of(*by_id).find("hello-files"), std::string::npos);
  Try<HttpResponse> download = http_get("127.0.0.1", mport, "/files/download?path=" + dir + "/stdout");
  ASSERT_TRUE(download);
  EXPECT_EQ(download->status, 200);
  EXPECT_EQ(download->body, read_file(stdouts[0]));
  EXPECT_NE(download->headers["content-disposition"].find("stdout"), std::string::npos);

  // Browse the sandbox, through the slave and the master.
  for (int port : {sport, mport}) {
    Try<picojson::value> listing = http_get_json("127.0.0.1", port, "/files/browse?path=" + dir);
    ASSERT_TRUE(listing) << listing.error();
    bool found = false;
    for (const picojson::value& e : json_array(*listing)) {
      found = found || (json_string(json_at(e, "path")) == dir + "/stdout" &&
                        json_string(json_at(e, "mode")).substr(0, 1) == "-");
    }
    EXPECT_TRUE(found) << listing->serialize();
  }

  // The attaches were answered and taken, not dropped as stray replies.
  EXPECT_TRUE((*slave)->lines_matching(std::regex("dropped an unexpected message|Cannot serve")).empty())
      << (*slave)->log();

  // Escapes: 403 naming the path, on the slave and through the master.
  std::filesystem::create_symlink("/etc/passwd", dir + "/passwd");
  for (int port : {sport, mport}) {
    for (const std::string& path : {dir + "/passwd", dir + "/../../../../../../etc/passwd"}) {
      Try<HttpResponse> r = http_get("127.0.0.1", port, "/files/read?path=" + path + "&offset=0");
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 403) << path << ": " << r->body;
      EXPECT_NE(message_of(*r).find(path), std::string::npos) << r->body;
    }
  }
  // Missing files, unknown slaves, paths naming no slave.
  Try<HttpResponse> missing = http_get("127.0.0.1", mport, "/files/read?path=" + dir + "/nope&offset=0");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404) << missing->body;
  EXPECT_NE(message_of(*missing).find("Slave " + sid), std::string::npos) << missing->body;
  Try<HttpResponse> unknown = http_get("127.0.0.1", mport, "/files/read?path=/x&offset=0&slave_id=no-such-slave");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_NE(message_of(*unknown).find("'no-such-slave'"), std::string::npos) << unknown->body;
  Try<HttpResponse> nowhere = http_get("127.0.0.1", mport, "/files/read?path=/nowhere&offset=0");
  ASSERT_TRUE(nowhere);
  EXPECT_EQ(nowhere->status, 404);
  EXPECT_NE(message_of(*nowhere).find("'/nowhere'"), std::string::npos) << nowhere->body;
  Try<HttpResponse> no_path = http_get("127.0.0.1", sport, "/files/read?offset=0");
  ASSERT_TRUE(no_path);
  EXPECT_EQ(no_path->status, 400);

  // The slave's own log, and the attached table.
  Try<HttpResponse> log = http_get("127.0.0.1", sport, "/files/read?path=/slave/log&offset=0&length=4096");
  ASSERT_TRUE(log);
  EXPECT_EQ(log->status, 200) << log->body;
  EXPECT_NE(data_of(*log).find("slave"), std::string::npos) << log->body;
  Try<picojson::value> debug = http_get_json("127.0.0.1", sport, "/files/debug");
  ASSERT_TRUE(debug);
  EXPECT_EQ(json_string(json_at(*debug, latest)), dir);
}

}  // namespace
}  // namespace stoa::tests
