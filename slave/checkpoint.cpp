#include "slave/checkpoint.hpp"
#include "common/strings.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "slave/paths.hpp"

namespace stoa::slave::checkpoint {
namespace {

// The directory holding `path` ("." for a bare name).
std::string parent_of(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    return ".";
  }
  if (slash == 0) {
    return "/";
  }
  return path.substr(0, slash);
}

// A name private to this process next to `path`, for write-then-rename.
std::string temp_path_for(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const { return fd_; }
  // Closes now, reporting close's errno (0 on success).
  int close() {
    int err = 0;
    if (fd_ >= 0 && ::close(fd_) != 0) {
      err = errno;
    }
    fd_ = -1;
    return err;
  }

 private:
  int fd_;
};

// Writes all of `data`; 0 or the errno of the failing write.
int write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}

std::optional<Error> make_parent(const std::string& path) {
  Try<bool> made = mkdirs(parent_of(path));
  if (made.is_error()) {
    return Error(made.error());
  }
  return std::nullopt;
}

// Makes a rename or a creation in `dir` durable.
std::optional<Error> fsync_directory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    return Error("Failed to open directory '" + dir + "' to sync it: " + errno_text(errno));
  }
  if (::fsync(fd.get()) != 0) {
    return Error("Failed to sync directory '" + dir + "': " + errno_text(errno));
  }
  return std::nullopt;
}

constexpr std::size_t HEADER_BYTES = 8;  // crc32c + length, both 4 bytes little-endian

void put_u32le(std::string* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xFFU));
  }
}

uint32_t get_u32le(const std::string& data, std::size_t offset) {
  uint32_t value = 0;
  for (int i = 3; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(data[offset + static_cast<std::size_t>(i)]);
  }
  return value;
}

std::string hex32(uint32_t value) {
  char buffer[11];
  std::snprintf(buffer, sizeof(buffer), "0x%08X", value);
  return buffer;
}

std::array<uint32_t, 256> make_crc32c_table() {
  constexpr uint32_t POLYNOMIAL = 0x82F63B78U;  // Castagnoli, bit-reversed
  std::array<uint32_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1U) != 0 ? (crc >> 1) ^ POLYNOMIAL : crc >> 1;
    }
    table[byte] = crc;
  }
  return table;
}

}  // namespace

uint32_t crc32c(const std::string& data) {
  static const std::array<uint32_t, 256> table = make_crc32c_table();
  uint32_t crc = 0xFFFFFFFFU;
  for (char c : data) {
    crc = table[(crc ^ static_cast<unsigned char>(c)) & 0xFFU] ^ (crc >> 8);
  }
  return crc ^ 0xFFFFFFFFU;
}

std::optional<Error> write_file(const std::string& path, const std::string& bytes) {
  if (std::optional<Error> error = make_parent(path)) {
    return Error("Failed to write '" + path + "': " + error->message);
  }
  const std::string temp = temp_path_for(path);
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    return Error("Failed to create '" + temp + "': " + errno_text(errno));
  }
  int err = write_all(fd.get(), bytes.data(), bytes.size());
  std::string step = "write";
  if (err == 0 && ::fsync(fd.get()) != 0) {
    err = errno;
    step = "sync";
  }
  if (err == 0 && (err = fd.close()) != 0) {
    step = "close";
  }
  if (err == 0 && ::rename(temp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(temp.c_str());
    return Error("Failed to rename '" + temp + "' to '" + path + "': " + errno_text(err));
  }
  if (err != 0) {
    ::unlink(temp.c_str());
    return Error("Failed to " + step + " '" + temp + "' (for '" + path + "'): " + errno_text(err));
  }
  if (std::optional<Error> error = fsync_directory(parent_of(path))) {
    return Error("Wrote '" + path + "' but: " + error->message);
  }
  return std::nullopt;
}

std::optional<Error> write_message(const std::string& path, const google::protobuf::Message& message) {
  std::string bytes;
  // SerializeToString throws on a message missing required fields.
  if (!message.IsInitialized() || !message.SerializeToString(&bytes)) {
    return Error("Failed to serialize " + message.GetTypeName() + " for '" + path +
                 "': missing required fields: " + message.InitializationErrorString());
  }
  return write_file(path, bytes);
}

Try<std::string> read_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO found in place of a file must not block
  // (it is refused below); it changes nothing for a regular file.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    return Error("Failed to read '" + path + "': " + errno_text(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Error("Failed to read '" + path + "': " + errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Error("Failed to read '" + path + "': not a regular file");
  }
  std::string data;
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error("Failed to read '" + path + "': " + errno_text(errno));
    }
    if (n == 0) {
      break;
    }
    data.append(buffer, static_cast<std::size_t>(n));
  }
  return data;
}

std::optional<Error> read_message(const std::string& path, google::protobuf::Message* message) {
  Try<std::string> data = read_file(path);
  if (data.is_error()) {
    return Error(data.error());
  }
  if (data->empty()) {
    return Error("'" + path + "' is empty: it is truncated or corrupt");
  }
  // ParseFromString would also log the missing fields to stderr: say it once, here.
  if (!message->ParsePartialFromString(*data)) {
    return Error("'" + path + "' is truncated or corrupt: it does not parse as " + message->GetTypeName());
  }
  if (!message->IsInitialized()) {
    return Error("'" + path + "' is truncated or corrupt: it does not parse as " + message->GetTypeName() +
                 " (missing " + message->InitializationErrorString() + ")");
  }
  return std::nullopt;
}

std::optional<Error> append_record(const std::string& path, const google::protobuf::Message& message) {
  std::string payload;
  if (!message.IsInitialized() || !message.SerializeToString(&payload)) {
    return Error("Failed to serialize " + message.GetTypeName() + " for '" + path +
                 "': missing required fields: " + message.InitializationErrorString());
  }
  if (payload.size() > MAX_RECORD_BYTES) {
    return Error("Failed to append to '" + path + "': a record of " + std::to_string(payload.size()) +
                 " bytes exceeds the limit of " + std::to_string(MAX_RECORD_BYTES));
  }
  std::string frame;
  frame.reserve(HEADER_BYTES + payload.size());
  put_u32le(&frame, crc32c(payload));
  put_u32le(&frame, static_cast<uint32_t>(payload.size()));
  frame += payload;

  if (std::optional<Error> error = make_parent(path)) {
    return Error("Failed to append to '" + path + "': " + error->message);
  }
  struct stat st {};
  const bool existed = ::lstat(path.c_str(), &st) == 0;
  Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    return Error("Failed to open '" + path + "' for appending: " + errno_text(errno));
  }
  if (int err = write_all(fd.get(), frame.data(), frame.size()); err != 0) {
    return Error("Failed to append to '" + path + "': " + errno_text(err));
  }
  if (::fsync(fd.get()) != 0) {
    return Error("Failed to sync '" + path + "': " + errno_text(errno));
  }
  if (int err = fd.close(); err != 0) {
    return Error("Failed to close '" + path + "': " + errno_text(err));
  }
  if (!existed) {
    if (std::optional<Error> error = fsync_directory(parent_of(path))) {
      return Error("Appended to '" + path + "' but: " + error->message);
    }
  }
  return std::nullopt;
}

Try<Records> read_records(const std::string& path) {
  Try<std::string> data = read_file(path);
  if (data.is_error()) {
    return Error(data.error());
  }
  Records records;
  std::size_t offset = 0;
  const std::size_t size = data->size();
  while (offset < size) {
    if (size - offset < HEADER_BYTES) {
      records.torn_tail = true;  // a header cut short by a crash
      break;
    }
    const uint32_t expected_crc = get_u32le(*data, offset);
    const uint32_t length = get_u32le(*data, offset + 4);
    if (length > MAX_RECORD_BYTES) {
      return Error("Corrupt record in '" + path + "' at byte offset " + std::to_string(offset) + ": length " +
                   std::to_string(length) + " exceeds the limit of " + std::to_string(MAX_RECORD_BYTES));
    }
    if (size - offset - HEADER_BYTES < length) {
      records.torn_tail = true;  // a payload cut short by a crash
      break;
    }
    std::string payload = data->substr(offset + HEADER_BYTES, length);
    const uint32_t actual_crc = crc32c(payload);
    if (actual_crc != expected_crc) {
      return Error("Corrupt record in '" + path + "' at byte offset " + std::to_string(offset) +
                   ": checksum mismatch (stored " + hex32(expected_crc) + ", computed " + hex32(actual_crc) + ")");
    }
    records.payloads.push_back(std::move(payload));
    offset += HEADER_BYTES + length;
    records.valid_bytes = offset;
  }
  return records;
}

std::optional<Error> truncate_file(const std::string& path, uint64_t length) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return Error("Failed to open '" + path + "' to truncate it: " + errno_text(errno));
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(length)) != 0) {
    return Error("Failed to truncate '" + path + "' to " + std::to_string(length) + " bytes: " + errno_text(errno));
  }
  if (::fsync(fd.get()) != 0) {
    return Error("Failed to sync '" + path + "': " + errno_text(errno));
  }
  return std::nullopt;
}

std::optional<Error> write_symlink(const std::string& target, const std::string& link) {
  if (target.empty() || target.front() == '/' || target.find('\0') != std::string::npos) {
    return Error("Failed to point '" + link + "' at '" + target + "': the target must be a relative name");
  }
  if (std::optional<Error> error = make_parent(link)) {
    return Error("Failed to create symlink '" + link + "': " + error->message);
  }
  const std::string temp = temp_path_for(link);
  ::unlink(temp.c_str());
  if (::symlink(target.c_str(), temp.c_str()) != 0) {
    return Error("Failed to create symlink '" + temp + "': " + errno_text(errno));
  }
  if (::rename(temp.c_str(), link.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return Error("Failed to rename '" + temp + "' to '" + link + "': " + errno_text(err));
  }
  if (std::optional<Error> error = fsync_directory(parent_of(link))) {
    return Error("Created symlink '" + link + "' but: " + error->message);
  }
  return std::nullopt;
}

Try<std::string> read_symlink(const std::string& link) {
  struct stat st {};
  if (::lstat(link.c_str(), &st) != 0) {
    return Error("Failed to read symlink '" + link + "': " + errno_text(errno));
  }
  if (!S_ISLNK(st.st_mode)) {
    return Error("'" + link + "' is not a symlink");
  }
  std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 64) + 1, '\0');
  while (true) {
    ssize_t n = ::readlink(link.c_str(), target.data(), target.size());
    if (n < 0) {
      return Error("Failed to read symlink '" + link + "': " + errno_text(errno));
    }
    if (static_cast<std::size_t>(n) < target.size()) {
      target.resize(static_cast<std::size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);  // it grew since lstat
  }
}

std::optional<Error> remove_all(const std::string& path) {
  std::error_code error;
  std::filesystem::remove_all(path, error);
  if (error) {
    return Error("Failed to remove '" + path + "': " + error.message());
  }
  return std::nullopt;
}

}  // namespace stoa::slave::checkpoint
