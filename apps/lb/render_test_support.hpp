#pragma once
// Builders for the renderer's tests (render_test.cpp,
// render_labels_test.cpp, render_haproxy_test.cpp).

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "apps/lb/model.hpp"
#include "apps/lb/render.hpp"

namespace stoa::lb::render_testing {

inline Task make_task(const std::string& id, const std::string& host, const std::string& ip,
                      std::vector<int> ports,
                      std::optional<std::string> state = std::string("TASK_RUNNING")) {
  Task t;
  t.id = id;
  t.host = host;
  t.ip = ip;
  t.ports = std::move(ports);
  t.state = std::move(state);
  return t;
}

// An app with one task per entry of `hosts` (host i: 10.0.0.<i+1>, ports
// 31000 + 100*i + port index).
inline App make_app(const std::string& id, std::vector<int> service_ports,
                    std::map<std::string, std::string> labels, int tasks = 1) {
  App app;
  app.id = id;
  app.labels = std::move(labels);
  app.service_ports = std::move(service_ports);
  app.instances = tasks;
  for (int i = 0; i < tasks; ++i) {
    std::vector<int> ports;
    for (size_t p = 0; p < app.service_ports.size(); ++p) {
      ports.push_back(31000 + 100 * i + static_cast<int>(p));
    }
    std::string ip = "10.0.0." + std::to_string(i + 1);
    app.tasks.push_back(make_task(id.substr(1) + ".task" + std::to_string(i),
                                  "agent" + std::to_string(i + 1), ip, ports));
  }
  return app;
}

inline HealthCheck make_check(const std::string& protocol, int port_index,
                              const std::string& path = "") {
  HealthCheck c;
  c.protocol = protocol;
  c.port_index = port_index;
  c.path = path;
  c.interval_seconds = 10;
  c.timeout_seconds = 5;
  c.max_consecutive_failures = 2;
  return c;
}

// Options that never touch privileged ports.
inline RenderOptions test_options() {
  RenderOptions o;
  o.groups = {"external"};
  o.stats_port = 19090;
  o.http_port = 18080;
  o.https_port = 18443;
  o.http_appid_port = 19091;
  o.bind_address = "127.0.0.1";
  o.run_dir = "/tmp/stoa-lb-render-test";
  o.config_dir = "/tmp/stoa-lb-render-test";
  return o;
}

// The lines of `text` from the one equal to `head` up to the next section
// (a line not starting with a blank), without the head.
inline std::vector<std::string> section(const std::string& text, const std::string& head) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (inside) {
      if (line.empty() || (line[0] != ' ')) {
        break;
      }
      out.push_back(line);
    } else if (line == head) {
      inside = true;
    }
  }
  return out;
}

inline bool has_line(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

}  // namespace stoa::lb::render_testing
