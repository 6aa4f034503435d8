#include "common/io.hpp"

#include <unistd.h>

#include <cerrno>
#include <optional>

namespace stoa {

namespace {

// write(2) at the file position without `offset`, pwrite(2) from it with.
bool write_whole(int fd, std::string_view data, std::optional<off_t> offset) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = offset ? ::pwrite(fd, data.data() + done, data.size() - done, *offset + static_cast<off_t>(done))
                       : ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

bool write_all(int fd, std::string_view data) { return write_whole(fd, data, std::nullopt); }

bool pwrite_all(int fd, std::string_view data, off_t offset) { return write_whole(fd, data, offset); }

}  // namespace stoa
