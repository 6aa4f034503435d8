#include "common/container_json.hpp"

#include <gtest/gtest.h>

#include "common/json.hpp"

namespace stoa {
namespace {

TEST(ContainerJson, DockerInfoAsMesosShowsIt) {
  ContainerInfo c;
  c.set_type(ContainerInfo::DOCKER);
  c.mutable_docker()->set_image("busybox");
  c.mutable_docker()->set_network(ContainerInfo::DockerInfo::BRIDGE);
  auto* m = c.mutable_docker()->add_port_mappings();
  m->set_host_port(31000);
  m->set_container_port(80);
  m->set_protocol("tcp");
  auto* p = c.mutable_docker()->add_parameters();
  p->set_key("label");
  p->set_value("a=b");
  auto* v = c.add_volumes();
  v->set_container_path("/data");
  v->set_host_path("data");
  v->set_mode(Volume::RO);
  EXPECT_EQ(json_serialize(container_info_json(c)),
            R"({"docker":{"image":"busybox","network":"BRIDGE","parameters":[{"key":"label","value":"a=b"}],)"
            R"("port_mappings":[{"container_port":80,"host_port":31000,"protocol":"tcp"}],"privileged":false},)"
            R"("type":"DOCKER","volumes":[{"container_path":"/data","host_path":"data","mode":"RO"}]})");
  ContainerInfo plain;
  plain.set_type(ContainerInfo::DOCKER);
  plain.mutable_docker()->set_image("x");
  // Defaults shown, as Mesos' JSON does for fields with a default.
  EXPECT_EQ(json_serialize(container_info_json(plain)),
            R"({"docker":{"image":"x","network":"HOST","privileged":false},"type":"DOCKER"})");
}

TEST(ContainerJson, StatusCarriesTheIdAddressesAndExecutorPid) {
  ContainerStatus s;
  s.mutable_container_id()->set_value("c1");
  s.set_executor_pid(42);
  s.add_network_infos()->add_ip_addresses()->set_ip_address("172.17.0.2");
  EXPECT_EQ(json_serialize(container_status_json(s)),
            R"({"container_id":{"value":"c1"},"executor_pid":42,)"
            R"("network_infos":[{"ip_addresses":[{"ip_address":"172.17.0.2","protocol":"IPv4"}]}]})");
}

}  // namespace
}  // namespace stoa
