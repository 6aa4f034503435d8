// The file back end of the store (store.hpp): one file per key under the
// directory, written to "<name>.v.tmp", fsynced, renamed over "<name>.v" and
// the directory fsynced. A detached actor: every request blocks on the disk
// and requests are carried out one at a time, in order.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>

#include <caf/all.hpp>

#include "apps/services/store.hpp"
#include "apps/services/store_layout.hpp"
#include "common/logging.hpp"

namespace stoa::services {

namespace {

namespace fs = std::filesystem;
namespace layout = store_layout;

std::string file_store_errno(const std::string& what, const fs::path& path) {
  return what + " " + path.string() + ": " + std::strerror(errno);
}

// fsyncs a directory, so a rename or create in it is durable.
std::optional<std::string> file_store_sync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return file_store_errno("open", dir);
  }
  std::optional<std::string> error;
  if (::fsync(fd) != 0) {
    error = file_store_errno("fsync", dir);
  }
  ::close(fd);
  return error;
}

// Writes `data` to `path` (created or truncated) and fsyncs it.
std::optional<std::string> file_store_write(const fs::path& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return file_store_errno("open", path);
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      std::string e = file_store_errno("write", path);
      ::close(fd);
      return e;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    std::string e = file_store_errno("fsync", path);
    ::close(fd);
    return e;
  }
  if (::close(fd) != 0) {
    return file_store_errno("close", path);
  }
  return std::nullopt;
}

std::optional<std::string> file_store_read(const fs::path& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return file_store_errno("open", path);
  }
  out->clear();
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      std::string e = file_store_errno("read", path);
      ::close(fd);
      return e;
    }
    if (n == 0) {
      break;
    }
    out->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return std::nullopt;
}

struct FileStore {
  fs::path root;

  // The directory of a key's value file and the file's name.
  std::pair<fs::path, std::string> locate(const std::string& key) const {
    std::vector<std::string> parts = layout::split_key(key);
    fs::path dir = root;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      dir /= layout::encode_component(parts[i]);
    }
    return {dir, layout::encode_component(parts.back()) + std::string(layout::VALUE_SUFFIX)};
  }

  caf::result<std::map<std::string, std::string>> load() const {
    std::map<std::string, std::string> out;
    std::error_code ec;
    fs::recursive_directory_iterator it(root, ec);
    if (ec) {
      return layout::store_error("the file store cannot read " + root.string() + ": " + ec.message());
    }
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) {
        return layout::store_error("the file store cannot read " + root.string() + ": " + ec.message());
      }
      const fs::directory_entry& entry = *it;
      std::string name = entry.path().filename().string();
      if (entry.is_directory(ec)) {
        if (name.find('.') != std::string::npos) {
          it.disable_recursion_pending();  // not ours
        }
        continue;
      }
      const std::string_view suffix = layout::VALUE_SUFFIX;
      if (!entry.is_regular_file(ec) || name.size() <= suffix.size() ||
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0 ||
          name.find('.') != name.size() - suffix.size()) {
        continue;  // a temporary file left by a crash, or not ours
      }
      fs::path relative = entry.path().lexically_relative(root);
      std::string key;
      bool ours = true;
      for (auto part = relative.begin(); part != relative.end(); ++part) {
        std::string encoded = part->string();
        if (std::next(part) == relative.end()) {
          encoded.resize(encoded.size() - suffix.size());
        }
        std::optional<std::string> raw = layout::decode_component(encoded);
        if (!raw) {
          ours = false;
          break;
        }
        key += (key.empty() ? "" : "/") + *raw;
      }
      if (!ours || check_key(key)) {
        LOG_WARNING << "The file store ignores " << entry.path().string() << " (not a stored key)";
        continue;
      }
      std::string value;
      if (std::optional<std::string> e = file_store_read(entry.path(), &value)) {
        return layout::store_error("the file store cannot load key '" + key + "': " + *e);
      }
      out.emplace(std::move(key), std::move(value));
    }
    return out;
  }

  caf::result<bool> put(const std::string& key, const std::string& value) const {
    if (std::optional<std::string> e = check_key(key)) {
      return layout::store_error("store put: " + *e);
    }
    if (std::optional<std::string> e = layout::check_value(key, value)) {
      return layout::store_error("store put: " + *e);
    }
    auto [dir, name] = locate(key);
    // Create the missing directories, each made durable in its parent.
    std::vector<fs::path> missing;
    for (fs::path d = dir; d != root && !fs::exists(d); d = d.parent_path()) {
      missing.push_back(d);
    }
    for (auto d = missing.rbegin(); d != missing.rend(); ++d) {
      std::error_code ec;
      if (!fs::create_directory(*d, ec) && ec) {
        return layout::store_error("store put '" + key + "': cannot create " + d->string() + ": " + ec.message());
      }
      if (std::optional<std::string> e = file_store_sync_dir(d->parent_path())) {
        return layout::store_error("store put '" + key + "': " + *e);
      }
    }
    fs::path target = dir / name;
    fs::path temp = dir / (name + ".tmp");
    if (std::optional<std::string> e = file_store_write(temp, value)) {
      return layout::store_error("store put '" + key + "': " + *e);
    }
    if (::rename(temp.c_str(), target.c_str()) != 0) {
      return layout::store_error("store put '" + key + "': " + file_store_errno("rename to " + target.string(), temp));
    }
    if (std::optional<std::string> e = file_store_sync_dir(dir)) {
      return layout::store_error("store put '" + key + "': " + *e);
    }
    return true;
  }

  // Removes the empty directories from `dir` up to (not including) the root.
  void prune(fs::path dir) const {
    while (dir != root && dir.string().size() > root.string().size()) {
      std::error_code ec;
      if (!fs::is_empty(dir, ec) || ec || !fs::remove(dir, ec) || ec) {
        return;
      }
      dir = dir.parent_path();
    }
  }

  caf::result<bool> remove(const std::string& key) const {
    if (std::optional<std::string> e = check_key(key)) {
      return layout::store_error("store delete: " + *e);
    }
    auto [dir, name] = locate(key);
    fs::path target = dir / name;
    if (::unlink(target.c_str()) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) {
        return true;
      }
      return layout::store_error("store delete '" + key + "': " + file_store_errno("unlink", target));
    }
    if (std::optional<std::string> e = file_store_sync_dir(dir)) {
      return layout::store_error("store delete '" + key + "': " + *e);
    }
    prune(dir);
    return true;
  }

  caf::result<bool> remove_prefix(const std::string& given) const {
    std::string prefix;
    if (std::optional<std::string> e = layout::normalize_prefix(given, &prefix)) {
      return layout::store_error("store delete_prefix: " + *e);
    }
    std::error_code ec;
    if (prefix.empty()) {
      for (const fs::directory_entry& entry : fs::directory_iterator(root, ec)) {
        fs::remove_all(entry.path(), ec);
        if (ec) {
          return layout::store_error("store delete_prefix '': cannot remove " + entry.path().string() + ": " +
                                     ec.message());
        }
      }
      if (std::optional<std::string> e = file_store_sync_dir(root)) {
        return layout::store_error("store delete_prefix '': " + *e);
      }
      return true;
    }
    caf::result<bool> leaf = remove(prefix);
    if (leaf.flag == caf::rt_error) {
      return leaf;
    }
    auto [dir, name] = locate(prefix);
    fs::path below = dir / layout::encode_component(layout::split_key(prefix).back());
    fs::remove_all(below, ec);
    if (ec) {
      return layout::store_error("store delete_prefix '" + prefix + "': cannot remove " + below.string() + ": " +
                                 ec.message());
    }
    if (!fs::exists(dir, ec)) {
      return true;  // nothing was there
    }
    if (std::optional<std::string> e = file_store_sync_dir(dir)) {
      return layout::store_error("store delete_prefix '" + prefix + "': " + *e);
    }
    prune(dir);
    return true;
  }
};

caf::behavior file_store_actor(caf::event_based_actor* self, FileStore store) {
  self->set_default_handler(caf::print_and_drop);
  return {
      [store](store_load_atom) { return store.load(); },
      [store](store_put_atom, const std::string& key, const std::string& value) { return store.put(key, value); },
      [store](store_delete_atom, const std::string& key) { return store.remove(key); },
      [store](store_delete_prefix_atom, const std::string& prefix) { return store.remove_prefix(prefix); },
  };
}

}  // namespace

Try<caf::actor> spawn_file_store(caf::actor_system& sys, const std::string& dir) {
  if (dir.empty()) {
    return Error("the file store needs a directory");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Error("the file store cannot create " + dir + ": " + ec.message());
  }
  if (!fs::is_directory(dir, ec)) {
    return Error("the file store's " + dir + " is not a directory");
  }
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    return Error("the file store cannot write to " + dir + ": " + std::strerror(errno));
  }
  FileStore store{fs::absolute(fs::path(dir)).lexically_normal()};
  std::string root = store.root.string();
  while (root.size() > 1 && root.back() == '/') {
    root.pop_back();
  }
  store.root = root;
  return sys.spawn<caf::detached>(file_store_actor, std::move(store));
}

}  // namespace stoa::services
