// Resources written straight into a JsonBuffer: the bytes of
// json_serialize(resources_to_json(r)) (common/resources_proto.cpp), keys
// in the sorted order of its picojson object.
#include "master/state_json_writer.hpp"

#include <vector>

namespace stoa::master {

namespace {
// Set only in a render child, whose one thread is the one that forked.
thread_local BodyPipe* body_pipe = nullptr;
}  // namespace

BodyPipe* current_body_pipe() { return body_pipe; }

ScopedBodyPipe::ScopedBodyPipe(BodyPipe* pipe) : previous_(body_pipe) { body_pipe = pipe; }

ScopedBodyPipe::~ScopedBodyPipe() { body_pipe = previous_; }

}  // namespace stoa::master

namespace stoa::master::state_json_detail {

void write_resources(const Resources& r, JsonBuffer* b) {
  // The keys: every name in `r`, and cpus, gpus, mem and disk (0 when absent).
  std::vector<std::string_view> names = {"cpus", "gpus", "mem", "disk"};
  for (const ResourceEntry& e : r) {
    names.emplace_back(e.name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  b->ch('{');
  bool first = true;
  for (std::string_view name : names) {
    if (!first) {
      b->ch(',');
    }
    first = false;
    b->str(name);
    b->ch(':');
    bool present = false;
    bool is_scalar = false;
    bool is_ranges = false;
    for (const ResourceEntry& e : r) {
      if (e.name == name) {
        present = true;
        is_scalar = is_scalar || e.type == ResourceType::SCALAR;
        is_ranges = is_ranges || e.type == ResourceType::RANGES;
      }
    }
    if (!present || is_scalar) {
      b->num(r.scalar(name));
    } else if (is_ranges) {
      b->str(ranges_to_string(r.ranges(name)));
    } else {
      b->str(set_to_string(r.set(name)));
    }
  }
  b->ch('}');
}

void write_reserved_resources(const Resources& r, JsonBuffer* b) {
  std::vector<std::string_view> roles;
  for (const ResourceEntry& e : r) {
    if (e.role != "*") {
      roles.emplace_back(e.role);
    }
  }
  std::sort(roles.begin(), roles.end());
  roles.erase(std::unique(roles.begin(), roles.end()), roles.end());
  b->ch('{');
  bool first = true;
  for (std::string_view role : roles) {
    if (!first) {
      b->ch(',');
    }
    first = false;
    b->str(role);
    b->ch(':');
    write_resources(r.reserved(role), b);
  }
  b->ch('}');
}

}  // namespace stoa::master::state_json_detail
