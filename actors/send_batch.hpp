#pragma once
// Sending a batch (Stoa's batched status updates, docs/architecture.md):
// an empty batch sends nothing, a batch of one sends its element alone (the
// message a peer that does not batch would send), a larger one goes whole:
// to an actor of another node serialized at once (Serialized), its storage
// kept for the next batch this thread builds (take_recycled()).

#include <caf/all.hpp>
#include <google/protobuf/repeated_ptr_field.h>

#include "actors/messages.hpp"

namespace stoa {

// Sends `batch`, whose elements are `elements` (a field of it), to `to` from
// `self`. Returns how many elements went in a batch: 0 when none or one
// went alone. `batch` is left empty (but for elements, when none).
template <class Self, class Batch, class Element>
int send_batch(Self* self, const caf::actor& to, Batch& batch,
               google::protobuf::RepeatedPtrField<Element>* elements) {
  const int n = elements->size();
  int batched = 0;
  if (n == 0) {
    return 0;
  }
  if (to && n == 1) {
    self->send(to, std::move(*elements->Mutable(0)));
  } else if (to && n > 1) {
    batched = n;
    if (to.node() == self->node()) {
      self->send(to, std::move(batch));  // its handler gives it back
      return batched;
    }
    self->send(to, Serialized<Batch>{batch.SerializeAsString()});
  }
  recycle(batch);
  return batched;
}

}  // namespace stoa
