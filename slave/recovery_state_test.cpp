#include "slave/recovery_state.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "slave/checkpoint.hpp"
#include "slave/paths.hpp"

namespace stoa::slave {
namespace {

namespace fs = std::filesystem;

const std::string SID = "S1";

class RecoveryStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "stoa-recovery-XXXXXX").string();
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

  static SlaveInfo slave_info(const std::string& sid = SID) {
    SlaveInfo info;
    info.set_hostname("host-1");
    info.set_port(5051);
    info.mutable_id()->set_value(sid);
    return info;
  }
  static FrameworkInfo framework_info(const std::string& fid) {
    FrameworkInfo info;
    info.set_user("alice");
    info.set_name("framework " + fid);
    info.mutable_id()->set_value(fid);
    info.set_checkpoint(true);
    return info;
  }
  static ExecutorInfo executor_info(const std::string& fid, const std::string& eid) {
    ExecutorInfo info;
    info.mutable_executor_id()->set_value(eid);
    info.mutable_framework_id()->set_value(fid);
    info.mutable_command()->set_value("sleep 1000");
    info.set_name("executor " + eid);
    return info;
  }
  static Task task(const std::string& fid, const std::string& eid, const std::string& tid) {
    Task t;
    t.set_name("task " + tid);
    t.mutable_task_id()->set_value(tid);
    t.mutable_framework_id()->set_value(fid);
    t.mutable_executor_id()->set_value(eid);
    t.mutable_slave_id()->set_value(SID);
    t.set_state(TASK_STAGING);
    return t;
  }
  static internal::StatusUpdateRecord update(const std::string& fid, const std::string& tid, const std::string& uuid,
                                             TaskState state) {
    internal::StatusUpdateRecord record;
    record.set_type(internal::StatusUpdateRecord::UPDATE);
    internal::StatusUpdate* u = record.mutable_update();
    u->mutable_framework_id()->set_value(fid);
    u->mutable_status()->mutable_task_id()->set_value(tid);
    u->mutable_status()->set_state(state);
    u->set_timestamp(12.5);
    u->set_uuid(uuid);
    return record;
  }
  static internal::StatusUpdateRecord ack(const std::string& uuid) {
    internal::StatusUpdateRecord record;
    record.set_type(internal::StatusUpdateRecord::ACK);
    record.set_uuid(uuid);
    return record;
  }

  // One framework F1, executor E1, run C1 (registered, pid 4242), task T1
  // with updates u1 RUNNING (acknowledged) and u2 FINISHED.
  void write_small_tree() {
    ASSERT_FALSE(checkpoint_slave_info(dir_, slave_info()));
    ASSERT_FALSE(checkpoint_framework(dir_, SID, framework_info("F1"), "scheduler-1@10.0.0.1:5000"));
    ASSERT_FALSE(checkpoint_executor(dir_, SID, executor_info("F1", "E1"), "C1"));
    ASSERT_FALSE(checkpoint_forked_pid(dir_, SID, "F1", "E1", "C1", 4242));
    ASSERT_FALSE(checkpoint_registered(dir_, SID, "F1", "E1", "C1", "executor(1)@10.0.0.2:4000"));
    ASSERT_FALSE(checkpoint_task(dir_, SID, "E1", "C1", task("F1", "E1", "T1")));
    ASSERT_FALSE(checkpoint_update_record(dir_, SID, "F1", "E1", "C1", "T1", update("F1", "T1", "u1", TASK_RUNNING)));
    ASSERT_FALSE(checkpoint_update_record(dir_, SID, "F1", "E1", "C1", "T1", ack("u1")));
    ASSERT_FALSE(
        checkpoint_update_record(dir_, SID, "F1", "E1", "C1", "T1", update("F1", "T1", "u2", TASK_FINISHED)));
  }

  SlaveCheckpoint read(bool strict) {
    Try<std::optional<SlaveCheckpoint>> state = read_slave_state(dir_, strict);
    EXPECT_TRUE(state) << state.error();
    if (!state || !state->has_value()) {
      ADD_FAILURE() << "no checkpoint";
      return {};
    }
    return std::move(**state);
  }

  // The strict Error for a bad `bad_file`, with the way out.
  void expect_strict_error(const std::string& bad_file, const std::string& problem) {
    Try<std::optional<SlaveCheckpoint>> state = read_slave_state(dir_, true);
    ASSERT_TRUE(state.is_error()) << bad_file;
    const std::string& message = state.error();
    EXPECT_NE(message.find(bad_file), std::string::npos) << message;
    EXPECT_NE(message.find(problem), std::string::npos) << message;
    EXPECT_NE(message.find("remove " + dir_ + "/meta/slaves/latest"), std::string::npos) << message;
    EXPECT_NE(message.find("--strict=false"), std::string::npos) << message;
  }

  std::string run_dir(const std::string& cid = "C1") const { return run_meta_path(dir_, SID, "F1", "E1", cid); }

  std::string dir_;
};

TEST_F(RecoveryStateTest, NoLatestLinkMeansNoCheckpoint) {
  for (bool strict : {true, false}) {
    Try<std::optional<SlaveCheckpoint>> state = read_slave_state(dir_, strict);
    ASSERT_TRUE(state) << state.error();
    EXPECT_FALSE(state->has_value());
    state = read_slave_state(dir_ + "/not/created", strict);
    ASSERT_TRUE(state) << state.error();
    EXPECT_FALSE(state->has_value());
  }
  // A slave directory without the link is not recovered either.
  ASSERT_FALSE(checkpoint::write_message(slave_info_path(dir_, SID), slave_info()));
  Try<std::optional<SlaveCheckpoint>> state = read_slave_state(dir_, true);
  ASSERT_TRUE(state) << state.error();
  EXPECT_FALSE(state->has_value());
}

TEST_F(RecoveryStateTest, EveryWriterRoundTripsThroughTheReader) {
  write_small_tree();
  EXPECT_EQ(fs::read_symlink(latest_slave_meta_path(dir_)), SID);
  EXPECT_EQ(fs::read_symlink(latest_run_meta_path(dir_, SID, "F1", "E1")), "C1");
  EXPECT_EQ(slurp(forked_pid_path(dir_, SID, "F1", "E1", "C1")), "4242");
  EXPECT_EQ(slurp(framework_pid_path(dir_, SID, "F1")), "scheduler-1@10.0.0.1:5000");

  SlaveCheckpoint slave = read(true);
  EXPECT_EQ(slave.slave_id, SID);
  EXPECT_EQ(slave.info.SerializeAsString(), slave_info().SerializeAsString());
  EXPECT_EQ(slave.errors, 0);
  ASSERT_EQ(slave.frameworks.size(), 1U);
  const FrameworkCheckpoint& framework = slave.frameworks.at("F1");
  EXPECT_EQ(framework.info.SerializeAsString(), framework_info("F1").SerializeAsString());
  EXPECT_EQ(framework.pid, "scheduler-1@10.0.0.1:5000");
  ASSERT_EQ(framework.executors.size(), 1U);
  const ExecutorCheckpoint& executor = framework.executors.at("E1");
  EXPECT_EQ(executor.info.SerializeAsString(), executor_info("F1", "E1").SerializeAsString());
  EXPECT_EQ(executor.latest_run, "C1");
  ASSERT_EQ(executor.runs.size(), 1U);
  const RunCheckpoint& run = executor.runs.at("C1");
  EXPECT_EQ(run.container_id, "C1");
  EXPECT_EQ(run.forked_pid, std::optional<pid_t>(4242));
  EXPECT_TRUE(run.registered);
  EXPECT_EQ(run.executor_address, "executor(1)@10.0.0.2:4000");
  EXPECT_FALSE(run.completed);
  ASSERT_EQ(run.tasks.size(), 1U);
  const TaskCheckpoint& t = run.tasks.at("T1");
  EXPECT_EQ(t.task.SerializeAsString(), task("F1", "E1", "T1").SerializeAsString());
  ASSERT_EQ(t.updates.size(), 2U);
  EXPECT_EQ(t.updates[0].SerializeAsString(), update("F1", "T1", "u1", TASK_RUNNING).update().SerializeAsString());
  EXPECT_EQ(t.updates[1].status().state(), TASK_FINISHED);
  EXPECT_EQ(t.acks, std::vector<std::string>{"u1"});
  ASSERT_EQ(t.pending().size(), 1U);
  EXPECT_EQ(t.pending()[0].uuid(), "u2");
  EXPECT_FALSE(t.completed()) << "the terminal update is not acknowledged yet";

  // The terminal update acknowledged, the executor terminated.
  ASSERT_FALSE(checkpoint_update_record(dir_, SID, "F1", "E1", "C1", "T1", ack("u2")));
  ASSERT_FALSE(checkpoint_executor_sentinel(dir_, SID, "F1", "E1", "C1"));
  EXPECT_EQ(slurp(executor_sentinel_path(dir_, SID, "F1", "E1", "C1")), "");
  slave = read(true);
  const RunCheckpoint& done = slave.frameworks.at("F1").executors.at("E1").runs.at("C1");
  EXPECT_TRUE(done.completed);
  EXPECT_TRUE(done.tasks.at("T1").pending().empty());
  EXPECT_TRUE(done.tasks.at("T1").completed());
}

TEST_F(RecoveryStateTest, ARunBeforeItsExecutorStartedHasNoPids) {
  ASSERT_FALSE(checkpoint_slave_info(dir_, slave_info()));
  ASSERT_FALSE(checkpoint_framework(dir_, SID, framework_info("F1"), ""));
  ASSERT_FALSE(checkpoint_executor(dir_, SID, executor_info("F1", "E1"), "C1"));
  ASSERT_FALSE(checkpoint_task(dir_, SID, "E1", "C1", task("F1", "E1", "T1")));
  SlaveCheckpoint slave = read(true);
  const FrameworkCheckpoint& framework = slave.frameworks.at("F1");
  EXPECT_EQ(framework.pid, "");
  const RunCheckpoint& run = framework.executors.at("E1").runs.at("C1");
  EXPECT_FALSE(run.forked_pid);
  EXPECT_FALSE(run.registered);
  EXPECT_FALSE(run.completed);
  const TaskCheckpoint& t = run.tasks.at("T1");
  EXPECT_TRUE(t.updates.empty());
  EXPECT_TRUE(t.pending().empty());
  EXPECT_FALSE(t.completed());
}

TEST_F(RecoveryStateTest, AWholeTreeOfFrameworksExecutorsRunsAndTasks) {
  ASSERT_FALSE(checkpoint_slave_info(dir_, slave_info()));
  for (const std::string fid : {"F1", "F2"}) {
    ASSERT_FALSE(checkpoint_framework(dir_, SID, framework_info(fid), "scheduler@" + fid));
    for (const std::string eid : {"E1", "E2"}) {
      for (const std::string cid : {"C1", "C2"}) {
        const std::string run = fid + eid + cid;  // container ids are unique per slave
        ASSERT_FALSE(checkpoint_executor(dir_, SID, executor_info(fid, eid), run));
        ASSERT_FALSE(checkpoint_forked_pid(dir_, SID, fid, eid, run, 100 + static_cast<pid_t>(run.size())));
        for (const std::string tid : {"T1", "T2"}) {
          const std::string task_id = run + tid;
          ASSERT_FALSE(checkpoint_task(dir_, SID, eid, run, task(fid, eid, task_id)));
          ASSERT_FALSE(checkpoint_update_record(dir_, SID, fid, eid, run, task_id,
                                                update(fid, task_id, task_id + "-u1", TASK_RUNNING)));
        }
      }
    }
  }
  SlaveCheckpoint slave = read(true);
  ASSERT_EQ(slave.frameworks.size(), 2U);
  for (const auto& [fid, framework] : slave.frameworks) {
    EXPECT_EQ(framework.pid, "scheduler@" + fid);
    ASSERT_EQ(framework.executors.size(), 2U) << fid;
    for (const auto& [eid, executor] : framework.executors) {
      EXPECT_EQ(executor.latest_run, fid + eid + "C2") << "the last checkpointed run";
      ASSERT_EQ(executor.runs.size(), 2U);
      for (const auto& [cid, run] : executor.runs) {
        EXPECT_EQ(cid.substr(0, 4), fid + eid);
        ASSERT_TRUE(run.forked_pid);
        ASSERT_EQ(run.tasks.size(), 2U);
        for (const auto& [tid, t] : run.tasks) {
          EXPECT_EQ(tid.substr(0, cid.size()), cid);
          EXPECT_EQ(t.task.task_id().value(), tid);
          ASSERT_EQ(t.pending().size(), 1U);
          EXPECT_EQ(t.pending()[0].uuid(), tid + "-u1");
        }
      }
    }
  }
}

TEST_F(RecoveryStateTest, LeftoverTempFilesAndHalfWrittenUnitsAreIgnored) {
  write_small_tree();
  const SlaveCheckpoint before = read(true);
  // A crash during write_file leaves `<file>.tmp.<pid>`, during write_symlink `<link>.tmp.<pid>`.
  spit(slave_info_path(dir_, SID) + ".tmp.999", "garbage");
  spit(task_info_path(dir_, SID, "F1", "E1", "C1", "T1") + ".tmp.999", "garbage");
  spit(forked_pid_path(dir_, SID, "F1", "E1", "C1") + ".tmp.999", "not a pid");
  fs::create_directory_symlink("C1", latest_run_meta_path(dir_, SID, "F1", "E1") + ".tmp.999");
  fs::create_directory_symlink("S1", latest_slave_meta_path(dir_) + ".tmp.999");
  // A crash between creating a unit's directory and renaming its info file in place.
  fs::create_directories(framework_meta_path(dir_, SID, "F9"));
  spit(framework_info_path(dir_, SID, "F9") + ".tmp.999", "half");
  fs::create_directories(executor_meta_path(dir_, SID, "F1", "E9"));
  fs::create_directories(task_meta_path(dir_, SID, "F1", "E1", "C1", "T9"));
  spit(task_info_path(dir_, SID, "F1", "E1", "C1", "T9") + ".tmp.999", "half");

  for (bool strict : {true, false}) {
    SlaveCheckpoint after = read(strict);
    EXPECT_EQ(after.errors, 0);
    ASSERT_EQ(after.frameworks.size(), 1U);
    const FrameworkCheckpoint& framework = after.frameworks.at("F1");
    ASSERT_EQ(framework.executors.size(), 1U);
    const RunCheckpoint& run = framework.executors.at("E1").runs.at("C1");
    EXPECT_EQ(framework.executors.at("E1").runs.size(), 1U);
    EXPECT_EQ(run.forked_pid, std::optional<pid_t>(4242));
    ASSERT_EQ(run.tasks.size(), 1U);
    EXPECT_EQ(run.tasks.at("T1").updates.size(),
              before.frameworks.at("F1").executors.at("E1").runs.at("C1").tasks.at("T1").updates.size());
  }
}

TEST_F(RecoveryStateTest, ATornTailOfTaskUpdatesIsCutOffNotAnError) {
  write_small_tree();
  const std::string path = task_updates_path(dir_, SID, "F1", "E1", "C1", "T1");
  const std::string full = slurp(path);
  const std::size_t whole = full.size();
  ASSERT_FALSE(checkpoint_update_record(dir_, SID, "F1", "E1", "C1", "T1", ack("u2")));
  const std::string longer = slurp(path);
  for (std::size_t length = whole + 1; length < longer.size(); ++length) {
    spit(path, longer.substr(0, length));
    SlaveCheckpoint slave = read(true);
    const TaskCheckpoint& t = slave.frameworks.at("F1").executors.at("E1").runs.at("C1").tasks.at("T1");
    EXPECT_EQ(t.updates.size(), 2U) << length;
    EXPECT_EQ(t.acks.size(), 1U) << length;
    EXPECT_EQ(slave.errors, 0);
    EXPECT_EQ(fs::file_size(path), whole) << "cut to the whole records";
  }
  // The next append lands cleanly after the whole records.
  ASSERT_FALSE(checkpoint_update_record(dir_, SID, "F1", "E1", "C1", "T1", ack("u2")));
  SlaveCheckpoint slave = read(true);
  EXPECT_TRUE(slave.frameworks.at("F1").executors.at("E1").runs.at("C1").tasks.at("T1").completed());
}

TEST_F(RecoveryStateTest, ABitFlipInTaskUpdatesIsCorruption) {
  write_small_tree();
  const std::string path = task_updates_path(dir_, SID, "F1", "E1", "C1", "T1");
  std::string bytes = slurp(path);
  const std::size_t second = 8 + update("F1", "T1", "u1", TASK_RUNNING).ByteSizeLong();
  bytes[second + 9] = static_cast<char>(bytes[second + 9] ^ 0x04);
  spit(path, bytes);
  expect_strict_error(path, "byte offset " + std::to_string(second) + ": checksum mismatch");

  SlaveCheckpoint slave = read(false);
  EXPECT_EQ(slave.errors, 1);
  const RunCheckpoint& run = slave.frameworks.at("F1").executors.at("E1").runs.at("C1");
  EXPECT_TRUE(run.tasks.empty()) << "the task is skipped";
  EXPECT_EQ(run.forked_pid, std::optional<pid_t>(4242)) << "its run is kept";
  EXPECT_EQ(slurp(path), bytes) << "a corrupt log is left as found";
}

TEST_F(RecoveryStateTest, AnAcknowledgementOutOfOrderIsCorruption) {
  write_small_tree();
  ASSERT_FALSE(checkpoint_update_record(dir_, SID, "F1", "E1", "C1", "T1", ack("u9")));
  const std::string path = task_updates_path(dir_, SID, "F1", "E1", "C1", "T1");
  expect_strict_error(path, "record 4 of '" + path + "' is corrupt: it acknowledges 'u9'");
  EXPECT_EQ(read(false).errors, 1);

  // An acknowledgement with nothing pending.
  ASSERT_FALSE(checkpoint::remove_all(path));
  ASSERT_FALSE(checkpoint_update_record(dir_, SID, "F1", "E1", "C1", "T1", ack("u1")));
  expect_strict_error(path, "no update is pending");
}

TEST_F(RecoveryStateTest, RecordsThatAreNotStatusUpdateRecordsAreCorruption) {
  write_small_tree();
  const std::string path = task_updates_path(dir_, SID, "F1", "E1", "C1", "T1");
  // Whole frames whose payloads are wrong.
  ASSERT_FALSE(checkpoint::append_record(path, slave_info()));
  expect_strict_error(path, "record 4 of '" + path + "' is corrupt");
  ASSERT_FALSE(checkpoint::remove_all(path));
  ASSERT_FALSE(checkpoint::append_record(path, update("F1", "T2", "u1", TASK_RUNNING)));
  expect_strict_error(path, "without an update of task 'T1'");
}

TEST_F(RecoveryStateTest, CorruptSlaveInfoStopsRecoveryInBothModes) {
  write_small_tree();
  const std::string path = slave_info_path(dir_, SID);
  spit(path, "\xFF\xFF garbage");
  for (bool strict : {true, false}) {
    Try<std::optional<SlaveCheckpoint>> state = read_slave_state(dir_, strict);
    ASSERT_TRUE(state.is_error());
    EXPECT_NE(state.error().find(path + "' is truncated or corrupt"), std::string::npos) << state.error();
    EXPECT_NE(state.error().find("remove " + dir_ + "/meta/slaves/latest"), std::string::npos) << state.error();
    EXPECT_EQ(state.error().find("--strict=false"), std::string::npos) << "skipping cannot help";
  }
  // Another slave's info under this slave's id.
  ASSERT_FALSE(checkpoint::write_message(path, slave_info("S2")));
  Try<std::optional<SlaveCheckpoint>> state = read_slave_state(dir_, false);
  ASSERT_TRUE(state.is_error());
  EXPECT_NE(state.error().find("names slave 'S2', not 'S1'"), std::string::npos) << state.error();
  // Missing.
  fs::remove(path);
  state = read_slave_state(dir_, false);
  ASSERT_TRUE(state.is_error());
  EXPECT_NE(state.error().find(path), std::string::npos) << state.error();
}

TEST_F(RecoveryStateTest, ALatestLinkToNowhereIsAnError) {
  write_small_tree();
  ASSERT_FALSE(checkpoint::write_symlink("S7", latest_slave_meta_path(dir_)));
  for (bool strict : {true, false}) {
    Try<std::optional<SlaveCheckpoint>> state = read_slave_state(dir_, strict);
    ASSERT_TRUE(state.is_error());
    EXPECT_NE(state.error().find("points at slave 'S7'"), std::string::npos) << state.error();
    EXPECT_NE(state.error().find(slave_meta_path(dir_, "S7")), std::string::npos) << state.error();
    EXPECT_NE(state.error().find("remove " + dir_ + "/meta/slaves/latest"), std::string::npos) << state.error();
  }
  // Not a slave id at all, or not a symlink.
  ASSERT_FALSE(checkpoint::write_symlink("../..", latest_slave_meta_path(dir_)));
  Try<std::optional<SlaveCheckpoint>> state = read_slave_state(dir_, true);
  ASSERT_TRUE(state.is_error());
  EXPECT_NE(state.error().find("'../..', not a slave id"), std::string::npos) << state.error();
  fs::remove(latest_slave_meta_path(dir_));
  fs::create_directory(latest_slave_meta_path(dir_));
  state = read_slave_state(dir_, true);
  ASSERT_TRUE(state.is_error());
  EXPECT_NE(state.error().find("is not a symlink"), std::string::npos) << state.error();
}

TEST_F(RecoveryStateTest, CorruptInfoFilesAreStrictErrorsOrSkippedUnits) {
  struct Case {
    std::string file;
    std::string problem;
    int frameworks, executors, runs, tasks;  // left after skipping (non-strict)
  };
  // Beside F1/E1/C1/T1: T2 in C1, run C2 (T3) of E1, executor E2 (run C3) of
  // F1, and framework F2 (E3, C4, T4), so skipping leaves siblings.
  const std::vector<Case> cases = {
      {task_info_path(dir_, SID, "F1", "E1", "C1", "T1"), "is truncated or corrupt", 2, 3, 4, 3},
      {forked_pid_path(dir_, SID, "F1", "E1", "C1"), "not a process id", 2, 3, 3, 2},
      {executor_info_path(dir_, SID, "F1", "E1"), "is truncated or corrupt", 2, 2, 2, 1},
      {framework_info_path(dir_, SID, "F1"), "is truncated or corrupt", 1, 1, 1, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    ASSERT_FALSE(checkpoint::remove_all(dir_ + "/meta"));
    write_small_tree();
    ASSERT_FALSE(checkpoint_task(dir_, SID, "E1", "C1", task("F1", "E1", "T2")));
    ASSERT_FALSE(checkpoint_executor(dir_, SID, executor_info("F1", "E1"), "C2"));
    ASSERT_FALSE(checkpoint_task(dir_, SID, "E1", "C2", task("F1", "E1", "T3")));
    ASSERT_FALSE(checkpoint_executor(dir_, SID, executor_info("F1", "E2"), "C3"));
    ASSERT_FALSE(checkpoint_framework(dir_, SID, framework_info("F2"), ""));
    ASSERT_FALSE(checkpoint_executor(dir_, SID, executor_info("F2", "E3"), "C4"));
    ASSERT_FALSE(checkpoint_task(dir_, SID, "E3", "C4", task("F2", "E3", "T4")));
    spit(c.file, "\x08\x96\x01 definitely not protobuf \xFF");
    expect_strict_error(c.file, c.problem);

    SlaveCheckpoint slave = read(false);
    EXPECT_EQ(slave.errors, 1);
    int executors = 0;
    int runs = 0;
    int tasks = 0;
    for (const auto& [fid, framework] : slave.frameworks) {
      for (const auto& [eid, executor] : framework.executors) {
        ++executors;
        for (const auto& [cid, run] : executor.runs) {
          ++runs;
          tasks += static_cast<int>(run.tasks.size());
        }
      }
    }
    EXPECT_EQ(static_cast<int>(slave.frameworks.size()), c.frameworks);
    EXPECT_EQ(executors, c.executors);
    EXPECT_EQ(runs, c.runs);
    EXPECT_EQ(tasks, c.tasks);
  }
}

TEST_F(RecoveryStateTest, InfoFilesInTheWrongDirectoryAreCorruption) {
  write_small_tree();
  const std::string path = task_info_path(dir_, SID, "F1", "E1", "C1", "T1");
  ASSERT_FALSE(checkpoint::write_message(path, task("F1", "E1", "T5")));
  expect_strict_error(path, "names task 'T5' of framework 'F1', not 'T1' of 'F1'");
  ASSERT_FALSE(checkpoint_task(dir_, SID, "E1", "C1", task("F1", "E1", "T1")));

  const std::string executor = executor_info_path(dir_, SID, "F1", "E1");
  ASSERT_FALSE(checkpoint::write_message(executor, executor_info("F1", "E5")));
  expect_strict_error(executor, "names executor 'E5'");
  ASSERT_FALSE(checkpoint::write_message(executor, executor_info("F1", "E1")));

  const std::string latest = latest_run_meta_path(dir_, SID, "F1", "E1");
  ASSERT_FALSE(checkpoint::write_symlink("C8", latest));
  expect_strict_error(latest, "points at 'C8', which is not a run");
}

TEST_F(RecoveryStateTest, WritersRejectBadIdsAndIncompleteRecords) {
  std::optional<Error> error = checkpoint_slave_info(dir_, slave_info("../S1"));
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("Slave id '../S1'"), std::string::npos) << error->message;
  error = checkpoint_task(dir_, SID, "E1", "C1", task("F1", "E1", "latest"));
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("Task id 'latest'"), std::string::npos) << error->message;
  error = checkpoint_executor(dir_, SID, executor_info("F1", "E1"), "");
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("Container id is empty"), std::string::npos) << error->message;
  error = checkpoint_forked_pid(dir_, SID, "F1", "E1", "C1", 0);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("0 is not a process id"), std::string::npos) << error->message;
  internal::StatusUpdateRecord no_update;
  no_update.set_type(internal::StatusUpdateRecord::UPDATE);
  error = checkpoint_update_record(dir_, SID, "F1", "E1", "C1", "T1", no_update);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("UPDATE record needs an update"), std::string::npos) << error->message;
  internal::StatusUpdateRecord no_uuid;
  no_uuid.set_type(internal::StatusUpdateRecord::ACK);
  error = checkpoint_update_record(dir_, SID, "F1", "E1", "C1", "T1", no_uuid);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("ACK record needs a uuid"), std::string::npos) << error->message;
  FrameworkInfo incomplete;
  incomplete.mutable_id()->set_value("F1");
  error = checkpoint_framework(dir_, SID, incomplete, "");
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("missing required fields"), std::string::npos) << error->message;
  EXPECT_FALSE(fs::exists(dir_ + "/meta/slaves/latest"));
}

// Random bytes in every kind of file: the reader answers, never crashes.
TEST_F(RecoveryStateTest, RandomBytesInAnyFileNeverCrashTheReader) {
  write_small_tree();
  const std::vector<std::string> files = {
      slave_info_path(dir_, SID),
      framework_info_path(dir_, SID, "F1"),
      framework_pid_path(dir_, SID, "F1"),
      executor_info_path(dir_, SID, "F1", "E1"),
      forked_pid_path(dir_, SID, "F1", "E1", "C1"),
      libprocess_pid_path(dir_, SID, "F1", "E1", "C1"),
      executor_sentinel_path(dir_, SID, "F1", "E1", "C1"),
      task_info_path(dir_, SID, "F1", "E1", "C1", "T1"),
      task_updates_path(dir_, SID, "F1", "E1", "C1", "T1"),
  };
  const std::vector<std::string> links = {latest_slave_meta_path(dir_), latest_run_meta_path(dir_, SID, "F1", "E1")};
  std::mt19937 random(20261130);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 96);
  auto garbage = [&](bool printable_only) {
    std::string bytes(static_cast<std::size_t>(length(random)), '\0');
    for (char& c : bytes) {
      c = static_cast<char>(printable_only ? 'a' + byte(random) % 26 : byte(random));
    }
    return bytes;
  };
  for (const std::string& file : files) {
    const std::string original = slurp(file);
    for (int round = 0; round < 60; ++round) {
      std::string bytes = garbage(false);
      if (round % 3 == 0 && !original.empty()) {
        // A valid file with a few bytes changed.
        bytes = original;
        bytes[static_cast<std::size_t>(byte(random)) % bytes.size()] = static_cast<char>(byte(random));
      }
      spit(file, bytes);
      for (bool strict : {true, false}) {
        Try<std::optional<SlaveCheckpoint>> state = read_slave_state(dir_, strict);
        if (state.is_error()) {
          EXPECT_NE(state.error().find(dir_ + "/meta/slaves/latest"), std::string::npos) << state.error();
          EXPECT_TRUE(strict || file == files[0]) << file << ": " << state.error();
        } else {
          ASSERT_TRUE(state->has_value());
        }
      }
    }
    spit(file, original);
  }
  for (const std::string& link : links) {
    Try<std::string> original = checkpoint::read_symlink(link);
    ASSERT_TRUE(original) << original.error();
    for (int round = 0; round < 30; ++round) {
      std::string target = garbage(round % 2 == 0);
      fs::remove(link);
      if (::symlink(target.c_str(), link.c_str()) != 0) {
        continue;  // empty, or a NUL inside
      }
      for (bool strict : {true, false}) {
        Try<std::optional<SlaveCheckpoint>> state = read_slave_state(dir_, strict);
        if (state.is_error()) {
          EXPECT_NE(state.error().find(dir_ + "/meta/slaves/latest"), std::string::npos) << state.error();
        }
      }
    }
    ASSERT_FALSE(checkpoint::write_symlink(*original, link));
  }
  EXPECT_EQ(read(true).errors, 0);
}

}  // namespace
}  // namespace stoa::slave
