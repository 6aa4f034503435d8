#include "actors/messages.hpp"

#include <algorithm>

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

template <class T>
void serialized_arrives_as_the_type(caf::actor_system& sys) {
  const std::string name = T::descriptor()->full_name();
  EXPECT_EQ(sys.types().portable_name(0, &typeid(Serialized<T>)), name);
  caf::type_erased_value_ptr made = sys.types().make_value(name);
  ASSERT_TRUE(made) << name;
  EXPECT_EQ(made->type().second, &typeid(T)) << name << " makes another type";
  T in = sample<T>();
  caf::message msg = caf::make_message(Serialized<T>{in.SerializeAsString()});
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  ASSERT_FALSE(sink(msg)) << name;
  caf::message out;
  caf::binary_deserializer source{sys, buf};
  ASSERT_FALSE(source(out)) << name;
  ASSERT_TRUE(out.match_elements<T>()) << "arrived as " << caf::to_string(out);
  EXPECT_EQ(out.get_as<T>(0).SerializeAsString(), in.SerializeAsString());
  EXPECT_NE(caf::to_string(msg).find(name), std::string::npos) << caf::to_string(msg);
}

TEST_F(WireTypes, ABatchSerializedByItsSenderArrivesAsTheBatchType) {
  // Registered under the batch type's name after it: the name still makes
  // the batch type, so a peer's handlers see what they would have.
#define STOA_SERIALIZED_ARRIVES(T) serialized_arrives_as_the_type<T>(sys_);
  STOA_BATCH_TYPES(STOA_SERIALIZED_ARRIVES)
#undef STOA_SERIALIZED_ARRIVES
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

// Serializes `in` as CAF does for the wire and parses it back into `out`.
template <class T>
void through_the_wire(caf::actor_system& sys, const T& in, T& out) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  T copy = in;
  ASSERT_FALSE(sink(copy));
  caf::binary_deserializer source{sys, buf};
  ASSERT_FALSE(source(out));
}

internal::StatusUpdatesMessage updates_batch(int n, const std::string& prefix, bool with_messages) {
  internal::StatusUpdatesMessage batch;
  for (int i = 0; i < n; ++i) {
    internal::StatusUpdateMessage* m = batch.add_updates();
    m->set_pid("slave(1)@127.0.0.1:5051");
    internal::StatusUpdate* u = m->mutable_update();
    u->mutable_framework_id()->set_value(prefix + "-framework-0000000000000000000000");
    u->mutable_slave_id()->set_value(prefix + "-slave-S" + std::to_string(i));
    u->set_timestamp(i);
    u->set_uuid(std::string(16, static_cast<char>('a' + i)));
    TaskStatus* s = u->mutable_status();
    s->mutable_task_id()->set_value(prefix + "-task-" + std::to_string(i));
    s->set_state(TASK_RUNNING);
    if (with_messages) {
      s->set_message("a message long enough to need its own allocation");
      u->mutable_executor_id()->set_value("executor");
    }
  }
  return batch;
}

TEST_F(WireTypes, ABatchParsedIntoRecycledStorageIsTheBatchSentAndReusesIt) {
  // A handled batch given back is the storage of the next parse of its
  // type on this thread: the parse must equal a fresh one (nothing of the
  // old batch survives: fewer elements, fields it had and the new lacks),
  // and it reuses the old elements rather than allocating.
  internal::StatusUpdatesMessage first;
  through_the_wire(sys_, updates_batch(5, "first", true), first);
  const internal::StatusUpdateMessage* element = &first.updates(0);
  recycle(first);
  EXPECT_EQ(first.updates_size(), 0);  // given away

  const internal::StatusUpdatesMessage sent = updates_batch(3, "second", false);
  internal::StatusUpdatesMessage second;
  through_the_wire(sys_, sent, second);
  EXPECT_EQ(second.SerializeAsString(), sent.SerializeAsString());
  EXPECT_EQ(second.updates_size(), 3);
  EXPECT_FALSE(second.updates(0).update().status().has_message());
  EXPECT_FALSE(second.updates(0).update().has_executor_id());
  EXPECT_EQ(&second.updates(0), element) << "a fresh element, not the recycled one";

  // With none kept, a parse is a fresh one; more than a few are kept.
  internal::StatusUpdatesMessage third;
  through_the_wire(sys_, updates_batch(2, "third", true), third);
  EXPECT_EQ(third.SerializeAsString(), updates_batch(2, "third", true).SerializeAsString());
  std::vector<internal::StatusUpdatesMessage> handled(4);
  std::vector<const void*> elements;
  for (auto& h : handled) {
    through_the_wire(sys_, updates_batch(1, "many", false), h);
    elements.push_back(&h.updates(0));
  }
  for (auto& h : handled) {
    recycle(h);
  }
  for (size_t i = 0; i < handled.size(); ++i) {
    internal::StatusUpdatesMessage again;
    through_the_wire(sys_, updates_batch(1, "again", true), again);
    EXPECT_EQ(again.SerializeAsString(), updates_batch(1, "again", true).SerializeAsString());
    EXPECT_NE(std::find(elements.begin(), elements.end(), &again.updates(0)), elements.end()) << i;
  }
}

}  // namespace
}  // namespace stoa
