#pragma once
/// \file ns.hpp
/// Namespaces (kinds, unshare, setns, identity, pinning), user-namespace id maps and
/// subordinate ids, mount plans, rtnetlink (veth, addresses, routes) and process hardening.

#include "bulkhead/ns/hardening.hpp"
#include "bulkhead/ns/idmap.hpp"
#include "bulkhead/ns/mount_plan.hpp"
#include "bulkhead/ns/namespaces.hpp"
#include "bulkhead/ns/netlink.hpp"
#include "bulkhead/ns/steps.hpp"
