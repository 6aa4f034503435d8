// /v2/info, /v2/leader, /ping and /metrics (marathon.md §1.1, §1.6).

#include <cstdlib>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "apps/services/rest_internal.hpp"
#include "common/flags.hpp"
#include "common/json.hpp"
#include "common/metrics.hpp"
#include "common/strings.hpp"

namespace stoa::services::rest_detail {

namespace {

// The version /v2/info reports: the Marathon API level we follow.
constexpr const char* MISC_MARATHON_VERSION = "1.10.26";

// A flag's text as JSON: true/false and numbers as such, the rest as strings.
picojson::value misc_flag_value(const std::string& text) {
  if (text == "true" || text == "false") {
    return picojson::value(text == "true");
  }
  if (!text.empty()) {
    char* end = nullptr;
    long long n = std::strtoll(text.c_str(), &end, 10);
    if (end != nullptr && *end == '\0') {
      return picojson::value(static_cast<int64_t>(n));
    }
  }
  return picojson::value(text);
}

// Marathon's duration flags are numbers in /v2/info: milliseconds, but
// failover_timeout in seconds (its flag's unit).
struct MiscDurationFlag {
  const char* name;
  int64_t unit_ms;
};
constexpr MiscDurationFlag MISC_DURATION_FLAGS[] = {
    {"decline_offer_duration", 1},       {"task_launch_timeout", 1}, {"reconciliation_initial_delay", 1},
    {"reconciliation_interval", 1},      {"zk_session_timeout", 1},  {"leader_proxy_read_timeout", 1},
    {"failover_timeout", 1000},
};

// A flag's value for /v2/info: a duration flag as its number, the rest as
// misc_flag_value.
picojson::value misc_info_value(const std::string& name, const std::string& text) {
  for (const MiscDurationFlag& f : MISC_DURATION_FLAGS) {
    if (name != f.name) {
      continue;
    }
    Try<Duration> d = parse_duration(text);
    if (d.is_some()) {
      return picojson::value(
          static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(*d).count() / f.unit_ms));
    }
  }
  return misc_flag_value(text);
}

void misc_info(caf::io::broker* self, const Ctx& ctx, const http::Request&, const http::Responder& respond) {
  LeaderView view = ctx->leadership ? ctx->leadership->get() : LeaderView{true, ctx->self};
  call_core(self, ctx,
            [ctx, view](Core& core, std::function<void(http::Response)> reply) {
              picojson::object o;
              o["name"] = picojson::value("marathon");
              o["version"] = picojson::value(MISC_MARATHON_VERSION);
              o["buildref"] = picojson::value("stoa");
              o["elected"] = picojson::value(view.elected);
              o["leader"] = view.leader.empty() ? picojson::value() : picojson::value(view.leader);
              std::optional<std::string> fid = core.framework_id();
              o["frameworkId"] = fid ? picojson::value(*fid) : picojson::value();
              picojson::object marathon;
              picojson::object zookeeper;
              for (const auto& [name, value] : ctx->flags) {
                if (name == "help") {
                  continue;  // a command-line switch, not configuration
                }
                (name.rfind("zk", 0) == 0 ? zookeeper : marathon)[name] = misc_info_value(name, value);
              }
              marathon["ha"] = picojson::value(!ctx->zk.empty() && !(ctx->flags.count("disable_ha") > 0 &&
                                                                     ctx->flags.at("disable_ha") == "true"));
              if (marathon.count("features") == 0) {
                marathon["features"] = picojson::value(picojson::array());
              }
              const std::string master = core.master_address();
              marathon["mesos_leader_ui_url"] =
                  master.empty() ? picojson::value() : picojson::value("http://" + master + "/");
              zookeeper["zk"] = ctx->zk.empty() ? picojson::value() : picojson::value(ctx->zk);
              o["marathon_config"] = picojson::value(marathon);
              o["zookeeper_config"] = picojson::value(zookeeper);
              picojson::object http_config;
              http_config["http_port"] = ctx->flags.count("http_port") > 0
                                             ? misc_flag_value(ctx->flags.at("http_port"))
                                             : misc_flag_value(ctx->self.substr(ctx->self.rfind(':') + 1));
              http_config["https_port"] = picojson::value(int64_t{8443});
              o["http_config"] = picojson::value(http_config);
              reply(http::json_response(picojson::value(o)));
            },
            respond, true);
}

void misc_leader(caf::io::broker* self, const Ctx& ctx, const http::Request& req, const http::Responder& respond) {
  if (req.method == "GET") {
    LeaderView view = ctx->leadership ? ctx->leadership->get() : LeaderView{true, ctx->self};
    if (view.leader.empty()) {
      respond(message_response(404, "There is no leader"));
      return;
    }
    picojson::object o;
    o["leader"] = picojson::value(view.leader);
    respond(http::json_response(picojson::value(o)));
    return;
  }
  call_core(self, ctx,
            [](Core& core, std::function<void(http::Response)> reply) {
              core.abdicate();
              reply(message_response(200, "Leadership abdicated"));
            },
            respond, true);
}

void misc_ping(const http::Request& req, const http::Responder& respond) {
  auto it = req.headers.find("accept");
  const std::string accept = it == req.headers.end() ? "" : lower(it->second);
  if (accept.empty() || accept.find("text/plain") != std::string::npos || accept.find("*/*") != std::string::npos ||
      accept.find("text/*") != std::string::npos) {
    respond(http::text_response("pong", 200, "text/plain"));
  } else if (accept.find("application/json") != std::string::npos) {
    respond(http::json_response(picojson::value("pong")));
  } else {
    http::Response r;
    r.status = 204;
    respond(std::move(r));
  }
}

// Marathon's /metrics shape (newMetrics.raml) from the process' registry:
// counters as {"count"}, gauges as {"value"}.
void misc_metrics(const Ctx& ctx, const http::Responder& respond) {
  picojson::object counters;
  picojson::object gauges;
  if (ctx->metrics != nullptr) {
    for (const metrics::Sample& s : ctx->metrics->samples()) {
      picojson::object v;
      if (s.type == metrics::Type::COUNTER) {
        v["count"] = json_number(s.value);
        counters[s.name] = picojson::value(v);
      } else {
        v["value"] = json_number(s.value);
        gauges[s.name] = picojson::value(v);
      }
    }
  }
  picojson::object o;
  o["version"] = picojson::value("4.0.0");
  o["counters"] = picojson::value(counters);
  o["gauges"] = picojson::value(gauges);
  o["histograms"] = picojson::value(picojson::object());
  o["meters"] = picojson::value(picojson::object());
  o["timers"] = picojson::value(picojson::object());
  respond(http::json_response(picojson::value(o)));
}

}  // namespace

std::vector<http::Route> misc_routes(const Ctx& ctx) {
  http::Route info;
  info.path = "/v2/info";
  info.help = "Marathon's /v2/info: name, version, leader, elected, frameworkId and the effective flags.";
  info.handler = [ctx](caf::io::broker* self, const http::Request& req, http::Responder respond) {
    misc_info(self, ctx, req, respond);
  };
  http::Route leader;
  leader.path = "/v2/leader";
  leader.methods = {"GET", "DELETE"};
  leader.help = "Marathon's /v2/leader: GET the leader's host:port; DELETE makes the leader abdicate.";
  leader.handler = [ctx](caf::io::broker* self, const http::Request& req, http::Responder respond) {
    misc_leader(self, ctx, req, respond);
  };
  return {info, leader};
}

std::vector<http::Route> local_routes(const Ctx& ctx) {
  http::Route ping;
  ping.path = "/ping";
  ping.help = "Marathon's /ping: \"pong\" (text/plain, or a JSON string for Accept: application/json).";
  ping.handler = [](caf::io::broker*, const http::Request& req, http::Responder respond) { misc_ping(req, respond); };
  http::Route metrics;
  metrics.path = "/metrics";
  metrics.help = "Marathon's /metrics shape over this process' metrics: counters, gauges (and empty "
                 "histograms, meters, timers).";
  metrics.handler = [ctx](caf::io::broker*, const http::Request&, http::Responder respond) {
    misc_metrics(ctx, respond);
  };
  return {ping, metrics};
}

}  // namespace stoa::services::rest_detail
