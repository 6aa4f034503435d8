#include "apps/lb/flags.hpp"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <sstream>

#include "common/strings.hpp"

namespace stoa::lb {

namespace {

// How an option takes its value, as argparse declares them in marathon-lb.
enum class LbFlagArity {
  NONE,     // store_true
  ONE,      // `--name value` or `--name=value`
  ONE_MORE, // nargs='+': every following word up to the next option
};

// Sets a field from the option's value; returns an error text without the
// option's name ("'x' is not an integer"), or "" when the value is good.
using LbFlagSetter = std::function<std::string(LbFlags&, const std::string&)>;

struct LbFlagSpec {
  std::string name;        // "--max-reload-retries"
  std::string short_name;  // "-m" or ""
  LbFlagArity arity = LbFlagArity::ONE;
  std::string metavar;
  std::string help;
  LbFlagSetter set;
};

std::string lb_flag_int(const std::string& text, int min, int max, int* out) {
  if (text.empty()) {
    return "'' is not an integer";
  }
  errno = 0;
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE) {
    return "'" + text + "' is not an integer";
  }
  if (v < min || v > max) {
    return "'" + text + "' is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  }
  *out = static_cast<int>(v);
  return "";
}

LbFlagSetter lb_flag_int_setter(int LbFlags::*field, int min, int max) {
  return [field, min, max](LbFlags& f, const std::string& v) { return lb_flag_int(v, min, max, &(f.*field)); };
}

// An integer number of `Unit`s (seconds for marathon-lb's flags).
template <class Unit>
LbFlagSetter lb_flag_duration_setter(std::chrono::milliseconds LbFlags::*field, int max) {
  return [field, max](LbFlags& f, const std::string& v) {
    int n = 0;
    std::string error = lb_flag_int(v, 0, max, &n);
    if (error.empty()) {
      f.*field = std::chrono::duration_cast<std::chrono::milliseconds>(Unit(n));
    }
    return error;
  };
}

LbFlagSetter lb_flag_string_setter(std::string LbFlags::*field) {
  return [field](LbFlags& f, const std::string& v) {
    f.*field = v;
    return std::string();
  };
}

LbFlagSetter lb_flag_optional_setter(std::optional<std::string> LbFlags::*field) {
  return [field](LbFlags& f, const std::string& v) {
    f.*field = v;
    return std::string();
  };
}

LbFlagSetter lb_flag_bool_setter(bool LbFlags::*field) {
  return [field](LbFlags& f, const std::string&) {
    f.*field = true;
    return std::string();
  };
}

std::string lb_flag_check_url(const std::string& url) {
  if (url.rfind("https://", 0) == 0) {
    return "'" + url + "': https is not supported yet (stoa-lb has no TLS client)";
  }
  if (url.rfind("http://", 0) != 0 || url.size() <= 7 || url[7] == '/' || url[7] == ':') {
    return "'" + url + "' is not an http://host[:port] URL";
  }
  return "";
}

constexpr int LB_MAX_PORT = 65535;
constexpr int LB_MAX_SECONDS = 365 * 24 * 3600;

const std::vector<LbFlagSpec>& lb_flag_specs() {
  static const std::vector<LbFlagSpec> specs = {
      {"--help", "-h", LbFlagArity::NONE, "", "show this help and exit", lb_flag_bool_setter(&LbFlags::help)},
      {"--longhelp", "", LbFlagArity::NONE, "", "print every template and label, then exit",
       lb_flag_bool_setter(&LbFlags::longhelp)},
      {"--marathon", "-m", LbFlagArity::ONE_MORE, "URL",
       "registry URL(s) (Marathon or stoa-services), tried in order; default http://master.mesos:8080",
       [](LbFlags& f, const std::string& v) {
         std::string error = lb_flag_check_url(v);
         if (error.empty()) {
           f.marathon.push_back(v);
         }
         return error;
       }},
      {"--haproxy-config", "", LbFlagArity::ONE, "PATH",
       "where haproxy.cfg is written (maps beside it); default /etc/haproxy/haproxy.cfg",
       lb_flag_string_setter(&LbFlags::haproxy_config)},
      {"--group", "", LbFlagArity::ONE, "GROUP",
       "publish apps whose HAPROXY_GROUP matches (repeatable; '*' = all); required",
       [](LbFlags& f, const std::string& v) {
         if (v.empty()) {
           return std::string("'' is not a group name");
         }
         f.groups.push_back(v);
         return std::string();
       }},
      {"--command", "-c", LbFlagArity::ONE, "CMD",
       "reload an HAProxy run by someone else with this shell command instead of supervising one",
       lb_flag_optional_setter(&LbFlags::command)},
      {"--max-reload-retries", "", LbFlagArity::ONE, "N",
       "reload re-sends while waiting for a new worker (0 = wait forever); default 10",
       lb_flag_int_setter(&LbFlags::max_reload_retries, 0, 1'000'000)},
      {"--reload-interval", "", LbFlagArity::ONE, "SECONDS", "wait between reload re-sends; default 10",
       lb_flag_duration_setter<std::chrono::seconds>(&LbFlags::reload_interval, LB_MAX_SECONDS)},
      {"--strict-mode", "", LbFlagArity::NONE, "", "publish a port only with HAPROXY_{n}_ENABLED=true",
       lb_flag_bool_setter(&LbFlags::strict_mode)},
      {"--sse", "-s", LbFlagArity::NONE, "", "follow the registry's event stream (else: one run, then exit)",
       lb_flag_bool_setter(&LbFlags::sse)},
      {"--archive-versions", "", LbFlagArity::ONE, "N", "previous configurations kept; default 5",
       lb_flag_int_setter(&LbFlags::archive_versions, 0, 1000)},
      {"--health-check", "-H", LbFlagArity::NONE, "", "leave tasks out unless their health checks pass",
       lb_flag_bool_setter(&LbFlags::health_check)},
      {"--lru-cache-capacity", "", LbFlagArity::ONE, "N", "entries of the DNS and health caches; default 1000",
       lb_flag_int_setter(&LbFlags::lru_cache_capacity, 1, 100'000'000)},
      {"--haproxy-map", "", LbFlagArity::NONE, "", "route vhosts and app ids through map files",
       lb_flag_bool_setter(&LbFlags::haproxy_map)},
      {"--dont-bind-http-https", "", LbFlagArity::NONE, "", "leave out the shared :80 and :443 frontends",
       lb_flag_bool_setter(&LbFlags::dont_bind_http_https)},
      {"--group-https-by-vhost", "", LbFlagArity::NONE, "", "one TLS frontend per vhost behind an SNI front",
       lb_flag_bool_setter(&LbFlags::group_https_by_vhost)},
      {"--ssl-certs", "", LbFlagArity::ONE, "A.pem,B.pem", "certificates of the :443 frontend; default /etc/ssl/cert.pem",
       [](LbFlags& f, const std::string& v) {
         std::vector<std::string> certs;
         for (const std::string& c : split(v, ',')) {
           if (!c.empty()) {
             certs.push_back(c);
           }
         }
         if (certs.empty()) {
           return "'" + v + "' names no certificate";
         }
         f.ssl_certs = std::move(certs);
         return std::string();
       }},
      {"--skip-validation", "", LbFlagArity::NONE, "", "do not run haproxy -c before swapping a configuration",
       lb_flag_bool_setter(&LbFlags::skip_validation)},
      {"--skip-config-cleanup", "", LbFlagArity::NONE, "",
       "on an invalid configuration keep the old one instead of leaving out the apps that break it",
       lb_flag_bool_setter(&LbFlags::skip_config_cleanup)},
      {"--dry", "-d", LbFlagArity::NONE, "", "print the configuration and exit",
       lb_flag_bool_setter(&LbFlags::dry)},
      {"--min-serv-port-ip-per-task", "", LbFlagArity::ONE, "PORT",
       "first service port given to IP-per-task apps without one; default 10050",
       lb_flag_int_setter(&LbFlags::min_serv_port_ip_per_task, 1, LB_MAX_PORT)},
      {"--max-serv-port-ip-per-task", "", LbFlagArity::ONE, "PORT", "last such port; default 10100",
       lb_flag_int_setter(&LbFlags::max_serv_port_ip_per_task, 1, LB_MAX_PORT)},
      {"--max-backoff", "", LbFlagArity::ONE, "SECONDS", "longest wait before reconnecting to the registry; default 300",
       lb_flag_duration_setter<std::chrono::seconds>(&LbFlags::max_backoff, LB_MAX_SECONDS)},
      {"--syslog-socket", "", LbFlagArity::ONE, "PATH", "accepted for compatibility; logs go to stderr or --log-dir",
       lb_flag_string_setter(&LbFlags::syslog_socket)},
      {"--log-format", "", LbFlagArity::ONE, "FORMAT", "accepted for compatibility",
       lb_flag_string_setter(&LbFlags::log_format)},
      {"--log-level", "", LbFlagArity::ONE, "LEVEL", "DEBUG, INFO, WARNING, ERROR or CRITICAL; default INFO",
       [](LbFlags& f, const std::string& v) {
         std::string level = v;
         for (char& c : level) {
           c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
         }
         if (level != "DEBUG" && level != "INFO" && level != "WARNING" && level != "ERROR" && level != "CRITICAL") {
           return "'" + v + "' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL";
         }
         f.log_level = level;
         return std::string();
       }},
      {"--auth-credentials", "", LbFlagArity::ONE, "USER:PASS", "Basic auth for the registry",
       [](LbFlags& f, const std::string& v) {
         if (v.find(':') == std::string::npos) {
           return "'" + v + "' is not user:password";
         }
         f.auth_credentials = v;
         return std::string();
       }},
      {"--marathon-auth-credential-file", "", LbFlagArity::ONE, "PATH",
       "a file holding user:password for the registry",
       lb_flag_optional_setter(&LbFlags::marathon_auth_credential_file)},
      // Stoa additions.
      {"--haproxy-bin", "", LbFlagArity::ONE, "PATH", "the haproxy binary; default haproxy (PATH)",
       lb_flag_string_setter(&LbFlags::haproxy_bin)},
      {"--run-dir", "", LbFlagArity::ONE, "DIR",
       "HAProxy's sockets, pid file and our Lua scripts; default <config dir>/run",
       lb_flag_string_setter(&LbFlags::run_dir)},
      {"--templates-dir", "", LbFlagArity::ONE, "DIR", "template overrides, one file per name; default templates",
       lb_flag_string_setter(&LbFlags::templates_dir)},
      {"--http-port", "", LbFlagArity::ONE, "PORT", "port of the shared HTTP frontend; default 80",
       lb_flag_int_setter(&LbFlags::http_port, 1, LB_MAX_PORT)},
      {"--https-port", "", LbFlagArity::ONE, "PORT", "port of the shared HTTPS frontend; default 443",
       lb_flag_int_setter(&LbFlags::https_port, 1, LB_MAX_PORT)},
      {"--http-appid-port", "", LbFlagArity::ONE, "PORT",
       "port of the X-Marathon-App-Id frontend; default 9091",
       lb_flag_int_setter(&LbFlags::http_appid_port, 1, LB_MAX_PORT)},
      {"--bind-address", "", LbFlagArity::ONE, "ADDR", "address the shared frontends bind; default *",
       [](LbFlags& f, const std::string& v) {
         if (v.empty() || v.find_first_of(" \t\n") != std::string::npos) {
           return "'" + v + "' is not an address";
         }
         f.bind_address = v;
         return std::string();
       }},
      {"--min-reload-interval", "", LbFlagArity::ONE, "MS", "at most one reload per this many ms; default 500",
       lb_flag_duration_setter<std::chrono::milliseconds>(&LbFlags::min_reload_interval, LB_MAX_SECONDS)},
      {"--log-dir", "", LbFlagArity::ONE, "DIR", "write logs to files here instead of stderr",
       lb_flag_optional_setter(&LbFlags::log_dir)},
  };
  return specs;
}

// The spec `word` names: exact long or short name, else a unique prefix of
// one long name (argparse's abbreviations). Error text when ambiguous.
Try<const LbFlagSpec*> lb_flag_find(const std::string& word) {
  const LbFlagSpec* prefix_match = nullptr;
  std::vector<std::string> candidates;
  for (const LbFlagSpec& spec : lb_flag_specs()) {
    if (spec.name == word || (!spec.short_name.empty() && spec.short_name == word)) {
      return &spec;
    }
    if (word.size() > 2 && word.rfind("--", 0) == 0 && spec.name.rfind(word, 0) == 0) {
      prefix_match = &spec;
      candidates.push_back(spec.name);
    }
  }
  if (candidates.size() == 1) {
    return prefix_match;
  }
  if (candidates.size() > 1) {
    return Error("ambiguous option '" + word + "' could match " + join(candidates, ", "));
  }
  return Error("unknown option '" + word + "'");
}

bool lb_flag_is_option(const std::string& word) {
  // Like argparse: "-" alone and negative numbers are values.
  if (word.size() < 2 || word[0] != '-') {
    return false;
  }
  return !(std::isdigit(static_cast<unsigned char>(word[1])) != 0);
}

std::optional<std::string> lb_env(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  if (it == env.end()) {
    return std::nullopt;
  }
  return it->second;
}

// The environment marathon-lb's run script reads.
std::optional<Error> lb_flags_from_env(LbFlags& f, const std::map<std::string, std::string>& env) {
  if (std::optional<std::string> ports = lb_env(env, "PORTS")) {
    std::string first = std::string(trim(split(*ports, ',').front()));
    std::string error = lb_flag_int(first, 1, LB_MAX_PORT, &f.stats_port);
    if (!error.empty()) {
      return Error("PORTS: " + error);
    }
  }
  if (std::optional<std::string> interval = lb_env(env, "POLL_INTERVAL")) {
    int seconds = 0;
    std::string error = lb_flag_int(std::string(trim(*interval)), 1, LB_MAX_SECONDS, &seconds);
    if (!error.empty()) {
      return Error("POLL_INTERVAL: " + error);
    }
    f.poll_interval = std::chrono::seconds(seconds);
  }
  if (std::optional<std::string> name = lb_env(env, "FRAMEWORK_NAME")) {
    f.framework_name = *name;
  }
  std::optional<std::string> user = lb_env(env, "MARATHON_USER");
  std::optional<std::string> password = lb_env(env, "MARATHON_PASSWORD");
  if (user && !user->empty()) {
    if (!password) {
      return Error("MARATHON_USER is set without MARATHON_PASSWORD");
    }
    f.auth_credentials = *user + ":" + *password;
  }
  return std::nullopt;
}

}  // namespace

Try<LbFlags> parse_lb_flags(int argc, const char* const* argv, const std::map<std::string, std::string>& env) {
  LbFlags f;
  if (std::optional<Error> error = lb_flags_from_env(f, env)) {
    return *error;
  }
  std::optional<std::string> env_credentials = f.auth_credentials;
  f.auth_credentials.reset();
  int i = 1;
  // The Docker entry point's mode word.
  if (i < argc && (std::string(argv[i]) == "sse" || std::string(argv[i]) == "poll")) {
    if (std::string(argv[i]) == "sse") {
      f.sse = true;
    } else {
      f.poll_loop = true;
    }
    ++i;
  }
  for (; i < argc; ++i) {
    std::string word = argv[i];
    if (!lb_flag_is_option(word)) {
      if (word == "sse" || word == "poll") {
        return Error("the mode word '" + word + "' must come first");
      }
      return Error("unexpected argument '" + word + "'");
    }
    std::optional<std::string> inline_value;
    if (size_t eq = word.find('='); word.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = word.substr(eq + 1);
      word = word.substr(0, eq);
    }
    Try<const LbFlagSpec*> found = lb_flag_find(word);
    if (found.is_error()) {
      return Error(found.error());
    }
    const LbFlagSpec& spec = **found;
    std::vector<std::string> values;
    switch (spec.arity) {
      case LbFlagArity::NONE:
        if (inline_value) {
          return Error(spec.name + ": takes no value (got '" + *inline_value + "')");
        }
        values.emplace_back();
        break;
      case LbFlagArity::ONE:
        if (inline_value) {
          values.push_back(*inline_value);
        } else if (i + 1 < argc && !lb_flag_is_option(argv[i + 1])) {
          values.emplace_back(argv[++i]);
        } else {
          return Error(spec.name + ": expected one value");
        }
        break;
      case LbFlagArity::ONE_MORE:
        if (inline_value) {
          values.push_back(*inline_value);
        }
        while (i + 1 < argc && !lb_flag_is_option(argv[i + 1])) {
          values.emplace_back(argv[++i]);
        }
        if (values.empty()) {
          return Error(spec.name + ": expected at least one value");
        }
        break;
    }
    if (spec.name == "--marathon") {
      // A later --marathon replaces the default and any earlier list, as argparse does.
      f.marathon.clear();
    }
    for (const std::string& value : values) {
      std::string error = spec.set(f, value);
      if (!error.empty()) {
        return Error(spec.name + ": " + error);
      }
    }
  }
  if (!f.auth_credentials && env_credentials) {
    f.auth_credentials = env_credentials;
  }
  if (f.help || f.longhelp) {
    return f;
  }
  if (f.groups.empty() && !f.dry) {
    return Error("--group is required: name at least one group ('*' for every app)");
  }
  if (f.min_serv_port_ip_per_task > f.max_serv_port_ip_per_task) {
    return Error("--min-serv-port-ip-per-task " + std::to_string(f.min_serv_port_ip_per_task) +
                 " is above --max-serv-port-ip-per-task " + std::to_string(f.max_serv_port_ip_per_task));
  }
  if (f.haproxy_config.empty()) {
    return Error("--haproxy-config: '' is not a path");
  }
  return f;
}

std::string lb_usage(const std::string& program) {
  std::ostringstream out;
  out << "Usage: " << program << " [sse|poll] --group GROUP [options]\n\n"
      << "A marathon-lb-compatible load balancer: reads a Marathon-compatible registry\n"
      << "(stoa-services) and drives a real HAProxy (docs/lb.md).\n\n"
      << "Modes: 'sse' = --sse (event driven); 'poll' = a snapshot every POLL_INTERVAL seconds;\n"
      << "neither: one run, then exit.\n\nOptions:\n";
  for (const LbFlagSpec& spec : lb_flag_specs()) {
    std::string names = spec.short_name.empty() ? spec.name : spec.short_name + ", " + spec.name;
    if (spec.arity == LbFlagArity::ONE) {
      names += " " + spec.metavar;
    } else if (spec.arity == LbFlagArity::ONE_MORE) {
      names += " " + spec.metavar + " [" + spec.metavar + " ...]";
    }
    out << "  " << names;
    if (names.size() < 34) {
      out << std::string(34 - names.size(), ' ');
    } else {
      out << "\n" << std::string(36, ' ');
    }
    out << spec.help << "\n";
  }
  out << "\nEnvironment: PORTS (stats port: the first of a comma list, default 9090), POLL_INTERVAL\n"
      << "(seconds, default 60), FRAMEWORK_NAME (an app id to skip), MARATHON_USER and\n"
      << "MARATHON_PASSWORD (Basic auth), HAPROXY_<TEMPLATE> (a template's text; see --longhelp).\n"
      << "Signals: SIGHUP re-reads the registry, SIGUSR1 re-validates and reloads.\n";
  return out.str();
}

}  // namespace stoa::lb
