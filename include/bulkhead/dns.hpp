#pragma once
/// \file dns.hpp
/// DNS: wire format (zero-allocation message view, typed RDATA, EDNS0 and Extended DNS
/// Errors, a compressing builder), presentation format (printer and zone reader) and a stub
/// resolver (synchronous, or fd-based for an event loop).

#include "bulkhead/dns/resolver.hpp"
#include "bulkhead/dns/rr_table.hpp"
#include "bulkhead/dns/text.hpp"
#include "bulkhead/dns/wire.hpp"
