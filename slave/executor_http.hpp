#pragma once
// Mesos' v1 executor HTTP API on the slave (docs/executor-http-api.md):
// POST /api/v1/executor takes an executor's Call (proto/executor.proto) as
// application/json or application/x-protobuf. SUBSCRIBE is answered with a
// stream of Events framed as RecordIO ("<length>\n<bytes>"); UPDATE, MESSAGE
// and HEARTBEAT with 202 Accepted.
//
// A subscribed executor is, to the slave, an executor actor like any other:
// its connection actor (below) registers with the slave as the executor and
// turns every message the slave sends an executor (ExecutorRegisteredMessage,
// RunTaskMessage, KillTaskMessage, StatusUpdateAcknowledgementMessage, ...)
// into an Event on the stream. When the stream ends (the executor exited or
// its connection broke) the actor exits and the slave, which monitors its
// executors, sees the executor disconnect. So the slave's executor life
// cycle, registration timeout, recovery and acknowledgements are the same
// for both kinds; only the transport differs.

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/http.hpp"
#include "common/try.hpp"
#include "proto/executor.pb.h"
#include "proto/messages.pb.h"

namespace stoa::slave {

// To the slave actor: (executor_api_atom, std::string call, bool json) ->
// http::Response. `call` is a validated executor::Call in protobuf's binary
// form; `json` says how the events of a SUBSCRIBE are encoded.
using executor_api_atom = caf::atom_constant<caf::atom("exec_api")>;
constexpr executor_api_atom executor_api_atom_v{};

// To the slave actor: (executor_pool_atom, std::string token, int32_t pid)
// -> http::Response: a pooled stoa-http-executor's stream, or a refusal.
using executor_pool_atom = caf::atom_constant<caf::atom("exec_pool")>;
constexpr executor_pool_atom executor_pool_atom_v{};

// The media types of the API.
constexpr const char* JSON_TYPE = "application/json";
constexpr const char* PROTOBUF_TYPE = "application/x-protobuf";

// POST /api/v1/executor, answered by `slave`: the body is parsed and
// checked here (400 with what is wrong; 415 for another Content-Type, 406
// for an Accept that admits neither type), the rest by the slave.
http::Route executor_api_route(const caf::actor& slave);

// POST /stoa/executor/pool, Stoa's own (docs/executor-pool.md): a pooled
// stoa-http-executor sends {"token": "<its STOA_POOL_TOKEN>", "pid": <its
// pid>} as application/json; the slave answers a token it started with a
// RecordIO stream of JSON Events (ADOPTED, then SUBSCRIBED and LAUNCH, and
// from there on as a subscribed executor's), any other with 403. A body
// that is not such an object gets 400 naming what is wrong.
http::Route executor_pool_route(const caf::actor& slave);

// The token and pid of a pool call's JSON body, or what is wrong with it.
Try<std::pair<std::string, int32_t>> parse_pool_call(const std::string& body);

// Parses a Call in `content_type` (JSON: unknown fields are ignored, as
// Mesos' parser does). Error: the parser's message or the missing fields.
Try<executor::Call> parse_call(const std::string& body, bool json);
// What is wrong with a parsed Call, or nullopt: ids missing or empty, a type
// without its member, an update without task id, state or a 16-byte uuid,
// TASK_STAGING from an executor, an update naming another executor.
std::optional<std::string> validate_call(const executor::Call& call);

// `event` as one RecordIO record: "<bytes>\n" then the event as JSON
// (proto field names, enums by name, bytes in base64) or protobuf.
std::string event_record(const executor::Event& event, bool json);

// How a connection introduces its executor to the slave once the stream is
// open: as a new executor, or as one coming back (after a slave restart or
// a broken stream) with what it still holds, or as a pooled executor ready
// to adopt a container.
using ExecutorIntroduction = std::variant<internal::RegisterExecutorMessage, internal::ReregisterExecutorMessage,
                                          internal::ExecutorPoolReadyMessage>;

// The connection actor of one SUBSCRIBE: the Response's stream producer.
// `subscribed` is the SUBSCRIBED event's body without agent_info (filled
// from the slave's answer). It exits when its stream closes or `slave` goes.
caf::actor spawn_executor_connection(caf::actor_system& sys, const caf::actor& slave, bool json,
                                     executor::Event::Subscribed subscribed, ExecutorIntroduction intro);

// The connection actor of a pooled stoa-http-executor's stream (JSON): once
// the stream is open it tells the slave the executor is ready
// (ExecutorPoolReadyMessage, as a pooled stoa-executor does); the slave's
// AdoptExecutorMessage becomes an ADOPTED event, then SUBSCRIBED (from its
// registration) and a LAUNCH per task, and from there on it is the
// connection of a subscribed executor. An adoption without registration (the
// launch was killed meanwhile) ends the stream after ADOPTED: the executor
// then subscribes as a cold one and is refused. A ShutdownExecutorMessage
// before adoption becomes SHUTDOWN.
caf::actor spawn_pooled_executor_connection(caf::actor_system& sys, const caf::actor& slave, const std::string& token,
                                            int32_t pid);

}  // namespace stoa::slave
