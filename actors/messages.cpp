#include "actors/messages.hpp"

namespace stoa {

std::string wire_type_name(std::string_view cpp_name) {
  std::string name;
  name.reserve(cpp_name.size());
  for (size_t i = 0; i < cpp_name.size(); ++i) {
    if (cpp_name.compare(i, 2, "::") == 0) {
      name += '.';
      ++i;
    } else {
      name += cpp_name[i];
    }
  }
  return name;
}

void add_message_types(caf::actor_system_config& cfg) {
#define STOA_REGISTER(T) cfg.add_message_type<T>(wire_type_name(#T));
  STOA_WIRE_TYPES(STOA_REGISTER)
#undef STOA_REGISTER
  // After the batch types themselves: a name keeps its first factory, so
  // their names go on making them where they are parsed (Serialized).
#define STOA_REGISTER_SERIALIZED(T) cfg.add_message_type<Serialized<T>>(wire_type_name(#T));
  STOA_BATCH_TYPES(STOA_REGISTER_SERIALIZED)
#undef STOA_REGISTER_SERIALIZED
}

}  // namespace stoa
