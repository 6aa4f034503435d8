// Request parsing over real loopback sockets: request line, query, headers,
// bodies split across reads, chunked bodies, malformed requests and the
// header and body limits; and the helpers (percent-decoding, serializing).
#include "actors/http_test_support.hpp"

namespace {

using namespace http_test;

TEST_F(HttpServer, ParsesRequestLineQueryHeadersAndPeer) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  c.send("GET /ech%6F?a=1&b=x%20y+z&c HTTP/1.1\r\nHost: test\r\nX-Thing: V\r\n"
         "X-Multi: 1\r\nX-Multi: 2\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-type"], "application/json");
  auto v = parse_json(r->body);
  ASSERT_TRUE(v) << r->body;
  EXPECT_EQ(v->get("method").to_str(), "GET");
  EXPECT_EQ(v->get("path").to_str(), "/echo");
  EXPECT_EQ(v->get("query_string").to_str(), "a=1&b=x%20y+z&c");
  EXPECT_EQ(v->get("query").get("a").to_str(), "1");
  EXPECT_EQ(v->get("query").get("b").to_str(), "x y z");
  EXPECT_TRUE(v->get("query").get("c").is<std::string>());
  EXPECT_EQ(v->get("headers").get("x-thing").to_str(), "V");
  EXPECT_EQ(v->get("headers").get("x-multi").to_str(), "1, 2");
  EXPECT_EQ(v->get("peer").to_str().rfind("127.0.0.1:", 0), 0u) << v->get("peer").to_str();
}

TEST_F(HttpServer, PartialDataAcrossReads) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  // The second request's line is cut in the middle; the first response proves
  // the server has read (and kept) the fragment before we send the rest.
  c.send("GET /echo?n=1 HTTP/1.1\r\nHost: test\r\n\r\nGET /echo?n=2 HT");
  auto r1 = c.read_response();
  ASSERT_TRUE(r1);
  EXPECT_EQ(parse_json(r1->body)->get("query").get("n").to_str(), "1");
  c.send("TP/1.1\r\nHost: te");
  c.send("st\r\n\r\n");
  auto r2 = c.read_response();
  ASSERT_TRUE(r2);
  EXPECT_EQ(parse_json(r2->body)->get("query").get("n").to_str(), "2");
}

TEST_F(HttpServer, ContentLengthBodySplitAcrossReads) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  // `Expect: 100-continue` makes the server say when it has parsed the
  // headers, so the body certainly arrives in a later read.
  c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n"
         "Expect: 100-continue\r\n\r\n");
  auto cont = c.read_response();
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->status, 100);
  c.send("01234");
  c.send("56789");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(parse_json(r->body)->get("body").to_str(), "0123456789");
  EXPECT_EQ(parse_json(r->body)->get("method").to_str(), "POST");
}

TEST_F(HttpServer, ChunkedRequestBody) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  c.send("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n");
  c.send("6\r\n world\r\n");
  c.send("0\r\nX-Trailer: t\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(parse_json(r->body)->get("body").to_str(), "hello world");
}

TEST_F(HttpServer, MalformedRequestGets400AndClose) {
  auto server = start();
  {
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    c.send("HELLO WORLD\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->headers["content-type"], "application/json");
    EXPECT_NE(json_message(*r).find("malformed"), std::string::npos) << r->body;
    EXPECT_TRUE(c.wait_eof());
  }
  {
    // A good request before the bad one is still answered, in order.
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    c.send("GET /text HTTP/1.1\r\nHost: test\r\n\r\n"
           "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    auto r1 = c.read_response();
    auto r2 = c.read_response();
    ASSERT_TRUE(r1 && r2);
    EXPECT_EQ(r1->body, "hello");
    EXPECT_EQ(r2->status, 400);
    EXPECT_TRUE(c.wait_eof());
  }
  auto again = get(server.port, "/text");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "hello");
}

TEST_F(HttpServer, BodyAboveLimitIs413) {
  http::ServerOptions opts;
  opts.max_body_bytes = 16;
  auto server = start(opts);
  {
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(c.wait_eof()) << "leftover: " << c.leftover();
  }
  {
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    c.send("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
           "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(c.wait_eof()) << "leftover: " << c.leftover();
  }
  {
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 16\r\n\r\n0123456789abcdef");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(HttpServer, HeadersAboveLimitAre431) {
  http::ServerOptions opts;
  opts.max_header_bytes = 1024;
  auto server = start(opts);
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  c.send("GET /text HTTP/1.1\r\nHost: test\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(c.wait_eof());
}

TEST(HttpHelpers, PercentDecodeAndQuery) {
  EXPECT_EQ(*http::percent_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(*http::percent_decode("a%20b+c", false), "a b+c");
  EXPECT_TRUE(http::percent_decode("%2", false).is_error());
  EXPECT_TRUE(http::percent_decode("%zz", false).is_error());
  auto q = http::parse_query("a=1&b=&c&&d=x%3Dy");
  ASSERT_TRUE(q.is_some());
  EXPECT_EQ(q->at("a"), "1");
  EXPECT_EQ(q->at("b"), "");
  EXPECT_EQ(q->at("c"), "");
  EXPECT_EQ(q->at("d"), "x=y");
  auto bytes = http::serialize_response(http::text_response("hi", 201), false);
  EXPECT_EQ(bytes,
            "HTTP/1.1 201 Created\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 2\r\nConnection: keep-alive\r\n\r\nhi");
  http::Response evil = http::text_response("x");
  evil.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: b");
  evil.headers.emplace_back("Content-Length", "99");
  evil.headers.emplace_back("X-Good", "1");
  auto safe = http::serialize_response(evil, true);
  EXPECT_EQ(safe.find("Set-Cookie"), std::string::npos);
  EXPECT_EQ(safe.find("99"), std::string::npos);
  EXPECT_NE(safe.find("X-Good: 1\r\n"), std::string::npos);
}

}  // namespace
