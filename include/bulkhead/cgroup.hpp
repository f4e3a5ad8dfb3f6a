#pragma once
/// \file cgroup.hpp
/// cgroup v2: discovery (cg::discover, cg::require_controller), the RAII `cgroup` (create,
/// attach, spawn into, freeze, kill, remove), typed limits (cg::limits) and statistics, and
/// events (cg::event_watch, cg::psi_trigger, cg::event_loop). See docs/cgroup.md.

#include "bulkhead/cgroup/discovery.hpp"
#include "bulkhead/cgroup/events.hpp"
#include "bulkhead/cgroup/group.hpp"
#include "bulkhead/cgroup/parse.hpp"
#include "bulkhead/cgroup/types.hpp"
