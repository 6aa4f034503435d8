#pragma once
// Protobuf messages as typed CAF messages.
//
// One generic `inspect` per protobuf package (found by ADL) serializes any
// generated message through SerializeToString/ParseFromString, so the same
// type works locally (copied) and remotely (serialized). Every type that
// crosses a process boundary is listed once in STOA_WIRE_TYPES and
// registered by add_message_types(), which every binary calls: a type a node
// did not register arrives as an empty message, silently (cookbook §2).
//
// Include this only from .cpp files of actors: it pulls in CAF.

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/detail/stringification_inspector.hpp>
#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/sec.hpp>
#include <google/protobuf/message.h>

#include "proto/messages.pb.h"
#include "proto/scheduler.pb.h"
#include "proto/stoa.pb.h"

namespace stoa {

// Batches (the types below) are parsed into the storage of batches of their
// type that this thread handled and gave back (`recycle()`, at the end of
// the handler): protobuf's Clear() keeps a repeated field's elements and a
// string's capacity, so a parse into them allocates little where a fresh
// message allocated every element, sub-message and long string, and freed
// them all after the handler — at the master a fifth of its CPU per status
// update (#17). Up to RECYCLED_BATCHES per type and thread are kept: a
// connection's read parses every message it holds before their actor
// handles the first. Without a handler that gives them back, a parse is
// as before.
#define STOA_BATCH_TYPES(X)                         \
  X(stoa::internal::StatusUpdatesMessage)             \
  X(stoa::internal::StatusUpdateAcknowledgementsMessage) \
  X(stoa::scheduler::Calls)                           \
  X(stoa::scheduler::Events)

template <class T>
struct Recycled : std::false_type {};
#define STOA_RECYCLED(T) \
  template <>            \
  struct Recycled<T> : std::true_type {};
STOA_BATCH_TYPES(STOA_RECYCLED)
#undef STOA_RECYCLED

constexpr size_t RECYCLED_BATCHES = 32;

namespace detail {
template <class T>
std::vector<std::unique_ptr<T>>& recycled_batches() {
  thread_local std::vector<std::unique_ptr<T>> kept;
  return kept;
}
}  // namespace detail

// Gives the storage of a handled (or sent) batch back for a later parse or
// build of its type on this thread; `handled` is left empty (or as it was,
// when enough are kept).
template <class T>
void recycle(T& handled) {
  static_assert(Recycled<T>::value, "only the batch types are kept");
  std::vector<std::unique_ptr<T>>& kept = detail::recycled_batches<T>();
  if (kept.size() < RECYCLED_BATCHES) {
    kept.push_back(std::make_unique<T>());
    kept.back()->Swap(&handled);
  }
}

// `x` (empty, about to be parsed) takes a kept batch's storage, if any.
template <class T>
void reuse_recycled(T& x) {
  if constexpr (Recycled<T>::value) {
    std::vector<std::unique_ptr<T>>& kept = detail::recycled_batches<T>();
    if (!kept.empty()) {
      x.Swap(kept.back().get());
      kept.pop_back();
    }
  }
}

// `x` (empty, about to be built) takes a kept batch's storage, if any,
// cleared: its add_…() give the kept elements back, with their
// sub-messages and strings, for the caller to fill in place.
template <class T>
void take_recycled(T& x) {
  static_assert(Recycled<T>::value, "only the batch types are kept");
  reuse_recycled(x);
  x.Clear();
}

// A batch serialized by its sender (send_batch(), for an actor of another
// node), the bytes a T has on the wire: registered under T's wire name
// after T, whose factory that name keeps (add_message_types()), so that
// the peer parses a T and its handlers see a T as if one had been sent. The
// sender keeps the batch's storage for its next (take_recycled()) where
// CAF would have serialized the T later and freed it: protobuf objects
// built and freed per element, a tenth of the CPU per status update of
// the master and of the slave simulator (#17). Never sent to a local actor
// (it would not match T's handlers).
template <class T>
struct Serialized {
  std::string bytes;
  bool operator==(const Serialized& o) const { return bytes == o.bytes; }
};

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, Serialized<T>& x) {
  if constexpr (std::is_same<Inspector, caf::detail::stringification_inspector>::value) {
    T parsed;
    std::string text = parsed.ParseFromString(x.bytes) ? parsed.ShortDebugString() : "(malformed)";
    auto name = caf::meta::type_name(T::descriptor()->full_name().c_str());
    return f(name, text);
  } else {
    return f(x.bytes);  // as T's inspect writes (and reads) it
  }
}

}  // namespace stoa

#define STOA_DEFINE_PROTOBUF_INSPECT                                                      \
  template <class Inspector, class T>                                                     \
  typename std::enable_if<std::is_base_of<google::protobuf::Message, T>::value,           \
                          typename Inspector::result_type>::type                          \
  inspect(Inspector& f, T& x) {                                                           \
    /* Only text needs the type's name: binary (de)serializers skip the     */           \
    /* annotation, and asking for the descriptor builds the descriptors of  */           \
    /* the whole .proto file on a process's first message (~1 ms).          */           \
    if constexpr (std::is_same<Inspector, caf::detail::stringification_inspector>::value) { \
      auto name = caf::meta::type_name(T::descriptor()->full_name().c_str());            \
      std::string text = x.ShortDebugString();                                            \
      return f(name, text);                                                               \
    } else if constexpr (Inspector::reads_state) {                                        \
      std::string bytes = x.SerializeAsString();                                          \
      return f(bytes);                                                                    \
    } else {                                                                              \
      std::string bytes;                                                                  \
      auto parse = caf::meta::load_callback([&]() -> caf::error {                        \
        ::stoa::reuse_recycled(x);                                                        \
        if (!x.ParseFromString(bytes)) {                                                  \
          return caf::make_error(caf::sec::invalid_argument, "malformed protobuf");     \
        }                                                                                 \
        return caf::none;                                                                 \
      });                                                                                 \
      return f(bytes, parse);                                                             \
    }                                                                                     \
  }

namespace stoa {
STOA_DEFINE_PROTOBUF_INSPECT
namespace internal {
STOA_DEFINE_PROTOBUF_INSPECT
}  // namespace internal
namespace scheduler {
STOA_DEFINE_PROTOBUF_INSPECT
}  // namespace scheduler
}  // namespace stoa

// Every protobuf type sent between actors, in one place.
#define STOA_WIRE_TYPES(X)                           \
  X(stoa::internal::RegisterSlaveMessage)            \
  X(stoa::internal::ReregisterSlaveMessage)          \
  X(stoa::internal::SlaveRegisteredMessage)          \
  X(stoa::internal::SlaveReregisteredMessage)        \
  X(stoa::internal::UnregisterSlaveMessage)          \
  X(stoa::internal::PingSlaveMessage)                \
  X(stoa::internal::PongSlaveMessage)                \
  X(stoa::internal::ShutdownMessage)                 \
  X(stoa::internal::RunTaskMessage)                  \
  X(stoa::internal::KillTaskMessage)                 \
  X(stoa::internal::StatusUpdateMessage)             \
  X(stoa::internal::StatusUpdateAcknowledgementMessage) \
  X(stoa::internal::ExitedExecutorMessage)           \
  X(stoa::internal::ShutdownFrameworkMessage)        \
  X(stoa::internal::ShutdownExecutorMessage)         \
  X(stoa::internal::FrameworkToExecutorMessage)      \
  X(stoa::internal::ExecutorToFrameworkMessage)      \
  X(stoa::internal::ReregisterExecutorMessage)       \
  X(stoa::internal::ExecutorReregisteredMessage)     \
  X(stoa::internal::RegisterExecutorMessage)         \
  X(stoa::internal::ExecutorRegisteredMessage)       \
  X(stoa::internal::SlaveUsageMessage)               \
  X(stoa::internal::ExecutorPoolReadyMessage)        \
  X(stoa::internal::AdoptExecutorMessage)            \
  X(stoa::scheduler::Call)                           \
  X(stoa::scheduler::Event)                          \
  X(stoa::TaskStatus)                                \
  /* Stoa's batches (appended: the fuzz seeds name types by index) */ \
  X(stoa::internal::StatusUpdateAcknowledgementsMessage) \
  X(stoa::internal::StatusUpdatesMessage)            \
  X(stoa::scheduler::Calls)                          \
  X(stoa::scheduler::Events)

namespace stoa {

// Registers every wire type (and the actors/ atoms' companion types) with
// `cfg`. Call once per actor_system, in every binary and test.
void add_message_types(caf::actor_system_config& cfg);

// The name a wire type is registered under: its protobuf full name
// ("stoa.internal.StatusUpdate"), spelled from its C++ name
// ("stoa::internal::StatusUpdate") because asking the type for its
// descriptor builds the descriptors of its whole .proto file (and of every
// file it imports) at start-up, ~1 ms of every executor's launch. Holds for
// top-level messages only (a nested one is Outer_Inner in C++); the
// WireTypes tests check every registered type against its descriptor.
std::string wire_type_name(std::string_view cpp_name);

}  // namespace stoa
