#pragma once
// Whole writes to a file descriptor: the short-write and EINTR loop with one
// home.

#include <sys/types.h>

#include <string_view>

namespace stoa {

// Writes all of `data` to `fd` at its file position, retrying short writes
// and EINTR; false on an error (errno set; a write of 0 bytes leaves errno
// as the last call set it).
bool write_all(int fd, std::string_view data);

// The same with pwrite(2) from `offset`: the file position is neither used
// nor moved.
bool pwrite_all(int fd, std::string_view data, off_t offset);

// The same with send(2) and MSG_NOSIGNAL on a socket: a peer that is gone
// is an error (EPIPE), not a SIGPIPE.
bool send_all(int fd, std::string_view data);

}  // namespace stoa
