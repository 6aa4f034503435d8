#include "slave/cleaner.hpp"

#include <csignal>

#include <caf/all.hpp>

#include "actors/safety.hpp"
#include "slave/launcher.hpp"

namespace stoa::slave {

namespace {

using clean_atom = caf::atom_constant<caf::atom("clean")>;

caf::behavior cleaner_fn(caf::event_based_actor* self) {
  set_safe_handlers(self, "container cleaner");
  // Unlike named components it takes any exit: nothing outside the slave
  // holds its handle, and the slave stops it from an attached functor.
  self->set_exit_handler([self](caf::exit_msg& msg) { self->quit(msg.reason); });
  return {
      // Its handle never leaves the slave (it is not named in the router), so
      // no peer can reach it.
      // The slave signalled the process group itself when it reaped the
      // executor; here only the walk, which spares reused pids.
      [](clean_atom, int32_t pid, const std::string& container_id) {
        kill_container_leftovers(static_cast<pid_t>(pid), container_id, SIGKILL);
      },
  };
}

}  // namespace

caf::actor spawn_cleaner(caf::local_actor* owner) {
  return owner->spawn<caf::detached + caf::linked>(cleaner_fn);
}

void clean_container(const caf::actor& cleaner, pid_t pid, const std::string& container_id) {
  if (cleaner) {
    caf::anon_send(cleaner, clean_atom::value, static_cast<int32_t>(pid), container_id);
  } else {
    clean_container_now(pid, container_id);
  }
}

void clean_container_now(pid_t pid, const std::string& container_id) {
  if (pid > 0) {
    signal_process_group(pid, SIGKILL);
  }
  kill_container_leftovers(pid, container_id, SIGKILL);
}

}  // namespace stoa::slave
