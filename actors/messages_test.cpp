#include "actors/messages.hpp"

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/message.hpp>
#include <caf/actor_system.hpp>
#include <gtest/gtest.h>

namespace stoa {
namespace {

// Fills every required field so that a round trip can be compared.
template <class T>
T sample() {
  T m;
  const google::protobuf::Descriptor* d = T::descriptor();
  const google::protobuf::Reflection* r = T::GetReflection();
  // Populate required fields recursively with recognisable values.
  std::function<void(google::protobuf::Message*, const google::protobuf::Descriptor*)> fill =
      [&](google::protobuf::Message* msg, const google::protobuf::Descriptor* desc) {
        const google::protobuf::Reflection* ref = msg->GetReflection();
        for (int i = 0; i < desc->field_count(); ++i) {
          const google::protobuf::FieldDescriptor* f = desc->field(i);
          if (!f->is_required()) {
            continue;
          }
          using FD = google::protobuf::FieldDescriptor;
          switch (f->cpp_type()) {
            case FD::CPPTYPE_STRING: ref->SetString(msg, f, "v-" + f->name()); break;
            case FD::CPPTYPE_BOOL: ref->SetBool(msg, f, true); break;
            case FD::CPPTYPE_DOUBLE: ref->SetDouble(msg, f, 1.5); break;
            case FD::CPPTYPE_INT32: ref->SetInt32(msg, f, 7); break;
            case FD::CPPTYPE_UINT32: ref->SetUInt32(msg, f, 8); break;
            case FD::CPPTYPE_INT64: ref->SetInt64(msg, f, 9); break;
            case FD::CPPTYPE_UINT64: ref->SetUInt64(msg, f, 10); break;
            case FD::CPPTYPE_ENUM: ref->SetEnum(msg, f, f->enum_type()->value(0)); break;
            case FD::CPPTYPE_MESSAGE:
              fill(ref->MutableMessage(msg, f), f->message_type());
              break;
            default: break;
          }
        }
      };
  fill(&m, d);
  (void)r;
  return m;
}

class WireTypes : public ::testing::Test {
 protected:
  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    add_message_types(cfg);
    cfg.set("scheduler.max-threads", 1);
    return cfg;
  }
  WireTypes() : sys_(init(cfg_)) {}
  caf::actor_system_config cfg_;
  caf::actor_system sys_;
};

template <class T>
void round_trip(caf::actor_system& sys) {
  T in = sample<T>();
  ASSERT_TRUE(in.IsInitialized()) << T::descriptor()->full_name();
  caf::message msg = caf::make_message(in);
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  auto e = sink(msg);
  ASSERT_FALSE(e) << T::descriptor()->full_name() << ": " << sys.render(e);
  caf::message out;
  caf::binary_deserializer source{sys, buf};
  e = source(out);
  ASSERT_FALSE(e) << T::descriptor()->full_name() << ": " << sys.render(e);
  ASSERT_TRUE(out.match_elements<T>()) << "arrived as " << caf::to_string(out);
  EXPECT_EQ(out.get_as<T>(0).SerializeAsString(), in.SerializeAsString());
}

TEST_F(WireTypes, EveryTypeRoundTripsThroughCafSerialization) {
#define STOA_ROUND_TRIP(T) round_trip<T>(sys_);
  STOA_WIRE_TYPES(STOA_ROUND_TRIP)
#undef STOA_ROUND_TRIP
}

TEST_F(WireTypes, EveryTypeIsRegisteredUnderItsProtobufFullName) {
  // Processes of different builds (an executor that outlived a slave
  // upgrade) must agree on the names: they are the descriptors' names.
#define STOA_NAME_MATCHES(T) \
  EXPECT_EQ(sys_.types().portable_name(0, &typeid(T)), T::descriptor()->full_name()) << #T;
  STOA_WIRE_TYPES(STOA_NAME_MATCHES)
#undef STOA_NAME_MATCHES
  EXPECT_EQ(wire_type_name("a::b::C"), "a.b.C");
  EXPECT_EQ(wire_type_name("Outer_Inner"), "Outer_Inner");  // nested types stay unsupported
}

TEST_F(WireTypes, MalformedBytesAreAnErrorNotACrash) {
  // Bytes on the wire that are not a valid protobuf of the named type.
  std::vector<char> buf;
  caf::binary_serializer sink{sys_, buf};
  std::string garbage("\xff\xff\xff\xff", 4);
  ASSERT_FALSE(sink(garbage));
  stoa::internal::SlaveRegisteredMessage m;
  caf::binary_deserializer source{sys_, buf};
  EXPECT_TRUE(static_cast<bool>(source(m)));
}

}  // namespace
}  // namespace stoa
