#include "actors/io_thread_scheduler.hpp"

#include <atomic>
#include <thread>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "actors/deadline_clock.hpp"

namespace stoa {

namespace {

class IoThreadCoordinator final : public caf::scheduler::abstract_coordinator {
 public:
  explicit IoThreadCoordinator(caf::actor_system& sys) : abstract_coordinator(sys) {}

  // A job (an actor with mail, carrying one reference) runs on the
  // multiplexer's thread: posted there (its own queue when this is that
  // thread, its wake-up pipe otherwise), then resumed as CAF's workers
  // resume it (resume_later: queued again; done or awaiting mail: the
  // reference is dropped).
  void enqueue(caf::resumable* job) override {
    caf::io::network::default_multiplexer* mpx = multiplexer();
    mpx->post([mpx, ptr = caf::intrusive_ptr<caf::resumable>(job, false)]() mutable {
      mpx->resume(std::move(ptr));
    });
  }

  caf::actor_clock& clock() noexcept override { return clock_; }

  void start() override {
    // The timer thread, as CAF's own coordinators run theirs, but with a
    // clock that wakes it only for an earlier deadline
    // (actors/deadline_clock.hpp).
    timer_ = std::thread([this] {
      caf::detail::set_thread_name("caf.clock");
      system().thread_started();
      clock_.run();
      system().thread_terminates();
    });
    abstract_coordinator::start();  // the (detached) printer
  }

  void stop() override {
    stop_actors();
    clock_.stop();
    timer_.join();
  }

 private:
  caf::io::network::default_multiplexer* multiplexer() {
    caf::io::network::default_multiplexer* mpx = mpx_.load(std::memory_order_acquire);
    if (mpx == nullptr) {
      mpx = &static_cast<caf::io::network::default_multiplexer&>(system().middleman().backend());
      mpx_.store(mpx, std::memory_order_release);
    }
    return mpx;
  }

  DeadlineClock clock_;
  std::thread timer_;
  std::atomic<caf::io::network::default_multiplexer*> mpx_{nullptr};
};

}  // namespace

void use_io_thread_scheduler(caf::actor_system_config& cfg) {
  cfg.module_factories.push_back(
      [](caf::actor_system& sys) -> caf::actor_system::module* { return new IoThreadCoordinator(sys); });
}

}  // namespace stoa
