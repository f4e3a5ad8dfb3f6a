#pragma once
/// \file version.hpp
/// The library version, as macros (config.hpp) and as constants.

#include "bulkhead/config.hpp"

BULKHEAD_NAMESPACE_BEGIN

/// Semantic version of the headers in use.
struct version_info {
    int major;
    int minor;
    int patch;
    const char* string;
};

inline constexpr version_info version{BULKHEAD_VERSION_MAJOR, BULKHEAD_VERSION_MINOR,
                                      BULKHEAD_VERSION_PATCH, BULKHEAD_VERSION_STRING};

BULKHEAD_NAMESPACE_END
