// Batched status updates (Stoa's extension of Mesos' protocol;
// docs/architecture.md, "Batched status updates").
//
// An update costs the master four messages in Mesos' protocol: the slave's
// StatusUpdateMessage, the UPDATE event to the scheduler, its ACKNOWLEDGE
// call, and the acknowledgement to the slave. Each message has a fixed
// cost (its frame, its dispatch, a system call's share) larger than the
// work of the update itself, so under load the master batches:
//
// - events for a scheduler that subscribed with batched_events wait until
//   the master has handled the messages that were in its mailbox when the
//   first of them was made (a flush_events_atom it sends itself), then go
//   as one scheduler::Events (a lone event goes as itself);
// - the driver answers an Events with its acknowledgements in one
//   scheduler::Calls; the master sends the acknowledgements such a batch
//   holds for one slave (that registered with batched_acknowledgements)
//   as one StatusUpdateAcknowledgementsMessage;
// - that slave sends the updates those acknowledgements release (the next
//   of each task's stream) as one StatusUpdatesMessage.
//
// Every element is handled as if it came alone, in order; an idle cluster
// sends the same single messages as before. Only senders that know the
// receiver takes a batch send one: the master asks the scheduler and the
// slave (Subscribe / registration), and they send batches only in answer
// to one (so only to a master that batches).

#include <caf/all.hpp>

#include "actors/send_batch.hpp"
#include "master/master_actor.hpp"

namespace stoa::master {

using namespace stoa::internal;
using stoa::scheduler::Call;
using stoa::scheduler::Calls;
using stoa::scheduler::Event;
using stoa::scheduler::Events;

void Master::count_batch_sent(int elements) {
  if (elements > 0) {
    hot.batches_sent->inc();
    hot.batched_sent->inc(elements);
  }
}

void Master::send_events(const caf::actor& to, Events& events) {
  count_batch_sent(stoa::send_batch(self, to, events, events.mutable_events()));
}

void Master::batch_event(const caf::actor& to, Event&& e) { batched_event(to) = std::move(e); }

Event& Master::batched_event(const caf::actor& to) {
  auto batch = std::find_if(event_batches.begin(), event_batches.end(),
                            [&](const EventBatch& b) { return b.to == to; });
  if (batch == event_batches.end()) {
    batch = event_batches.insert(event_batches.end(), EventBatch{to, {}});
    take_recycled(batch->events);
  } else if (batch->events.events_size() >= EVENT_BATCH_MAX) {
    send_events(batch->to, batch->events);
    take_recycled(batch->events);
  }
  if (!event_flush_queued) {
    event_flush_queued = true;
    self->send(self, flush_events_atom_v);
  }
  return *batch->events.add_events();
}

void Master::flush_events() {
  event_flush_queued = false;
  for (EventBatch& b : event_batches) {
    send_events(b.to, b.events);
  }
  event_batches.clear();
}

void Master::flush_events_to(const caf::actor& to) {
  auto batch = std::find_if(event_batches.begin(), event_batches.end(),
                            [&](const EventBatch& b) { return b.to == to; });
  if (batch != event_batches.end()) {
    send_events(batch->to, batch->events);
    event_batches.erase(batch);
  }
}

void Master::on_calls(Calls& calls) {
  hot.batches_received->inc();
  hot.batched_received->inc(calls.calls_size());
  collecting_acknowledgements = true;
  for (Call& call : *calls.mutable_calls()) {
    if (call.type() != Call::ACKNOWLEDGE) {
      // What this call sends a slave goes after the acknowledgements
      // before it, as it would have without the batch.
      flush_acknowledgements();
    }
    on_call(call);
  }
  collecting_acknowledgements = false;
  flush_acknowledgements();
  recycle(calls);
}

StatusUpdateAcknowledgementMessage& Master::batch_acknowledgement(const caf::actor& slave) {
  auto [batch, fresh] = acknowledgement_batches.try_emplace(slave);
  if (fresh) {
    take_recycled(batch->second);
  }
  return *batch->second.add_acknowledgements();
}

void Master::flush_acknowledgements() {
  for (auto& [slave, batch] : acknowledgement_batches) {
    count_batch_sent(stoa::send_batch(self, slave, batch, batch.mutable_acknowledgements()));
  }
  acknowledgement_batches.clear();
}

void Master::on_status_updates(StatusUpdatesMessage& m) {
  hot.batches_received->inc();
  hot.batched_received->inc(m.updates_size());
  const SlaveRecord* sender =
      self->current_sender() ? slave_by_handle(self->current_sender()->address()) : nullptr;
  for (StatusUpdateMessage& update : *m.mutable_updates()) {
    on_status_update(update, sender);
  }
  recycle(m);
}

}  // namespace stoa::master
