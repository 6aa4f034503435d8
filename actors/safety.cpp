#include "actors/safety.hpp"

#include <exception>
#include <string>
#include <system_error>

#include <caf/actor_system.hpp>
#include <caf/all.hpp>
#include <caf/detail/sync_request_bouncer.hpp>

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
  self->set_exit_handler([self, name](caf::exit_msg& msg) {
    if (!exit_from_this_process(self, msg)) {
      LOG_WARNING << name << " ignored an exit message ("
                  << self->system().render(msg.reason) << ") from "
                  << (msg.source ? caf::to_string(msg.source) : std::string("an anonymous sender"))
                  << ": only actors of this process may stop it";
      return;
    }
    if (msg.reason) {  // as CAF's default: a normal exit is ignored
      self->quit(msg.reason);
    }
  });
}

bool exit_from_this_process(caf::scheduled_actor* self, const caf::exit_msg& msg) {
  // anon_send_exit() names the *target* as the source (so does one that
  // crossed the network): an actor never sends itself an exit, so that is
  // refused too.
  return msg.source && msg.source != self->address() && msg.source.node() == self->node();
}

void stop_actor(caf::actor_system& sys, const caf::actor& whom, caf::error reason) {
  if (!whom) {
    return;
  }
  caf::scoped_actor sender{sys};
  sender->send_exit(whom, std::move(reason));
}

void close_mailbox_at_exit(caf::scheduled_actor* self) {
  // Attached functors run in the actor's cleanup, on its own thread.
  self->attach_functor([self](const caf::error& reason) {
    auto& box = self->mailbox();
    if (box.closed()) {
      return;
    }
    box.close();  // from now on a message sent to it is dropped (a request answered)
    self->get_normal_queue().flush_cache();
    self->get_urgent_queue().flush_cache();
    caf::detail::sync_request_bouncer bounce{reason};
    while (box.queue().new_round(1000, bounce).consumed_items) {
    }
  });
}

Try<caf::actor> spawn_with_thread(caf::actor_system& sys, ThreadActor kind, const std::function<caf::actor()>& spawn) {
  try {
    return spawn();
  } catch (const std::system_error& e) {
    // What CAF 0.17 counted before pthread_create failed (measured: a
    // detached event-based actor +1 running and +1 detached thread, a
    // blocking one +1 detached thread; SpawnWithThread.* pins it).
    if (kind == ThreadActor::detached) {
      sys.registry().dec_running();
    }
    sys.dec_detached_threads();
    return Error(std::string("cannot start a thread: ") + e.what());
  }
}

}  // namespace stoa
