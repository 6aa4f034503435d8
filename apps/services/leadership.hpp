#pragma once
// Who leads the stoa-services instances (Marathon's election, marathon.md §6),
// over the detector/contender the masters use (actors/master_detector.hpp):
// each instance contends under <zk path>/leader with a node whose "pid" is
// "marathon@host:port"; the lowest leads.
//
// The election actor tells the core (elected_atom) once it leads and
// (deposed_atom, why) when it loses the lead or its session; it keeps the
// shared Leadership view current for the HTTP layer (read from any thread).
// Without --zk, or with --disable_ha, the instance leads at once.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "common/try.hpp"

namespace stoa::services {

struct LeaderView {
  bool elected = false;  // this instance leads
  std::string leader;    // "host:port" of the leader; "" = unknown
};

class Leadership {
 public:
  LeaderView get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return view_;
  }
  void set(LeaderView v) {
    std::lock_guard<std::mutex> lock(mutex_);
    view_ = std::move(v);
  }

 private:
  mutable std::mutex mutex_;
  LeaderView view_;
};

struct ElectionOptions {
  std::optional<std::string> zk;  // zk://…/marathon; nullopt = lead at once
  bool disable_ha = false;        // lead at once even with zk
  std::string self;               // "host:port" of this instance
  std::chrono::milliseconds session_timeout = std::chrono::seconds(10);
  caf::actor core;                // told elected / deposed
  std::shared_ptr<Leadership> view;
};

// Spawns the election (linked to nothing; main supervises it).
Try<caf::actor> spawn_election(caf::actor_system& sys, ElectionOptions options);

}  // namespace stoa::services
