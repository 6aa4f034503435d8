#include "slave/executor_http.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/messages.hpp"
#include "actors/safety.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/proto_json.hpp"
#include "common/strings.hpp"
#include "slave/http_executor.hpp"  // recordio_encode

namespace stoa::slave {

namespace {

// The routes below ask the slave with caf::infinite: it answers at once, a
// slave that is gone answers with an error (its mailbox bounces the
// request), and the server's handler timeout (504) bounds the rest. A
// timeout of their own, set and cancelled, would wake CAF's clock thread
// twice per call (#17: a task makes three calls).
// A connection whose stream never opens ends after this long. The server
// tells it when it cannot open the stream (the executor went away before
// its SUBSCRIBE was answered: stream_closed with id 0); this bounds the
// rest (an answer that reached the route after its request timed out).
constexpr auto STREAM_OPEN_TIMEOUT = std::chrono::seconds(30);
using open_timeout_atom = caf::atom_constant<caf::atom("ex_opento")>;

// "Application/JSON; charset=utf-8" -> "application/json".
std::string media_type(std::string_view value) { return lower(trim(value.substr(0, value.find(';')))); }

// The response type an Accept header admits: JSON unless only protobuf is
// acceptable; nullopt when neither is. No header (or */*) takes the
// request's own type, as Mesos' executor library expects.
std::optional<bool> accepted_json(const http::Request& req, bool request_json) {
  auto it = req.headers.find("accept");
  if (it == req.headers.end()) {
    return request_json;
  }
  bool json = false;
  bool protobuf = false;
  bool any = false;
  for (const std::string& part : split(it->second, ',')) {
    const std::string t = media_type(part);
    json = json || t == JSON_TYPE;
    protobuf = protobuf || t == PROTOBUF_TYPE;
    any = any || t == "*/*" || t == "application/*";
  }
  if (any) {
    return request_json;
  }
  if (json || protobuf) {
    return json && (request_json || !protobuf);
  }
  return std::nullopt;
}

}  // namespace

Try<executor::Call> parse_call(const std::string& body, bool json) {
  executor::Call call;
  if (json) {
    Try<bool> parsed = proto_from_json(body, &call);  // unknown fields ignored
    if (parsed.is_error()) {
      return Error("Failed to parse the body as a JSON Call: " + parsed.error());
    }
  } else if (!call.ParsePartialFromString(body)) {
    return Error("Failed to parse the body as a protobuf Call");
  }
  if (!call.IsInitialized()) {
    return Error("The Call misses required fields: " + call.InitializationErrorString());
  }
  return call;
}

std::optional<std::string> validate_call(const executor::Call& call) {
  if (call.framework_id().value().empty()) {
    return "'framework_id' must not be empty";
  }
  if (call.executor_id().value().empty()) {
    return "'executor_id' must not be empty";
  }
  switch (call.type()) {
    case executor::Call::SUBSCRIBE:
      for (const auto& u : call.subscribe().unacknowledged_updates()) {
        if (u.status().uuid().size() != 16) {
          return "an unacknowledged update of task '" + u.status().task_id().value() +
                 "' needs a 16-byte 'status.uuid'";
        }
      }
      return std::nullopt;
    case executor::Call::UPDATE: {
      if (!call.has_update()) {
        return "an UPDATE call needs 'update'";
      }
      const TaskStatus& s = call.update().status();
      if (s.task_id().value().empty()) {
        return "'update.status.task_id' must not be empty";
      }
      if (s.uuid().size() != 16) {
        return "'update.status.uuid' must be 16 bytes (base64 in JSON), not " + std::to_string(s.uuid().size());
      }
      if (s.state() == TASK_STAGING) {
        return "an executor may not send TASK_STAGING";
      }
      if (s.has_executor_id() && s.executor_id().value() != call.executor_id().value()) {
        return "'update.status.executor_id' ('" + s.executor_id().value() + "') is not the caller's ('" +
               call.executor_id().value() + "')";
      }
      return std::nullopt;
    }
    case executor::Call::MESSAGE:
      if (!call.has_message()) {
        return "a MESSAGE call needs 'message'";
      }
      return std::nullopt;
    case executor::Call::HEARTBEAT:
      return std::nullopt;
    default:
      return "'type' must be SUBSCRIBE, UPDATE, MESSAGE or HEARTBEAT, not " +
             executor::Call::Type_Name(call.type());
  }
}

std::string event_record(const executor::Event& event, bool json) {
  std::string bytes;
  if (json) {
    proto_append_json(event, &bytes);
  } else {
    bytes = event.SerializePartialAsString();
  }
  return http_executor::recordio_encode(bytes);
}

http::Route executor_api_route(const caf::actor& slave) {
  http::Route r;
  r.path = "/api/v1/executor";
  r.help =
      "Mesos' v1 executor API (docs/executor-http-api.md): an executor POSTs a Call (application/json or "
      "application/x-protobuf); SUBSCRIBE answers with a RecordIO stream of Events, UPDATE, MESSAGE and "
      "HEARTBEAT with 202 Accepted.";
  r.methods = {"POST"};
  r.handler = [slave](caf::io::broker* self, const http::Request& req, http::Responder respond) {
    auto ct = req.headers.find("content-type");
    const std::string type = ct == req.headers.end() ? std::string() : media_type(ct->second);
    if (type != JSON_TYPE && type != PROTOBUF_TYPE) {
      respond(http::error_response(415, "Expecting 'Content-Type' of application/json or application/x-protobuf, not '" +
                                            (ct == req.headers.end() ? std::string() : ct->second) + "'"));
      return;
    }
    const bool json = type == JSON_TYPE;
    std::optional<bool> accept_json = accepted_json(req, json);
    if (!accept_json) {
      respond(http::error_response(406, "Expecting 'Accept' to allow application/json or application/x-protobuf, "
                                        "not '" + req.headers.at("accept") + "'"));
      return;
    }
    Try<executor::Call> call = parse_call(req.body, json);
    if (call.is_error()) {
      respond(http::error_response(400, call.error()));
      return;
    }
    if (std::optional<std::string> why = validate_call(*call)) {
      respond(http::error_response(400, "Invalid " + executor::Call::Type_Name(call->type()) + " call: " + *why));
      return;
    }
    self->request(slave, caf::infinite, executor_api_atom_v, call->SerializePartialAsString(), *accept_json)
        .then([respond](http::Response& resp) { respond(std::move(resp)); },
              [respond](caf::error& err) {
                respond(http::error_response(503, "The slave did not answer: " + caf::to_string(err)));
              });
  };
  return r;
}

Try<std::pair<std::string, int32_t>> parse_pool_call(const std::string& body) {
  Try<picojson::value> v = json_parse(body);
  if (v.is_error()) {
    return Error("The body is not JSON: " + v.error());
  }
  if (!v->is<picojson::object>()) {
    return Error("The body must be a JSON object, not " + v->serialize());
  }
  const picojson::object& o = v->get<picojson::object>();
  auto token = o.find("token");
  if (token == o.end() || !token->second.is<std::string>() || token->second.get<std::string>().empty()) {
    return Error("'token' must be a non-empty string, not " +
                 (token == o.end() ? std::string("missing") : token->second.serialize()));
  }
  auto pid = o.find("pid");
  if (pid == o.end() || !pid->second.is<int64_t>() || pid->second.get<int64_t>() < 1 ||
      pid->second.get<int64_t>() > INT32_MAX) {
    return Error("'pid' must be a positive integer, not " +
                 (pid == o.end() ? std::string("missing") : pid->second.serialize()));
  }
  return std::make_pair(token->second.get<std::string>(), static_cast<int32_t>(pid->second.get<int64_t>()));
}

http::Route executor_pool_route(const caf::actor& slave) {
  http::Route r;
  r.path = "/stoa/executor/pool";
  r.help =
      "Stoa's own (docs/executor-pool.md): a pooled stoa-http-executor POSTs {\"token\", \"pid\"} and reads its "
      "adoption (ADOPTED, then SUBSCRIBED and LAUNCH) from the RecordIO stream of JSON events that answers it.";
  r.methods = {"POST"};
  r.handler = [slave](caf::io::broker* self, const http::Request& req, http::Responder respond) {
    auto ct = req.headers.find("content-type");
    if (ct == req.headers.end() || media_type(ct->second) != JSON_TYPE) {
      respond(http::error_response(415, "Expecting 'Content-Type' of application/json, not '" +
                                            (ct == req.headers.end() ? std::string() : ct->second) + "'"));
      return;
    }
    Try<std::pair<std::string, int32_t>> call = parse_pool_call(req.body);
    if (call.is_error()) {
      respond(http::error_response(400, call.error()));
      return;
    }
    self->request(slave, caf::infinite, executor_pool_atom_v, call->first, call->second)
        .then([respond](http::Response& resp) { respond(std::move(resp)); },
              [respond](caf::error& err) {
                respond(http::error_response(503, "The slave did not answer: " + caf::to_string(err)));
              });
  };
  return r;
}

namespace {

struct ExecutorConnection {
  caf::actor slave;
  bool json = false;
  executor::Event::Subscribed subscribed;
  ExecutorIntroduction intro;
  std::optional<http::StreamSink> sink;
  std::string who;  // "executor <eid> of framework <fid>", for the log
  // A pooled executor's token until its adoption (empty: not pooled, or adopted).
  std::string pool_token;
};

caf::behavior executor_connection(caf::stateful_actor<ExecutorConnection>* self, caf::actor slave, bool json,
                                  executor::Event::Subscribed subscribed, ExecutorIntroduction intro) {
  set_safe_handlers(self, "executor connection");
  ExecutorConnection& s = self->state;
  s.slave = std::move(slave);
  s.json = json;
  if (auto* ready = std::get_if<internal::ExecutorPoolReadyMessage>(&intro)) {
    s.who = "pooled executor " + ready->token() + " (pid " + std::to_string(ready->pid()) + ")";
    s.pool_token = ready->token();
  } else {
    s.who = "executor " + subscribed.executor_info().executor_id().value() + " of framework " +
            subscribed.framework_info().id().value();
  }
  s.subscribed = std::move(subscribed);
  s.intro = std::move(intro);
  self->monitor(s.slave);
  self->delayed_send(self, STREAM_OPEN_TIMEOUT, open_timeout_atom::value);
  self->set_down_handler([self](caf::down_msg& dm) {
    if (dm.source == self->state.slave.address()) {
      self->quit();  // the server closes the stream: the executor sees its slave go
    }
  });
  // An event for the executor, written on its stream; only the slave speaks to it.
  auto emit = [self](const char* what, const executor::Event& ev) {
    ExecutorConnection& st = self->state;
    if (self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(st.slave)) {
      LOG_WARNING << "Dropping " << what << " for " << st.who << ": not from the slave";
    } else if (st.sink) {
      self->send(st.sink->server, http::stream_chunk_atom_v, st.sink->id, event_record(ev, st.json));
    }
  };
  auto event = [](executor::Event::Type type) {
    executor::Event ev;
    ev.set_type(type);
    return ev;
  };
  auto subscribed_event = [self, event](const SlaveInfo& info) {
    executor::Event ev = event(executor::Event::SUBSCRIBED);
    *ev.mutable_subscribed() = self->state.subscribed;
    *ev.mutable_subscribed()->mutable_agent_info() = info;
    return ev;
  };
  return {
      [self](http::stream_open_atom, http::StreamSink& sink) {
        ExecutorConnection& st = self->state;
        if (st.sink) {
          return;
        }
        st.sink = std::move(sink);
        std::visit([self](auto& m) { self->send(self->state.slave, std::move(m)); }, st.intro);
      },
      [self](http::stream_closed_atom, uint64_t) { self->quit(); },
      [self](open_timeout_atom) {
        if (!self->state.sink && self->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(self)) {
          LOG_WARNING << "The event stream of " << self->state.who << " never opened; dropping it";
          self->quit();
        }
      },
      [emit, subscribed_event](internal::ExecutorRegisteredMessage& m) {
        emit("a registration", subscribed_event(m.slave_info()));
      },
      [emit, subscribed_event](internal::ExecutorReregisteredMessage& m) {
        emit("a re-registration", subscribed_event(m.slave_info()));
      },
      [emit, event](internal::RunTaskMessage& m) {
        executor::Event ev = event(executor::Event::LAUNCH);
        *ev.mutable_launch()->mutable_task() = std::move(*m.mutable_task());
        emit("a task", ev);
      },
      [emit, event](internal::KillTaskMessage& m) {
        executor::Event ev = event(executor::Event::KILL);
        *ev.mutable_kill()->mutable_task_id() = m.task_id();
        if (m.has_kill_policy()) {
          *ev.mutable_kill()->mutable_kill_policy() = m.kill_policy();
        }
        emit("a kill", ev);
      },
      [emit, event](internal::StatusUpdateAcknowledgementMessage& m) {
        executor::Event ev = event(executor::Event::ACKNOWLEDGED);
        *ev.mutable_acknowledged()->mutable_task_id() = m.task_id();
        ev.mutable_acknowledged()->set_uuid(m.uuid());
        emit("an acknowledgement", ev);
      },
      [emit, event](internal::FrameworkToExecutorMessage& m) {
        executor::Event ev = event(executor::Event::MESSAGE);
        ev.mutable_message()->set_data(m.data());
        emit("a framework message", ev);
      },
      [emit, event](internal::ShutdownExecutorMessage&) { emit("a shutdown", event(executor::Event::SHUTDOWN)); },
      [self, emit, event, subscribed_event](internal::AdoptExecutorMessage& m) {
        ExecutorConnection& st = self->state;
        if (self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(st.slave) || st.pool_token.empty() ||
            m.token() != st.pool_token || !st.sink) {
          LOG_WARNING << "Dropping an adoption of " << st.who << " for container " << m.container_id()
                      << ": not from the slave, not pooled, or not its token";
          return;
        }
        executor::Event adopted = event(executor::Event::ADOPTED);
        executor::Event::Adopted& a = *adopted.mutable_adopted();
        a.set_token(m.token());
        a.set_container_id(m.container_id());
        a.set_directory(m.directory());
        *a.mutable_environment() = std::move(*m.mutable_environment());
        emit("an adoption", adopted);
        st.pool_token.clear();
        if (!m.has_registered()) {
          // Killed while the container was prepared: the executor subscribes
          // as a cold one would, and is refused.
          self->quit();
          return;
        }
        internal::ExecutorRegisteredMessage& reg = *m.mutable_registered();
        st.subscribed.Clear();
        *st.subscribed.mutable_executor_info() = reg.executor_info();
        *st.subscribed.mutable_framework_info() = reg.framework_info();
        *st.subscribed.mutable_framework_info()->mutable_id() = reg.framework_id();
        st.subscribed.mutable_container_id()->set_value(m.container_id());
        st.who = "executor " + reg.executor_info().executor_id().value() + " of framework " + reg.framework_id().value();
        emit("a registration", subscribed_event(reg.slave_info()));
        for (internal::RunTaskMessage& run : *m.mutable_run_tasks()) {
          executor::Event ev = event(executor::Event::LAUNCH);
          *ev.mutable_launch()->mutable_task() = std::move(*run.mutable_task());
          emit("a task", ev);
        }
      },
  };
}

}  // namespace

caf::actor spawn_executor_connection(caf::actor_system& sys, const caf::actor& slave, bool json,
                                     executor::Event::Subscribed subscribed, ExecutorIntroduction intro) {
  return sys.spawn(executor_connection, slave, json, std::move(subscribed), std::move(intro));
}

caf::actor spawn_pooled_executor_connection(caf::actor_system& sys, const caf::actor& slave, const std::string& token,
                                            int32_t pid) {
  internal::ExecutorPoolReadyMessage ready;
  ready.set_token(token);
  ready.set_pid(pid);
  return sys.spawn(executor_connection, slave, true, executor::Event::Subscribed{}, ExecutorIntroduction(ready));
}

}  // namespace stoa::slave
