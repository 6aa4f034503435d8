#include "master/validation.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace stoa::master {

std::optional<std::string> validate_role(const std::string& role) {
  if (role == "*") {
    return std::nullopt;
  }
  if (role.empty()) {
    return "role must not be empty";
  }
  if (role == "." || role == ".." || role[0] == '-') {
    return "invalid role '" + role + "'";
  }
  for (char c : role) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)) ||
        c == '/' || c == '\\' || c == '*') {
      return "invalid role '" + role + "': contains '" + std::string(1, c) + "'";
    }
  }
  return std::nullopt;
}

std::optional<std::string> validate_framework_info(const FrameworkInfo& info,
                                                   const std::optional<std::string>& whitelist) {
  if (info.name().empty()) {
    return "FrameworkInfo.name must not be empty";
  }
  std::vector<std::string> roles(info.roles().begin(), info.roles().end());
  if (roles.empty()) {
    roles.push_back(info.role());
  }
  for (const std::string& r : roles) {
    if (auto e = validate_role(r)) {
      return "FrameworkInfo: " + *e;
    }
    if (whitelist && r != "*") {
      bool found = false;
      size_t s = 0;
      while (s <= whitelist->size()) {
        size_t comma = whitelist->find(',', s);
        std::string w = whitelist->substr(s, comma == std::string::npos ? std::string::npos : comma - s);
        found |= w == r;
        if (comma == std::string::npos) {
          break;
        }
        s = comma + 1;
      }
      if (!found) {
        return "Role '" + r + "' is not present in the master's --roles";
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> validate_offers(const MasterState& st, const std::string& framework_id,
                                           const std::vector<std::string>& offer_ids) {
  if (offer_ids.empty()) {
    return "No offers specified";
  }
  std::set<std::string> seen;
  std::string slave;
  for (const std::string& oid : offer_ids) {
    if (!seen.insert(oid).second) {
      return "Offer " + oid + " appears more than once";
    }
    auto it = st.offers.find(oid);
    if (it == st.offers.end()) {
      return "Offer " + oid + " is no longer valid";
    }
    if (it->second.offer.framework_id().value() != framework_id) {
      return "Offer " + oid + " has invalid framework " + it->second.offer.framework_id().value() +
             " while framework " + framework_id + " is expected";
    }
    const std::string& sid = it->second.offer.slave_id().value();
    if (!slave.empty() && sid != slave) {
      return "Aggregated offers must belong to one single slave; offer " + oid + " is on " + sid +
             " but an earlier one on " + slave;
    }
    slave = sid;
  }
  return std::nullopt;
}

std::optional<std::string> validate_task(const TaskInfo& task, const FrameworkRecord& framework,
                                         const std::string& slave_id, const Resources& available,
                                         const std::set<std::string>& seen, Resources* resources) {
  const std::string& id = task.task_id().value();
  if (id.empty()) {
    return "Task ID must not be empty";
  }
  for (char c : id) {
    if (std::iscntrl(static_cast<unsigned char>(c)) || std::isspace(static_cast<unsigned char>(c)) ||
        c == '/' || c == '\\') {
      return "Task ID '" + id + "' contains invalid characters";
    }
  }
  if (framework.tasks.count(id) || seen.count(id)) {
    return "Task ID '" + id + "' is already in use";
  }
  if (task.slave_id().value() != slave_id) {
    return "Task uses slave " + task.slave_id().value() + " but the offer is for slave " + slave_id;
  }
  if (task.has_executor()) {
    return "Tasks with a custom executor are not supported yet; use TaskInfo.command";
  }
  if (!task.has_command()) {
    return "Task has neither a command nor an executor";
  }
  if (task.command().shell() && task.command().value().empty()) {
    return "Task's shell command is empty";
  }
  if (!task.command().shell() && !task.command().has_value() && task.command().arguments_size() == 0) {
    return "Task's command has no program";
  }
  Try<Resources> r = Resources::from_proto(task.resources());
  if (r.is_error()) {
    return "Task has invalid resources: " + r.error();
  }
  if (r->empty()) {
    return "Task uses no resources";
  }
  if (!available.contains(*r)) {
    return "Task uses more resources " + r->to_string() + " than available " + available.to_string();
  }
  *resources = *r;
  return std::nullopt;
}

Try<std::map<std::string, double>> parse_weights(const std::string& text) {
  std::map<std::string, double> out;
  size_t s = 0;
  while (s <= text.size()) {
    size_t comma = text.find(',', s);
    std::string entry = text.substr(s, comma == std::string::npos ? std::string::npos : comma - s);
    size_t eq = entry.find('=');
    if (eq == std::string::npos) {
      return Error("invalid weight '" + entry + "' (expected role=weight)");
    }
    std::string role = entry.substr(0, eq);
    if (auto e = validate_role(role)) {
      return Error("invalid weight '" + entry + "': " + *e);
    }
    std::string num = entry.substr(eq + 1);
    char* end = nullptr;
    double w = num.empty() ? NAN : std::strtod(num.c_str(), &end);
    if (num.empty() || end != num.c_str() + num.size() || !std::isfinite(w) || w <= 0) {
      return Error("invalid weight '" + entry + "' (must be a positive number)");
    }
    out[role] = w;
    if (comma == std::string::npos) {
      break;
    }
    s = comma + 1;
  }
  return out;
}

}  // namespace stoa::master
