// Two Runtimes (two "processes") in one test process, talking over loopback.

#include "actors/runtime.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <gtest/gtest.h>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/safety.hpp"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace stoa {
// Named so that this file's helpers stay apart from other test files'
// when CI compiles the test files of one binary as one unit (unity build).
namespace runtime_test {
namespace {

using namespace std::chrono_literals;

caf::behavior echo(caf::event_based_actor*) {
  return {
      [](tick_atom, int64_t x) { return x + 1; },
      [](internal::PingSlaveMessage& m) {
        internal::PongSlaveMessage pong;
        (void)m;
        return pong;
      },
  };
}

std::unique_ptr<Runtime> start() {
  Try<std::unique_ptr<Runtime>> rt = Runtime::start(RuntimeOptions{});
  EXPECT_TRUE(rt.is_some()) << (rt.is_error() ? rt.error() : "");
  return std::move(*rt);
}

caf::expected<caf::actor> resolve(Runtime& rt, const std::string& upid) {
  caf::scoped_actor self{rt.system()};
  caf::expected<caf::actor> out = caf::make_error(caf::sec::request_timeout);
  self->request(rt.router(), 10s, resolve_atom_v, upid)
      .receive([&](const caf::actor& a) { out = a; }, [&](caf::error& e) { out = std::move(e); });
  return out;
}

TEST(Runtime, ResolvesARemoteUpidAndExchangesProtobufMessages) {
  auto a = start();
  auto b = start();
  caf::actor e = b->system().spawn(echo);
  b->register_actor("echo(1)", e);
  caf::expected<caf::actor> remote = resolve(*a, b->upid("echo(1)").str());
  ASSERT_TRUE(remote) << a->system().render(remote.error());
  caf::scoped_actor self{a->system()};
  bool ponged = false;
  internal::PingSlaveMessage ping;
  ping.set_connected(true);
  self->request(*remote, 5s, ping).receive([&](internal::PongSlaveMessage&) { ponged = true; },
                                           [&](caf::error& err) { FAIL() << a->system().render(err); });
  EXPECT_TRUE(ponged);
  int64_t got = 0;
  self->request(*remote, 5s, tick_atom_v, int64_t{41}).receive([&](int64_t v) { got = v; },
                                                                [](caf::error&) {});
  EXPECT_EQ(got, 42);
}

// The slave's set-up (actors_on_io_thread): remote requests both ways, the
// actors on the multiplexer's thread, and a prompt shutdown; with
// LIBPROCESS_NUM_WORKER_THREADS set the actors get scheduler threads again.
caf::behavior where(caf::event_based_actor*) {
  return {[](tick_atom, int64_t) { return static_cast<int64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id())); }};
}

std::unique_ptr<Runtime> start_on_io_thread() {
  RuntimeOptions opts;
  opts.actors_on_io_thread = true;
  Try<std::unique_ptr<Runtime>> rt = Runtime::start(opts);
  EXPECT_TRUE(rt.is_some()) << (rt.is_error() ? rt.error() : "");
  return std::move(*rt);
}

TEST(Runtime, ActorsOnTheIoThreadExchangeRemoteMessagesAndStopPromptly) {
  auto a = start_on_io_thread();
  auto b = start_on_io_thread();
  b->register_actor("echo(1)", b->system().spawn(echo));
  b->register_actor("where(1)", b->system().spawn(where));
  {  // (scoped actors count as running: gone before the shutdown)
    caf::expected<caf::actor> remote = resolve(*a, b->upid("echo(1)").str());
    ASSERT_TRUE(remote) << a->system().render(remote.error());
    caf::scoped_actor self{a->system()};
    for (int64_t i = 0; i < 200; ++i) {
      int64_t got = 0;
      self->request(*remote, 5s, tick_atom_v, i).receive([&](int64_t v) { got = v; },
                                                          [&](caf::error& err) { FAIL() << a->system().render(err); });
      ASSERT_EQ(got, i + 1);
    }
    caf::expected<caf::actor> w = resolve(*b, b->upid("where(1)").str());
    ASSERT_TRUE(w);
    caf::scoped_actor bself{b->system()};
    int64_t thread = 0;
    bself->request(*w, 5s, tick_atom_v, int64_t{0}).receive([&](int64_t v) { thread = v; }, [](caf::error&) {});
    EXPECT_EQ(thread,
              static_cast<int64_t>(std::hash<std::thread::id>{}(b->system().middleman().backend().thread_id())));
  }
  auto t0 = std::chrono::steady_clock::now();
  a->shutdown();
  b->shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(Runtime, WorkerThreadsFromTheEnvironmentReplaceTheIoThread) {
  ASSERT_EQ(::setenv("LIBPROCESS_NUM_WORKER_THREADS", "2", 1), 0);
  auto rt = start_on_io_thread();
  ::unsetenv("LIBPROCESS_NUM_WORKER_THREADS");
  int64_t thread = 0;
  {
    caf::actor w = rt->system().spawn(where);
    caf::scoped_actor self{rt->system()};
    self->request(w, 5s, tick_atom_v, int64_t{0}).receive([&](int64_t v) { thread = v; }, [](caf::error&) {});
  }
  EXPECT_NE(thread, 0);
  EXPECT_NE(thread, static_cast<int64_t>(std::hash<std::thread::id>{}(rt->system().middleman().backend().thread_id())));
}

TEST(Runtime, TheEnvironmentChoosesTheIoThreadEitherWay) {
  for (const char* yes : {"1", "true", "yes"}) {
    EXPECT_TRUE(*parse_actors_on_io_thread(yes)) << yes;
  }
  for (const char* no : {"0", "false", "no"}) {
    EXPECT_FALSE(*parse_actors_on_io_thread(no)) << no;
  }
  for (const char* bad : {"", "2", "on", "TRUE "}) {
    Try<bool> b = parse_actors_on_io_thread(bad);
    ASSERT_TRUE(b.is_error()) << "'" << bad << "'";
  }
  auto io_thread_of = [](Runtime& rt) {
    return static_cast<int64_t>(std::hash<std::thread::id>{}(rt.system().middleman().backend().thread_id()));
  };
  auto where_of = [](Runtime& rt) {
    int64_t thread = 0;
    caf::actor w = rt.system().spawn(where);
    caf::scoped_actor self{rt.system()};
    self->request(w, 5s, tick_atom_v, int64_t{0}).receive([&](int64_t v) { thread = v; }, [](caf::error&) {});
    return thread;
  };
  {
    ASSERT_EQ(::setenv("STOA_ACTORS_ON_IO_THREAD", "0", 1), 0);
    auto rt = start_on_io_thread();  // asked for, but the environment says no
    ::unsetenv("STOA_ACTORS_ON_IO_THREAD");
    EXPECT_NE(where_of(*rt), io_thread_of(*rt));
  }
  {
    ASSERT_EQ(::setenv("STOA_ACTORS_ON_IO_THREAD", "yes", 1), 0);
    auto rt = start();  // not asked for, but the environment says yes
    ::unsetenv("STOA_ACTORS_ON_IO_THREAD");
    EXPECT_EQ(where_of(*rt), io_thread_of(*rt));
  }
  ASSERT_EQ(::setenv("STOA_ACTORS_ON_IO_THREAD", "sometimes", 1), 0);
  Try<std::unique_ptr<Runtime>> rt = Runtime::start(RuntimeOptions{});
  ::unsetenv("STOA_ACTORS_ON_IO_THREAD");
  ASSERT_TRUE(rt.is_error());
  EXPECT_NE(rt.error().find("Invalid value 'sometimes' for STOA_ACTORS_ON_IO_THREAD"), std::string::npos)
      << rt.error();
}

TEST(Runtime, WorkerThreadsFromTheEnvironmentAreAWholeNumberInRange) {
  EXPECT_EQ(*parse_worker_threads("1"), 1U);
  EXPECT_EQ(*parse_worker_threads("1024"), 1024U);
  for (const char* bad : {"", "0", "-1", "1025", "2x", " 2", "two", "99999999999999999999999"}) {
    Try<size_t> n = parse_worker_threads(bad);
    ASSERT_TRUE(n.is_error()) << "'" << bad << "'";
    EXPECT_NE(n.error().find("1 to 1024"), std::string::npos) << n.error();
  }
  // A bad value in the environment stops the start, naming it.
  ASSERT_EQ(::setenv("LIBPROCESS_NUM_WORKER_THREADS", "lots", 1), 0);
  Try<std::unique_ptr<Runtime>> rt = Runtime::start(RuntimeOptions{});
  ::unsetenv("LIBPROCESS_NUM_WORKER_THREADS");
  ASSERT_TRUE(rt.is_error());
  EXPECT_NE(rt.error().find("Invalid value 'lots' for LIBPROCESS_NUM_WORKER_THREADS"), std::string::npos)
      << rt.error();
}

TEST(Runtime, LocalUpidResolvesWithoutTheNetwork) {
  auto a = start();
  caf::actor e = a->system().spawn(echo);
  a->register_actor("echo(1)", e);
  caf::expected<caf::actor> local = resolve(*a, a->upid("echo(1)").str());
  ASSERT_TRUE(local);
  EXPECT_EQ(*local, e);
}

TEST(Runtime, UnknownIdBadTextAndDeadPortAreErrors) {
  auto a = start();
  auto b = start();
  EXPECT_FALSE(resolve(*a, b->upid("nobody").str()));
  EXPECT_FALSE(resolve(*a, "not-a-upid"));
  uint16_t dead_port = b->port();
  b.reset();  // the peer process is gone
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(resolve(*a, "echo@127.0.0.1:" + std::to_string(dead_port)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // refused, not a timeout
}

TEST(Runtime, PeerDeathIsSeenByMonitors) {
  auto a = start();
  auto b = start();
  caf::actor e = b->system().spawn(echo);
  b->register_actor("echo(1)", e);
  caf::expected<caf::actor> remote = resolve(*a, b->upid("echo(1)").str());
  ASSERT_TRUE(remote);
  caf::scoped_actor self{a->system()};
  self->monitor(*remote);
  b.reset();  // exits every actor of b, closing its connections
  bool down = false;
  self->receive([&](const caf::down_msg&) { down = true; },
                caf::after(10s) >> [] {});
  EXPECT_TRUE(down);
}

TEST(Runtime, DiscoveryRouteListsProcessesAndActorPort) {
  auto a = start();
  caf::actor e = a->system().spawn(echo);
  a->register_actor("master", e);
  caf::scoped_actor self{a->system()};
  std::vector<std::string> ids;
  self->request(a->router(), 5s, list_atom_v)
      .receive([&](const std::vector<std::string>& v) { ids = v; }, [](caf::error&) {});
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0], "master");
  EXPECT_NE(a->actor_port(), 0);
  EXPECT_NE(a->port(), a->actor_port());
}

TEST(Runtime, ShutdownIsPromptAndIdempotent) {
  auto a = start();
  auto b = start();
  caf::actor e = b->system().spawn(echo);
  b->register_actor("echo(1)", e);
  ASSERT_TRUE(resolve(*a, b->upid("echo(1)").str()));
  auto t0 = std::chrono::steady_clock::now();
  a->shutdown();
  a->shutdown();
  b->shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

// An actor that throws on a string (as a bug in a handler would).
caf::behavior fragile(caf::event_based_actor* self) {
  set_safe_handlers(self, "fragile");
  return {
      [](const std::string& s) {
        if (s == "boom") {
          throw std::runtime_error("handler bug");
        }
      },
  };
}

TEST(Runtime, ADeadComponentIsReportedWithItsNameAndReason) {
  auto failures = std::make_shared<std::vector<std::string>>();
  auto mu = std::make_shared<std::mutex>();
  RuntimeOptions opts;
  opts.on_component_failure = [failures, mu](const std::string& what) {
    std::lock_guard<std::mutex> lock(*mu);
    failures->push_back(what);
  };
  auto rt = Runtime::start(opts);
  ASSERT_TRUE(rt.is_some()) << rt.error();
  caf::actor f = (*rt)->system().spawn(fragile);
  (*rt)->register_actor("fragile(1)", f);
  caf::anon_send(f, std::string("boom"));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  bool seen = false;
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(*mu);
      seen = !failures->empty();
    }
    if (!seen) {
      caf::scoped_actor wait{(*rt)->system()};
      wait->receive(caf::after(10ms) >> [] {});  // poll interval
    }
  }
  ASSERT_TRUE(seen);
  std::lock_guard<std::mutex> lock(*mu);
  EXPECT_NE(failures->at(0).find("fragile(1)"), std::string::npos) << failures->at(0);
  EXPECT_NE(failures->at(0).find("runtime_error"), std::string::npos) << failures->at(0);
}

TEST(Runtime, AnOrderlyShutdownIsNoFailure) {
  auto failures = std::make_shared<std::atomic<int>>(0);
  RuntimeOptions opts;
  opts.on_component_failure = [failures](const std::string&) { ++*failures; };
  auto rt = Runtime::start(opts);
  ASSERT_TRUE(rt.is_some());
  caf::actor e = (*rt)->system().spawn(echo);
  (*rt)->register_actor("echo(1)", e);
  (*rt)->shutdown();
  EXPECT_EQ(failures->load(), 0);
}

caf::behavior guarded_echo(caf::event_based_actor* self) {
  set_safe_handlers(self, "guarded");
  return {[](tick_atom, int64_t x) { return x + 1; }};
}

// CAF delivers exit messages over the network like any other: a peer that
// looked a component up must not be able to stop or kill it.
TEST(Runtime, RemoteExitMessagesAreIgnoredLocalOnesObeyed) {
  auto a = start();
  auto b = start();
  caf::actor e = a->system().spawn(guarded_echo);
  a->register_actor("master", e);
  caf::expected<caf::actor> remote = resolve(*b, a->upid("master").str());
  ASSERT_TRUE(remote);
  caf::anon_send_exit(*remote, caf::exit_reason::kill);
  {
    caf::scoped_actor peer{b->system()};
    peer->send_exit(*remote, caf::exit_reason::user_shutdown);
  }
  // The component lives on (the peer that tried lost its connection).
  {
    caf::scoped_actor local{a->system()};
    bool answered = false;
    local->request(e, 5s, tick_atom_v, int64_t{1}).receive([&](int64_t x) { answered = x == 2; }, [](caf::error&) {});
    EXPECT_TRUE(answered) << "the component died of a remote exit message";
  }
  // An anonymous local exit is refused as well; one from a local actor works.
  caf::anon_send_exit(e, caf::exit_reason::user_shutdown);
  caf::scoped_actor self{a->system()};
  self->monitor(e);
  bool alive = false;
  self->request(e, 5s, tick_atom_v, int64_t{1}).receive([&](int64_t) { alive = true; }, [](caf::error&) {});
  EXPECT_TRUE(alive);
  stop_actor(a->system(), e);
  bool down = false;
  self->receive([&](const caf::down_msg&) { down = true; }, caf::after(10s) >> [] {});
  EXPECT_TRUE(down);
}

// --- Explicit stop: Runtime::wait() -----------------------------------------

// Quits with exit_reason::normal when told to stop (as the slave does when the
// master shuts it down).
caf::behavior quitter(caf::event_based_actor* self) {
  set_safe_handlers(self, "quitter");
  return {[self](stop_atom) { self->quit(); }};
}

std::unique_ptr<Runtime> start_recording_failures(std::shared_ptr<std::atomic<int>> failures) {
  RuntimeOptions opts;
  opts.on_component_failure = [failures](const std::string&) { ++*failures; };
  Try<std::unique_ptr<Runtime>> rt = Runtime::start(opts);
  EXPECT_TRUE(rt.is_some()) << (rt.is_error() ? rt.error() : "");
  return std::move(*rt);
}

TEST(RuntimeWait, AComponentThatQuitsNormallyEndsTheWaitWithStatusZero) {
  auto failures = std::make_shared<std::atomic<int>>(0);
  auto rt = start_recording_failures(failures);
  caf::actor q = rt->system().spawn(quitter);
  rt->register_actor("slave(1)", q);
  caf::anon_send(q, stop_atom_v);
  StopEvent event = rt->wait_for_stop();
  EXPECT_EQ(event.cause, StopEvent::Cause::COMPONENT_STOPPED) << event.describe();
  EXPECT_EQ(event.component, "slave(1)");
  EXPECT_EQ(event.exit_status(), 0);
  EXPECT_EQ(failures->load(), 0);

  caf::actor q2 = rt->system().spawn(quitter);
  rt->supervise("second", q2);
  caf::anon_send(q2, stop_atom_v);
  EXPECT_EQ(rt->wait(), 0);
}

TEST(RuntimeWait, AStopByAnotherActorIsNotTheComponentsOwnStop) {
  auto failures = std::make_shared<std::atomic<int>>(0);
  auto rt = start_recording_failures(failures);
  caf::actor stopped = rt->system().spawn(quitter);
  caf::actor own = rt->system().spawn(quitter);
  rt->register_actor("stopped", stopped);
  rt->register_actor("own", own);
  // user_shutdown, as Runtime::shutdown() sends it: not a stop of the process.
  caf::scoped_actor self{rt->system()};
  self->monitor(stopped);
  stop_actor(rt->system(), stopped);
  bool down = false;
  self->receive([&](const caf::down_msg&) { down = true; }, caf::after(10s) >> [] {});
  ASSERT_TRUE(down);
  caf::anon_send(own, stop_atom_v);
  StopEvent event = rt->wait_for_stop();  // the first event is the second actor's
  EXPECT_EQ(event.cause, StopEvent::Cause::COMPONENT_STOPPED);
  EXPECT_EQ(event.component, "own");
  EXPECT_EQ(failures->load(), 0);
}

TEST(RuntimeWait, AFailingComponentReachesTheFailureHandlerAndEndsTheWaitWith70) {
  auto failures = std::make_shared<std::atomic<int>>(0);
  auto rt = start_recording_failures(failures);
  caf::actor f = rt->system().spawn(fragile);
  rt->register_actor("fragile(1)", f);
  caf::anon_send(f, std::string("boom"));
  StopEvent event = rt->wait_for_stop();
  EXPECT_EQ(event.cause, StopEvent::Cause::COMPONENT_FAILED);
  EXPECT_EQ(event.component, "fragile(1)");
  EXPECT_NE(event.reason.find("runtime_error"), std::string::npos) << event.reason;
  EXPECT_EQ(event.exit_status(), EXIT_COMPONENT_FAILED);
  EXPECT_EQ(failures->load(), 1);
}

TEST(RuntimeWait, ASignalEndsTheWaitAndTheSignalMaskIsRestored) {
  auto rt = start();
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigset_t before;
  // SIGTERM is blocked in this thread and sent to it: it stays pending until
  // wait_for_stop() reads it (the CAF threads never see a thread-directed signal).
  pthread_sigmask(SIG_BLOCK, &term, &before);
  pthread_kill(pthread_self(), SIGTERM);
  StopEvent event = rt->wait_for_stop();
  sigset_t after;
  pthread_sigmask(SIG_SETMASK, &before, &after);
  EXPECT_EQ(event.cause, StopEvent::Cause::SIGNAL);
  EXPECT_EQ(event.signal, SIGTERM);
  EXPECT_EQ(event.exit_status(), 0);
  EXPECT_EQ(sigismember(&after, SIGTERM), 1) << "wait_for_stop() did not restore the caller's mask";
  sigset_t pending;
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGTERM), 0) << "the signal was not consumed";
}

// As a daemon runs: SIGTERM blocked in every thread, sent to the process.
TEST(RuntimeWaitDeathTest, SigtermToTheProcessEndsTheWaitWithStatusZero) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &signals, nullptr);
        auto rt = Runtime::start(RuntimeOptions{});
        ::kill(::getpid(), SIGTERM);
        int status = (*rt)->wait();
        (*rt)->shutdown();
        std::fprintf(stderr, "wait returned %d\n", status);
        std::_Exit(status);
      },
      ::testing::ExitedWithCode(0), "wait returned 0");
}

// The default: the process logs the component and exits non-zero, so a
// service manager restarts it instead of leaving it half-alive.
TEST(RuntimeDeathTest, ByDefaultADeadComponentEndsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto rt = Runtime::start(RuntimeOptions{});
        caf::actor f = (*rt)->system().spawn(fragile);
        (*rt)->register_actor("fragile(1)", f);
        caf::anon_send(f, std::string("boom"));
        caf::scoped_actor wait{(*rt)->system()};
        wait->receive(caf::after(30s) >> [] {});
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(70), "component 'fragile\\(1\\)' terminated");
}

}  // namespace
}  // namespace runtime_test
}  // namespace stoa
