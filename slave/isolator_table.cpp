#include <unistd.h>

#include "common/strings.hpp"
#include "slave/cgroups.hpp"
#include "slave/isolator.hpp"

namespace stoa::slave {

const std::vector<IsolatorEntry>& isolator_table() {
  // One line per isolator: its --isolation name, its factory, and the
  // cgroups v1 controllers it needs.
  static const std::vector<IsolatorEntry> table = {
      {"posix/cpu", create_posix_cpu_isolator},
      {"posix/mem", create_posix_mem_isolator},
      {"cgroups/cpu", create_cgroups_cpu_isolator, "cpu,cpuacct"},
      {"cgroups/mem", create_cgroups_mem_isolator, "memory"},
      {"cgroups/pids", create_cgroups_pids_isolator, "pids"},
      {"disk/du", create_disk_du_isolator},
      {"posix/disk", create_disk_du_isolator},
  };
  return table;
}

namespace {

const IsolatorEntry* find_isolator(const std::string& name) {
  for (const IsolatorEntry& entry : isolator_table()) {
    if (name == entry.name) {
      return &entry;
    }
  }
  return nullptr;
}

std::string supported_names() {
  std::string names;
  for (const IsolatorEntry& entry : isolator_table()) {
    names += (names.empty() ? "" : ", ") + std::string(entry.name);
  }
  return names;
}

bool uses_cgroups(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (std::string(find_isolator(name)->controllers).size() > 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

Try<std::vector<std::string>> parse_isolation(const std::string& flag) {
  std::vector<std::string> names = split(flag, ',');
  for (const std::string& name : names) {
    if (find_isolator(name) == nullptr) {
      return Error("isolator '" + name + "' is not supported yet (supported: " + supported_names() + ")");
    }
  }
  return names;
}

std::optional<Error> check_controllers(const std::vector<std::string>& names, const IsolatorOptions& options) {
  for (const std::string& name : names) {
    const IsolatorEntry* entry = find_isolator(name);
    std::vector<std::string> controllers;
    for (const std::string& c : split(entry == nullptr ? "" : entry->controllers, ',')) {
      if (!c.empty()) {
        controllers.push_back(c);
      }
    }
    if (controllers.empty()) {
      continue;
    }
    if (::geteuid() != 0) {
      return Error("isolator '" + name + "' needs root (cgroups are written by root), but the slave runs as uid " +
                   std::to_string(::geteuid()));
    }
    controllers.push_back("freezer");  // every cgroups isolation kills through it
    for (const std::string& controller : controllers) {
      if (std::optional<Error> error = cgroups::check_mounted(options.cgroups_hierarchy, controller)) {
        return Error("isolator '" + name + "' cannot work: " + error->message);
      }
    }
  }
  return std::nullopt;
}

Try<Isolators> create_isolators(const std::string& flag, const IsolatorOptions& options) {
  Try<std::vector<std::string>> names = parse_isolation(flag);
  if (names.is_error()) {
    return Error(names.error());
  }
  if (std::optional<Error> error = check_controllers(*names, options)) {
    return *error;
  }
  Isolators isolators;
  if (uses_cgroups(*names)) {
    isolators.push_back(create_cgroups_freezer_isolator(options));
  }
  for (const std::string& name : *names) {
    isolators.push_back(find_isolator(name)->create(options));
  }
  return isolators;
}

}  // namespace stoa::slave
