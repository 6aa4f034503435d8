#pragma once
// Callbacks to run later inside an actor (the drivers' after()/cancel()):
// the actor sends itself a message carrying the id and calls fire(id) when
// it arrives; a cancelled id fires nothing.

#include <cstdint>
#include <functional>
#include <map>

namespace stoa {

class Timers {
 public:
  uint64_t add(std::function<void()> fn) {
    uint64_t id = ++next_;
    fns_[id] = std::move(fn);
    return id;
  }
  void cancel(uint64_t id) { fns_.erase(id); }
  void fire(uint64_t id) {
    auto it = fns_.find(id);
    if (it == fns_.end()) {
      return;  // cancelled
    }
    std::function<void()> fn = std::move(it->second);
    fns_.erase(it);
    fn();
  }

 private:
  std::map<uint64_t, std::function<void()>> fns_;
  uint64_t next_ = 0;
};

}  // namespace stoa
