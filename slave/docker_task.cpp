#include "slave/docker_task.hpp"

#include <algorithm>
#include <cmath>

#include "common/resources.hpp"

namespace stoa::slave {

namespace {

// A volume's or the sandbox's host side: absolute as given, else inside
// the sandbox.
std::string host_side(const std::string& path, const std::string& sandbox) {
  return !path.empty() && path[0] == '/' ? path : sandbox + "/" + path;
}

std::string container_side(const std::string& path, const std::string& mapped) {
  return !path.empty() && path[0] == '/' ? path : mapped + "/" + path;
}

bool has_port(const Resources& resources, uint32_t port) {
  for (const Range& r : resources.ranges("ports")) {
    if (port >= r.begin && port <= r.end) {
      return true;
    }
  }
  return false;
}

}  // namespace

Try<std::vector<std::string>> docker_create_args(const TaskInfo& task, const DockerTaskOptions& options) {
  if (!task.has_container() || task.container().type() != ContainerInfo::DOCKER) {
    return Error("the task's container is not of type DOCKER");
  }
  const ContainerInfo& container = task.container();
  if (!container.has_docker() || container.docker().image().empty()) {
    return Error("the task's container has no docker.image");
  }
  const ContainerInfo::DockerInfo& docker = container.docker();
  Try<Resources> resources = Resources::from_proto(task.resources());
  if (resources.is_error()) {
    return Error("the task's resources are invalid: " + resources.error());
  }
  std::vector<std::string> args = {"--name=" + options.container_name,
                                   "--label=stoa.work_dir=" + options.work_dir,
                                   "--label=stoa.slave_id=" + options.slave_id,
                                   "--label=stoa.container_id=" + options.container_id};
  const double cpus = resources->scalar("cpus");
  args.push_back("--cpu-shares=" + std::to_string(std::max<int64_t>(2, std::llround(1024 * cpus))));
  if (double mem = resources->scalar("mem"); mem > 0) {
    args.push_back("--memory=" + std::to_string(std::llround(std::max(mem, MIN_DOCKER_MEMORY_MB))) + "m");
  }
  // Environment: the command's, then ours (which win, as in Mesos).
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& v : task.command().environment().variables()) {
    if (v.name().empty() || v.name().find('=') != std::string::npos) {
      return Error("invalid environment variable name '" + v.name() + "'");
    }
    env.emplace_back(v.name(), v.value());
  }
  env.emplace_back("MESOS_SANDBOX", options.mapped_directory);
  env.emplace_back("STOA_SANDBOX", options.mapped_directory);
  env.emplace_back("MESOS_TASK_ID", task.task_id().value());
  env.emplace_back("MESOS_CONTAINER_NAME", options.container_name);
  for (const auto& [name, value] : env) {
    args.push_back("-e");
    args.push_back(name + "=" + value);
  }
  args.push_back("-v");
  args.push_back(options.sandbox + ":" + options.mapped_directory);
  for (const Volume& v : container.volumes()) {
    if (v.container_path().empty()) {
      return Error("a volume has an empty container_path");
    }
    if (!v.has_host_path() || v.host_path().empty()) {
      return Error("volume '" + v.container_path() + "' has no host_path");
    }
    args.push_back("-v");
    args.push_back(host_side(v.host_path(), options.sandbox) + ":" +
                   container_side(v.container_path(), options.mapped_directory) +
                   (v.mode() == Volume::RO ? ":ro" : ":rw"));
  }
  const auto network = docker.network();
  const bool mapped_network = network == ContainerInfo::DockerInfo::BRIDGE || network == ContainerInfo::DockerInfo::USER;
  switch (network) {
    case ContainerInfo::DockerInfo::HOST:
      args.push_back("--net=host");
      break;
    case ContainerInfo::DockerInfo::BRIDGE:
      args.push_back("--net=bridge");
      break;
    case ContainerInfo::DockerInfo::NONE:
      args.push_back("--net=none");
      break;
    case ContainerInfo::DockerInfo::USER:
      if (container.network_infos_size() == 0 || container.network_infos(0).name().empty()) {
        return Error("docker.network USER needs the network's name in network_infos[0].name");
      }
      args.push_back("--net=" + container.network_infos(0).name());
      break;
  }
  for (const auto& m : docker.port_mappings()) {
    if (!mapped_network) {
      return Error("port mapping " + std::to_string(m.host_port()) + ":" + std::to_string(m.container_port()) +
                   " needs docker.network BRIDGE or USER, not " +
                   ContainerInfo::DockerInfo::Network_Name(network));
    }
    std::string protocol = m.has_protocol() ? m.protocol() : "tcp";
    if (protocol != "tcp" && protocol != "udp") {
      return Error("port mapping protocol '" + protocol + "' is not tcp or udp");
    }
    if (m.host_port() == 0 || m.host_port() > 65535 || m.container_port() == 0 || m.container_port() > 65535) {
      return Error("port mapping " + std::to_string(m.host_port()) + ":" + std::to_string(m.container_port()) +
                   " is out of range (1..65535)");
    }
    if (!has_port(*resources, m.host_port())) {
      return Error("port mapping host port " + std::to_string(m.host_port()) +
                   " is not among the task's ports resources");
    }
    args.push_back("-p");
    args.push_back(std::to_string(m.host_port()) + ":" + std::to_string(m.container_port()) + "/" + protocol);
  }
  if (docker.privileged()) {
    args.push_back("--privileged");
  }
  if (container.has_hostname()) {
    args.push_back("--hostname=" + container.hostname());
  }
  for (const Parameter& p : docker.parameters()) {
    if (p.key().empty() || p.key()[0] == '-') {
      return Error("docker parameter key '" + p.key() + "' is invalid (give the option's name without dashes)");
    }
    args.push_back("--" + p.key() + "=" + p.value());
  }
  const CommandInfo& command = task.command();
  if (command.shell()) {
    if (command.value().empty()) {
      return Error("the task's shell command is empty");
    }
    args.push_back("--entrypoint=/bin/sh");
    args.push_back(docker.image());
    args.push_back("-c");
    args.push_back(command.value());
  } else {
    args.push_back(docker.image());
    if (!command.value().empty()) {
      args.push_back(command.value());
    }
    for (const std::string& a : command.arguments()) {
      args.push_back(a);
    }
  }
  return args;
}

}  // namespace stoa::slave
