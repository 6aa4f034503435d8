#pragma once
// Marathon-level health probes (HTTP, HTTPS, TCP; marathon.md §3), run by
// the leading stoa-services against a task's host and port.
//
// HTTP/HTTPS: GET <path>; healthy for 200..399; 100..199 ignored (neither
// healthy nor a failure: `ignored` set) when ignoreHttp1xx; anything else or
// no answer within timeoutSeconds is a failure whose cause names it
// ("HTTP 503", "timed out after 20s", "connection refused"). HTTPS does not
// verify the certificate. TCP: healthy if the connect succeeds in time.
// Plain HTTP goes through actors/http_client.hpp, which waits for the final
// status after an interim 1xx: there a 1xx is never seen, and a server that
// sends only a 1xx and closes has failed. HTTPS reads the first status line,
// so a 1xx there is ignored (ignoreHttp1xx) or a failure.
// Nothing blocks an actor thread (HTTPS and TCP may use a detached actor).

#include <functional>
#include <string>

#include <caf/fwd.hpp>

#include "apps/services/model.hpp"

namespace stoa::services {

struct ProbeResult {
  bool healthy = false;
  bool ignored = false;  // a 1xx with ignoreHttp1xx
  std::string cause;     // why not healthy
};

// Calls `done` exactly once, inside `self`.
void probe(caf::event_based_actor* self, const HealthCheck& check, const std::string& host, int port,
           std::function<void(ProbeResult)> done);

}  // namespace stoa::services
