#include "slave/isolator.hpp"

#include "common/strings.hpp"

namespace stoa::slave {

const std::vector<IsolatorEntry>& isolator_table() {
  // One line per isolator: its --isolation name and its factory.
  static const std::vector<IsolatorEntry> table = {
      {"posix/cpu", create_posix_cpu_isolator},
      {"posix/mem", create_posix_mem_isolator},
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

Try<Isolators> create_isolators(const std::string& flag) {
  Try<std::vector<std::string>> names = parse_isolation(flag);
  if (names.is_error()) {
    return Error(names.error());
  }
  Isolators isolators;
  for (const std::string& name : *names) {
    isolators.push_back(find_isolator(name)->create());
  }
  return isolators;
}

}  // namespace stoa::slave
