#include "tests/chaos/chaos_checks.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "common/json.hpp"

namespace stoa::chaos {

std::string RecordLine::str(const std::string& key) const {
  auto it = fields.find(key);
  return it != fields.end() && it->second.is<std::string>() ? it->second.get<std::string>()
                                                            : std::string();
}

double RecordLine::num(const std::string& key) const {
  auto it = fields.find(key);
  return it != fields.end() && it->second.is<double>() ? it->second.get<double>() : -1;
}

Try<std::vector<RecordLine>> parse_record(const std::string& text) {
  std::vector<RecordLine> out;
  std::istringstream in(text);
  std::string line;
  size_t number = 0;
  bool cut = false;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) {
      continue;
    }
    if (cut) {
      return Error("record line " + std::to_string(number - 1) +
                   " is not JSON and not the last line");
    }
    Try<picojson::value> v = json_parse(line);
    if (v.is_error() || !v->is<picojson::object>()) {
      if (in.peek() == std::char_traits<char>::eof()) {
        continue;  // the last line, cut short by a kill
      }
      cut = true;
      continue;
    }
    RecordLine r;
    r.fields = v->get<picojson::object>();
    r.type = r.str("type");
    double t = r.num("t");
    if (r.type.empty() || t < 0) {
      return Error("record line " + std::to_string(number) + " lacks \"type\" or \"t\": " + line);
    }
    r.t = static_cast<int64_t>(t);
    out.push_back(std::move(r));
  }
  if (cut) {
    return Error("record line " + std::to_string(number) + " is not JSON and not the last line");
  }
  return out;
}

namespace {

bool terminal_name(const std::string& s) {
  static const std::set<std::string> terminal = {
      "TASK_FINISHED", "TASK_FAILED",  "TASK_KILLED", "TASK_ERROR",
      "TASK_LOST",     "TASK_DROPPED", "TASK_GONE",   "TASK_GONE_BY_OPERATOR"};
  return terminal.contains(s);
}

int state_rank(const std::string& s) {
  if (s == "TASK_STAGING") {
    return 0;
  }
  if (s == "TASK_STARTING") {
    return 1;
  }
  if (s == "TASK_RUNNING" || s == "TASK_KILLING" || s == "TASK_UNREACHABLE") {
    return 2;
  }
  return terminal_name(s) ? 3 : 2;
}

struct Launch {
  int64_t t = 0;
  int logical = -1;
  int attempt = -1;
  std::string token;
};

std::map<std::string, Launch> launches_of(const CheckInput& in,
                                          std::vector<std::string>* violations) {
  std::map<std::string, Launch> launches;
  for (const RecordLine& r : in.record) {
    if (r.type != "launch") {
      continue;
    }
    std::string id = r.str("task");
    if (launches.contains(id)) {
      violations->push_back("task id " + id +
                            " was launched twice (a relaunch must have a new id)");
      continue;
    }
    Launch l;
    l.t = r.t;
    l.logical = static_cast<int>(r.num("logical"));
    l.attempt = static_cast<int>(r.num("attempt"));
    l.token = r.str("token");
    launches[id] = l;
  }
  return launches;
}

std::string describe(const RecordLine& u) {
  std::string s = u.str("state") + " at " + std::to_string(u.t);
  s += u.str("uuid").empty() ? " (no uuid" : " (uuid " + u.str("uuid").substr(0, 8);
  s += u.str("reason").empty() ? ")" : ", " + u.str("reason") + ")";
  return s;
}

}  // namespace

std::vector<std::string> lost_then_ended(const CheckInput& in) {
  std::map<std::string, std::string> first;  // task -> first terminal "STATE/REASON"
  std::vector<std::string> out;
  for (const RecordLine& r : in.record) {
    if (r.type != "update" || !terminal_name(r.str("state"))) {
      continue;
    }
    std::string id = r.str("task");
    auto [it, inserted] = first.emplace(id, r.str("state") + "/" + r.str("reason"));
    if (!inserted && it->second == "TASK_LOST/REASON_SLAVE_REMOVED" &&
        r.str("state") != "TASK_LOST") {
      out.push_back(id);
      it->second = "reported";
    }
  }
  return out;
}

std::vector<std::string> check_terminal_states(const CheckInput& in) {
  std::vector<std::string> v;
  std::map<std::string, Launch> launches = launches_of(in, &v);
  // task id -> its distinct terminal states in the order they first came
  std::map<std::string, std::vector<std::pair<std::string, const RecordLine*>>> terminals;
  for (const RecordLine& r : in.record) {
    if (r.type != "update" || !terminal_name(r.str("state"))) {
      continue;
    }
    std::string id = r.str("task");
    if (!launches.contains(id)) {
      v.push_back("update " + describe(r) + " for task " + id +
                  ", which the checker never launched");
      continue;
    }
    auto& seen = terminals[id];
    if (std::none_of(seen.begin(), seen.end(),
                     [&](const auto& p) { return p.first == r.str("state"); })) {
      seen.emplace_back(r.str("state"), &r);
    }
  }
  // A task of a slave marked unreachable is TASK_LOST for the master, "although
  // it may still be running" (Mesos, for frameworks that are not partition-
  // aware): its real end may follow once. Such a task counts by its first end.
  auto lost_by_removal = [&](const std::string& id) {
    const auto& seen = terminals[id];
    return !seen.empty() && seen.front().first == "TASK_LOST" &&
           seen.front().second->str("reason") == "REASON_SLAVE_REMOVED";
  };
  std::map<int, std::vector<std::string>> finished_ids;  // logical -> ids that finished first
  std::map<std::pair<int, int>, std::string> attempt_ids;
  for (const auto& [id, l] : launches) {
    attempt_ids[{l.logical, l.attempt}] = id;
    auto it = terminals.find(id);
    if (it == terminals.end()) {
      v.push_back("task " + id + " (launched at " + std::to_string(l.t) +
                  ") never reached a terminal state");
      continue;
    }
    size_t allowed = lost_by_removal(id) ? 2 : 1;
    if (it->second.size() > allowed) {
      std::string all;
      for (const auto& [state, first] : it->second) {
        all += (all.empty() ? "" : ", ") + describe(*first);
      }
      v.push_back("task " + id + " reached " + std::to_string(it->second.size()) +
                  " terminal states: " + all);
    }
    if (it->second.front().first == "TASK_FINISHED") {
      finished_ids[l.logical].push_back(id);
    }
  }
  for (int k = 0; k < in.tasks; ++k) {
    auto it = finished_ids.find(k);
    if (it == finished_ids.end()) {
      v.push_back("logical task " + std::to_string(k) + " never finished");
    } else if (it->second.size() > 1) {
      v.push_back("logical task " + std::to_string(k) + " finished " +
                  std::to_string(it->second.size()) + " times: " + it->second.front() + " and " +
                  it->second.back());
    }
  }
  for (const auto& [key, id] : attempt_ids) {
    if (key.second == 0) {
      continue;
    }
    auto prev = attempt_ids.find({key.first, key.second - 1});
    if (prev == attempt_ids.end()) {
      v.push_back("task " + id + " is attempt " + std::to_string(key.second) + " but attempt " +
                  std::to_string(key.second - 1) + " was never launched");
      continue;
    }
    auto ended = terminals.find(prev->second);
    int64_t launched = launches[id].t;
    if (ended == terminals.end() || ended->second.front().second->t > launched) {
      v.push_back("task " + id + " was relaunched at " + std::to_string(launched) + " before " +
                  prev->second + " reached a terminal state");
    } else if (ended->second.front().first == "TASK_FINISHED") {
      v.push_back("task " + id + " was relaunched although " + prev->second + " had finished");
    }
  }
  return v;
}

std::vector<std::string> check_update_order(const CheckInput& in) {
  std::vector<std::string> v;
  struct Seen {
    int rank = -1;
    std::string last_state;
    std::string terminal_uuid;
  };
  std::map<std::string, Seen> seen;
  std::set<std::pair<std::string, std::string>> acked;
  for (const RecordLine& r : in.record) {
    if (r.type == "ack") {
      acked.emplace(r.str("task"), r.str("uuid"));
    }
  }
  for (const RecordLine& r : in.record) {
    if (r.type != "update" || r.str("uuid").empty()) {
      continue;
    }
    std::string id = r.str("task");
    std::string uuid = r.str("uuid");
    if (!acked.contains({id, uuid})) {
      v.push_back("update " + describe(r) + " of task " + id + " was never acknowledged");
    }
    Seen& s = seen[id];
    if (!s.terminal_uuid.empty()) {
      if (uuid != s.terminal_uuid) {
        v.push_back("update " + describe(r) + " of task " + id +
                    " came after its acknowledged terminal update");
      }
      continue;
    }
    int rank = state_rank(r.str("state"));
    if (rank < s.rank) {
      v.push_back("update " + describe(r) + " of task " + id + " came after " + s.last_state +
                  " (reordered)");
      continue;
    }
    s.rank = rank;
    s.last_state = r.str("state");
    if (terminal_name(s.last_state)) {
      s.terminal_uuid = uuid;
    }
  }
  // The master keeps its TASK_LOST for a task whose real end came later.
  std::vector<std::string> late = lost_then_ended(in);
  for (const auto& [id, state] : in.master_tasks) {
    auto it = seen.find(id);
    if (it == seen.end() || it->second.terminal_uuid.empty()) {
      continue;
    }
    bool removal_verdict =
        state == "TASK_LOST" && std::find(late.begin(), late.end(), id) != late.end();
    if (state != it->second.last_state && !removal_verdict) {
      v.push_back("the leader has task " + id + " as " + state + " but " + it->second.last_state +
                  " was acknowledged");
    }
  }
  return v;
}

std::vector<std::string> check_update_sources(const CheckInput& in) {
  std::vector<std::string> v;
  std::vector<LeaderTerm> terms = in.terms;
  std::sort(terms.begin(), terms.end(),
            [](const LeaderTerm& a, const LeaderTerm& b) { return a.from < b.from; });
  // A term ends when its master stops leading or another master is elected.
  for (size_t i = 0; i + 1 < terms.size(); ++i) {
    terms[i].to = std::min(terms[i].to, terms[i + 1].from);
  }
  for (const RecordLine& r : in.record) {
    if (r.type != "update" || r.str("master_id").empty()) {
      continue;
    }
    std::string master = r.str("master_id");
    bool led = false;
    bool known = false;
    for (const LeaderTerm& term : terms) {
      if (term.master_id != master) {
        continue;
      }
      known = true;
      if (r.t >= term.from && r.t <= term.to + in.in_flight_slack_ms) {
        led = true;
        break;
      }
    }
    if (!known) {
      v.push_back("update " + describe(r) + " of task " + r.str("task") + " came from master " +
                  master + ", which never led");
    } else if (!led) {
      v.push_back("update " + describe(r) + " of task " + r.str("task") + " came from master " +
                  master + " while it was not the leader");
    }
  }
  return v;
}

std::vector<std::string> check_tokens(const CheckInput& in) {
  std::vector<std::string> v;
  std::vector<std::string> ignored;
  std::map<std::string, Launch> launches = launches_of(in, &ignored);
  std::map<std::string, std::string> task_of_token;
  for (const auto& [id, l] : launches) {
    task_of_token[l.token] = id;
  }
  for (const auto& [token, paths] : in.tokens) {
    if (!task_of_token.contains(token)) {
      v.push_back("token '" + token + "' in " + paths.front() + " belongs to no launched task");
    } else if (paths.size() > 1) {
      v.push_back("token of task " + task_of_token[token] + " is in " +
                  std::to_string(paths.size()) + " sandboxes (" + paths[0] + ", " + paths[1] +
                  "): the task ran twice");
    }
  }
  std::set<std::string> finished;
  for (const RecordLine& r : in.record) {
    if (r.type == "update" && r.str("state") == "TASK_FINISHED" && !r.str("uuid").empty()) {
      finished.insert(r.str("task"));
    }
  }
  for (const std::string& id : finished) {
    auto it = launches.find(id);
    if (it != launches.end() && !in.tokens.contains(it->second.token)) {
      v.push_back("task " + id + " finished but its token is in no sandbox");
    }
  }
  return v;
}

std::vector<std::string> check_all(const CheckInput& in) {
  std::vector<std::string> all;
  for (auto* check :
       {&check_terminal_states, &check_update_order, &check_update_sources, &check_tokens}) {
    std::vector<std::string> v = check(in);
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

std::optional<int64_t> next_successful_launch(const std::vector<RecordLine>& record,
                                              int64_t after) {
  std::set<std::string> launched;
  for (const RecordLine& r : record) {
    if (r.type == "launch" && r.t >= after) {
      launched.insert(r.str("task"));
    }
    if (r.type == "update" && launched.contains(r.str("task")) &&
        (r.str("state") == "TASK_RUNNING" || r.str("state") == "TASK_FINISHED")) {
      return r.t - after;
    }
  }
  return std::nullopt;
}

std::string distribution(std::vector<int64_t> ms) {
  if (ms.empty()) {
    return "none";
  }
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))];
  };
  char buf[200];
  std::snprintf(buf, sizeof(buf), "min %.2fs p50 %.2fs p90 %.2fs max %.2fs (n=%zu)",
                static_cast<double>(ms.front()) / 1000, static_cast<double>(at(0.5)) / 1000,
                static_cast<double>(at(0.9)) / 1000, static_cast<double>(ms.back()) / 1000,
                ms.size());
  return buf;
}

}  // namespace stoa::chaos
