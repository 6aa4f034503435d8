#include "master/events.hpp"

#include <chrono>
#include <map>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/actor_route.hpp"
#include "actors/atoms.hpp"
#include "actors/runtime.hpp"
#include "common/json.hpp"
#include "master/master_actor.hpp"
#include "master/state_json.hpp"
#include "master/state_json_internal.hpp"

namespace stoa::master {

namespace {

// How long the route waits for the master's SUBSCRIBED (or its redirect).
constexpr auto EVENTS_ATTACH_TIMEOUT = std::chrono::seconds(10);

picojson::value wrap(const char* key, picojson::value v) {
  picojson::object o;
  o[key] = std::move(v);
  return picojson::value(o);
}

}  // namespace

namespace events {

const std::vector<std::string>& event_types() {
  static const std::vector<std::string> types = {
      "SUBSCRIBED",      "TASK_ADDED",        "TASK_UPDATED",      "AGENT_ADDED",
      "AGENT_UPDATED",   "AGENT_REMOVED",     "FRAMEWORK_ADDED",   "FRAMEWORK_UPDATED",
      "FRAMEWORK_REMOVED", "UTILIZATION"};
  return types;
}

bool listening(const Master& m) { return m.opts.events.listening(); }

void publish_json(const Master& m, const std::string& type, const picojson::value& data) {
  sse::publish(m.opts.events, type, json_serialize(data));
}

void task_added(const Master& m, const Task& task) {
  publish(m, "TASK_ADDED", [&] { return wrap("task", task_json(task)); });
}

void task_updated(const Master& m, const Task& task, const TaskStatus& status) {
  publish(m, "TASK_UPDATED", [&] {
    picojson::value s = task_status_json(status);
    // The reason, message and source of the update (the UI's failure
    // history); /master/state's statuses carry them too once they are set.
    auto& so = s.get<picojson::object>();
    if (status.has_reason() && so.count("reason") == 0) {
      so["reason"] = picojson::value(TaskStatus::Reason_Name(status.reason()));
    }
    if (status.has_message() && !status.message().empty() && so.count("message") == 0) {
      so["message"] = picojson::value(status.message());
    }
    if (status.has_source() && so.count("source") == 0) {
      so["source"] = picojson::value(TaskStatus::Source_Name(status.source()));
    }
    picojson::object o;
    o["framework_id"] = picojson::value(task.framework_id().value());
    o["task_id"] = picojson::value(task.task_id().value());
    o["slave_id"] = picojson::value(task.slave_id().value());
    o["state"] = picojson::value(TaskState_Name(task.state()));
    o["status"] = s;
    return picojson::value(o);
  });
}

void slave_added(const Master& m, const SlaveRecord& slave) {
  publish(m, "AGENT_ADDED", [&] { return wrap("agent", slave_json(m.st, slave)); });
}

void slave_updated(const Master& m, const SlaveRecord& slave) {
  publish(m, "AGENT_UPDATED", [&] { return wrap("agent", slave_json(m.st, slave)); });
}

void slave_removed(const Master& m, const std::string& slave_id) {
  publish(m, "AGENT_REMOVED", [&] { return wrap("agent_id", picojson::value(slave_id)); });
}

void framework_added(const Master& m, const FrameworkRecord& framework) {
  // The framework's own fields: /master/state's object without its task
  // arrays, written without rendering any task.
  publish(m, "FRAMEWORK_ADDED", [&] { return wrap("framework", picojson::value(framework_head(m.st, framework))); });
}

void framework_updated(const Master& m, const FrameworkRecord& framework) {
  // The framework's own fields: /master/state's object without its task
  // arrays, written without rendering any task.
  publish(m, "FRAMEWORK_UPDATED", [&] { return wrap("framework", picojson::value(framework_head(m.st, framework))); });
}

void framework_removed(const Master& m, const std::string& framework_id) {
  publish(m, "FRAMEWORK_REMOVED", [&] { return wrap("framework_id", picojson::value(framework_id)); });
}

picojson::value subscribed_json(const Master& m) {
  picojson::object o;
  o["master_id"] = picojson::value(m.st.info.id());
  o["leader"] = picojson::value(m.st.info.pid());
  auto heartbeat = std::chrono::duration<double>(m.opts.events.options.heartbeat).count();
  o["heartbeat_interval_seconds"] = picojson::value(heartbeat);
  return picojson::value(o);
}

}  // namespace events

void register_events_route(Runtime& runtime, const caf::actor& master, const sse::Hub& hub) {
  auto on_attach = [master](caf::io::broker* self, const http::Request& req,
                            std::function<void(sse::AttachResult)> done) {
    std::string target = req.path + (req.query_string.empty() ? "" : "?" + req.query_string);
    self->request(master, EVENTS_ATTACH_TIMEOUT, state_atom_v, std::string("events"),
                  std::map<std::string, std::string>{})
        .then(
            [done, target](int status, std::string& body) {
              if (status == 200) {
                done(sse::Event{"SUBSCRIBED", std::move(body)});
                return;
              }
              // As every other endpoint: a 307's body is the leader's base URL.
              done(component_response(status, std::move(body), target));
            },
            [done](caf::error& e) {
              done(http::error_response(503, "No answer from the master: " + caf::to_string(e)));
            });
  };
  runtime.add_route(sse::route(hub, "/master/events",
                               "Server-sent events (text/event-stream): SUBSCRIBED, then TASK_ADDED, "
                               "TASK_UPDATED, AGENT_*, FRAMEWORK_*, UTILIZATION as they happen; "
                               "?types=A,B filters (docs/events.md).",
                               events::event_types(), on_attach));
}

}  // namespace stoa::master
