// The files service: path resolution, the disk work of each operation (in
// one-shot detached workers) and the actor keeping the attached table.
#include "actors/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include <picojson.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/strings.hpp"

namespace stoa::files {

// ---- pure functions -----------------------------------------------------------

Try<std::string> normalize_virtual_path(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return Error("path '" + path + "' is not absolute");
  }
  std::string out;
  out.reserve(path.size());
  for (char ch : path) {
    if (ch == '/' && !out.empty() && out.back() == '/') {
      continue;
    }
    out.push_back(ch);
  }
  while (out.size() > 1 && out.back() == '/') {
    out.pop_back();
  }
  return out;
}

namespace {

// Components of a normalized absolute path ("/" -> none).
std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 1;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) {
      slash = path.size();
    }
    out.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

// `prefix` is `path` or a parent of it (both normalized).
bool covers(const std::string& prefix, const std::string& path) {
  if (prefix == "/") {
    return true;
  }
  return path.compare(0, prefix.size(), prefix) == 0 &&
         (path.size() == prefix.size() || path[prefix.size()] == '/');
}

}  // namespace

Lookup lookup(const std::map<std::string, std::string>& table, const std::string& virtual_path) {
  Lookup out;
  out.virtual_path = virtual_path;
  for (const std::string& c : components(virtual_path)) {
    if (c == "..") {
      out.status = 403;
      out.message = "Path '" + virtual_path + "' contains a '..' component";
      return out;
    }
  }
  const std::pair<const std::string, std::string>* best = nullptr;
  for (const auto& entry : table) {
    if (covers(entry.first, virtual_path) && (best == nullptr || entry.first.size() > best->first.size())) {
      best = &entry;
    }
  }
  if (best == nullptr) {
    out.status = 404;
    out.message = "No file or directory is attached at '" + virtual_path + "'";
    return out;
  }
  out.root_real = best->second;
  out.real = best->second;
  std::string rest = best->first == "/" ? virtual_path : virtual_path.substr(best->first.size());
  for (const std::string& c : components(rest.empty() ? std::string("/") : rest)) {
    if (c == ".") {
      continue;
    }
    if (out.real.empty() || out.real.back() != '/') {
      out.real += '/';
    }
    out.real += c;
  }
  return out;
}

std::string mode_string(mode_t mode) {
  std::string s(10, '-');
  switch (mode & S_IFMT) {
    case S_IFDIR: s[0] = 'd'; break;
    case S_IFLNK: s[0] = 'l'; break;
    case S_IFCHR: s[0] = 'c'; break;
    case S_IFBLK: s[0] = 'b'; break;
    case S_IFIFO: s[0] = 'p'; break;
    case S_IFSOCK: s[0] = 's'; break;
    default: break;
  }
  const mode_t bits[9] = {S_IRUSR, S_IWUSR, S_IXUSR, S_IRGRP, S_IWGRP, S_IXGRP, S_IROTH, S_IWOTH, S_IXOTH};
  const char letters[3] = {'r', 'w', 'x'};
  for (int i = 0; i < 9; ++i) {
    if ((mode & bits[i]) != 0) {
      s[1 + i] = letters[i % 3];
    }
  }
  auto special = [&s](size_t at, bool set, char with_x, char without_x) {
    if (set) {
      s[at] = s[at] == 'x' ? with_x : without_x;
    }
  };
  special(3, (mode & S_ISUID) != 0, 's', 'S');
  special(6, (mode & S_ISGID) != 0, 's', 'S');
  special(9, (mode & S_ISVTX) != 0, 't', 'T');
  return s;
}

namespace {

Try<int64_t> parse_int(const std::string& name, const std::string& text) {
  if (text.empty() || text.size() > 19) {
    return Error("Invalid value '" + text + "' for '" + name + "': expected an integer");
  }
  size_t i = text[0] == '-' ? 1 : 0;
  if (i == text.size()) {
    return Error("Invalid value '" + text + "' for '" + name + "': expected an integer");
  }
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return Error("Invalid value '" + text + "' for '" + name + "': expected an integer");
    }
  }
  return static_cast<int64_t>(std::strtoll(text.c_str(), nullptr, 10));
}

}  // namespace

Try<ReadRange> parse_read_range(const std::map<std::string, std::string>& query) {
  ReadRange r;
  auto o = query.find("offset");
  if (o == query.end()) {
    return Error("Expecting 'offset' in query");
  }
  Try<int64_t> offset = parse_int("offset", o->second);
  if (offset.is_error()) {
    return Error(offset.error());
  }
  if (*offset < -1) {
    return Error("Invalid value '" + o->second + "' for 'offset': expected -1 or a non-negative integer");
  }
  r.offset = *offset;
  auto l = query.find("length");
  if (l != query.end()) {
    Try<int64_t> length = parse_int("length", l->second);
    if (length.is_error()) {
      return Error(length.error());
    }
    if (*length < -1) {
      return Error("Invalid value '" + l->second + "' for 'length': expected -1 or a non-negative integer");
    }
    r.length = *length;
  }
  return r;
}

// ---- disk work ----------------------------------------------------------------------

namespace {

std::string real_path_of(const std::string& path, int* err) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    *err = errno;
    return {};
  }
  *err = 0;
  return buf;
}

std::string user_name(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return std::to_string(uid);
}

std::string group_name(gid_t gid) {
  struct group gr {};
  struct group* found = nullptr;
  char buf[4096];
  if (::getgrgid_r(gid, &gr, buf, sizeof(buf), &found) == 0 && found != nullptr) {
    return found->gr_name;
  }
  return std::to_string(gid);
}

picojson::value file_info(const std::string& virtual_path, const struct stat& st) {
  picojson::object o;
  o["path"] = picojson::value(virtual_path);
  o["mode"] = picojson::value(mode_string(st.st_mode));
  o["nlink"] = json_number(static_cast<double>(st.st_nlink));
  o["uid"] = picojson::value(user_name(st.st_uid));
  o["gid"] = picojson::value(group_name(st.st_gid));
  o["size"] = json_number(static_cast<double>(st.st_size));
  o["mtime"] = json_number(static_cast<double>(st.st_mtime));
  return picojson::value(std::move(o));
}

// An open descriptor, closed by the destructor.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

http::Response errno_response(int err, const std::string& virtual_path) {
  if (err == ENOENT || err == ENOTDIR) {
    return http::error_response(404, "No such file or directory: '" + virtual_path + "'");
  }
  if (err == EACCES || err == EPERM) {
    return http::error_response(403, "Permission denied: '" + virtual_path + "'");
  }
  return http::error_response(500, "Cannot access '" + virtual_path + "': " + std::strerror(err));
}

// Opens a resolved regular file for reading; a refusal names the path.
std::optional<http::Response> open_file(const Lookup& l, Fd* fd, struct stat* st, std::string* real = nullptr) {
  Resolved r = resolve(l);
  if (r.refusal) {
    return r.refusal;
  }
  if (real != nullptr) {
    *real = r.real;
  }
  fd->fd = ::open(r.real.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd->fd < 0) {
    return errno_response(errno, l.virtual_path);
  }
  if (::fstat(fd->fd, st) != 0) {
    return errno_response(errno, l.virtual_path);
  }
  if (S_ISDIR(st->st_mode)) {
    return http::error_response(400, "Cannot read a directory: '" + l.virtual_path + "'");
  }
  if (!S_ISREG(st->st_mode)) {
    return http::error_response(400, "Not a regular file: '" + l.virtual_path + "'");
  }
  return std::nullopt;
}

// Reads up to `length` bytes at `offset` (fewer at the end of the file).
Try<std::string> pread_all(int fd, uint64_t offset, uint64_t length) {
  std::string data(length, '\0');
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, data.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error(std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

}  // namespace

Resolved resolve(const Lookup& l) {
  Resolved out;
  int err = 0;
  std::string root = real_path_of(l.root_real, &err);
  if (err != 0) {
    out.refusal = errno_response(err, l.virtual_path);
    return out;
  }
  std::string real = real_path_of(l.real, &err);
  if (err != 0) {
    out.refusal = errno_response(err, l.virtual_path);
    return out;
  }
  bool inside = real == root || root == "/" || (real.compare(0, root.size(), root) == 0 && real[root.size()] == '/');
  if (!inside) {
    out.refusal = http::error_response(403, "Path '" + l.virtual_path + "' resolves outside its attached directory");
    return out;
  }
  out.real = std::move(real);
  return out;
}

http::Response browse(const Lookup& l) {
  Resolved r = resolve(l);
  if (r.refusal) {
    return *r.refusal;
  }
  struct stat st {};
  if (::stat(r.real.c_str(), &st) != 0) {
    return errno_response(errno, l.virtual_path);
  }
  picojson::array entries;
  if (!S_ISDIR(st.st_mode)) {
    entries.push_back(file_info(l.virtual_path, st));
    return http::json_response(picojson::value(std::move(entries)));
  }
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(r.real.c_str()), ::closedir);
  if (!dir) {
    return errno_response(errno, l.virtual_path);
  }
  std::vector<std::pair<std::string, struct stat>> found;
  while (struct dirent* d = ::readdir(dir.get())) {
    std::string name = d->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    struct stat entry {};
    std::string full = r.real + "/" + name;
    // Symlinks show what they point at (a dangling one shows itself).
    if (::stat(full.c_str(), &entry) != 0 && ::lstat(full.c_str(), &entry) != 0) {
      continue;  // removed meanwhile
    }
    std::string vpath = l.virtual_path == "/" ? "/" + name : l.virtual_path + "/" + name;
    found.emplace_back(std::move(vpath), entry);
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [vpath, entry] : found) {
    entries.push_back(file_info(vpath, entry));
  }
  return http::json_response(picojson::value(std::move(entries)));
}

http::Response read(const Lookup& l, const std::map<std::string, std::string>& query, size_t max_length) {
  Try<ReadRange> range = parse_read_range(query);
  if (range.is_error()) {
    return http::error_response(400, range.error() + " (path '" + l.virtual_path + "')");
  }
  Fd fd;
  struct stat st {};
  if (auto refusal = open_file(l, &fd, &st)) {
    return *refusal;
  }
  auto size = static_cast<int64_t>(st.st_size);
  picojson::object o;
  if (range->offset == -1 || range->offset >= size) {
    o["offset"] = json_number(static_cast<double>(size));
    o["data"] = picojson::value(std::string());
    return http::json_response(picojson::value(std::move(o)));
  }
  uint64_t length = range->length < 0 ? static_cast<uint64_t>(size - range->offset)
                                      : static_cast<uint64_t>(range->length);
  length = std::min<uint64_t>({length, max_length, static_cast<uint64_t>(size - range->offset)});
  Try<std::string> data = pread_all(fd.fd, static_cast<uint64_t>(range->offset), length);
  if (data.is_error()) {
    return http::error_response(500, "Cannot read '" + l.virtual_path + "': " + data.error());
  }
  o["offset"] = json_number(static_cast<double>(range->offset));
  o["data"] = picojson::value(std::move(*data));
  return http::json_response(picojson::value(std::move(o)));
}

http::Response download(const Lookup& l) {
  Fd fd;
  struct stat st {};
  std::string real;
  if (auto refusal = open_file(l, &fd, &st, &real)) {
    return *refusal;
  }
  http::Response resp;
  resp.content_type = "application/octet-stream";
  // Streamed by the HTTP server from the file, whatever its size.
  resp.body_file = real;  // resolved: no symlink left in it
  resp.body_file_size = static_cast<uint64_t>(st.st_size);
  std::string name = l.virtual_path.substr(l.virtual_path.rfind('/') + 1);
  std::string safe;
  for (char ch : name) {
    safe.push_back(ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20 ? '_' : ch);
  }
  resp.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + safe + "\"");
  return resp;
}

std::string info_log_path(const std::string& log_dir, const std::string& program) {
  return log_dir + "/" + program + ".INFO";
}

// ---- the actor ------------------------------------------------------------------------

namespace {

using work_atom = caf::atom_constant<caf::atom("fs_work")>;

// One request's disk work, then it quits.
caf::behavior files_worker(caf::event_based_actor* self) {
  return {
      [self](work_atom, const std::string& op, const Lookup& l,
             const std::map<std::string, std::string>& query) -> http::Response {
        self->quit();
        if (op == "browse") {
          return browse(l);
        }
        if (op == "read") {
          static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
          return read(l, query, MAX_READ_PAGES * page);
        }
        return download(l);
      },
  };
}

picojson::value table_json(const std::map<std::string, std::string>& table) {
  picojson::object o;
  for (const auto& [v, r] : table) {
    o[v] = picojson::value(r);
  }
  return picojson::value(std::move(o));
}

struct FilesState {
  FilesState() = default;
  caf::stateful_actor<FilesState>* self = nullptr;
  std::map<std::string, std::string> table;  // virtual -> real
  size_t workers = 0;
  static inline const char* name = "files";

  // Answers `rp` at once (debug, refusals) or once a worker has done the
  // disk work.
  void serve(const std::string& op, const std::map<std::string, std::string>& query, caf::response_promise rp) {
    if (op == "debug") {
      rp.deliver(http::json_response(table_json(table)));
      return;
    }
    if (op != "browse" && op != "read" && op != "download") {
      rp.deliver(http::error_response(400, "Unknown files operation '" + op + "'"));
      return;
    }
    auto p = query.find("path");
    if (p == query.end() || p->second.empty()) {
      rp.deliver(http::error_response(400, "Expecting 'path' in query"));
      return;
    }
    Try<std::string> v = normalize_virtual_path(p->second);
    if (v.is_error()) {
      rp.deliver(http::error_response(400, "Invalid value for 'path': " + v.error()));
      return;
    }
    Lookup l = lookup(table, *v);
    if (l.status != 200) {
      rp.deliver(http::error_response(l.status, l.message));
      return;
    }
    if (workers >= MAX_WORKERS) {
      rp.deliver(http::error_response(503, "Too many file requests in flight (" + std::to_string(MAX_WORKERS) +
                                               "); try '" + *v + "' again"));
      return;
    }
    Try<caf::actor> spawned = spawn_with_thread(self->system(), ThreadActor::detached, [this] {
      return self->spawn<caf::detached + caf::monitored>(files_worker);
    });
    if (spawned.is_error()) {
      rp.deliver(http::error_response(503, "Cannot serve '" + *v + "' now: " + spawned.error()));
      return;
    }
    caf::actor worker = *spawned;
    ++workers;
    std::string vpath = *v;
    self->request(worker, caf::infinite, work_atom::value, op, std::move(l), query)
        .then([rp](http::Response& r) mutable { rp.deliver(std::move(r)); },
              [rp, vpath](caf::error& e) mutable {
                rp.deliver(http::error_response(500, "The files worker for '" + vpath +
                                                         "' failed: " + caf::to_string(e)));
              });
  }
};

caf::behavior files_actor(caf::stateful_actor<FilesState>* self, caf::actor owner) {
  self->state.self = self;
  if (owner) {
    self->monitor(owner);
  }
  caf::actor_addr owner_addr = owner.address();
  self->set_down_handler([self, owner_addr](caf::down_msg& dm) {
    if (owner_addr && dm.source == owner_addr) {
      self->quit(caf::exit_reason::user_shutdown);
      return;
    }
    if (self->state.workers > 0) {
      --self->state.workers;
    }
  });
  return {
      [self](attach_atom, const std::string& real, const std::string& virtual_path) -> std::string {
        if (real.empty() || real[0] != '/') {
          return "Cannot attach '" + real + "': the real path is not absolute";
        }
        Try<std::string> v = normalize_virtual_path(virtual_path);
        if (v.is_error()) {
          return "Cannot attach '" + real + "': " + v.error();
        }
        self->state.table[*v] = real;
        return {};
      },
      [self](detach_atom, const std::string& virtual_path) -> bool {
        Try<std::string> v = normalize_virtual_path(virtual_path);
        return v.is_some() && self->state.table.erase(*v) > 0;
      },
      [self](detach_atom, const std::string& virtual_path, const std::string& real) -> bool {
        Try<std::string> v = normalize_virtual_path(virtual_path);
        if (v.is_error()) {
          return false;
        }
        auto it = self->state.table.find(*v);
        if (it == self->state.table.end() || it->second != real) {
          return false;
        }
        self->state.table.erase(it);
        return true;
      },
      [self](attached_atom, const std::string& virtual_path) -> bool {
        Try<std::string> v = normalize_virtual_path(virtual_path);
        return v.is_some() && lookup(self->state.table, *v).status != 404;
      },
      [self](serve_atom, const std::string& op, const std::map<std::string, std::string>& query) {
        auto rp = self->make_response_promise();
        self->state.serve(op, query, rp);
        return rp;
      },
  };
}

}  // namespace

caf::actor spawn_files(caf::actor_system& sys, const caf::actor& owner) {
  return sys.spawn(files_actor, owner);
}

// ---- routes ---------------------------------------------------------------------------

namespace {

void serve(caf::io::broker* self, const caf::actor& files, const std::string& op, const http::Request& req,
           http::Responder respond) {
  self->request(files, FILES_ROUTE_TIMEOUT, serve_atom::value, op, req.query)
      .then([respond](http::Response& r) { respond(std::move(r)); },
            [respond](caf::error& e) {
              respond(http::error_response(503, "No answer from the files service: " + caf::to_string(e)));
            });
}

http::Route files_route(const std::string& path, const std::string& op, const std::string& help,
                        const caf::actor& files, const Fallback& fallback, const Divert& divert) {
  http::Route r;
  r.path = path;
  r.help = help;
  r.handler = [files, op, fallback, divert](caf::io::broker* self, const http::Request& req,
                                            http::Responder respond) {
    if (!fallback || op == "debug") {
      serve(self, files, op, req, std::move(respond));
      return;
    }
    if (divert && divert(req)) {
      fallback(self, op, req, std::move(respond));
      return;
    }
    auto p = req.query.find("path");
    std::string path = p == req.query.end() ? std::string() : p->second;
    self->request(files, FILES_ROUTE_TIMEOUT, attached_atom::value, path)
        .then(
            [self, files, op, fallback, req, respond](bool attached) {
              if (attached) {
                serve(self, files, op, req, respond);
              } else {
                fallback(self, op, req, respond);
              }
            },
            [respond](caf::error& e) {
              respond(http::error_response(503, "No answer from the files service: " + caf::to_string(e)));
            });
  };
  return r;
}

}  // namespace

std::vector<http::Route> files_routes(const caf::actor& files, Fallback fallback, Divert divert) {
  const std::string browse_help =
      "?path=P: JSON array of the entries of the attached directory P (or P itself): path, mode, nlink, "
      "uid, gid, size, mtime.";
  const std::string read_help =
      "?path=P&offset=O[&length=L]: {\"data\", \"offset\"} of file P; offset -1 gives the size; length is "
      "capped at 16 pages.";
  std::vector<http::Route> routes;
  routes.push_back(files_route("/files/browse", "browse", browse_help, files, fallback, divert));
  routes.push_back(files_route("/files/browse.json", "browse", "Alias of /files/browse.", files, fallback, divert));
  routes.push_back(files_route("/files/read", "read", read_help, files, fallback, divert));
  routes.push_back(files_route("/files/read.json", "read", "Alias of /files/read.", files, fallback, divert));
  routes.push_back(files_route("/files/download", "download",
                               "?path=P: the bytes of file P as an attachment (at most 64 MiB).", files, fallback,
                               divert));
  routes.push_back(files_route("/files/debug", "debug", "The attached paths: {virtual path: real path}.", files,
                               fallback, divert));
  return routes;
}

void register_files_routes(Runtime& runtime, const caf::actor& files, Fallback fallback, Divert divert) {
  for (auto& r : files_routes(files, std::move(fallback), std::move(divert))) {
    runtime.add_route(std::move(r));
  }
}

}  // namespace stoa::files
