#include "actors/deadline_clock.hpp"

#include <utility>

#include <caf/abstract_actor.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/group.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message.hpp>
#include <caf/message_id.hpp>
#include <caf/sec.hpp>
#include <caf/system_messages.hpp>

namespace stoa {

struct DeadlineClock::Entry {
  enum Kind { ordinary, multi, request, actor_message, group_message };

  Entry(Kind k, time_point d) : kind(k), due(d) {}

  Kind kind;
  time_point due;
  // The timeout's actor, the delayed message's receiver, or (for a group)
  // its sender; may be null only for a group message's sender.
  caf::strong_actor_ptr actor;
  caf::atom_value type = caf::atom("");  // ordinary, multi
  uint64_t id = 0;                       // ordinary, multi
  caf::message_id request_id;            // request
  caf::mailbox_element_ptr content;      // actor_message
  caf::group target;                     // group_message
  caf::message group_content;            // group_message
  // Its place in lookup_ (timeouts only: messages cannot be cancelled).
  bool cancellable = false;
  Lookup::iterator backlink;
};

DeadlineClock::DeadlineClock() : sleeps_until_(time_point::min()) {}

DeadlineClock::~DeadlineClock() {
  cancel_all();  // the owner stopped run() first; what is left goes
}

bool DeadlineClock::add_locked(std::unique_ptr<Entry> e) {
  const time_point due = e->due;
  const bool cancellable = e->cancellable;
  const caf::actor_id aid = cancellable ? e->actor->id() : 0;
  auto it = schedule_.emplace(due, std::move(e));
  if (cancellable) {
    it->second->backlink = lookup_.emplace(aid, it);
  }
  if (due < sleeps_until_) {
    sleeps_until_ = due;  // it will wake for this one; later sets need not notify again
    return true;
  }
  return false;
}

void DeadlineClock::add(std::unique_ptr<Entry> e) {
  bool notify = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    notify = add_locked(std::move(e));
  }
  if (notify) {
    cv_.notify_one();
  }
}

template <class Pred>
void DeadlineClock::remove_locked(caf::actor_id aid, Pred pred, bool first_only,
                                  std::vector<std::unique_ptr<Entry>>* dropped) {
  auto range = lookup_.equal_range(aid);
  for (auto i = range.first; i != range.second;) {
    Schedule::iterator s = i->second;
    if (!pred(*s->second)) {
      ++i;
      continue;
    }
    dropped->push_back(std::move(s->second));
    schedule_.erase(s);
    i = lookup_.erase(i);
    if (first_only) {
      return;
    }
  }
}

void DeadlineClock::set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type, uint64_t id) {
  auto e = std::make_unique<Entry>(Entry::ordinary, t);
  e->actor = self->ctrl();
  e->type = type;
  e->id = id;
  e->cancellable = true;
  std::vector<std::unique_ptr<Entry>> dropped;  // the timeout this one replaces
  bool notify = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    remove_locked(
        self->id(), [type](const Entry& x) { return x.kind == Entry::ordinary && x.type == type; }, true, &dropped);
    notify = add_locked(std::move(e));
  }
  if (notify) {
    cv_.notify_one();
  }
}

void DeadlineClock::set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type, uint64_t id) {
  auto e = std::make_unique<Entry>(Entry::multi, t);
  e->actor = self->ctrl();
  e->type = type;
  e->id = id;
  e->cancellable = true;
  add(std::move(e));
}

void DeadlineClock::set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) {
  auto e = std::make_unique<Entry>(Entry::request, t);
  e->actor = self->ctrl();
  e->request_id = id;
  e->cancellable = true;
  add(std::move(e));
}

void DeadlineClock::cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) {
  std::vector<std::unique_ptr<Entry>> dropped;
  std::lock_guard<std::mutex> lock(mu_);
  remove_locked(
      self->id(), [type](const Entry& x) { return x.kind == Entry::ordinary && x.type == type; }, true, &dropped);
  // `dropped` is destroyed after the lock is released (declared before it).
}

void DeadlineClock::cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) {
  std::vector<std::unique_ptr<Entry>> dropped;
  std::lock_guard<std::mutex> lock(mu_);
  remove_locked(
      self->id(), [id](const Entry& x) { return x.kind == Entry::request && x.request_id == id; }, true, &dropped);
}

void DeadlineClock::cancel_timeouts(caf::abstract_actor* self) {
  std::vector<std::unique_ptr<Entry>> dropped;
  std::lock_guard<std::mutex> lock(mu_);
  remove_locked(self->id(), [](const Entry&) { return true; }, false, &dropped);
}

void DeadlineClock::schedule_message(time_point t, caf::strong_actor_ptr receiver, caf::mailbox_element_ptr content) {
  auto e = std::make_unique<Entry>(Entry::actor_message, t);
  e->actor = std::move(receiver);
  e->content = std::move(content);
  add(std::move(e));
}

void DeadlineClock::schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                                     caf::message content) {
  auto e = std::make_unique<Entry>(Entry::group_message, t);
  e->actor = std::move(sender);
  e->target = std::move(target);
  e->group_content = std::move(content);
  add(std::move(e));
}

void DeadlineClock::cancel_all() {
  std::vector<std::unique_ptr<Entry>> dropped;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [due, e] : schedule_) {
    dropped.push_back(std::move(e));
  }
  schedule_.clear();
  lookup_.clear();
}

void DeadlineClock::ship(Entry& e) {
  switch (e.kind) {
    case Entry::ordinary:
    case Entry::multi:
      e.actor->get()->eq_impl(caf::make_message_id(), e.actor, nullptr, caf::timeout_msg{e.type, e.id});
      break;
    case Entry::request:
      // Without a sender (CAF's clock names the actor itself): CAF 0.17
      // never cancels a request's timeout, so one whose answer came first
      // still arrives, and a blocking actor (scoped_actor) leaves it in its
      // mailbox; naming the actor there made a cycle that kept the actor
      // and its mailbox alive forever (LeakSanitizer, test
      // DeadlineClock.ReceiveAndRequestTimeoutsBehaveAsOnCafsClock). A
      // response is matched by its id alone.
      e.actor->get()->eq_impl(e.request_id, nullptr, nullptr, caf::sec::request_timeout);
      break;
    case Entry::actor_message:
      e.actor->enqueue(std::move(e.content), nullptr);
      break;
    case Entry::group_message:
      e.target.eq_impl(caf::make_message_id(), std::move(e.actor), nullptr, std::move(e.group_content));
      break;
  }
}

void DeadlineClock::run() {
  std::vector<std::unique_ptr<Entry>> due;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const time_point now = clock_type::now();
    auto it = schedule_.begin();
    if (it == schedule_.end() || it->first > now) {
      sleeps_until_ = it == schedule_.end() ? time_point::max() : it->first;
      if (it == schedule_.end()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, sleeps_until_);
      }
      ++wakeups_;
      sleeps_until_ = time_point::min();  // awake: sets need not notify
      continue;
    }
    while (it != schedule_.end() && it->first <= now) {
      if (it->second->cancellable) {
        lookup_.erase(it->second->backlink);
      }
      due.push_back(std::move(it->second));
      it = schedule_.erase(it);
    }
    // Shipped in due order, without the lock: a ship enqueues to an actor,
    // and dropping an entry may destroy one, which cancels its timeouts here.
    lock.unlock();
    for (std::unique_ptr<Entry>& e : due) {
      ship(*e);
    }
    due.clear();
    lock.lock();
  }
  lock.unlock();
  cancel_all();
}

void DeadlineClock::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

uint64_t DeadlineClock::wakeups() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wakeups_;
}

bool DeadlineClock::asleep() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sleeps_until_ != time_point::min();
}

size_t DeadlineClock::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return schedule_.size();
}

}  // namespace stoa
