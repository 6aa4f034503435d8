// The master renders its big views off its thread (view_renders.cpp):
// /master/state and /master/frameworks as a rope of fragments
// (state_rope.hpp), the others in a forked child: the same bytes as in
// place, and the master answers meanwhile.

#include "master/master.hpp"

#include <zlib.h>

#include <cstdlib>
#include <memory>
#include <set>

#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <picojson.h>

#include "actors/atoms.hpp"
#include "actors/http.hpp"
#include "actors/http_test_support.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "common/resources.hpp"
#include "master/live_master_fixture.hpp"
#include "tests/poll.hpp"

namespace stoa::master {
namespace {

using namespace std::chrono_literals;
using Query = std::map<std::string, std::string>;

std::string inflate_gzip(const std::string& data) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) {
    return "<inflateInit2 failed>";
  }
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - z.avail_out);
  }
  inflateEnd(&z);
  return rc == Z_STREAM_END ? out : "<not gzip>";
}

class ViewRendersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("STOA_INLINE_RENDER_LIMIT");
    auto rt = Runtime::start(RuntimeOptions{});
    ASSERT_TRUE(rt.is_some()) << rt.error();
    rt_ = std::move(*rt);
    ASSERT_NO_FATAL_FAILURE(testing::start_leading_master(*rt_, &master_, &flags_));
  }

  void TearDown() override {
    ::unsetenv("STOA_INLINE_RENDER_LIMIT");
    rt_->shutdown();
  }

  std::pair<int, std::string> get(const std::string& endpoint, const Query& query = {}) {
    caf::scoped_actor self{rt_->system()};
    std::pair<int, std::string> out{0, ""};
    self->request(master_, 30s, state_atom_v, endpoint, query)
        .receive([&](int status, std::string& body) { out = {status, std::move(body)}; },
                 [&](caf::error& e) { out = {0, caf::to_string(e)}; });
    return out;
  }

  double metric(const std::string& name) {
    picojson::value v;
    std::string err = picojson::parse(v, get("metrics").second);
    EXPECT_TRUE(err.empty()) << err;
    return v.get(name).is<double>() ? v.get(name).get<double>() : -1;
  }

  // Registers `n` slaves from one scoped actor (distinct pids) and waits
  // until the master holds them all.
  void register_slaves(caf::scoped_actor& slave, int n) {
    for (int i = 0; i < n; ++i) {
      internal::RegisterSlaveMessage m;
      m.mutable_slave()->set_hostname("h" + std::to_string(i));
      Resources::parse("cpus:4;mem:1024;ports:[31000-32000]")->to_proto(m.mutable_slave()->mutable_resources());
      m.set_pid("slave(" + std::to_string(i) + ")@127.0.0.1:1");
      slave->send(master_, m);
    }
    ASSERT_TRUE(tests::poll_until([&] { return metric("master/slaves_active") >= n; }, tests::deadline_in(60s)))
        << metric("master/slaves_active") << " of " << n << " slaves registered";
  }

  std::unique_ptr<Runtime> rt_;
  caf::actor master_;
  MasterFlags flags_;
};

TEST_F(ViewRendersTest, ForkedViewsAreTheBytesRenderedInPlace) {
  caf::scoped_actor slave{rt_->system()};
  register_slaves(slave, 3);
  const std::vector<std::pair<std::string, Query>> views = {
      {"state", {}}, {"frameworks", {}}, {"slaves", {}}, {"state-summary", {}}, {"tasks", {{"limit", "5"}}}};
  std::vector<std::pair<int, std::string>> in_place;
  for (const auto& [endpoint, query] : views) {
    in_place.push_back(get(endpoint, query));
  }
  EXPECT_EQ(metric("master/view_renders_forked"), 0);
  EXPECT_EQ(metric("master/view_renders_roped"), 0);
  ::setenv("STOA_INLINE_RENDER_LIMIT", "0", 1);
  for (size_t i = 0; i < views.size(); ++i) {
    EXPECT_EQ(get(views[i].first, views[i].second), in_place[i]) << views[i].first;
  }
  // state and frameworks as ropes; slaves, state-summary and tasks forked.
  EXPECT_EQ(metric("master/view_renders_roped"), 2);
  EXPECT_EQ(metric("master/view_renders_forked"), 3);
  // A bad parameter keeps its status through the child.
  auto bad = get("tasks", {{"order", "sideways"}});
  EXPECT_EQ(bad.first, 400);
  EXPECT_NE(bad.second.find("sideways"), std::string::npos);
}

TEST_F(ViewRendersTest, TheMasterAnswersHealthWhileStateRenders) {
  caf::scoped_actor slave{rt_->system()};
  register_slaves(slave, 2000);
  // Rendered in place, /state is answered before a /health sent after it:
  // the master handles its mailbox in order. This is what the fork changes.
  auto order = [this](bool* state_first) {
    caf::scoped_actor state_client{rt_->system()};
    caf::scoped_actor health_client{rt_->system()};
    auto pending = state_client->request(master_, 30s, state_atom_v, std::string("state"), Query{});
    int health = 0;
    health_client->request(master_, 30s, state_atom_v, std::string("health"), Query{})
        .receive([&](int status, std::string&) { health = status; }, [](caf::error&) {});
    EXPECT_EQ(health, 200);
    *state_first = state_client->has_next_message();
    int status = 0;
    std::string body;
    pending.receive(
        [&](int s, std::string& b) {
          status = s;
          body = std::move(b);
        },
        [](caf::error&) {});
    EXPECT_EQ(status, 200);
    return body;
  };
  bool state_first = false;
  std::string in_place = order(&state_first);
  EXPECT_TRUE(state_first) << "rendered in place, /state comes back first";
  ::setenv("STOA_INLINE_RENDER_LIMIT", "0", 1);
  std::string forked = order(&state_first);
  EXPECT_FALSE(state_first) << "rendered as a rope, /health comes back while /state renders";
  EXPECT_EQ(forked, in_place);
}

TEST_F(ViewRendersTest, RequestsDuringARenderShareTheNextOne) {
  caf::scoped_actor slave{rt_->system()};
  register_slaves(slave, 500);
  ::setenv("STOA_INLINE_RENDER_LIMIT", "0", 1);
  caf::scoped_actor client{rt_->system()};
  auto ask = [&] { return client->request(master_, 30s, state_atom_v, std::string("state"), Query{}); };
  std::vector<decltype(ask())> pending;
  for (int i = 0; i < 6; ++i) {
    pending.push_back(ask());
  }
  std::set<std::string> bodies;
  for (auto& p : pending) {
    p.receive(
        [&](int status, std::string& body) {
          EXPECT_EQ(status, 200);
          bodies.insert(body);
        },
              [](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
  }
  EXPECT_EQ(bodies.size(), 1u);
  // The first request renders, the five that came meanwhile share a second
  // render (or several, when the first finished between them): never six.
  double renders = metric("master/view_renders_roped");
  EXPECT_GE(renders, 2);
  EXPECT_LT(renders, 6);
}

// All the requests one render answers get one body: the master delivers
// one message to all (no copy per waiting request on its thread), and the
// HTTP route serves from it (http::share_current_string) without a copy.
TEST_F(ViewRendersTest, TheRequestsOfOneRenderShareOneBody) {
  caf::scoped_actor slave{rt_->system()};
  register_slaves(slave, 500);
  ::setenv("STOA_INLINE_RENDER_LIMIT", "0", 1);
  double renders_before = metric("master/view_renders_roped");
  caf::scoped_actor client{rt_->system()};
  std::vector<decltype(client->request(master_, 30s, state_atom_v, std::string(), Query{}))> pending;
  for (int i = 0; i < 8; ++i) {
    pending.push_back(client->request(master_, 30s, state_atom_v, std::string("state"), Query{}));
  }
  std::vector<std::shared_ptr<const std::string>> bodies;
  for (auto& p : pending) {
    p.receive(
        [&](int status, const std::string& body) {
          EXPECT_EQ(status, 200);
          bodies.push_back(http::share_current_string(client.ptr(), 1, body));
        },
        [](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
  }
  ASSERT_EQ(bodies.size(), 8u);
  std::set<const char*> buffers;
  for (const auto& b : bodies) {
    EXPECT_EQ(*b, *bodies[0]);
    buffers.insert(b->data());
  }
  // One buffer per render, not one per request.
  double renders = metric("master/view_renders_roped") - renders_before;
  EXPECT_EQ(static_cast<double>(buffers.size()), renders);
  EXPECT_LT(buffers.size(), bodies.size());
}

// The HTTP routes ask with view_atom: a roped view comes as the rope itself
// (the server writes its pieces), a forked one as the shared reply; both
// are the bytes a state_atom request gets from the same render, and the
// requests of both kinds that wait for one render are all answered.
TEST_F(ViewRendersTest, TheRoutesGetTheViewsInSpans) {
  caf::scoped_actor slave{rt_->system()};
  register_slaves(slave, 300);
  std::string in_place = get("state").second;
  ::setenv("STOA_INLINE_RENDER_LIMIT", "0", 1);
  caf::scoped_actor client{rt_->system()};
  for (const std::string endpoint : {"state", "slaves"}) {
    std::vector<decltype(client->request(master_, 30s, view_atom_v, endpoint, Query{}))> spans_asks;
    std::vector<decltype(client->request(master_, 30s, state_atom_v, endpoint, Query{}))> string_asks;
    for (int i = 0; i < 3; ++i) {
      spans_asks.push_back(client->request(master_, 30s, view_atom_v, endpoint, Query{}));
      string_asks.push_back(client->request(master_, 30s, state_atom_v, endpoint, Query{}));
    }
    std::set<std::string> bodies;
    for (auto& p : spans_asks) {
      p.receive(
          [&](int status, std::string& json, ViewBody& body) {
            EXPECT_EQ(status, 200);
            EXPECT_TRUE(json.empty()) << endpoint;
            ASSERT_TRUE(body) << endpoint;
            EXPECT_EQ(body->size(), body->str().size());
            bodies.insert(body->str());
          },
          [](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    }
    for (auto& p : string_asks) {
      p.receive(
          [&](int status, std::string& body) {
            EXPECT_EQ(status, 200);
            bodies.insert(body);
          },
          [](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    }
    EXPECT_EQ(bodies.size(), 1u) << endpoint;
    if (endpoint == "state") {
      EXPECT_EQ(*bodies.begin(), in_place);
    }
  }
  EXPECT_GE(metric("master/view_renders_roped"), 1);
  EXPECT_GE(metric("master/view_renders_forked"), 1);
  // Not a view, or a bad parameter: an error in `json`, no spans.
  for (auto [endpoint, query, want] : {std::tuple{std::string("health"), Query{}, 404},
                                       std::tuple{std::string("tasks"), Query{{"limit", "x"}}, 400}}) {
    client->request(master_, 30s, view_atom_v, endpoint, query)
        .receive(
            [&](int status, std::string& json, ViewBody& body) {
              EXPECT_EQ(status, want) << endpoint;
              EXPECT_FALSE(body);
              EXPECT_NE(json.find("message"), std::string::npos) << json;
            },
            [](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
  }
  // Over HTTP: the rope's pieces make the same bytes.
  register_master_routes(*rt_, master_, flags_);
  std::optional<http_test::RawResponse> r;
  ASSERT_TRUE(tests::poll_until(
      [&] {
        http_test::RawConn c(rt_->port());
        c.send("GET /master/state HTTP/1.1\r\nHost: x\r\n\r\n");
        r = c.read_response();
        return r && r->status == 200;
      },
      tests::deadline_in(10s)));
  EXPECT_TRUE(r->body == in_place) << r->body.size() << " bytes against " << in_place.size();
}

// After a render that kept the master busy, the next one starts only once
// the master has rested as long (renders take at most half of its thread
// however many clients poll); it is answered all the same.
TEST_F(ViewRendersTest, TheNextRenderWaitsUntilTheMasterHasRested) {
  caf::scoped_actor slave{rt_->system()};
  register_slaves(slave, 2000);  // a first render of ~20 ms or more: all fragments are new
  ::setenv("STOA_INLINE_RENDER_LIMIT", "0", 1);
  caf::scoped_actor client{rt_->system()};
  std::set<std::string> bodies;
  auto ask = [&] {
    client->request(master_, 30s, view_atom_v, std::string("state"), Query{})
        .receive(
            [&](int status, std::string&, ViewBody& body) {
              EXPECT_EQ(status, 200);
              ASSERT_TRUE(body);
              bodies.insert(body->str());
            },
            [](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
  };
  ask();
  // Asked again right after the answer (a few times, should the test's
  // thread lose the CPU for longer than the rest between two of them).
  for (int i = 0; i < 5 && metric("master/view_render_rests") < 1; ++i) {
    ask();
  }
  EXPECT_GE(metric("master/view_render_rests"), 1);
  EXPECT_EQ(bodies.size(), 1u);
}

TEST_F(ViewRendersTest, GzipWhenTheClientAcceptsIt) {
  caf::scoped_actor slave{rt_->system()};
  register_slaves(slave, 40);  // a /master/state above GZIP_MIN_BYTES
  register_master_routes(*rt_, master_, flags_);
  auto fetch = [this](const std::string& target, const std::string& extra_headers) {
    http_test::RawConn c(rt_->port());
    EXPECT_TRUE(c.ok());
    c.send("GET " + target + " HTTP/1.1\r\nHost: x\r\n" + extra_headers + "\r\n");
    return c.read_response();
  };
  std::optional<http_test::RawResponse> plain;
  ASSERT_TRUE(tests::poll_until(
      [&] {
        plain = fetch("/master/state", "");
        return plain && plain->status == 200;
      },
      tests::deadline_in(10s)));
  EXPECT_EQ(plain->headers.count("content-encoding"), 0u);
  for (const char* limit : {"5000", "0"}) {  // rendered in place, then by a child
    ::setenv("STOA_INLINE_RENDER_LIMIT", limit, 1);
    auto zipped = fetch("/master/state", "Accept-Encoding: deflate, gzip\r\n");
    ASSERT_TRUE(zipped);
    EXPECT_EQ(zipped->status, 200);
    EXPECT_EQ(zipped->headers["content-encoding"], "gzip");
    EXPECT_EQ(zipped->headers["vary"], "Accept-Encoding");
    EXPECT_LT(zipped->body.size(), plain->body.size() / 4);
    EXPECT_EQ(inflate_gzip(zipped->body), plain->body);
  }
  // ?jsonp= wraps the body in the server: it goes out plain.
  auto jsonp = fetch("/master/state?jsonp=cb", "Accept-Encoding: gzip\r\n");
  ASSERT_TRUE(jsonp);
  EXPECT_EQ(jsonp->headers.count("content-encoding"), 0u);
  EXPECT_EQ(jsonp->body, "cb(" + plain->body + ");");
  // Refused gzip (q=0) and small bodies go out plain.
  auto refused = fetch("/master/state", "Accept-Encoding: gzip;q=0\r\n");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->body, plain->body);
  auto small = fetch("/master/frameworks", "Accept-Encoding: gzip\r\n");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->headers.count("content-encoding"), 0u);
  EXPECT_EQ(small->status, 200);
}

}  // namespace
}  // namespace stoa::master
