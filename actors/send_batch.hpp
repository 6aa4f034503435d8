#pragma once
// Sending a batch (Stoa's batched status updates, docs/architecture.md):
// an empty batch sends nothing, a batch of one sends its element alone (the
// message a peer that does not batch would send), a larger one goes whole.

#include <caf/all.hpp>
#include <google/protobuf/repeated_ptr_field.h>

namespace stoa {

// Sends `batch`, whose elements are `elements` (a field of it), to `to` from
// `self`. Returns how many elements went in a batch: 0 when none or one
// went alone.
template <class Self, class Batch, class Element>
int send_batch(Self* self, const caf::actor& to, Batch& batch,
               google::protobuf::RepeatedPtrField<Element>* elements) {
  const int n = elements->size();
  if (n == 1) {
    self->send(to, std::move(*elements->Mutable(0)));
  } else if (n > 1) {
    self->send(to, std::move(batch));
    return n;
  }
  return 0;
}

}  // namespace stoa
