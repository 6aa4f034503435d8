#include "slave/checkpoint.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "proto/messages.pb.h"
#include "proto/stoa.pb.h"

namespace stoa::slave::checkpoint {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "stoa-checkpoint-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  static std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static void spit(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
  static std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir_;
};

TEST(Crc32c, MatchesTheStandardCheckValues) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283U);
  EXPECT_EQ(crc32c(""), 0U);
  // RFC 3720 (iSCSI) B.4 test vectors.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAU);
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43U);
  std::string ascending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
  }
  EXPECT_EQ(crc32c(ascending), 0x46DD794EU);
}

TEST_F(CheckpointTest, WriteFileCreatesParentsAndRenamesOverTheOldContent) {
  const std::string path = dir_ + "/a/b/file";
  ASSERT_FALSE(write_file(path, "first"));
  EXPECT_EQ(slurp(path), "first");
  ASSERT_FALSE(write_file(path, "second, longer"));
  EXPECT_EQ(slurp(path), "second, longer");
  ASSERT_FALSE(write_file(path, ""));
  EXPECT_EQ(slurp(path), "");
  // No temporary file is left behind.
  EXPECT_EQ(entries(dir_ + "/a/b"), std::vector<std::string>{"file"});
}

TEST_F(CheckpointTest, WriteFileErrorsNameThePath) {
  spit(dir_ + "/plain", "x");
  std::optional<Error> error = write_file(dir_ + "/plain/sub/file", "data");
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find(dir_ + "/plain/sub/file"), std::string::npos) << error->message;
  // A directory in the way of the rename: the temp file is removed again.
  fs::create_directories(dir_ + "/blocked/dir");
  spit(dir_ + "/blocked/dir/x", "x");
  error = write_file(dir_ + "/blocked/dir", "data");
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find(dir_ + "/blocked/dir"), std::string::npos) << error->message;
  EXPECT_EQ(entries(dir_ + "/blocked"), std::vector<std::string>{"dir"});
}

TEST_F(CheckpointTest, MessagesRoundTrip) {
  SlaveInfo info;
  info.set_hostname("host-1");
  info.mutable_id()->set_value("S1");
  ASSERT_FALSE(write_message(dir_ + "/slave.info", info));
  SlaveInfo back;
  ASSERT_FALSE(read_message(dir_ + "/slave.info", &back));
  EXPECT_EQ(back.SerializeAsString(), info.SerializeAsString());

  Try<std::string> raw = read_file(dir_ + "/slave.info");
  ASSERT_TRUE(raw) << raw.error();
  EXPECT_EQ(*raw, info.SerializeAsString());
}

TEST_F(CheckpointTest, WriteMessageRefusesAMessageMissingRequiredFields) {
  SlaveInfo info;  // no hostname
  std::optional<Error> error = write_message(dir_ + "/slave.info", info);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("hostname"), std::string::npos) << error->message;
  EXPECT_FALSE(fs::exists(dir_ + "/slave.info"));
}

TEST_F(CheckpointTest, ReadMessageReportsMissingEmptyAndCorruptFiles) {
  Task task;
  std::optional<Error> error = read_message(dir_ + "/missing", &task);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find(dir_ + "/missing"), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("No such file or directory"), std::string::npos) << error->message;

  spit(dir_ + "/empty", "");
  error = read_message(dir_ + "/empty", &task);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find(dir_ + "/empty"), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("truncated or corrupt"), std::string::npos) << error->message;

  Task full;
  full.set_name("t");
  full.mutable_task_id()->set_value("T1");
  full.mutable_framework_id()->set_value("F1");
  full.mutable_slave_id()->set_value("S1");
  full.set_state(TASK_RUNNING);
  const std::string bytes = full.SerializeAsString();
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
    spit(dir_ + "/cut", bytes.substr(0, cut));
    error = read_message(dir_ + "/cut", &task);
    ASSERT_TRUE(error) << "cut at " << cut;
    EXPECT_NE(error->message.find(dir_ + "/cut' is truncated or corrupt"), std::string::npos) << error->message;
  }

  Task no_state = full;
  no_state.clear_state();
  spit(dir_ + "/partial", no_state.SerializePartialAsString());
  error = read_message(dir_ + "/partial", &task);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("does not parse as stoa.Task (missing state)"), std::string::npos) << error->message;

  fs::create_directories(dir_ + "/a_dir");
  error = read_message(dir_ + "/a_dir", &task);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("not a regular file"), std::string::npos) << error->message;
  // A FIFO with no writer: refused at once, not waited on.
  ASSERT_EQ(::mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
  error = read_message(dir_ + "/fifo", &task);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find(dir_ + "/fifo': not a regular file"), std::string::npos) << error->message;
}

internal::StatusUpdateRecord update_record(const std::string& uuid, TaskState state) {
  internal::StatusUpdateRecord record;
  record.set_type(internal::StatusUpdateRecord::UPDATE);
  internal::StatusUpdate* update = record.mutable_update();
  update->mutable_framework_id()->set_value("F1");
  update->mutable_status()->mutable_task_id()->set_value("T1");
  update->mutable_status()->set_state(state);
  update->set_timestamp(1.5);
  update->set_uuid(uuid);
  return record;
}

TEST_F(CheckpointTest, RecordsRoundTripInOrder) {
  const std::string path = dir_ + "/t/task.updates";
  std::vector<internal::StatusUpdateRecord> written = {update_record("u1", TASK_RUNNING),
                                                       update_record("u2", TASK_FINISHED)};
  internal::StatusUpdateRecord ack;
  ack.set_type(internal::StatusUpdateRecord::ACK);
  ack.set_uuid("u1");
  written.push_back(ack);
  for (const auto& record : written) {
    ASSERT_FALSE(append_record(path, record));
  }
  Try<Records> records = read_records(path);
  ASSERT_TRUE(records) << records.error();
  EXPECT_FALSE(records->torn_tail);
  EXPECT_EQ(records->valid_bytes, fs::file_size(path));
  ASSERT_EQ(records->payloads.size(), written.size());
  for (std::size_t i = 0; i < written.size(); ++i) {
    EXPECT_EQ(records->payloads[i], written[i].SerializeAsString()) << i;
  }
  // The frame: crc32c of the payload, then its length, both little-endian.
  const std::string bytes = slurp(path);
  const std::string first = written[0].SerializeAsString();
  const uint32_t crc = crc32c(first);
  EXPECT_EQ(bytes.substr(0, 4), std::string({static_cast<char>(crc & 0xFF), static_cast<char>((crc >> 8) & 0xFF),
                                              static_cast<char>((crc >> 16) & 0xFF), static_cast<char>(crc >> 24)}));
  EXPECT_EQ(bytes.substr(4, 4), std::string({static_cast<char>(first.size()), 0, 0, 0}));
  EXPECT_EQ(bytes.substr(8, first.size()), first);
}

TEST_F(CheckpointTest, AnEmptyOrMissingRecordFile) {
  Try<Records> missing = read_records(dir_ + "/none");
  ASSERT_TRUE(missing.is_error());
  EXPECT_NE(missing.error().find(dir_ + "/none"), std::string::npos) << missing.error();
  spit(dir_ + "/empty", "");
  Try<Records> empty = read_records(dir_ + "/empty");
  ASSERT_TRUE(empty) << empty.error();
  EXPECT_TRUE(empty->payloads.empty());
  EXPECT_FALSE(empty->torn_tail);
  EXPECT_EQ(empty->valid_bytes, 0U);
}

TEST_F(CheckpointTest, AppendRefusesAnIncompleteRecord) {
  internal::StatusUpdateRecord record;  // no type
  std::optional<Error> error = append_record(dir_ + "/task.updates", record);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find(dir_ + "/task.updates"), std::string::npos) << error->message;
  EXPECT_FALSE(fs::exists(dir_ + "/task.updates"));
}

TEST_F(CheckpointTest, ATornLastRecordOfEveryLengthIsDroppedAndCutOff) {
  const std::string path = dir_ + "/task.updates";
  ASSERT_FALSE(append_record(path, update_record("u1", TASK_STARTING)));
  ASSERT_FALSE(append_record(path, update_record("u2", TASK_RUNNING)));
  const uint64_t whole = fs::file_size(path);
  ASSERT_FALSE(append_record(path, update_record("u3", TASK_FINISHED)));
  const std::string full = slurp(path);
  ASSERT_GT(full.size(), whole + 8);

  for (std::size_t length = whole + 1; length < full.size(); ++length) {
    spit(path, full.substr(0, length));
    Try<Records> records = read_records(path);
    ASSERT_TRUE(records) << "length " << length << ": " << records.error();
    EXPECT_TRUE(records->torn_tail) << length;
    EXPECT_EQ(records->valid_bytes, whole) << length;
    ASSERT_EQ(records->payloads.size(), 2U) << length;
    EXPECT_EQ(records->payloads[1], update_record("u2", TASK_RUNNING).SerializeAsString());

    // Cut off, the file takes clean appends again.
    ASSERT_FALSE(truncate_file(path, records->valid_bytes));
    EXPECT_EQ(fs::file_size(path), whole);
    ASSERT_FALSE(append_record(path, update_record("u4", TASK_KILLED)));
    Try<Records> again = read_records(path);
    ASSERT_TRUE(again) << again.error();
    EXPECT_FALSE(again->torn_tail);
    ASSERT_EQ(again->payloads.size(), 3U);
    EXPECT_EQ(again->payloads[2], update_record("u4", TASK_KILLED).SerializeAsString());
  }
}

TEST_F(CheckpointTest, ABitFlipIsCorruptionNamingTheFileAndOffset) {
  const std::string path = dir_ + "/task.updates";
  ASSERT_FALSE(append_record(path, update_record("u1", TASK_STARTING)));
  const uint64_t second = fs::file_size(path);
  ASSERT_FALSE(append_record(path, update_record("u2", TASK_RUNNING)));
  ASSERT_FALSE(append_record(path, update_record("u3", TASK_FINISHED)));
  const std::string full = slurp(path);

  // Every bit of the second record's payload.
  const uint64_t third = second + 8 + update_record("u2", TASK_RUNNING).ByteSizeLong();
  for (uint64_t byte = second + 8; byte < third; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = full;
      flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
      spit(path, flipped);
      Try<Records> records = read_records(path);
      ASSERT_TRUE(records.is_error()) << "byte " << byte << " bit " << bit;
      EXPECT_NE(records.error().find(path), std::string::npos) << records.error();
      EXPECT_NE(records.error().find("byte offset " + std::to_string(second) + ": checksum mismatch"),
                std::string::npos)
          << records.error();
    }
  }

  // A stored checksum that does not match.
  std::string bad_crc = full;
  bad_crc[0] = static_cast<char>(bad_crc[0] ^ 0x10);
  spit(path, bad_crc);
  Try<Records> records = read_records(path);
  ASSERT_TRUE(records.is_error());
  EXPECT_NE(records.error().find("byte offset 0: checksum mismatch"), std::string::npos) << records.error();

  // An impossible length, even on the last record.
  std::string huge = full;
  huge[third + 7] = static_cast<char>(0x7F);
  spit(path, huge);
  records = read_records(path);
  ASSERT_TRUE(records.is_error());
  EXPECT_NE(records.error().find("byte offset " + std::to_string(third) + ": length"), std::string::npos)
      << records.error();
  EXPECT_NE(records.error().find("exceeds the limit"), std::string::npos) << records.error();
}

TEST_F(CheckpointTest, TruncateFileErrorsNameThePath) {
  std::optional<Error> error = truncate_file(dir_ + "/none", 0);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find(dir_ + "/none"), std::string::npos) << error->message;
}

TEST_F(CheckpointTest, SymlinksAreRelativeAndReplacedAtomically) {
  const std::string link = dir_ + "/meta/slaves/latest";
  ASSERT_FALSE(write_symlink("S1", link));
  Try<std::string> target = read_symlink(link);
  ASSERT_TRUE(target) << target.error();
  EXPECT_EQ(*target, "S1");
  EXPECT_EQ(fs::read_symlink(link), "S1");

  fs::create_directories(dir_ + "/meta/slaves/S2");
  ASSERT_FALSE(write_symlink("S2", link));
  EXPECT_EQ(*read_symlink(link), "S2");
  EXPECT_TRUE(fs::is_directory(link));  // relative to the link's own directory
  EXPECT_EQ(entries(dir_ + "/meta/slaves"), (std::vector<std::string>{"S2", "latest"}));

  const std::string long_target(300, 'x');
  ASSERT_FALSE(write_symlink(long_target, link));
  EXPECT_EQ(*read_symlink(link), long_target);

  for (const std::string bad : {"", "/abs/S1"}) {
    std::optional<Error> error = write_symlink(bad, link);
    ASSERT_TRUE(error) << bad;
    EXPECT_NE(error->message.find("'" + bad + "'"), std::string::npos) << error->message;
  }
}

TEST_F(CheckpointTest, ReadSymlinkErrors) {
  Try<std::string> missing = read_symlink(dir_ + "/none");
  ASSERT_TRUE(missing.is_error());
  EXPECT_NE(missing.error().find(dir_ + "/none"), std::string::npos) << missing.error();
  spit(dir_ + "/file", "S1");
  Try<std::string> file = read_symlink(dir_ + "/file");
  ASSERT_TRUE(file.is_error());
  EXPECT_NE(file.error().find("is not a symlink"), std::string::npos) << file.error();
}

TEST_F(CheckpointTest, RemoveAllRemovesATreeAndAcceptsAMissingPath) {
  ASSERT_FALSE(write_file(dir_ + "/tree/a/b/c", "x"));
  ASSERT_FALSE(write_symlink("a", dir_ + "/tree/link"));
  ASSERT_FALSE(remove_all(dir_ + "/tree"));
  EXPECT_FALSE(fs::exists(dir_ + "/tree"));
  EXPECT_FALSE(remove_all(dir_ + "/tree"));
}

}  // namespace
}  // namespace stoa::slave::checkpoint
