#pragma once
// How `stoa` talks to the leading master: blocking HTTP calls made from the
// CLI's main thread through our asynchronous client (actors/http_client.hpp)
// and, for a zk:// master, the master detector.

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <picojson.h>

#include "framework/cli.hpp"

namespace stoa::cli {

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
  std::map<std::string, std::string> headers;  // names lower-cased
};

class MasterClient {
 public:
  virtual ~MasterClient() = default;
  // Sends one request to the leading master and returns any HTTP answer
  // (4xx/5xx included); a 307 to another master is followed (a few times).
  // Failures: EXIT_UNREACHABLE (cannot connect; no leader in ZooKeeper) and
  // EXIT_TIMED_OUT (no answer within --timeout), both naming the URL tried;
  // EXIT_USAGE for a malformed --master.
  virtual Result<Reply> call(const std::string& method, const std::string& path, const std::string& body = "",
                             const std::string& content_type = "") = 0;
  // "http://host:port" of the master last talked to (or about to be).
  virtual std::string base_url() const = 0;
};

// The client for `globals.master` (resolved on the first call).
std::unique_ptr<MasterClient> make_master_client(const Globals& globals);

// A 4xx/5xx answer as a Failure: 404 → EXIT_NOT_FOUND, 409 → EXIT_CONFLICT,
// anything else → EXIT_MASTER_ERROR; the message names the request and
// quotes the master's {"message"} (or its body).
Failure failure_of(const Reply& reply, const std::string& method, const std::string& url);

// GET `path` and parse the JSON answer; failure_of() unless 200, EXIT_MASTER_ERROR
// for a body that is not JSON.
Result<picojson::value> get_json(MasterClient& client, const std::string& path);

// Percent-encodes a query value or path segment (all but A-Z a-z 0-9 - _ . ~).
std::string url_encode(std::string_view text);

// Parses a fixed --master value (HOST:PORT, http://HOST:PORT[/], master@HOST:PORT)
// into host and port; EXIT_USAGE naming the value otherwise.
Result<std::pair<std::string, int>> parse_master_address(const std::string& master);

}  // namespace stoa::cli
