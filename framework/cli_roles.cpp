// `stoa quota get|set|remove` and `stoa weights get|set` over the master's
// /master/quota and /master/weights.

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "common/json.hpp"
#include "common/resources.hpp"
#include "framework/cli_client.hpp"
#include "framework/cli_commands.hpp"
#include "framework/cli_output.hpp"

namespace stoa::cli {

namespace {

const std::string QUOTA_PATH = "/master/quota";
const std::string WEIGHTS_PATH = "/master/weights";

// The quota entry of `role` in a GET /master/quota answer, or null.
picojson::value quota_of(const picojson::value& quota, const std::string& role) {
  for (const picojson::value& info : array_at(quota, "infos")) {
    if (string_at(info, "role") == role) {
      return info;
    }
  }
  return picojson::value();
}

int print_quota(Context& c, const picojson::value& quota, const std::optional<std::string>& role) {
  picojson::array infos;
  if (role) {
    picojson::value one = quota_of(quota, *role);
    if (one.is<picojson::null>()) {
      return c.fail(Failure{EXIT_NOT_FOUND, "role '" + *role + "' has no quota at " + c.client->base_url()});
    }
    infos.push_back(one);
  } else {
    infos = array_at(quota, "infos");
  }
  if (c.machine()) {
    *c.out << json_serialize(role ? infos.front() : quota) << std::endl;
    return EXIT_OK;
  }
  std::vector<std::vector<std::string>> rows;
  for (const picojson::value& info : infos) {
    rows.push_back({string_at(info, "role"), resources_text(info.get("guarantee"))});
  }
  *c.out << render_table({"ROLE", "GUARANTEE"}, rows);
  return EXIT_OK;
}

// Sends `method` to `path` with a JSON body; the answer's JSON, or a Failure.
Result<picojson::value> send_json(Context& c, const std::string& method, const std::string& path,
                                  const std::string& body) {
  Result<Reply> reply = c.client->call(method, path, body, body.empty() ? "" : "application/json");
  if (!reply) {
    return reply.failure();
  }
  if (reply->status != 200) {
    return failure_of(*reply, method, c.client->base_url() + path);
  }
  Try<picojson::value> parsed = json_parse(reply->body.empty() ? "{}" : reply->body);
  if (parsed.is_error()) {
    return Failure{EXIT_MASTER_ERROR, method + " " + c.client->base_url() + path + " answered no JSON"};
  }
  return *parsed;
}

}  // namespace

Result<std::vector<std::pair<std::string, double>>> parse_weight_args(const std::vector<std::string>& args) {
  std::vector<std::pair<std::string, double>> out;
  for (const std::string& a : args) {
    size_t eq = a.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == a.size()) {
      return Failure{EXIT_USAGE, "invalid weight '" + a + "': expected <role>=<weight>, e.g. web=2"};
    }
    std::string number = a.substr(eq + 1);
    char* end = nullptr;
    double w = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size() || !std::isfinite(w) || w <= 0 ||
        number.find_first_of("xXnN") != std::string::npos) {
      return Failure{EXIT_USAGE, "invalid weight '" + number + "' for role '" + a.substr(0, eq) +
                                     "': expected a positive number"};
    }
    out.emplace_back(a.substr(0, eq), w);
  }
  return out;
}

int run_quota_get(Context& c, const Invocation& inv) {
  Result<picojson::value> quota = get_json(*c.client, QUOTA_PATH);
  if (!quota) {
    return c.fail(quota.failure());
  }
  return print_quota(c, *quota, inv.args.empty() ? std::nullopt : std::optional(inv.args[0]));
}

int run_quota_set(Context& c, const Invocation& inv) {
  const std::string& role = inv.args[0];
  const std::string& text = inv.args[1];
  Try<Resources> parsed = Resources::parse(text);
  if (parsed.is_error()) {
    return c.fail(Failure{EXIT_USAGE, "invalid resources '" + text + "': " + parsed.error()});
  }
  picojson::object body;
  body["role"] = picojson::value(role);
  body["guarantee"] = picojson::value(text);
  Result<picojson::value> answer = send_json(c, "POST", QUOTA_PATH, json_serialize(picojson::value(body)));
  if (!answer) {
    return c.fail(answer.failure());
  }
  Result<picojson::value> quota = get_json(*c.client, QUOTA_PATH);
  if (!quota) {
    return c.fail(quota.failure());
  }
  return print_quota(c, *quota, role);
}

int run_quota_remove(Context& c, const Invocation& inv) {
  const std::string& role = inv.args[0];
  Result<picojson::value> quota = get_json(*c.client, QUOTA_PATH);
  if (!quota) {
    return c.fail(quota.failure());
  }
  if (quota_of(*quota, role).is<picojson::null>()) {
    return c.fail(Failure{EXIT_NOT_FOUND, "role '" + role + "' has no quota at " + c.client->base_url()});
  }
  Result<picojson::value> answer = send_json(c, "DELETE", QUOTA_PATH + "/" + url_encode(role), "");
  if (!answer) {
    return c.fail(answer.failure());
  }
  if (c.machine()) {
    *c.out << json_serialize(*answer) << std::endl;
  } else {
    *c.out << "Removed the quota of role " << role << std::endl;
  }
  return EXIT_OK;
}

int run_weights_get(Context& c, const Invocation&) {
  Result<picojson::value> weights = get_json(*c.client, WEIGHTS_PATH);
  if (!weights) {
    return c.fail(weights.failure());
  }
  if (c.machine()) {
    *c.out << json_serialize(*weights) << std::endl;
    return EXIT_OK;
  }
  std::vector<std::vector<std::string>> rows;
  if (weights->is<picojson::array>()) {
    for (const picojson::value& w : weights->get<picojson::array>()) {
      rows.push_back({string_at(w, "role"), number_text(number_at(w, "weight"))});
    }
  }
  *c.out << render_table({"ROLE", "WEIGHT"}, rows);
  return EXIT_OK;
}

int run_weights_set(Context& c, const Invocation& inv) {
  Result<std::vector<std::pair<std::string, double>>> weights = parse_weight_args(inv.args);
  if (!weights) {
    return c.fail(weights.failure());
  }
  picojson::array body;
  for (const auto& [role, w] : *weights) {
    picojson::object o;
    o["role"] = picojson::value(role);
    o["weight"] = json_number(w);
    body.emplace_back(o);
  }
  Result<picojson::value> answer = send_json(c, "PUT", WEIGHTS_PATH, json_serialize(picojson::value(body)));
  if (!answer) {
    return c.fail(answer.failure());
  }
  return run_weights_get(c, inv);
}

}  // namespace stoa::cli
