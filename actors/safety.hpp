#pragma once
// Safe defaults for every long-lived actor (cookbook §3, §8):
// - unexpected *async* messages are dropped quietly (CAF's print_and_drop
//   would send an error back and kill the sender); unexpected requests get
//   sec::unexpected_message so the requester is not left waiting;
// - error messages (e.g. a failed request nobody handled) are logged, and the
//   actor keeps running;
// - an exception thrown by a handler is logged with the actor's name.

#include <caf/scheduled_actor.hpp>

namespace stoa {

void set_safe_handlers(caf::scheduled_actor* self, const char* name);

}  // namespace stoa
