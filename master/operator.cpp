// The operator API in the master actor: read-only views (rendered by the
// pure functions of state_json.cpp and operator_json.cpp) and the updates
// of weights and quota, which the allocator actor validates and applies.

#include <caf/all.hpp>

#include "common/json.hpp"
#include "common/logging.hpp"
#include "master/events.hpp"
#include "master/master_actor.hpp"
#include "master/operator_json.hpp"
#include "master/state_json.hpp"
#include "master/validation.hpp"

namespace stoa::master {

namespace {

constexpr auto ALLOCATOR_REQUEST_TIMEOUT = std::chrono::seconds(10);

const std::string QUOTA_PREFIX = "/master/quota/";

}  // namespace

void Master::refresh_gauges() {
  if (check_invariants) {
    verify_tally();  // tests: every scrape also recounts the kept totals
  }
  for (const auto& [name, value] : master_gauges(st, now_seconds())) {
    metrics->set(name, value);
  }
  metrics->set("master/elected", phase == Phase::leading ? 1 : 0);
  metrics->set("master/recovered_slaves", static_cast<double>(st.recovered_slaves.size()));
  metrics->set("master/slaves_unreachable", static_cast<double>(st.unreachable_slaves.size()));
  refresh_utilization_gauges();
}

// Renders a read-only view. Building JSON cannot change state, so an
// unexpected exception here (a value picojson refuses) answers 500 and is
// counted instead of ending the master.
StatusReply Master::render(const std::string& endpoint, const std::map<std::string, std::string>& query) {
  try {
    if (endpoint == "state") {
      std::string body;
      write_state(st, &body);
      return {200, std::move(body)};
    }
    if (endpoint == "state-summary") {
      return {200, json_serialize(state_summary_json(st))};
    }
    if (endpoint == "slaves") {
      return {200, json_serialize(slaves_json(st, query))};
    }
    if (endpoint == "frameworks") {
      std::string body;
      write_frameworks(st, query, &body);
      return {200, std::move(body)};
    }
    if (endpoint == "tasks") {
      std::string error;
      picojson::value v = tasks_json(st, query, &error);
      if (!error.empty()) {
        return json_error(400, error);
      }
      return {200, json_serialize(v)};
    }
    if (endpoint == "utilization") {
      return utilization_reply(query);
    }
    if (endpoint == "metrics") {
      refresh_gauges();
      return {200, metrics->json()};
    }
    if (endpoint == "maintenance-schedule") {
      return {200, json_serialize(maintenance.schedule_json())};
    }
    if (endpoint == "maintenance-status") {
      return {200, json_serialize(maintenance.status_json())};
    }
    if (endpoint == "events") {
      return {200, json_serialize(events::subscribed_json(*this))};
    }
    if (endpoint == "flags") {
      picojson::object flags;
      for (const auto& [k, v] : st.flags) {
        flags[k] = picojson::value(v);
      }
      picojson::object o;
      o["flags"] = picojson::value(flags);
      return {200, json_serialize(picojson::value(o))};
    }
  } catch (const std::exception& e) {
    count("master/http_render_errors");
    LOG_ERROR << "Cannot render /" << endpoint << ": " << e.what();
    return json_error(500, std::string("Cannot render this view: ") + e.what());
  }
  return json_error(404, "Unknown endpoint '" + endpoint + "'");
}

caf::result<int, std::string> Master::on_state_request(const std::string& endpoint,
                                                       const std::map<std::string, std::string>& query) {
  // Paging parameters mean the same on every view; a bad one is an error
  // even where the view does not page (yet), never silently ignored.
  if (std::optional<std::string> bad = check_paging(query)) {
    auto [status, body] = json_error(400, *bad);
    return {status, body};
  }
  if (endpoint == "health") {
    return {200, std::string()};
  }
  if (endpoint == "redirect") {
    auto [status, body] = redirect_reply();
    return {status, body};
  }
  if (renders_in_child(endpoint)) {
    return serve_view_in_child(endpoint, query, false);
  }
  if (endpoint != "roles" && endpoint != "weights" && endpoint != "quota") {
    auto [status, body] = render(endpoint, query);
    return {status, body};
  }
  // Views of the allocator's state: asked from the allocator actor.
  auto rp = self->make_response_promise<int, std::string>();
  self->request(alloc, ALLOCATOR_REQUEST_TIMEOUT, allocator::GetView{})
      .then(
          [this, rp, endpoint](allocator::View& view) mutable {
            picojson::value v = endpoint == "roles"     ? roles_json(st, view)
                                : endpoint == "weights" ? weights_json(view.weights)
                                                        : quota_json(view.quotas);
            rp.deliver(200, json_serialize(v));
          },
          [rp](caf::error& e) mutable {
            auto [status, body] = json_error(503, "The allocator did not answer: " + caf::to_string(e));
            rp.deliver(status, body);
          });
  return rp;
}

caf::result<int, std::string> Master::on_update_request(const std::string& endpoint, const std::string& method,
                                                        const std::string& path, const std::string& body) {
  auto reply = [](StatusReply r) -> caf::result<int, std::string> {
    auto [status, text] = std::move(r);
    return {status, text};
  };
  // Applies `update` in the allocator; on success runs `on_success` with
  // the promise, on refusal answers 400 with the allocator's reason. The
  // promise is made only here: once made, a value returned by the handler
  // would no longer reach the requester.
  auto apply = [this](auto update, auto on_success) {
    auto rp = self->make_response_promise<int, std::string>();
    self->request(alloc, ALLOCATOR_REQUEST_TIMEOUT, std::move(update))
        .then(
            [rp, on_success](const std::string& error) mutable {
              if (!error.empty()) {
                auto [status, text] = json_error(400, error);
                rp.deliver(status, text);
                return;
              }
              on_success(rp);
            },
            [rp](caf::error& e) mutable {
              auto [status, text] = json_error(503, "The allocator did not answer: " + caf::to_string(e));
              rp.deliver(status, text);
            });
    return rp;
  };
  auto answer_with_view = [this](bool weights) {
    return [this, weights](caf::typed_response_promise<int, std::string>& rp) {
      self->request(alloc, ALLOCATOR_REQUEST_TIMEOUT, allocator::GetView{})
          .then(
              [rp, weights](allocator::View& view) mutable {
                picojson::value v = weights ? weights_json(view.weights) : quota_json(view.quotas);
                rp.deliver(200, json_serialize(v));
              },
              [rp](caf::error& e) mutable {
                auto [status, text] = json_error(503, "The allocator did not answer: " + caf::to_string(e));
                rp.deliver(status, text);
              });
    };
  };
  if (endpoint == "teardown" && method == "POST") {
    return reply(teardown_by_operator(body));
  }
  if (endpoint == "kill" && method == "POST") {
    return reply(kill_by_operator(body));
  }
  if (method == "POST" &&
      (endpoint == "maintenance-schedule" || endpoint == "machine-down" || endpoint == "machine-up")) {
    Maintenance next = maintenance_next;
    std::optional<std::string> error = endpoint == "maintenance-schedule" ? next.set_schedule(body)
                                       : endpoint == "machine-down"       ? next.machines_down(body)
                                                                          : next.machines_up(body);
    if (error) {
      return reply(json_error(400, *error));
    }
    maintenance_next = next;
    registry::Operation op;
    *op.mutable_update_maintenance()->mutable_maintenance() = next.to_proto();
    auto rp = self->make_response_promise<int, std::string>();
    // Answered once the registry holds it: a new leader goes on with it.
    registry_apply(std::move(op), [this, rp, next, path, endpoint](bool) mutable {
      maintenance = next;
      LOG_INFO << "Maintenance updated (" << path << "): " << json_serialize(maintenance.status_json());
      rp.deliver(200, json_serialize(endpoint == "maintenance-schedule" ? maintenance.schedule_json()
                                                                        : maintenance.status_json()));
    });
    return rp;
  }
  if (endpoint == "weights" && method == "PUT") {
    Try<std::map<std::string, double>> weights = parse_weights_body(body);
    if (weights.is_error()) {
      return reply(json_error(400, weights.error()));
    }
    std::map<std::string, double> applied = *weights;
    return apply(allocator::UpdateWeights{*weights},
                 [this, applied, view = answer_with_view(true)](caf::typed_response_promise<int, std::string>& p) {
                   registry::Operation op;
                   for (const auto& [role, w] : applied) {
                     st.weights[role] = w;
                     registry::Weight* x = op.mutable_update_weights()->add_weights();
                     x->set_role(role);
                     x->set_weight(w);
                   }
                   // Answered once the registry holds it: a new leader keeps it.
                   registry_apply(std::move(op), [view, p](bool) mutable { view(p); });
                 });
  }
  if (endpoint == "quota" && method == "DELETE") {
    std::string role = path.size() > QUOTA_PREFIX.size() ? path.substr(QUOTA_PREFIX.size()) : "";
    if (role.empty()) {
      return reply(json_error(400, "DELETE needs the role: /master/quota/<role>"));
    }
    return apply(allocator::RemoveQuota{role}, [this, role](caf::typed_response_promise<int, std::string>& p) {
      registry::Operation op;
      op.mutable_remove_quota()->set_role(role);
      registry_apply(std::move(op), [p](bool) mutable { p.deliver(200, std::string("{}")); });
    });
  }
  if (endpoint == "quota" && method == "POST") {
    Try<QuotaRequest> request = parse_quota_body(body);
    if (request.is_error()) {
      return reply(json_error(400, request.error()));
    }
    QuotaRequest q = *request;
    return apply(allocator::SetQuota{q.role, q.guarantee},
                 [this, q, view = answer_with_view(false)](caf::typed_response_promise<int, std::string>& p) {
                   registry::Operation op;
                   registry::Quota* x = op.mutable_update_quota()->mutable_quota();
                   x->set_role(q.role);
                   q.guarantee.to_proto(x->mutable_guarantee());
                   registry_apply(std::move(op), [view, p](bool) mutable { view(p); });
                 });
  }
  return reply(json_error(405, "Method " + method + " is not allowed on " + path));
}

}  // namespace stoa::master
