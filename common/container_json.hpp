#pragma once
// ContainerInfo and ContainerStatus as Mesos' /state shows them (its
// JSON::protobuf: every field set, plus unset optional fields that have a
// default, enum values by name). Shared by the master's and the slave's state.

#include <picojson.h>

#include "proto/stoa.pb.h"

namespace stoa {

picojson::value container_info_json(const ContainerInfo& info);
picojson::value container_status_json(const ContainerStatus& status);

}  // namespace stoa
