#pragma once
/// \file bulkhead.hpp
/// The umbrella header: includes every public header of the library and nothing else.

#include "bulkhead/caa.hpp"
#include "bulkhead/cgroup.hpp"
#include "bulkhead/config.hpp"
#include "bulkhead/dns.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"
#include "bulkhead/ns.hpp"
#include "bulkhead/process.hpp"
#include "bulkhead/sandbox.hpp"
#include "bulkhead/seccomp.hpp"
#include "bulkhead/sig.hpp"
#include "bulkhead/version.hpp"
