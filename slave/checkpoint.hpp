#pragma once
// The slave's checkpoints (docs/checkpoints.md): what a restarted slave
// reads to find the executors and tasks that outlived it. Plain POSIX and
// protobuf, no CAF, never throws; every call is synchronous and blocks on
// the disk (fsync), so the slave calls the writers from a detached actor or
// accepts the cost where Mesos does (before acknowledging an update).
//
// Files hold one protobuf message each, written atomically (temp file in the
// same directory, fsync, rename, fsync of the directory): a reader sees the
// old or the new content, never a mix. Status update streams (task.updates)
// are append-only logs of framed records:
//   [crc32c of the payload: 4 bytes LE][payload length: 4 bytes LE][payload]
// A crash mid-append leaves a torn last record: readers drop it (and
// `read_records` reports how many bytes are valid, so the writer can
// truncate before appending again). A bad checksum or length anywhere else is
// corruption: an Error naming the file and the offset.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "common/try.hpp"

namespace stoa::slave::checkpoint {

// Writes `bytes` to `path` atomically (creating its parent directories):
// `<path>.tmp.<pid>` is written, fsynced and renamed over `path`, then the
// directory is fsynced. A crash leaves the old file or the new one, and at
// worst a stray temp file, which readers never open. Error names the path
// and the errno text. REQUIRES: one writer per path at a time in a process
// (the temp name is per process).
std::optional<Error> write_file(const std::string& path, const std::string& bytes);
// Serializes `message` and writes it with write_file.
std::optional<Error> write_message(const std::string& path, const google::protobuf::Message& message);

// Reads a whole file. Error (naming the path) when missing, unreadable or
// not a regular file.
Try<std::string> read_file(const std::string& path);
// Reads and parses a file written by write_message. Error naming the path
// when it is missing, unreadable, empty, or does not parse as `message`'s
// type (truncated or corrupt).
std::optional<Error> read_message(const std::string& path, google::protobuf::Message* message);

// The largest payload a record may hold. A larger length in a header can
// only be corruption (append_record never writes one).
constexpr uint32_t MAX_RECORD_BYTES = 64U * 1024U * 1024U;

// Appends one framed record holding `message` to `path` (created if
// missing, parents too; a new file's directory is fsynced as well) with one
// write(2), and fsyncs it. Error (naming the path) when `message` lacks
// required fields, is larger than MAX_RECORD_BYTES, or the disk fails.
std::optional<Error> append_record(const std::string& path, const google::protobuf::Message& message);

struct Records {
  std::vector<std::string> payloads;  // in order, each a serialized message
  uint64_t valid_bytes = 0;           // the file's length up to the last whole record
  bool torn_tail = false;             // bytes after valid_bytes were dropped
};
// Reads every whole record of `path`. A missing file is an Error; a torn
// last record is not (torn_tail): fewer bytes left than a header, or than
// the header's length says. A checksum mismatch of a whole record, or a
// length above MAX_RECORD_BYTES, is an Error naming the path and the byte
// offset of the record's header.
Try<Records> read_records(const std::string& path);
// Cuts `path` to `length` bytes and fsyncs it (drops a torn tail).
std::optional<Error> truncate_file(const std::string& path, uint64_t length);

// Points the symlink `link` at `target` (a relative name), atomically
// (a temp link `<link>.tmp.<pid>` renamed over it, then the directory is
// fsynced); creates the parent directories. Error for an empty or absolute
// target, naming it.
std::optional<Error> write_symlink(const std::string& target, const std::string& link);
// The target of symlink `link`; Error when it is missing or not a symlink.
Try<std::string> read_symlink(const std::string& link);

// rm -rf; a missing path is fine.
std::optional<Error> remove_all(const std::string& path);

// CRC-32C (Castagnoli) of `data`.
uint32_t crc32c(const std::string& data);

}  // namespace stoa::slave::checkpoint
