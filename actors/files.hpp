#pragma once
// The files service (Mesos' src/files, our own code): a table of attached
// directories and files, each under a virtual path, served over HTTP:
//
//   GET /files/browse?path=P               JSON array of the entries of directory P
//                                          (P itself when it is a file), sorted by path:
//                                          {path, mode "drwxr-xr-x", nlink, uid, gid
//                                          (user and group names), size, mtime (secs)}
//   GET /files/read?path=P&offset=O[&length=L]
//                                          {"data": bytes, "offset": O}; offset -1 gives
//                                          {"data": "", "offset": size}; an offset at or
//                                          past the end gives {"data": "", "offset": size};
//                                          length (default: all) is capped at 16 pages
//   GET /files/download?path=P             the file's bytes (application/octet-stream,
//                                          Content-Disposition: attachment), streamed
//                                          by the HTTP server from the file
//   GET /files/debug                       {"<virtual path>": "<real path>", ...}
// (`/files/browse.json` and `/files/read.json` are aliases, as in Mesos.)
//
// Resolution: the longest attached virtual path that is P or a parent of it
// (component-wise); the rest of P is appended to its real path. Refused with
// a JSON {"message"} naming P: 400 missing or malformed parameters, or reading
// a directory; 403 a `..` component, or a path whose realpath() leaves the
// attached real path (a symlink pointing out); 404 nothing attached there, or
// no such file; 503 more than
// MAX_WORKERS requests in flight.
//
// Threading: the files actor only keeps the table; every request's disk
// work (realpath, stat, readdir, getpwuid, pread) runs in a detached one-shot
// worker, so no scheduler thread blocks on the disk. Reads are bounded by the
// length cap; a download is streamed by the HTTP server in chunks as the
// client takes them (Response::body_file).

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/http.hpp"

namespace stoa {
class Runtime;
}  // namespace stoa

namespace stoa::files {

// Requests to the files actor (local only).
// (attach_atom, real path, virtual path) -> std::string: "" or the error
//   (both must be absolute; a virtual path attached again is replaced).
using attach_atom = caf::atom_constant<caf::atom("fs_attach")>;
// (detach_atom, virtual path) -> bool: whether it was attached.
using detach_atom = caf::atom_constant<caf::atom("fs_detach")>;
// (detach_atom, virtual path, real path) -> bool: detaches only when the
// virtual path is still attached to that real path.
// (serve_atom, op, query) -> http::Response: op is "browse", "read",
//   "download" or "debug"; query the request's decoded query.
using serve_atom = caf::atom_constant<caf::atom("fs_serve")>;
// (attached_atom, virtual path) -> bool: some attachment covers the path.
using attached_atom = caf::atom_constant<caf::atom("fs_attchd")>;

// Reads are capped at this many pages (Mesos: 16).
constexpr size_t MAX_READ_PAGES = 16;
// Disk workers in flight at once; more requests get 503.
constexpr size_t MAX_WORKERS = 32;
// How long an HTTP route waits for the files actor.
constexpr auto FILES_ROUTE_TIMEOUT = std::chrono::seconds(25);

// --- pure functions (no disk access), unit-tested ---------------------------

// P with repeated and trailing '/' removed; Error (naming P) unless it is
// absolute.
Try<std::string> normalize_virtual_path(const std::string& path);

// Where an attachment covers a virtual path.
struct Lookup {
  int status = 200;     // 200, or the refusal (403, 404)
  std::string message;  // why, when status != 200
  std::string virtual_path;  // the normalized request path
  std::string root_real;     // the attached real path
  std::string real;          // root_real plus the rest of the virtual path
};

// Finds the attachment of `virtual_path` (normalized) in `table` (virtual ->
// real). 403 for a `..` component, 404 when nothing covers it.
Lookup lookup(const std::map<std::string, std::string>& table, const std::string& virtual_path);

// "drwxr-xr-x" for a mode (file type letter, then rwx triples with s/t).
std::string mode_string(mode_t mode);

// Offset and length of /files/read: offset -1 means "the size"; length -1
// (or none) means "the rest", both then capped by `max_length`. Error names
// the bad value.
struct ReadRange {
  int64_t offset = 0;
  int64_t length = -1;
};
Try<ReadRange> parse_read_range(const std::map<std::string, std::string>& query);

// --- disk work (runs in a worker) --------------------------------------------

// realpath() of the lookup, checked to lie inside its attached real path:
// the real path, or a response (403 escape, 404 missing).
struct Resolved {
  std::optional<http::Response> refusal;
  std::string real;
};
Resolved resolve(const Lookup& lookup);

// The responses of the operations on a resolved lookup (blocking I/O).
http::Response browse(const Lookup& lookup);
http::Response read(const Lookup& lookup, const std::map<std::string, std::string>& query,
                    size_t max_length);
// download answers with Response::body_file (the resolved path): the HTTP
// server streams it, so any size is served in bounded memory.
http::Response download(const Lookup& lookup);

// --- the actor and its routes --------------------------------------------------

// Spawns the files actor (event-based: it keeps the table and spawns one
// detached worker per request). It lives until sent an exit message, or
// until `owner` (when given) terminates.
caf::actor spawn_files(caf::actor_system& sys, const caf::actor& owner = caf::actor());

// Routes for requests the files actor does not have attached (the master's
// proxy to slaves): `query` holds the request's decoded query; `op` as above.
using Fallback = std::function<void(caf::io::broker* self, const std::string& op,
                                    const http::Request& req, http::Responder respond)>;
// Decides, per request, whether it goes to `fallback` before asking the
// files actor (e.g. the query names a slave_id). Null: never.
using Divert = std::function<bool(const http::Request& req)>;

// /files/browse, /files/browse.json, /files/read, /files/read.json,
// /files/download, /files/debug over `files`. With a fallback, a path that
// `divert` picks, or that nothing local covers, goes to the fallback instead.
std::vector<http::Route> files_routes(const caf::actor& files, Fallback fallback = nullptr,
                                      Divert divert = nullptr);
void register_files_routes(Runtime& runtime, const caf::actor& files, Fallback fallback = nullptr,
                           Divert divert = nullptr);

// "<log_dir>/<program>.INFO": the glog symlink to the current INFO log.
std::string info_log_path(const std::string& log_dir, const std::string& program);

}  // namespace stoa::files

namespace stoa::files {

// Lookups travel to the disk workers (local messages only).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Lookup& x) {
  return f(caf::meta::type_name("stoa.files.Lookup"), x.status, x.message, x.virtual_path, x.root_real, x.real);
}

}  // namespace stoa::files
