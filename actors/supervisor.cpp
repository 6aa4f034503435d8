#include "actors/supervisor.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>

#include <caf/all.hpp>

#include "actors/safety.hpp"
#include "common/logging.hpp"

namespace stoa {

std::string StopEvent::describe() const {
  switch (cause) {
    case Cause::SIGNAL:
      return "signal " + std::to_string(signal);
    case Cause::COMPONENT_STOPPED:
      return "component '" + component + "' stopped";
    case Cause::COMPONENT_FAILED:
      return "component '" + component + "' failed: " + reason;
  }
  return "unknown";
}

StopChannel::StopChannel() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (fd_ < 0) {
    LOG_ERROR << "eventfd failed (" << std::strerror(errno)
              << "): Runtime::wait() will see signals but not a component's own stop";
  }
}

StopChannel::~StopChannel() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void StopChannel::post(StopEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
  }
  if (fd_ >= 0) {
    uint64_t one = 1;
    // Never blocks: the counter would have to reach 2^64 - 1 first.
    ssize_t n = ::write(fd_, &one, sizeof(one));
    (void)n;
  }
}

std::optional<StopEvent> StopChannel::take() {
  std::lock_guard<std::mutex> lock(mu_);
  if (events_.empty()) {
    return std::nullopt;
  }
  StopEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void StopChannel::clear() {
  if (fd_ >= 0) {
    uint64_t count = 0;
    ssize_t n = ::read(fd_, &count, sizeof(count));  // EAGAIN when already clear
    (void)n;
  }
}

namespace {

class Supervisor {
 public:
  Supervisor() = default;  // CAF default-constructs the state; the behavior sets `self`

  caf::stateful_actor<Supervisor>* self = nullptr;
  std::map<caf::actor_addr, std::string> names;
  std::function<void(const std::string&)> on_failure;
  std::shared_ptr<StopChannel> channel;
  static inline const char* name = "supervisor";

  void on_supervise(const std::string& component, const caf::actor& who) {
    if (!who || self->current_sender() == nullptr || self->current_sender()->node() != self->node()) {
      return;
    }
    self->monitor(who);
    names[who.address()] = component;
  }

  void on_down(const caf::down_msg& dm) {
    auto it = names.find(dm.source);
    if (it == names.end()) {
      return;
    }
    StopEvent event;
    event.component = it->second;
    names.erase(it);
    if (dm.reason == caf::exit_reason::user_shutdown) {
      return;  // stopped by another actor of this process, in order
    }
    if (dm.reason == caf::exit_reason::normal || dm.reason == caf::error{}) {
      event.cause = StopEvent::Cause::COMPONENT_STOPPED;
      channel->post(std::move(event));
      return;
    }
    event.cause = StopEvent::Cause::COMPONENT_FAILED;
    event.reason = self->system().render(dm.reason);
    on_failure("component '" + event.component + "' terminated: " + event.reason);
    channel->post(std::move(event));
  }
};

caf::behavior supervisor_actor(caf::stateful_actor<Supervisor>* self,
                               std::function<void(const std::string&)> on_failure,
                               std::shared_ptr<StopChannel> channel) {
  set_safe_handlers(self, "supervisor");
  Supervisor& st = self->state;
  st.self = self;
  st.on_failure = std::move(on_failure);
  st.channel = std::move(channel);
  self->set_down_handler([self](caf::down_msg& dm) { self->state.on_down(dm); });
  return {
      [self](supervise_atom, const std::string& name, const caf::actor& who) {
        self->state.on_supervise(name, who);
      },
  };
}

}  // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, std::function<void(const std::string&)> on_failure,
                            std::shared_ptr<StopChannel> channel) {
  return sys.spawn<caf::hidden>(supervisor_actor, std::move(on_failure), std::move(channel));
}

}  // namespace stoa
