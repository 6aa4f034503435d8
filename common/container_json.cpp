#include "common/container_json.hpp"

namespace stoa {

namespace {

using picojson::array;
using picojson::object;
using picojson::value;

value num(double d) { return value(d); }

value labels_json(const Labels& labels) {
  array a;
  for (const Label& l : labels.labels()) {
    object o;
    o["key"] = value(l.key());
    if (l.has_value()) {
      o["value"] = value(l.value());
    }
    a.emplace_back(o);
  }
  return value(a);
}

template <class PortMappings>
value port_mappings_json(const PortMappings& mappings) {
  array a;
  for (const auto& m : mappings) {
    object o;
    o["host_port"] = num(m.host_port());
    o["container_port"] = num(m.container_port());
    if (m.has_protocol()) {
      o["protocol"] = value(m.protocol());
    }
    a.emplace_back(o);
  }
  return value(a);
}

value network_info_json(const NetworkInfo& n) {
  object o;
  array ips;
  for (const NetworkInfo::IPAddress& ip : n.ip_addresses()) {
    object i;
    i["protocol"] = value(NetworkInfo::IPAddress::Protocol_Name(ip.protocol()));
    if (ip.has_ip_address()) {
      i["ip_address"] = value(ip.ip_address());
    }
    ips.emplace_back(i);
  }
  o["ip_addresses"] = value(ips);
  if (n.has_name()) {
    o["name"] = value(n.name());
  }
  if (n.groups_size() > 0) {
    array g;
    for (const std::string& s : n.groups()) {
      g.emplace_back(s);
    }
    o["groups"] = value(g);
  }
  if (n.has_labels()) {
    o["labels"] = value(object{{"labels", labels_json(n.labels())}});
  }
  if (n.port_mappings_size() > 0) {
    o["port_mappings"] = port_mappings_json(n.port_mappings());
  }
  return value(o);
}

}  // namespace

value container_info_json(const ContainerInfo& info) {
  object o;
  o["type"] = value(ContainerInfo::Type_Name(info.type()));
  if (info.volumes_size() > 0) {
    array vols;
    for (const Volume& v : info.volumes()) {
      object vo;
      vo["container_path"] = value(v.container_path());
      if (v.has_host_path()) {
        vo["host_path"] = value(v.host_path());
      }
      vo["mode"] = value(Volume::Mode_Name(v.mode()));
      vols.emplace_back(vo);
    }
    o["volumes"] = value(vols);
  }
  if (info.has_hostname()) {
    o["hostname"] = value(info.hostname());
  }
  if (info.has_docker()) {
    const ContainerInfo::DockerInfo& d = info.docker();
    object dj;
    dj["image"] = value(d.image());
    dj["network"] = value(ContainerInfo::DockerInfo::Network_Name(d.network()));
    dj["privileged"] = value(d.privileged());
    if (d.has_force_pull_image()) {
      dj["force_pull_image"] = value(d.force_pull_image());
    }
    if (d.port_mappings_size() > 0) {
      dj["port_mappings"] = port_mappings_json(d.port_mappings());
    }
    if (d.parameters_size() > 0) {
      array ps;
      for (const Parameter& p : d.parameters()) {
        ps.emplace_back(object{{"key", value(p.key())}, {"value", value(p.value())}});
      }
      dj["parameters"] = value(ps);
    }
    o["docker"] = value(dj);
  }
  if (info.network_infos_size() > 0) {
    array ns;
    for (const NetworkInfo& n : info.network_infos()) {
      ns.push_back(network_info_json(n));
    }
    o["network_infos"] = value(ns);
  }
  return value(o);
}

value container_status_json(const ContainerStatus& status) {
  object o;
  if (status.has_container_id()) {
    o["container_id"] = value(object{{"value", value(status.container_id().value())}});
  }
  if (status.network_infos_size() > 0) {
    array ns;
    for (const NetworkInfo& n : status.network_infos()) {
      ns.push_back(network_info_json(n));
    }
    o["network_infos"] = value(ns);
  }
  if (status.has_executor_pid()) {
    o["executor_pid"] = num(status.executor_pid());
  }
  return value(o);
}

}  // namespace stoa
