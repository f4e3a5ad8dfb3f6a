#pragma once
// The seccomp program of a site, from its "seccomp" setting: "web" (the built-in profile for
// nginx and PHP-FPM workers), "docker-default", "none", or the path of an OCI/Docker JSON
// profile. Compiled for this machine's architecture.
#include "config.hpp"

#include <bulkhead/error.hpp>
#include <bulkhead/seccomp.hpp>

#include <linux/filter.h>

#include <vector>

namespace sitehost {

inline bulkhead::result<std::vector<sock_filter>> site_filter(const site& s) {
    namespace sc = bulkhead::seccomp;
    if (s.seccomp == "none") return std::vector<sock_filter>{};
    bulkhead::result<sc::policy> pol = bulkhead::error(bulkhead::errc::invalid_argument, "seccomp profile");
    if (s.seccomp == "web") {
        pol = sc::web_site();
    } else if (s.seccomp == "docker-default") {
        pol = sc::docker_default();
    } else {
        auto prof = sc::load_profile(s.seccomp);
        if (!prof) return std::move(prof).error();
        pol = std::move(prof->policy);
    }
    if (!pol) return std::move(pol.error().subject(s.seccomp));
    auto prog = sc::compile(*pol);
    if (!prog) return std::move(prog.error().subject(s.seccomp));
    return std::vector<sock_filter>(prog->begin(), prog->end());
}

} // namespace sitehost
