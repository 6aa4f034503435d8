#include "slave/recovery_state.hpp"
#include "common/strings.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <initializer_list>
#include <utility>

#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "common/uuid.hpp"
#include "slave/checkpoint.hpp"
#include "slave/paths.hpp"

namespace stoa::slave {
namespace {

// `bytes` as printable text for an error message: at most 40 characters,
// anything unprintable as \xNN.
std::string printable(const std::string& bytes) {
  constexpr std::size_t LIMIT = 40;
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < LIMIT; ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof(hex), "\\x%02X", c);
      out += hex;
    }
  }
  if (bytes.size() > LIMIT) {
    out += "...";
  }
  return out;
}

std::string uuid_text(const std::string& uuid) {
  return uuid.size() == 16 ? uuid_to_string(uuid) : "'" + printable(uuid) + "'";
}

// True when something (of any kind) is at `path`.
bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 || errno != ENOENT;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The names of the real subdirectories of `dir` (files, symlinks and
// leftover temp files are not entries), sorted. A missing `dir` has none.
Try<std::vector<std::string>> subdirectories(const std::string& dir) {
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) {
    if (errno == ENOENT) {
      return std::vector<std::string>{};
    }
    return Error("Failed to list '" + dir + "': " + errno_text(errno));
  }
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(handle);
    if (entry == nullptr) {
      break;
    }
    std::string name = entry->d_name;
    if (name != "." && name != ".." && is_directory(dir + "/" + name)) {
      names.push_back(std::move(name));
    }
  }
  int err = errno;
  ::closedir(handle);
  if (err != 0) {
    return Error("Failed to list '" + dir + "': " + errno_text(err));
  }
  std::sort(names.begin(), names.end());
  return names;
}

Try<pid_t> parse_pid(const std::string& path, const std::string& text) {
  std::string digits = text;
  if (!digits.empty() && digits.back() == '\n') {
    digits.pop_back();
  }
  long long value = 0;
  bool ok = !digits.empty() && digits.size() <= 10;
  for (char c : digits) {
    if (!ok || c < '0' || c > '9') {
      ok = false;
      break;
    }
    value = value * 10 + (c - '0');
  }
  if (!ok || value <= 0 || value > INT_MAX) {
    return Error("'" + path + "' holds '" + printable(text) + "', not a process id: it is corrupt");
  }
  return static_cast<pid_t>(value);
}

// Walks one slave's checkpoint tree. A unit whose own file is bad returns
// an Error; its parent either passes it up (strict) or skips the unit,
// counting it in `errors` (`skip`).
class Reader {
 public:
  Reader(std::string work_dir, std::string slave_id, bool strict)
      : work_dir_(std::move(work_dir)), slave_id_(std::move(slave_id)), strict_(strict) {}

  int errors() const { return errors_; }

  Try<std::map<std::string, FrameworkCheckpoint>> frameworks() {
    std::map<std::string, FrameworkCheckpoint> out;
    Try<std::vector<std::string>> ids = subdirectories(slave_meta_path(work_dir_, slave_id_) + "/frameworks");
    if (ids.is_error()) {
      return Error(ids.error());
    }
    for (const std::string& fid : *ids) {
      Try<std::optional<FrameworkCheckpoint>> framework = read_framework(fid);
      if (framework.is_error()) {
        if (std::optional<Error> error = skip("framework '" + fid + "'", framework.error())) {
          return *error;
        }
      } else if (framework->has_value()) {
        out.emplace(fid, std::move(**framework));
      }
    }
    return out;
  }

 private:
  // Strict: the error to pass up. Otherwise logs and counts the skipped unit.
  std::optional<Error> skip(const std::string& unit, const std::string& message) {
    if (strict_) {
      return Error(message);
    }
    LOG_WARNING << "Skipping " << unit << " while recovering slave " << slave_id_ << ": " << message;
    ++errors_;
    return std::nullopt;
  }

  // A unit directory without its info file: the slave stopped between
  // creating the directory and renaming the file into place. Not an error.
  void missing_info(const std::string& unit, const std::string& path) {
    LOG_WARNING << "Ignoring " << unit << " of slave " << slave_id_ << ": '" << path
                << "' was never written (the slave stopped while checkpointing it)";
  }

  Try<std::optional<FrameworkCheckpoint>> read_framework(const std::string& fid) {
    const std::string info_path = framework_info_path(work_dir_, slave_id_, fid);
    if (!exists(info_path)) {
      missing_info("framework '" + fid + "'", info_path);
      return std::optional<FrameworkCheckpoint>{};
    }
    FrameworkCheckpoint framework;
    if (std::optional<Error> error = checkpoint::read_message(info_path, &framework.info)) {
      return Error("Failed to read the framework info: " + error->message);
    }
    if (framework.info.id().value() != fid) {
      return Error("'" + info_path + "' is corrupt: it names framework '" + printable(framework.info.id().value()) +
                   "', not '" + fid + "'");
    }
    const std::string pid_path = framework_pid_path(work_dir_, slave_id_, fid);
    if (exists(pid_path)) {
      Try<std::string> pid = checkpoint::read_file(pid_path);
      if (pid.is_error()) {
        return Error("Failed to read the framework pid: " + pid.error());
      }
      framework.pid = *pid;
    }
    Try<std::vector<std::string>> ids = subdirectories(framework_meta_path(work_dir_, slave_id_, fid) + "/executors");
    if (ids.is_error()) {
      return Error(ids.error());
    }
    for (const std::string& eid : *ids) {
      Try<std::optional<ExecutorCheckpoint>> executor = read_executor(fid, eid);
      if (executor.is_error()) {
        if (std::optional<Error> error = skip("executor '" + eid + "' of framework '" + fid + "'", executor.error())) {
          return *error;
        }
      } else if (executor->has_value()) {
        framework.executors.emplace(eid, std::move(**executor));
      }
    }
    return std::optional<FrameworkCheckpoint>(std::move(framework));
  }

  Try<std::optional<ExecutorCheckpoint>> read_executor(const std::string& fid, const std::string& eid) {
    const std::string info_path = executor_info_path(work_dir_, slave_id_, fid, eid);
    if (!exists(info_path)) {
      missing_info("executor '" + eid + "' of framework '" + fid + "'", info_path);
      return std::optional<ExecutorCheckpoint>{};
    }
    ExecutorCheckpoint executor;
    if (std::optional<Error> error = checkpoint::read_message(info_path, &executor.info)) {
      return Error("Failed to read the executor info: " + error->message);
    }
    if (executor.info.executor_id().value() != eid ||
        (executor.info.has_framework_id() && executor.info.framework_id().value() != fid)) {
      return Error("'" + info_path + "' is corrupt: it names executor '" +
                   printable(executor.info.executor_id().value()) + "' of framework '" +
                   printable(executor.info.framework_id().value()) + "', not '" + eid + "' of '" + fid + "'");
    }
    const std::string latest = latest_run_meta_path(work_dir_, slave_id_, fid, eid);
    if (exists(latest)) {
      Try<std::string> target = checkpoint::read_symlink(latest);
      if (target.is_error()) {
        return Error(target.error());
      }
      if (validate_path_id("Container id", *target) ||
          !is_directory(run_meta_path(work_dir_, slave_id_, fid, eid, *target))) {
        return Error("'" + latest + "' is corrupt: it points at '" + printable(*target) + "', which is not a run");
      }
      executor.latest_run = *target;
    }
    Try<std::vector<std::string>> ids = subdirectories(executor_meta_path(work_dir_, slave_id_, fid, eid) + "/runs");
    if (ids.is_error()) {
      return Error(ids.error());
    }
    for (const std::string& cid : *ids) {
      if (cid == "latest") {
        continue;
      }
      Try<RunCheckpoint> run = read_run(fid, eid, cid);
      if (run.is_error()) {
        if (std::optional<Error> error =
                skip("run '" + cid + "' of executor '" + eid + "' of framework '" + fid + "'", run.error())) {
          return *error;
        }
      } else {
        executor.runs.emplace(cid, std::move(*run));
      }
    }
    return std::optional<ExecutorCheckpoint>(std::move(executor));
  }

  Try<RunCheckpoint> read_run(const std::string& fid, const std::string& eid, const std::string& cid) {
    RunCheckpoint run;
    run.container_id = cid;
    const std::string forked = forked_pid_path(work_dir_, slave_id_, fid, eid, cid);
    if (exists(forked)) {
      Try<std::string> text = checkpoint::read_file(forked);
      if (text.is_error()) {
        return Error(text.error());
      }
      Try<pid_t> pid = parse_pid(forked, *text);
      if (pid.is_error()) {
        return Error(pid.error());
      }
      run.forked_pid = *pid;
    }
    const std::string libprocess = libprocess_pid_path(work_dir_, slave_id_, fid, eid, cid);
    if (exists(libprocess)) {
      Try<std::string> address = checkpoint::read_file(libprocess);
      if (address.is_error()) {
        return Error(address.error());
      }
      run.registered = true;
      run.executor_address = *address;
    }
    run.completed = exists(executor_sentinel_path(work_dir_, slave_id_, fid, eid, cid));
    Try<std::vector<std::string>> ids =
        subdirectories(run_meta_path(work_dir_, slave_id_, fid, eid, cid) + "/tasks");
    if (ids.is_error()) {
      return Error(ids.error());
    }
    for (const std::string& tid : *ids) {
      Try<std::optional<TaskCheckpoint>> task = read_task(fid, eid, cid, tid);
      if (task.is_error()) {
        if (std::optional<Error> error = skip("task '" + tid + "' of framework '" + fid + "'", task.error())) {
          return *error;
        }
      } else if (task->has_value()) {
        run.tasks.emplace(tid, std::move(**task));
      }
    }
    return run;
  }

  Try<std::optional<TaskCheckpoint>> read_task(const std::string& fid, const std::string& eid, const std::string& cid,
                                               const std::string& tid) {
    const std::string info_path = task_info_path(work_dir_, slave_id_, fid, eid, cid, tid);
    if (!exists(info_path)) {
      missing_info("task '" + tid + "' of framework '" + fid + "'", info_path);
      return std::optional<TaskCheckpoint>{};
    }
    TaskCheckpoint task;
    if (std::optional<Error> error = checkpoint::read_message(info_path, &task.task)) {
      return Error("Failed to read the task info: " + error->message);
    }
    if (task.task.task_id().value() != tid || task.task.framework_id().value() != fid) {
      return Error("'" + info_path + "' is corrupt: it names task '" + printable(task.task.task_id().value()) +
                   "' of framework '" + printable(task.task.framework_id().value()) + "', not '" + tid + "' of '" +
                   fid + "'");
    }
    const std::string updates_path = task_updates_path(work_dir_, slave_id_, fid, eid, cid, tid);
    if (exists(updates_path)) {
      if (std::optional<Error> error = read_updates(updates_path, tid, &task)) {
        return *error;
      }
    }
    return std::optional<TaskCheckpoint>(std::move(task));
  }

  // Replays task.updates into `task`; cuts a torn tail off the file.
  std::optional<Error> read_updates(const std::string& path, const std::string& tid, TaskCheckpoint* task) {
    Try<checkpoint::Records> records = checkpoint::read_records(path);
    if (records.is_error()) {
      return Error(records.error());
    }
    if (records->torn_tail) {
      LOG_WARNING << "Dropping the torn last record of '" << path << "' (the slave stopped while appending it): "
                  << "keeping its first " << records->valid_bytes << " bytes";
      if (std::optional<Error> error = checkpoint::truncate_file(path, records->valid_bytes)) {
        return error;
      }
    }
    for (std::size_t i = 0; i < records->payloads.size(); ++i) {
      const std::string where = "record " + std::to_string(i + 1) + " of '" + path + "'";
      internal::StatusUpdateRecord record;
      if (!record.ParsePartialFromString(records->payloads[i]) || !record.IsInitialized()) {
        return Error(where + " is corrupt: it does not parse as a StatusUpdateRecord");
      }
      if (record.type() == internal::StatusUpdateRecord::UPDATE) {
        if (!record.has_update() || record.update().status().task_id().value() != tid) {
          return Error(where + " is corrupt: an UPDATE record without an update of task '" + tid + "'");
        }
        task->updates.push_back(record.update());
        continue;
      }
      if (!record.has_uuid()) {
        return Error(where + " is corrupt: an ACK record without a uuid");
      }
      if (task->acks.size() >= task->updates.size()) {
        return Error(where + " is corrupt: it acknowledges " + uuid_text(record.uuid()) +
                     " but no update is pending");
      }
      const std::string& expected = task->updates[task->acks.size()].uuid();
      if (record.uuid() != expected) {
        return Error(where + " is corrupt: it acknowledges " + uuid_text(record.uuid()) +
                     " but the next pending update is " + uuid_text(expected));
      }
      task->acks.push_back(record.uuid());
    }
    return std::nullopt;
  }

  std::string work_dir_;
  std::string slave_id_;
  bool strict_;
  int errors_ = 0;
};

// The error for a checkpoint that stops recovery, with the way out.
Error recovery_error(const std::string& work_dir, const std::string& problem, bool skippable) {
  std::string message = "Failed to recover the slave from its checkpoints: " + problem +
                        ". To start this slave afresh (its running tasks are then lost), remove " +
                        latest_slave_meta_path(work_dir);
  if (skippable) {
    message += ", or restart it with --strict=false to skip the bad entries";
  }
  return Error(message);
}

std::optional<Error> validate_ids(const std::string& what,
                                  std::initializer_list<std::pair<const char*, const std::string*>> ids) {
  for (const auto& [name, id] : ids) {
    if (std::optional<Error> error = validate_path_id(name, *id)) {
      return Error("Failed to checkpoint " + what + ": " + error->message);
    }
  }
  return std::nullopt;
}

std::optional<Error> with_context(const std::string& what, std::optional<Error> error) {
  if (error) {
    return Error("Failed to checkpoint " + what + ": " + error->message);
  }
  return std::nullopt;
}

// The ids naming one run of an executor (its directory under meta/).
std::optional<Error> validate_run_ids(const std::string& what, const std::string& slave_id,
                                      const std::string& framework_id, const std::string& executor_id,
                                      const std::string& container_id) {
  return validate_ids(what, {{"Slave id", &slave_id},
                             {"Framework id", &framework_id},
                             {"Executor id", &executor_id},
                             {"Container id", &container_id}});
}

}  // namespace

std::vector<internal::StatusUpdate> TaskCheckpoint::pending() const {
  if (acks.size() >= updates.size()) {
    return {};
  }
  return {updates.begin() + static_cast<std::ptrdiff_t>(acks.size()), updates.end()};
}

bool TaskCheckpoint::completed() const {
  for (std::size_t i = 0; i < acks.size() && i < updates.size(); ++i) {
    if (is_terminal_state(updates[i].status().state())) {
      return true;
    }
  }
  return false;
}

Try<std::optional<SlaveCheckpoint>> read_slave_state(const std::string& work_dir, bool strict) {
  const std::string latest = latest_slave_meta_path(work_dir);
  struct stat st {};
  if (::lstat(latest.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return std::optional<SlaveCheckpoint>{};
    }
    return recovery_error(work_dir, "Failed to read '" + latest + "': " + errno_text(errno), false);
  }
  Try<std::string> slave_id = checkpoint::read_symlink(latest);
  if (slave_id.is_error()) {
    return recovery_error(work_dir, slave_id.error(), false);
  }
  if (validate_path_id("Slave id", *slave_id)) {
    return recovery_error(work_dir, "'" + latest + "' points at '" + printable(*slave_id) + "', not a slave id",
                          false);
  }
  const std::string slave_dir = slave_meta_path(work_dir, *slave_id);
  if (!is_directory(slave_dir)) {
    return recovery_error(work_dir, "'" + latest + "' points at slave '" + *slave_id + "' but '" + slave_dir +
                                        "' is not a directory", false);
  }
  SlaveCheckpoint slave;
  slave.slave_id = *slave_id;
  const std::string info_path = slave_info_path(work_dir, *slave_id);
  if (std::optional<Error> error = checkpoint::read_message(info_path, &slave.info)) {
    return recovery_error(work_dir, "Failed to read the slave info: " + error->message, false);
  }
  if (slave.info.id().value() != *slave_id) {
    return recovery_error(work_dir, "'" + info_path + "' is corrupt: it names slave '" +
                                        printable(slave.info.id().value()) + "', not '" + *slave_id + "'", false);
  }
  Reader reader(work_dir, *slave_id, strict);
  Try<std::map<std::string, FrameworkCheckpoint>> frameworks = reader.frameworks();
  if (frameworks.is_error()) {
    return recovery_error(work_dir, frameworks.error(), strict);
  }
  slave.frameworks = std::move(*frameworks);
  slave.errors = reader.errors();
  return std::optional<SlaveCheckpoint>(std::move(slave));
}

std::optional<Error> checkpoint_slave_info(const std::string& work_dir, const SlaveInfo& info) {
  const std::string& sid = info.id().value();
  if (std::optional<Error> error = validate_ids("the slave info", {{"Slave id", &sid}})) {
    return error;
  }
  if (std::optional<Error> error = checkpoint::write_message(slave_info_path(work_dir, sid), info)) {
    return with_context("the slave info", error);
  }
  return with_context("the latest slave", checkpoint::write_symlink(sid, latest_slave_meta_path(work_dir)));
}

std::optional<Error> checkpoint_framework(const std::string& work_dir, const std::string& slave_id,
                                          const FrameworkInfo& info, const std::string& pid) {
  const std::string& fid = info.id().value();
  const std::string what = "framework '" + fid + "'";
  if (std::optional<Error> error = validate_ids(what, {{"Slave id", &slave_id}, {"Framework id", &fid}})) {
    return error;
  }
  if (std::optional<Error> error = checkpoint::write_message(framework_info_path(work_dir, slave_id, fid), info)) {
    return with_context(what, error);
  }
  return with_context(what, checkpoint::write_file(framework_pid_path(work_dir, slave_id, fid), pid));
}

std::optional<Error> checkpoint_executor(const std::string& work_dir, const std::string& slave_id,
                                         const ExecutorInfo& info, const std::string& container_id) {
  const std::string& fid = info.framework_id().value();
  const std::string& eid = info.executor_id().value();
  const std::string what = "executor '" + eid + "'";
  if (std::optional<Error> error = validate_ids(what, {{"Slave id", &slave_id},
                                                       {"Framework id", &fid},
                                                       {"Executor id", &eid},
                                                       {"Container id", &container_id}})) {
    return error;
  }
  if (std::optional<Error> error =
          checkpoint::write_message(executor_info_path(work_dir, slave_id, fid, eid), info)) {
    return with_context(what, error);
  }
  // The run's directory exists before `runs/latest` points at it.
  Try<bool> made = mkdirs(run_meta_path(work_dir, slave_id, fid, eid, container_id));
  if (made.is_error()) {
    return with_context(what, Error(made.error()));
  }
  return with_context(what,
                      checkpoint::write_symlink(container_id, latest_run_meta_path(work_dir, slave_id, fid, eid)));
}

std::optional<Error> checkpoint_task(const std::string& work_dir, const std::string& slave_id,
                                     const std::string& executor_id, const std::string& container_id,
                                     const Task& task) {
  const std::string& fid = task.framework_id().value();
  const std::string& tid = task.task_id().value();
  const std::string what = "task '" + tid + "'";
  if (std::optional<Error> error = validate_ids(what, {{"Slave id", &slave_id},
                                                       {"Framework id", &fid},
                                                       {"Executor id", &executor_id},
                                                       {"Container id", &container_id},
                                                       {"Task id", &tid}})) {
    return error;
  }
  return with_context(
      what, checkpoint::write_message(task_info_path(work_dir, slave_id, fid, executor_id, container_id, tid), task));
}

std::optional<Error> checkpoint_forked_pid(const std::string& work_dir, const std::string& slave_id,
                                           const std::string& framework_id, const std::string& executor_id,
                                           const std::string& container_id, pid_t pid) {
  const std::string what = "the pid of executor '" + executor_id + "'";
  if (std::optional<Error> error = validate_run_ids(what, slave_id, framework_id, executor_id, container_id)) {
    return error;
  }
  if (pid <= 0) {
    return Error("Failed to checkpoint " + what + ": " + std::to_string(pid) + " is not a process id");
  }
  return with_context(what, checkpoint::write_file(
                                forked_pid_path(work_dir, slave_id, framework_id, executor_id, container_id),
                                std::to_string(pid)));
}

std::optional<Error> checkpoint_registered(const std::string& work_dir, const std::string& slave_id,
                                           const std::string& framework_id, const std::string& executor_id,
                                           const std::string& container_id, const std::string& executor_address) {
  const std::string what = "the registration of executor '" + executor_id + "'";
  if (std::optional<Error> error = validate_run_ids(what, slave_id, framework_id, executor_id, container_id)) {
    return error;
  }
  return with_context(what, checkpoint::write_file(
                                libprocess_pid_path(work_dir, slave_id, framework_id, executor_id, container_id),
                                executor_address));
}

std::optional<Error> checkpoint_executor_sentinel(const std::string& work_dir, const std::string& slave_id,
                                                  const std::string& framework_id, const std::string& executor_id,
                                                  const std::string& container_id) {
  const std::string what = "the termination of executor '" + executor_id + "'";
  if (std::optional<Error> error = validate_run_ids(what, slave_id, framework_id, executor_id, container_id)) {
    return error;
  }
  return with_context(what, checkpoint::write_file(
                                executor_sentinel_path(work_dir, slave_id, framework_id, executor_id, container_id),
                                ""));
}

std::optional<Error> checkpoint_update_record(const std::string& work_dir, const std::string& slave_id,
                                              const std::string& framework_id, const std::string& executor_id,
                                              const std::string& container_id, const std::string& task_id,
                                              const internal::StatusUpdateRecord& record) {
  const std::string what = "a status update record of task '" + task_id + "'";
  if (std::optional<Error> error = validate_ids(what, {{"Slave id", &slave_id},
                                                       {"Framework id", &framework_id},
                                                       {"Executor id", &executor_id},
                                                       {"Container id", &container_id},
                                                       {"Task id", &task_id}})) {
    return error;
  }
  if (record.type() == internal::StatusUpdateRecord::UPDATE &&
      (!record.has_update() || record.update().status().task_id().value() != task_id)) {
    return Error("Failed to checkpoint " + what + ": an UPDATE record needs an update of that task");
  }
  if (record.type() == internal::StatusUpdateRecord::ACK && !record.has_uuid()) {
    return Error("Failed to checkpoint " + what + ": an ACK record needs a uuid");
  }
  return with_context(what, checkpoint::append_record(task_updates_path(work_dir, slave_id, framework_id, executor_id,
                                                                         container_id, task_id),
                                                       record));
}

}  // namespace stoa::slave
