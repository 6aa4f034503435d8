#pragma once
// Offers, apps and options for the placement tests (placement_test.cpp,
// placement_constraints_test.cpp).

#include <string>
#include <utility>
#include <vector>

#include "apps/services/placement.hpp"

namespace stoa::services::placement_test {

inline Resource scalar(const std::string& name, double value, const std::string& role = "*") {
  Resource r;
  r.set_name(name);
  r.set_type(Value::SCALAR);
  r.mutable_scalar()->set_value(value);
  r.set_role(role);
  return r;
}

inline Resource ports(std::vector<std::pair<uint64_t, uint64_t>> ranges, const std::string& role = "*") {
  Resource r;
  r.set_name("ports");
  r.set_type(Value::RANGES);
  r.set_role(role);
  for (auto [b, e] : ranges) {
    Value::Range* range = r.mutable_ranges()->add_range();
    range->set_begin(b);
    range->set_end(e);
  }
  return r;
}

inline Offer make_offer(const std::string& host, double cpus = 4, double mem = 1024, double disk = 1000,
                 std::vector<std::pair<uint64_t, uint64_t>> port_ranges = {{31000, 31009}}) {
  Offer o;
  o.mutable_id()->set_value("offer-" + host);
  o.mutable_framework_id()->set_value("fw");
  o.mutable_slave_id()->set_value("slave-" + host);
  o.set_hostname(host);
  *o.add_resources() = scalar("cpus", cpus);
  *o.add_resources() = scalar("mem", mem);
  *o.add_resources() = scalar("disk", disk);
  if (!port_ranges.empty()) {
    *o.add_resources() = ports(port_ranges);
  }
  return o;
}

inline void add_text(Offer& o, const std::string& name, const std::string& value) {
  Attribute* a = o.add_attributes();
  a->set_name(name);
  a->set_type(Value::TEXT);
  a->mutable_text()->set_value(value);
}

inline App make_app(int port_count = 1) {
  App app;
  app.id = "/prod/web";
  app.cmd = "sleep 100";
  app.cpus = 1;
  app.mem = 128;
  app.disk = 0;
  app.port_definitions.clear();
  for (int i = 0; i < port_count; ++i) {
    PortDefinition d;
    d.port = 10000 + i;
    app.port_definitions.push_back(d);
  }
  return app;
}

inline PlaceOptions options(const std::string& task_id = "prod_web.instance-1._app.1") {
  PlaceOptions o;
  o.task_id = task_id;
  return o;
}

}  // namespace stoa::services::placement_test
