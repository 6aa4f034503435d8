// Sandboxes after their executors: attached to the files service while they
// can be read (docs/sandboxes.md), scheduled for garbage collection once
// their executor or framework is gone, unscheduled when a new launch reuses
// them, detached once removed.

#include <dirent.h>

#include <memory>
#include <set>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/files.hpp"
#include "common/logging.hpp"
#include "slave/gc.hpp"
#include "slave/paths.hpp"
#include "slave/slave_actor.hpp"

namespace stoa::slave {

namespace {

// Entries of a directory ("" when unreadable), "." and ".." excluded.
std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) {
    return out;
  }
  while (struct dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name != "." && name != "..") {
      out.push_back(std::move(name));
    }
  }
  return out;
}

}  // namespace

void Slave::start_sandbox_services() {
  files = files::spawn_files(self->system());
  GcOptions g;
  g.gc_delay = opts.flags.gc_delay;
  g.disk_headroom = opts.flags.gc_disk_headroom;
  g.disk_watch_interval = opts.flags.disk_watch_interval;
  g.work_dir = opts.flags.work_dir;
  g.metrics = metrics;
  gc = spawn_gc(self->system(), g);
  // They live as long as the slave.
  caf::actor f = files;
  caf::actor c = gc;
  self->attach_functor([f, c](const caf::error&) {
    caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  });
  if (opts.flags.log_dir) {
    attach_file(files::info_log_path(*opts.flags.log_dir, "stoa-slave"), "/slave/log");
  }
}

void Slave::attach_file(const std::string& real, const std::string& virtual_path) {
  // The files actor answers "" or why it refused; a refusal is logged (the
  // path then answers 404 in /files), never dropped as a stray reply. It is
  // local and answers at once (a dead one bounces the request with an
  // error): no timeout, which would cost two wake-ups of CAF's clock thread.
  self->request(files, caf::infinite, files::attach_atom::value, real, virtual_path)
      .then(
          [virtual_path](const std::string& refused) {
            if (!refused.empty()) {
              LOG_WARNING << "Cannot serve '" << virtual_path << "' in /files: " << refused;
            }
          },
          [virtual_path, sys = &self->system()](const caf::error& e) {
            LOG_WARNING << "Cannot serve '" << virtual_path << "' in /files: " << sys->render(e);
          });
}

void Slave::attach_sandbox(const Executor& e) {
  attach_file(e.directory, e.directory);
  attach_file(e.directory, virtual_sandbox_path(e.framework_id, e.executor_id));
}

void Slave::unschedule_for_launch(const std::string& fid, const std::string& eid) {
  const std::string& wd = opts.flags.work_dir;
  for (const std::string& p : {framework_path(fid), executor_path(wd, records.slave_id, fid, eid),
                               framework_meta_path(wd, records.slave_id, fid),
                               executor_meta_path(wd, records.slave_id, fid, eid)}) {
    // Nobody waits for the answer (whether it was scheduled): an anonymous
    // send, so it does not come back to the slave as a stray message.
    caf::anon_send(gc, gc_unschedule_atom::value, p);
  }
}

std::string Slave::framework_path(const std::string& fid) const {
  return sandbox_root(opts.flags.work_dir, records.slave_id) + "/frameworks/" + fid;
}

void Slave::gc_path(const std::string& path, const std::string& virtual_path) {
  self->request(gc, caf::infinite, gc_schedule_atom::value, opts.flags.gc_delay, path)
      .then(
          [this, path, virtual_path](bool removed) {
            if (!removed) {
              return;
            }
            self->send(files, files::detach_atom::value, path);
            if (!virtual_path.empty()) {
              // Only while it still shows this run (a new one may have taken it).
              self->send(files, files::detach_atom::value, virtual_path, path);
            }
          },
          [](caf::error&) {});
}

void Slave::gc_executor(const Executor& e) {
  const std::string& wd = opts.flags.work_dir;
  gc_path(e.directory, virtual_sandbox_path(e.framework_id, e.executor_id));
  // Command executors are named after their task: one run each, so the
  // executor goes with its run.
  gc_path(executor_path(wd, records.slave_id, e.framework_id, e.executor_id));
  if (checkpointing(e.framework_id)) {
    gc_path(run_meta_path(wd, records.slave_id, e.framework_id, e.executor_id, e.container_id));
    gc_path(executor_meta_path(wd, records.slave_id, e.framework_id, e.executor_id));
  }
}

void Slave::gc_framework(const std::string& fid) {
  gc_path(framework_path(fid));
  gc_path(framework_meta_path(opts.flags.work_dir, records.slave_id, fid));
}

void Slave::gc_old_slaves() {
  const std::string& wd = opts.flags.work_dir;
  for (const std::string& root : {wd + "/slaves", meta_root(wd) + "/slaves"}) {
    for (const std::string& id : list_dir(root)) {
      if (id != records.slave_id && id != "latest") {
        LOG_INFO << "Scheduling the directory of an earlier slave " << id << " for garbage collection";
        gc_path(root + "/" + id);
      }
    }
  }
}

void Slave::gc_recovered(const SlaveCheckpoint& cp) {
  const std::string& wd = opts.flags.work_dir;
  const std::string& sid = records.slave_id;
  for (const auto& [fid, f] : records.frameworks) {
    for (const auto& [eid, e] : f.executors) {
      attach_sandbox(e);
    }
  }
  for (const auto& [fid, fc] : cp.frameworks) {
    auto f = records.frameworks.find(fid);
    if (f == records.frameworks.end()) {
      gc_framework(fid);
      continue;
    }
    for (const auto& [eid, ec] : fc.executors) {
      auto e = f->second.executors.find(eid);
      if (e == f->second.executors.end()) {
        gc_path(executor_path(wd, sid, fid, eid));
        gc_path(executor_meta_path(wd, sid, fid, eid));
        continue;
      }
      for (const auto& [cid, rc] : ec.runs) {
        if (cid != e->second.container_id) {
          gc_path(sandbox_path(wd, sid, fid, eid, cid));
          gc_path(run_meta_path(wd, sid, fid, eid, cid));
        }
      }
    }
  }
}

}  // namespace stoa::slave
