#pragma once
// The message atoms of stoa-lb's actors (haproxy.hpp, marathon.hpp, lb.hpp).

#include <caf/atom.hpp>

namespace stoa::lb {

using lb_apply_atom = caf::atom_constant<caf::atom("lb_apply")>;
using lb_reload_atom = caf::atom_constant<caf::atom("lb_reload")>;
using lb_validate_atom = caf::atom_constant<caf::atom("lb_valid")>;
using lb_status_atom = caf::atom_constant<caf::atom("lb_status")>;
using lb_snapshot_atom = caf::atom_constant<caf::atom("lb_snap")>;
using lb_registry_down_atom = caf::atom_constant<caf::atom("lb_regdown")>;
using lb_refresh_atom = caf::atom_constant<caf::atom("lb_refresh")>;
using lb_reapply_atom = caf::atom_constant<caf::atom("lb_reapply")>;

}  // namespace stoa::lb
