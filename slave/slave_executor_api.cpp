// The slave's side of Mesos' v1 executor HTTP API (slave/executor_http.hpp,
// docs/executor-http-api.md): a Call the route has parsed and checked is
// answered here, against the slave's records. A SUBSCRIBE gets a connection
// actor that introduces the executor to this slave as a RegisterExecutor-
// Message (a new executor) or a ReregisterExecutorMessage (one coming back
// while the slave recovers it, or after its stream broke), so what follows
// is the executor life cycle of slave_executors.cpp / slave_recovery.cpp.

#include <caf/all.hpp>

#include "common/logging.hpp"
#include "common/uuid.hpp"
#include "slave/executor_http.hpp"
#include "slave/slave_actor.hpp"

namespace stoa::slave {

using namespace internal;

namespace {

const char* phase_name(Executor::Phase p) {
  switch (p) {
    case Executor::Phase::LAUNCHING:
      return "launching";
    case Executor::Phase::RUNNING:
      return "running";
    case Executor::Phase::TERMINATING:
      return "terminating";
    case Executor::Phase::TERMINATED:
      return "terminated";
    case Executor::Phase::RECOVERING:
      return "recovering";
  }
  return "unknown";
}

// The StatusUpdate an executor of `call` sends as `status`, as an executor
// actor's driver would have wrapped it: the update's uuid and time are the
// status's (the time it was made, else now).
StatusUpdate status_update(const executor::Call& call, const TaskStatus& status) {
  StatusUpdate u;
  *u.mutable_framework_id() = call.framework_id();
  *u.mutable_executor_id() = call.executor_id();
  *u.mutable_status() = status;
  u.mutable_status()->set_source(TaskStatus::SOURCE_EXECUTOR);
  *u.mutable_status()->mutable_executor_id() = call.executor_id();
  if (!u.status().has_timestamp()) {
    u.mutable_status()->set_timestamp(now_seconds());
  }
  u.set_timestamp(u.status().timestamp());
  u.set_uuid(u.status().uuid());
  return u;
}

// 202, no body: an UPDATE, MESSAGE or HEARTBEAT taken.
http::Response accepted() {
  http::Response r;
  r.status = 202;
  return r;
}

}  // namespace

http::Response Slave::on_executor_call(const std::string& bytes, bool json) {
  executor::Call call;
  if (!call.ParsePartialFromString(bytes)) {
    return http::error_response(400, "Failed to parse the call");  // the route sent it: cannot happen
  }
  const std::string& fid = call.framework_id().value();
  const std::string& eid = call.executor_id().value();
  auto f = records.frameworks.find(fid);
  if (f == records.frameworks.end()) {
    return http::error_response(400, "Framework '" + fid + "' is not known to this slave");
  }
  auto it = f->second.executors.find(eid);
  if (it == f->second.executors.end()) {
    return http::error_response(400, "Executor '" + eid + "' of framework '" + fid + "' is not known to this slave");
  }
  Executor& e = it->second;
  if (call.type() == executor::Call::SUBSCRIBE) {
    return subscribe_executor(f->second, e, call, json);
  }
  if (call.type() != executor::Call::HEARTBEAT && (!e.http || !e.handle)) {
    return http::error_response(403, "Executor '" + eid + "' of framework '" + fid + "' is not subscribed");
  }
  switch (call.type()) {
    case executor::Call::UPDATE: {
      StatusUpdateMessage m;
      *m.mutable_update() = status_update(call, call.update().status());
      executor_update(m, e.handle);  // acknowledged on its stream
      return accepted();
    }
    case executor::Call::MESSAGE: {
      ExecutorToFrameworkMessage m;
      m.mutable_slave_id()->set_value(records.slave_id);
      *m.mutable_framework_id() = call.framework_id();
      *m.mutable_executor_id() = call.executor_id();
      m.set_data(call.message().data());
      on_executor_message(m);
      return accepted();
    }
    default:  // HEARTBEAT (the route let no other type through)
      return accepted();
  }
}

http::Response Slave::subscribe_executor(Framework& f, Executor& e, const executor::Call& call, bool json) {
  ExecutorIntroduction intro;
  if (e.phase == Executor::Phase::LAUNCHING) {
    RegisterExecutorMessage m;
    *m.mutable_framework_id() = call.framework_id();
    *m.mutable_executor_id() = call.executor_id();
    intro = std::move(m);
  } else if (e.phase == Executor::Phase::RECOVERING || (e.phase == Executor::Phase::RUNNING && e.http && !e.handle)) {
    // Back after this slave restarted, or after its stream broke: what it
    // holds decides which tasks are lost and which updates still count.
    ReregisterExecutorMessage m;
    *m.mutable_framework_id() = call.framework_id();
    *m.mutable_executor_id() = call.executor_id();
    for (const TaskInfo& t : call.subscribe().unacknowledged_tasks()) {
      *m.add_tasks() = t;
    }
    for (const executor::Call::Update& up : call.subscribe().unacknowledged_updates()) {
      *m.add_updates() = status_update(call, up.status());
    }
    intro = std::move(m);
  } else {
    return http::error_response(403, "Executor '" + e.executor_id + "' of framework '" + e.framework_id + "' is " +
                                         phase_name(e.phase) + (e.handle ? " and subscribed" : "") +
                                         ": it cannot subscribe now");
  }
  e.http = true;
  executor::Event::Subscribed subscribed;
  ExecutorRegisteredMessage answer = registration_answer(e, f);
  *subscribed.mutable_executor_info() = answer.executor_info();
  *subscribed.mutable_framework_info() = answer.framework_info();
  subscribed.mutable_framework_info()->mutable_id()->set_value(e.framework_id);
  subscribed.mutable_container_id()->set_value(e.container_id);
  http::Response r;
  r.content_type = json ? JSON_TYPE : PROTOBUF_TYPE;
  r.stream_producer = spawn_executor_connection(self->system(), caf::actor_cast<caf::actor>(self), json,
                                                std::move(subscribed), std::move(intro));
  LOG_INFO << "Executor " << e.executor_id << " of framework " << e.framework_id << " subscribed over HTTP ("
           << (json ? "JSON" : "protobuf") << ")";
  return r;
}

}  // namespace stoa::slave
