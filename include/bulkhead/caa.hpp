#pragma once
/// \file caa.hpp
/// CAA (RFC 8659, RFC 8657): properties, the Relevant RRset search and the issuance verdict
/// for one CA, with the trail of lookups and a plain-words explanation.

#include "bulkhead/caa/check.hpp"
#include "bulkhead/caa/property.hpp"
