// Resources written straight into a JsonBuffer: the bytes of
// json_serialize(resources_to_json(r)) (common/resources_proto.cpp), keys
// in the sorted order of its picojson object.
#include "master/state_json_writer.hpp"

#include <vector>

#include "common/attributes.hpp"
#include "common/container_json.hpp"
#include "common/json.hpp"
#include "common/version.hpp"
#include "master/state_json_internal.hpp"

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

namespace {
// The parts of a resources key: strings length-prefixed, plain values as
// their bytes.
void key_string(std::string* key, const std::string& x) {
  size_t n = x.size();
  key->append(reinterpret_cast<const char*>(&n), sizeof(n));
  key->append(x);
}
template <class T>
void key_pod(std::string* key, const T& x) {
  key->append(reinterpret_cast<const char*>(&x), sizeof(x));
}
}  // namespace

void task_resources_key(const Task& t, std::string* key) {
  key->clear();
  for (const Resource& r : t.resources()) {
    key_string(key, r.name());
    key_string(key, r.role());
    key_pod(key, static_cast<int>(r.type()));
    key_pod(key, r.has_scalar());
    if (r.has_scalar()) {
      key_pod(key, r.scalar().value());
    }
    key_pod(key, r.has_ranges());
    if (r.has_ranges()) {
      key_pod(key, r.ranges().range_size());
      for (const Value::Range& x : r.ranges().range()) {
        key_pod(key, x.begin());
        key_pod(key, x.end());
      }
    }
    key_pod(key, r.has_set());
    if (r.has_set()) {
      key_pod(key, r.set().item_size());
      for (const std::string& item : r.set().item()) {
        key_string(key, item);
      }
    }
  }
}

ResourcesViews resources_views(const Resources& r) {
  ResourcesViews v;
  {
    JsonBuffer b(&v.all, 0);
    write_resources(r, &b);
  }
  {
    JsonBuffer b(&v.reserved, 0);
    write_reserved_resources(r, &b);
  }
  {
    JsonBuffer b(&v.unreserved, 0);
    write_resources(r.unreserved(), &b);
  }
  return v;
}

void TaskWriter::key(std::string_view k, bool* first) {
  if (!*first) {
    b_->ch(',');
  }
  *first = false;
  b_->str(k);
  b_->ch(':');
}

void TaskWriter::tree(const picojson::value& v) {
  scratch_.clear();
  json_append(v, &scratch_);
  b_->raw(scratch_);
}


void TaskWriter::labels(const Labels& labels) {
  array_of(labels.labels(), [this](const Label& l) {
    b_->raw("{\"key\":");
    b_->str(l.key());
    if (l.has_value()) {
      b_->raw(",\"value\":");
      b_->str(l.value());
    }
    b_->ch('}');
  });
}

// status_json(), keys in the same sorted order.
void TaskWriter::status(const TaskStatus& st) {
  bool first = true;
  b_->ch('{');
  if (st.has_container_status() || st.has_container_id()) {
    key("container_status", &first);
    tree(status_json(st).get("container_status"));
  }
  if (st.has_healthy()) {
    key("healthy", &first);
    b_->boolean(st.healthy());
  }
  if (st.has_message() && !st.message().empty()) {
    key("message", &first);
    b_->str(st.message());
  }
  if (st.has_reason()) {
    key("reason", &first);
    b_->str(reason_(st.reason()));
  }
  if (st.has_source()) {
    key("source", &first);
    b_->str(source_(st.source()));
  }
  key("state", &first);
  b_->str(task_state_(st.state()));
  b_->raw(",\"timestamp\":");
  b_->num(st.timestamp());
  b_->ch('}');
}

// task_json(), keys in the same sorted order.
void TaskWriter::task(const Task& t, std::string_view resources) {
  if (t.has_container()) {
    b_->raw("{\"container\":");
    tree(container_info_json(t.container()));
    b_->raw(",\"executor_id\":");
  } else {
    b_->raw("{\"executor_id\":");
  }
  b_->str(t.has_executor_id() ? std::string_view(t.executor_id().value()) : std::string_view());
  b_->raw(",\"framework_id\":");
  b_->str(t.framework_id().value());
  b_->raw(",\"id\":");
  b_->str(t.task_id().value());
  if (t.has_labels()) {
    b_->raw(",\"labels\":");
    labels(t.labels());
  }
  b_->raw(",\"name\":");
  b_->str(t.name());
  b_->raw(",\"resources\":");
  b_->raw(resources);
  b_->raw(",\"role\":");
  b_->str(t.has_role() ? std::string_view(t.role()) : std::string_view("*"));
  b_->raw(",\"slave_id\":");
  b_->str(t.slave_id().value());
  b_->raw(",\"state\":");
  b_->str(task_state_(t.state()));
  b_->raw(",\"statuses\":");
  array_of(t.statuses(), [this](const TaskStatus& st) { status(st); });
  if (t.has_user()) {
    b_->raw(",\"user\":");
    b_->str(t.user());
  }
  b_->ch('}');
}

size_t TaskWriter::slave(const SlaveRecord& slave, const ResourcesViews& total, const ResourcesViews& allocated,
                         std::string_view offered) {
  b_->raw(slave.active ? std::string_view("{\"active\":true,\"attributes\":")
                       : std::string_view("{\"active\":false,\"attributes\":"));
  if (slave.info.attributes_size() == 0) {
    b_->raw("{}");
  } else {
    tree(attributes_to_json(slave.info.attributes()));
  }
  b_->raw(",\"capabilities\":[\"MULTI_ROLE\"],\"deactivated\":");
  b_->boolean(!slave.active);
  b_->raw(",\"hostname\":");
  b_->str(slave.info.hostname());
  b_->raw(",\"id\":");
  b_->str(slave.id);
  b_->raw(",\"offered_resources\":");
  size_t offered_at = b_->written();
  b_->raw(offered);
  b_->raw(",\"pid\":");
  b_->str(slave.pid);
  b_->raw(",\"port\":");
  b_->num(slave.info.port());
  b_->raw(",\"registered_time\":");
  b_->num(slave.registered_time);
  if (slave.reregistered_time > 0) {
    b_->raw(",\"reregistered_time\":");
    b_->num(slave.reregistered_time);
  }
  b_->raw(",\"reserved_resources\":");
  b_->raw(total.reserved);
  b_->raw(",\"reserved_resources_allocated\":");
  b_->raw(allocated.reserved);
  b_->raw(",\"resources\":");
  b_->raw(total.all);
  b_->raw(",\"unreserved_resources\":");
  b_->raw(total.unreserved);
  b_->raw(",\"unreserved_resources_allocated\":");
  b_->raw(allocated.unreserved);
  b_->raw(",\"used_resources\":");
  b_->raw(allocated.all);
  b_->raw(",\"version\":");
  b_->str(STOA_VERSION);
  b_->ch('}');
  return offered_at;
}

}  // namespace stoa::master::state_json_detail
