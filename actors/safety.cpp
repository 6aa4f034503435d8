#include "actors/safety.hpp"

#include <exception>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/all.hpp>

#include "common/logging.hpp"

namespace stoa {

void set_safe_handlers(caf::scheduled_actor* self, const char* name) {
  self->set_default_handler(
      [name](caf::scheduled_actor* s, caf::message_view& x) -> caf::result<caf::message> {
        LOG_WARNING << name << " dropped an unexpected message: " << caf::to_string(x.content());
        if (s->current_message_id().is_request()) {
          return caf::sec::unexpected_message;
        }
        return caf::message{};
      });
  self->set_error_handler([self, name](caf::error& e) {
    LOG_WARNING << name << " got an error message: " << self->system().render(e);
  });
  self->set_exception_handler([name](caf::scheduled_actor*, std::exception_ptr& eptr) -> caf::error {
    try {
      if (eptr) {
        std::rethrow_exception(eptr);
      }
    } catch (const std::exception& e) {
      LOG_ERROR << name << " terminated by an exception: " << e.what();
    } catch (...) {
      LOG_ERROR << name << " terminated by an unknown exception";
    }
    return caf::make_error(caf::sec::runtime_error, "exception in actor handler");
  });
}

}  // namespace stoa
