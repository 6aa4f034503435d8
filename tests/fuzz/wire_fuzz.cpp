// Decoding wire messages the way they arrive from the network: CAF's
// binary_deserializer over a caf::message whose elements are any of the
// protobuf types in STOA_WIRE_TYPES (actors/messages.hpp), registered with
// add_message_types() as every binary does. The generic protobuf inspect
// reads a string and calls ParseFromString.
//
// Input: byte 0 picks the mode (byte % (2 + number of wire types)):
//   0      a caf::message (what BASP hands to an actor);
//   1      a BASP payload: the forwarding stack (actor addresses) then the
//          message (this process has no proxy registry, so addresses of
//          other nodes are refused, as they are before the middleman knows
//          a node);
//   2 + k  the k-th wire type on its own.
// The rest is the serialized bytes.
//
// Properties: no crash or sanitizer report; a decoded message is
// initialized (required fields present), prints (caf::to_string, as our
// logging of dropped messages does), and serializes to bytes that decode
// again.
//
// STOA_FUZZ_WRITE_SEEDS=<dir> in the environment writes seed inputs for
// every mode and type to <dir> and exits (how corpus/wire/ was made).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/message.hpp>

#include "actors/messages.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

caf::actor_system* sys = nullptr;

using Decoder = void (*)(const char* data, size_t size);

template <class T>
void decode_one(const char* data, size_t size) {
  T x;
  caf::binary_deserializer source{*sys, data, size};
  if (source(x)) {
    return;  // refused: fine
  }
  STOA_FUZZ_CHECK(x.IsInitialized(), T::descriptor()->full_name() + " decoded without required fields");
  (void)x.ShortDebugString();
  std::vector<char> buf;
  caf::binary_serializer sink{*sys, buf};
  STOA_FUZZ_CHECK(!sink(x), "cannot serialize a decoded " + T::descriptor()->full_name());
  T y;
  caf::binary_deserializer again{*sys, buf};
  STOA_FUZZ_CHECK(!again(y), "re-encoded " + T::descriptor()->full_name() + " does not decode");
}

const std::vector<Decoder>& decoders() {
  static const std::vector<Decoder> all = {
#define STOA_DECODER(T) &decode_one<T>,
      STOA_WIRE_TYPES(STOA_DECODER)
#undef STOA_DECODER
  };
  return all;
}

void check_message(const caf::message& msg) {
  (void)caf::to_string(msg);
  std::vector<char> buf;
  caf::binary_serializer sink{*sys, buf};
  STOA_FUZZ_CHECK(!sink(msg), "cannot serialize a decoded message: " + caf::to_string(msg));
  caf::message back;
  caf::binary_deserializer again{*sys, buf};
  STOA_FUZZ_CHECK(!again(back), "re-encoded message does not decode: " + caf::to_string(msg));
  STOA_FUZZ_CHECK(back.size() == msg.size(), "re-encoded message changes size");
}

// ---- seeds ---------------------------------------------------------------------

// Sets every singular field (and one element of each repeated message field)
// to a recognisable value, down to `depth` levels.
void fill(google::protobuf::Message* msg, int depth) {
  using FD = google::protobuf::FieldDescriptor;
  const google::protobuf::Descriptor* d = msg->GetDescriptor();
  const google::protobuf::Reflection* r = msg->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* f = d->field(i);
    if (!f->is_required() && depth <= 0) {
      continue;
    }
    if (f->is_repeated()) {
      if (f->cpp_type() == FD::CPPTYPE_MESSAGE && depth > 1) {
        fill(r->AddMessage(msg, f), depth - 1);
      } else if (f->cpp_type() == FD::CPPTYPE_STRING) {
        r->AddString(msg, f, "item");
      }
      continue;
    }
    switch (f->cpp_type()) {
      case FD::CPPTYPE_STRING: r->SetString(msg, f, "v-" + f->name()); break;
      case FD::CPPTYPE_BOOL: r->SetBool(msg, f, true); break;
      case FD::CPPTYPE_DOUBLE: r->SetDouble(msg, f, 1.5); break;
      case FD::CPPTYPE_FLOAT: r->SetFloat(msg, f, 2.5f); break;
      case FD::CPPTYPE_INT32: r->SetInt32(msg, f, 7); break;
      case FD::CPPTYPE_UINT32: r->SetUInt32(msg, f, 8); break;
      case FD::CPPTYPE_INT64: r->SetInt64(msg, f, 9); break;
      case FD::CPPTYPE_UINT64: r->SetUInt64(msg, f, 10); break;
      case FD::CPPTYPE_ENUM:
        r->SetEnum(msg, f, f->enum_type()->value(f->enum_type()->value_count() - 1));
        break;
      case FD::CPPTYPE_MESSAGE: fill(r->MutableMessage(msg, f), depth - 1); break;
    }
  }
}

void write_seed(const std::string& dir, const std::string& name, char mode,
                const std::vector<char>& bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out.put(mode);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
void write_seeds(const std::string& dir, size_t index) {
  T x;
  fill(&x, 2);
  std::string name = T::descriptor()->name();
  std::vector<char> buf;
  caf::binary_serializer direct{*sys, buf};
  (void)direct(x);
  write_seed(dir, "type-" + name, static_cast<char>(2 + index), buf);
  buf.clear();
  caf::message msg = caf::make_message(x);
  caf::binary_serializer message{*sys, buf};
  (void)message(msg);
  write_seed(dir, "message-" + name, 0, buf);
  if (index % 7 == 0) {
    buf.clear();
    std::vector<caf::strong_actor_ptr> stack;
    caf::binary_serializer basp{*sys, buf};
    (void)basp(stack, msg);
    write_seed(dir, "basp-" + name, 1, buf);
  }
}

void write_all_seeds(const std::string& dir) {
  size_t index = 0;
#define STOA_SEEDS(T) write_seeds<T>(dir, index++);
  STOA_WIRE_TYPES(STOA_SEEDS)
#undef STOA_SEEDS
  std::vector<char> buf;
  caf::binary_serializer two{*sys, buf};
  stoa::internal::PingSlaveMessage ping;
  fill(&ping, 1);
  stoa::TaskStatus status;
  fill(&status, 1);
  (void)two(caf::make_message(ping, status));
  write_seed(dir, "message-two-elements", 0, buf);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Never destroyed: CAF 0.17's actor_system crashes when it is torn down by
  // exit handlers (after CAF's own statics), so it lives until the process ends.
  auto* cfg = new caf::actor_system_config;
  stoa::add_message_types(*cfg);
  cfg->set("scheduler.max-threads", 1);
  sys = new caf::actor_system{*cfg};
  if (const char* dir = std::getenv("STOA_FUZZ_WRITE_SEEDS")) {
    write_all_seeds(dir);
    std::fprintf(stderr, "wrote seeds to %s\n", dir);
    std::_Exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const char* bytes = reinterpret_cast<const char*>(data) + 1;
  size_t n = size - 1;
  size_t mode = data[0] % (2 + decoders().size());
  if (mode == 0) {
    caf::message msg;
    caf::binary_deserializer source{*sys, bytes, n};
    if (!source(msg)) {
      check_message(msg);
    }
  } else if (mode == 1) {
    std::vector<caf::strong_actor_ptr> stack;
    caf::message msg;
    caf::binary_deserializer source{*sys, bytes, n};
    if (!source(stack, msg)) {
      check_message(msg);
    }
  } else {
    decoders()[mode - 2](bytes, n);
  }
  return 0;
}
