#pragma once
// The seccomp program of a site, from its "seccomp" setting.
#include "config.hpp"

#include <bulkhead/error.hpp>

#include <linux/filter.h>

#include <vector>

namespace sitehost {

inline bulkhead::result<std::vector<sock_filter>> site_filter(const site& s) {
    if (s.seccomp == "none") return std::vector<sock_filter>{};
    return bulkhead::error(bulkhead::errc::unsupported, "seccomp profile")
        .subject(s.seccomp)
        .note("profiles are compiled by the seccomp module, which this build does not have yet");
}

} // namespace sitehost
