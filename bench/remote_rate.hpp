#pragma once
// The raw CAF remote message rate between two processes, through the same
// actors/ stack the master uses (issue #17): the reference its status update
// rate is compared with, measured in the same run.
//
// The receiving end, `rate_echo_actor`, lives in every stoa-slave-simulator
// process, named RATE_ECHO_NAME in its router:
//   StatusUpdateMessage                 counted; every RATE_CREDIT_EVERY-th
//        is answered with (rate_credit_atom, messages counted so far)
//   (rate_echo_atom, StatusUpdateMessage)  answered with the
//        StatusUpdateAcknowledgementMessage of its task and uuid
// The sending end, `measure_remote_rate`, runs in the bench's process: one
// event-based actor keeps `window` messages unanswered (one-way: credits;
// echo: replies) until `messages` were answered.
//
// Header-only: the simulator and the scale bench include it.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"

namespace stoa::bench {

using rate_echo_atom = caf::atom_constant<caf::atom("rate_echo")>;
using rate_credit_atom = caf::atom_constant<caf::atom("rate_cred")>;
using rate_go_atom = caf::atom_constant<caf::atom("rate_go")>;

inline constexpr const char* RATE_ECHO_NAME = "rate-echo";
inline constexpr uint64_t RATE_CREDIT_EVERY = 64;

// A status update message as the simulator sends it (ids, uuid, timestamps,
// source, latest_state): the payload of every measured message.
inline internal::StatusUpdateMessage rate_sample_update() {
  internal::StatusUpdateMessage m;
  internal::StatusUpdate* u = m.mutable_update();
  u->mutable_framework_id()->set_value("4f1c2a7e-7b1d-4c55-9a37-2f0f8c1e6d21-0000");
  u->mutable_executor_id()->set_value("scale-12345");
  u->mutable_slave_id()->set_value("4f1c2a7e-7b1d-4c55-9a37-2f0f8c1e6d21-S1234");
  TaskStatus* s = u->mutable_status();
  s->mutable_task_id()->set_value("scale-12345");
  s->set_state(TASK_RUNNING);
  s->set_source(TaskStatus::SOURCE_EXECUTOR);
  s->set_timestamp(1764642000.123456);
  s->mutable_slave_id()->set_value(u->slave_id().value());
  s->set_uuid(std::string(16, '\x5a'));
  u->set_timestamp(s->timestamp());
  u->set_uuid(s->uuid());
  u->set_latest_state(TASK_RUNNING);
  m.set_pid("slave(1234)@127.0.0.1:45678");
  return m;
}

struct RateEchoState {
  uint64_t counted = 0;
  static inline const char* name = "rate echo";
};

inline caf::behavior rate_echo_actor(caf::stateful_actor<RateEchoState>* self) {
  return {
      [self](rate_go_atom) { self->state.counted = 0; },
      [self](internal::StatusUpdateMessage&) {
        if (++self->state.counted % RATE_CREDIT_EVERY == 0) {
          self->send(caf::actor_cast<caf::actor>(self->current_sender()), rate_credit_atom::value,
                     self->state.counted);
        }
      },
      [self](rate_echo_atom, internal::StatusUpdateMessage& m) {
        internal::StatusUpdateAcknowledgementMessage ack;
        *ack.mutable_slave_id() = m.update().slave_id();
        *ack.mutable_framework_id() = m.update().framework_id();
        *ack.mutable_task_id() = m.update().status().task_id();
        ack.set_uuid(m.update().uuid());
        self->send(caf::actor_cast<caf::actor>(self->current_sender()), ack);
      },
  };
}

struct RateResult {
  double seconds = 0;
  uint64_t messages = 0;              // answered (one-way: credited)
  std::vector<double> round_trip_us;  // echo mode: one per answered message
};

struct RateRun {
  caf::actor echo;
  bool one_way = true;
  uint64_t total = 0;  // one-way: a multiple of RATE_CREDIT_EVERY
  uint64_t window = 1;
  std::shared_ptr<std::promise<RateResult>> done;
};

struct RateDriverState {
  RateRun run;
  uint64_t sent = 0;
  uint64_t answered = 0;
  internal::StatusUpdateMessage sample;
  std::vector<std::chrono::steady_clock::time_point> sent_at;  // echo mode, a ring of `window`
  std::chrono::steady_clock::time_point start;
  RateResult result;
  static inline const char* name = "rate driver";

  void fill(caf::stateful_actor<RateDriverState>* self) {
    while (sent < run.total && sent - answered < run.window) {
      if (run.one_way) {
        self->send(run.echo, sample);
      } else {
        sent_at[sent % run.window] = std::chrono::steady_clock::now();
        self->send(run.echo, rate_echo_atom::value, sample);
      }
      ++sent;
    }
  }
  void answer(caf::stateful_actor<RateDriverState>* self, uint64_t now_answered) {
    answered = now_answered;
    if (answered >= run.total) {
      result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      result.messages = answered;
      run.done->set_value(std::move(result));
      self->quit();
      return;
    }
    fill(self);
  }
};

// The sending end: resets the echo's count (messages from one sender arrive
// in order), then keeps `window` messages unanswered until `total` were.
inline caf::behavior rate_driver_actor(caf::stateful_actor<RateDriverState>* self, RateRun run) {
  auto& st = self->state;
  st.run = std::move(run);
  st.sample = rate_sample_update();
  st.sent_at.resize(st.run.window);
  st.start = std::chrono::steady_clock::now();
  self->send(st.run.echo, rate_go_atom::value);
  st.fill(self);
  return {
      [self](rate_credit_atom, uint64_t counted) { self->state.answer(self, counted); },
      [self](internal::StatusUpdateAcknowledgementMessage&) {
        auto& st = self->state;
        auto rt = std::chrono::steady_clock::now() - st.sent_at[st.answered % st.run.window];
        st.result.round_trip_us.push_back(std::chrono::duration<double, std::micro>(rt).count());
        st.answer(self, st.answered + 1);
      },
  };
}

// Sends `messages` status update messages to `echo` (a rate_echo_actor in
// another process) keeping `window` unanswered: one-way (credited every
// RATE_CREDIT_EVERY; `messages` is rounded up to a multiple of it) or echoed
// (each answered by an acknowledgement, whose round trip is recorded).
// Blocks the calling (non-actor) thread until done or `timeout`.
inline std::optional<RateResult> measure_remote_rate(caf::actor_system& sys, const caf::actor& echo, bool one_way,
                                                      uint64_t messages, uint64_t window,
                                                      std::chrono::seconds timeout) {
  RateRun run;
  run.echo = echo;
  run.one_way = one_way;
  run.total = one_way ? (messages + RATE_CREDIT_EVERY - 1) / RATE_CREDIT_EVERY * RATE_CREDIT_EVERY : messages;
  run.window = std::max<uint64_t>(one_way ? RATE_CREDIT_EVERY : 1, window);
  run.done = std::make_shared<std::promise<RateResult>>();
  std::future<RateResult> f = run.done->get_future();
  caf::actor driver = sys.spawn(rate_driver_actor, run);
  if (f.wait_for(timeout) != std::future_status::ready) {
    caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
    return std::nullopt;
  }
  return f.get();
}

}  // namespace stoa::bench
