#include "actors/messages.hpp"

namespace stoa {

void add_message_types(caf::actor_system_config& cfg) {
#define STOA_REGISTER(T) cfg.add_message_type<T>(T::descriptor()->full_name());
  STOA_WIRE_TYPES(STOA_REGISTER)
#undef STOA_REGISTER
}

}  // namespace stoa
