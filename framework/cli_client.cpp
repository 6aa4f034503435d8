// The CLI's master client: an actor system of its own with the middleman,
// and a scoped actor that waits for each answer in the CLI's main thread
// (never inside an actor; cookbook: scoped_actor only outside behaviors).

#include "framework/cli_client.hpp"

#include <chrono>
#include <optional>

#include <algorithm>
#include <cctype>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include "actors/buffered_tcp.hpp"
#include "actors/http.hpp"
#include "actors/http_client.hpp"
#include "actors/master_detector.hpp"
#include "common/json.hpp"

namespace stoa::cli {

namespace {

// 307s followed before giving up (a leader change while we follow one).
constexpr int MAX_REDIRECTS = 3;
// The CAF request waits this much longer than the HTTP client's own timeout,
// so the client's error (not a generic one) wins.
constexpr auto CLI_REQUEST_SLACK = std::chrono::seconds(1);

std::string error_text(const caf::error& e) {
  const caf::message& ctx = e.context();
  if (ctx.match_elements<std::string>()) {
    return ctx.get_as<std::string>(0);
  }
  return caf::to_string(e);
}

caf::actor_system_config& cli_config(caf::actor_system_config& cfg) {
  load_middleman(cfg);
  cfg.set("scheduler.max-threads", 2);
  cfg.set("middleman.workers", static_cast<size_t>(0));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  return cfg;
}

class HttpMasterClient : public MasterClient {
 public:
  explicit HttpMasterClient(Globals globals) : globals_(std::move(globals)), sys_(cli_config(cfg_)) {}

  Result<Reply> call(const std::string& method, const std::string& path, const std::string& body,
                     const std::string& content_type) override {
    if (!host_) {
      if (std::optional<Failure> f = resolve()) {
        return *f;
      }
    }
    std::string target = path;
    for (int hop = 0; hop <= MAX_REDIRECTS; ++hop) {
      Result<Reply> reply = send_once(method, target, body, content_type);
      if (!reply || reply->status != 307) {
        return reply;
      }
      auto loc = reply->headers.find("location");
      if (loc == reply->headers.end()) {
        return reply;
      }
      // "//host:port/path?query" or "http://host:port/path?query".
      std::string l = loc->second;
      if (l.rfind("http://", 0) == 0) {
        l = l.substr(5);
      }
      if (l.rfind("//", 0) != 0) {
        return Failure{EXIT_MASTER_ERROR, "the master at " + base_url() + " redirected to '" + loc->second +
                                              "', which names no master"};
      }
      l = l.substr(2);
      size_t slash = l.find('/');
      Result<std::pair<std::string, int>> address = parse_master_address(l.substr(0, slash));
      if (!address) {
        return Failure{EXIT_MASTER_ERROR, "the master at " + base_url() + " redirected to '" + loc->second +
                                              "', which names no master"};
      }
      host_ = address->first;
      port_ = address->second;
      target = slash == std::string::npos ? path : l.substr(slash);
    }
    return Failure{EXIT_MASTER_ERROR, "more than " + std::to_string(MAX_REDIRECTS) + " redirects, last to " +
                                          base_url() + path};
  }

  std::string base_url() const override {
    if (!host_) {
      return globals_.master;
    }
    return "http://" + *host_ + ":" + std::to_string(port_);
  }

 private:
  std::chrono::milliseconds timeout() const {
    return std::max(std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(globals_.timeout));
  }

  // Finds the master's address: fixed, or the leader elected in ZooKeeper.
  std::optional<Failure> resolve() {
    if (!detector::is_detected(globals_.master)) {
      Result<std::pair<std::string, int>> address = parse_master_address(globals_.master);
      if (!address) {
        return address.failure();
      }
      host_ = address->first;
      port_ = address->second;
      return std::nullopt;
    }
    caf::scoped_actor self{sys_};
    detector::Options opts;
    opts.master = globals_.master;
    opts.subscriber = self;
    Try<caf::actor> d = detector::spawn_detector(sys_, opts);
    if (d.is_error()) {
      return Failure{EXIT_USAGE, "invalid --master: " + d.error()};
    }
    auto deadline = std::chrono::steady_clock::now() + timeout();
    std::optional<std::string> pid;
    bool waiting = true;
    while (waiting && !pid) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) {
        break;
      }
      self->receive(
          [&](detector::leader_atom, const detector::Leader& leader) {
            if (!leader.pid.empty()) {
              pid = leader.pid;
            }
          },
          [&](detector::lost_atom, const std::string&) { waiting = false; },
          caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(left)) >> [&] { waiting = false; });
    }
    caf::anon_send_exit(*d, caf::exit_reason::user_shutdown);
    if (!pid) {
      return Failure{EXIT_UNREACHABLE, "no leading master found in " + globals_.master + " within " +
                                           format_duration(globals_.timeout)};
    }
    std::string address = pid->substr(pid->find('@') == std::string::npos ? 0 : pid->find('@') + 1);
    Result<std::pair<std::string, int>> parsed = parse_master_address(address);
    if (!parsed) {
      return Failure{EXIT_MASTER_ERROR, "the leader in " + globals_.master + " has an unusable pid '" + *pid + "'"};
    }
    host_ = parsed->first;
    port_ = parsed->second;
    return std::nullopt;
  }

  Result<Reply> send_once(const std::string& method, const std::string& path, const std::string& body,
                          const std::string& content_type) {
    http::ClientRequest req;
    req.method = method;
    req.host = *host_;
    req.port = static_cast<uint16_t>(port_);
    req.path = path;
    req.body = body;
    if (!content_type.empty()) {
      req.headers.emplace_back("Content-Type", content_type);
    }
    req.headers.emplace_back("Accept", "application/json");
    req.timeout = timeout();
    const std::string url = base_url() + path;
    std::optional<Result<Reply>> out;
    caf::scoped_actor self{sys_};
    self->request(http::spawn_request(sys_, req), req.timeout + CLI_REQUEST_SLACK, http::go_atom_v)
        .receive(
            [&](http::Response& r) {
              Reply reply;
              reply.status = r.status;
              reply.body = std::move(r.body);
              reply.content_type = std::move(r.content_type);
              for (auto& [name, value] : r.headers) {
                reply.headers[name] = value;
              }
              out = reply;
            },
            [&](caf::error& e) {
              if (e == caf::sec::request_timeout) {
                out = Failure{EXIT_TIMED_OUT, "no answer from " + url + " within " + format_duration(globals_.timeout)};
              } else if (e == caf::sec::cannot_connect_to_node) {
                out = Failure{EXIT_UNREACHABLE, "cannot reach the master at " + url + ": " + error_text(e)};
              } else {
                out = Failure{EXIT_MASTER_ERROR, "bad answer from " + url + ": " + error_text(e)};
              }
            });
    return *out;
  }

  Globals globals_;
  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  std::optional<std::string> host_;
  int port_ = 0;
};

}  // namespace

std::unique_ptr<MasterClient> make_master_client(const Globals& globals) {
  return std::make_unique<HttpMasterClient>(globals);
}

Result<std::pair<std::string, int>> parse_master_address(const std::string& master) {
  std::string s = master;
  if (s.rfind("http://", 0) == 0) {
    s = s.substr(7);
  }
  while (!s.empty() && s.back() == '/') {
    s.pop_back();
  }
  if (size_t at = s.find('@'); at != std::string::npos) {
    s = s.substr(at + 1);
  }
  Failure bad{EXIT_USAGE, "invalid --master '" + master +
                              "': expected HOST:PORT, http://HOST:PORT, master@HOST:PORT or zk://HOSTS/PATH"};
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size() || s.find('/') != std::string::npos) {
    return bad;
  }
  std::string host = s.substr(0, colon);
  std::string port_text = s.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) {
    return bad;
  }
  int port = std::stoi(port_text);
  if (port < 1 || port > 65535) {
    return bad;
  }
  return std::make_pair(host, port);
}

Failure failure_of(const Reply& reply, const std::string& method, const std::string& url) {
  std::string message = reply.body;
  Try<picojson::value> parsed = json_parse(reply.body);
  if (parsed && parsed->is<picojson::object>() && parsed->get("message").is<std::string>()) {
    message = parsed->get("message").get<std::string>();
  }
  int code = reply.status == 404 ? EXIT_NOT_FOUND : reply.status == 409 ? EXIT_CONFLICT : EXIT_MASTER_ERROR;
  // The server's own 404 for a path it has no route for: this master lacks
  // the endpoint (an older version), which is an error, not a missing object.
  if (reply.status == 404 && message.rfind("no route for ", 0) == 0) {
    code = EXIT_MASTER_ERROR;
    message += " (this master does not have the endpoint)";
  }
  std::string text = "the master answered " + std::to_string(reply.status) + " " + http::reason_phrase(reply.status) +
                     " to " + method + " " + url;
  if (!message.empty()) {
    text += ": " + message;
  }
  return Failure{code, text};
}

Result<picojson::value> get_json(MasterClient& client, const std::string& path) {
  Result<Reply> reply = client.call("GET", path);
  if (!reply) {
    return reply.failure();
  }
  if (reply->status != 200) {
    return failure_of(*reply, "GET", client.base_url() + path);
  }
  Try<picojson::value> parsed = json_parse(reply->body);
  if (parsed.is_error()) {
    return Failure{EXIT_MASTER_ERROR, "GET " + client.base_url() + path + " answered no JSON: " + parsed.error()};
  }
  return *parsed;
}

std::string url_encode(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) != 0 || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

}  // namespace stoa::cli
