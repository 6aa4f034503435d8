#include "common/io.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace stoa {

namespace {

enum class How { WRITE, PWRITE, SEND };

// write(2) at the file position, pwrite(2) from `offset`, or send(2).
bool write_whole(int fd, std::string_view data, How how, off_t offset = 0) {
  size_t done = 0;
  while (done < data.size()) {
    const char* p = data.data() + done;
    const size_t left = data.size() - done;
    ssize_t n = how == How::PWRITE ? ::pwrite(fd, p, left, offset + static_cast<off_t>(done))
                : how == How::SEND ? ::send(fd, p, left, MSG_NOSIGNAL)
                                   : ::write(fd, p, left);
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

bool write_all(int fd, std::string_view data) { return write_whole(fd, data, How::WRITE); }

bool pwrite_all(int fd, std::string_view data, off_t offset) { return write_whole(fd, data, How::PWRITE, offset); }

bool send_all(int fd, std::string_view data) { return write_whole(fd, data, How::SEND); }

}  // namespace stoa
