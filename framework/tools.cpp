#include "framework/tools.hpp"

namespace stoa {

Filters refuse(double seconds) {
  Filters f;
  f.set_refuse_seconds(seconds);
  return f;
}

TaskInfo shell_task(const Offer& offer, const std::string& name, const std::string& task_id,
                    const Resources& resources, const std::string& command) {
  TaskInfo task;
  task.set_name(name);
  task.mutable_task_id()->set_value(task_id);
  *task.mutable_slave_id() = offer.slave_id();
  resources.to_proto(task.mutable_resources());
  if (offer.resources_size() > 0 && offer.resources(0).has_allocation_info()) {
    for (Resource& r : *task.mutable_resources()) {
      *r.mutable_allocation_info() = offer.resources(0).allocation_info();
    }
  }
  task.mutable_command()->set_shell(true);
  task.mutable_command()->set_value(command);
  return task;
}

void say(const std::string& line, std::ostream& out) { out << line << std::endl; }

}  // namespace stoa
