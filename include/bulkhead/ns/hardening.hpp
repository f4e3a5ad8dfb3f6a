#pragma once
/// \file ns/hardening.hpp
/// Process hardening settings applied in a sandbox's child between clone and exec:
/// capabilities (bounding, effective/permitted/inheritable, ambient) from an allowlist,
/// securebits, no_new_privs, rlimits, uid/gid/groups, parent-death signal, setsid, umask,
/// cwd, closing every fd but the passed ones, a clean environment. Also the name parsers.

#include "bulkhead/config.hpp"
#include "bulkhead/detail/text.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"
#include "bulkhead/ns/caps_table.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <csignal>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>

BULKHEAD_NAMESPACE_BEGIN
namespace ns {

/// A set of capabilities as a 64-bit mask (bit n = capability n).
class cap_set {
public:
    constexpr cap_set() noexcept = default;
    [[nodiscard]] static constexpr cap_set none() noexcept { return {}; }
    [[nodiscard]] static constexpr cap_set from_mask(std::uint64_t m) noexcept {
        cap_set s;
        s.mask_ = m;
        return s;
    }
    constexpr cap_set& add(int cap) noexcept {
        if (cap >= 0 && cap < 64) mask_ |= std::uint64_t{1} << cap;
        return *this;
    }
    [[nodiscard]] constexpr bool has(int cap) const noexcept {
        return cap >= 0 && cap < 64 && (mask_ >> cap & 1) != 0;
    }
    [[nodiscard]] constexpr std::uint64_t mask() const noexcept { return mask_; }
    [[nodiscard]] constexpr bool empty() const noexcept { return mask_ == 0; }

private:
    std::uint64_t mask_ = 0;
};

/// The number of a capability name: "CAP_NET_BIND_SERVICE", "net_bind_service" (any case),
/// or a decimal number up to 63.
[[nodiscard]] inline result<int> parse_capability(std::string_view s) {
    std::string_view n = s;
    if (n.size() > 4 && bulkhead::detail::iequals(n.substr(0, 4), "cap_")) n.remove_prefix(4);
    for (const auto& c : detail::cap_table)
        if (bulkhead::detail::iequals(n, c.name)) return c.value;
    if (auto v = bulkhead::detail::parse_int<int>(s); v && *v >= 0 && *v < 64) return *v;
    return error(errc::not_found, "capability").value(s).note("not a capability name (e.g. CAP_NET_BIND_SERVICE)");
}

/// "CAP_NET_BIND_SERVICE" for 10; "CAP_63" for unknown numbers.
[[nodiscard]] inline std::string capability_name(int cap) {
    for (const auto& c : detail::cap_table)
        if (c.value == cap) {
            std::string s = "CAP_";
            for (char ch : c.name) s += static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
            return s;
        }
    return "CAP_" + std::to_string(cap);
}

/// The highest capability number this kernel knows (what /proc/sys/kernel/cap_last_cap says).
/// Found by probing PR_CAPBSET_READ, which fails with EINVAL above the last capability: six
/// prctl calls instead of opening a procfs file on every sandbox start. Falls back to the file
/// when prctl is unavailable (a seccomp filter), then to the headers' last capability.
[[nodiscard]] inline int kernel_cap_last_cap() noexcept {
    if (::prctl(PR_CAPBSET_READ, 0, 0, 0, 0) >= 0) {
        int lo = 0, hi = 64; // lo is known, hi is not
        while (hi - lo > 1) {
            int mid = (lo + hi) / 2;
            if (::prctl(PR_CAPBSET_READ, static_cast<unsigned long>(mid), 0, 0, 0) >= 0)
                lo = mid;
            else
                hi = mid;
        }
        return lo;
    }
    auto t = read_file("/proc/sys/kernel/cap_last_cap");
    if (t) {
        if (auto v = bulkhead::detail::parse_int<int>(bulkhead::detail::trim(*t)); v && *v > 0 && *v < 64) return *v;
    }
    return detail::cap_last_known;
}

/// RLIMIT_* of a name: "NOFILE", "rlimit_nofile", "nofile" (any case).
[[nodiscard]] inline result<int> parse_rlimit_name(std::string_view s) {
    std::string_view n = s;
    if (n.size() > 7 && bulkhead::detail::iequals(n.substr(0, 7), "rlimit_")) n.remove_prefix(7);
    for (const auto& r : detail::rlimit_table)
        if (bulkhead::detail::iequals(n, r.name)) return r.resource;
    return error(errc::not_found, "rlimit").value(s).note("not a resource name (e.g. NOFILE, NPROC, AS)");
}

/// One resource limit to set.
struct rlimit_setting {
    int resource = 0;
    rlim_t soft = RLIM_INFINITY;
    rlim_t hard = RLIM_INFINITY;
};

/// Parses "NAME=SOFT[:HARD]"; values are numbers or "unlimited"/"infinity". Without HARD,
/// hard = soft.
[[nodiscard]] inline result<rlimit_setting> parse_rlimit(std::string_view s) {
    auto eq = s.find('=');
    if (eq == std::string_view::npos)
        return error(errc::parse_error, "rlimit").value(s).note("expected NAME=SOFT[:HARD]");
    BULKHEAD_TRY_ASSIGN(int res, parse_rlimit_name(s.substr(0, eq)));
    auto val = [&](std::string_view v, std::size_t off) -> result<rlim_t> {
        if (bulkhead::detail::iequals(v, "unlimited") || bulkhead::detail::iequals(v, "infinity")) return RLIM_INFINITY;
        auto n = bulkhead::detail::parse_int<std::uint64_t>(v);
        if (!n || *n >= static_cast<std::uint64_t>(RLIM_INFINITY))
            return error(errc::parse_error, "rlimit").value(v).at_offset(off).note("not a number or 'unlimited'");
        return static_cast<rlim_t>(*n);
    };
    std::string_view rest = s.substr(eq + 1);
    auto colon = rest.find(':');
    rlimit_setting r;
    r.resource = res;
    BULKHEAD_TRY_ASSIGN(r.soft, val(rest.substr(0, colon), eq + 1));
    if (colon == std::string_view::npos) {
        r.hard = r.soft;
    } else {
        BULKHEAD_TRY_ASSIGN(r.hard, val(rest.substr(colon + 1), eq + 2 + colon));
    }
    if (r.soft != RLIM_INFINITY && (r.hard == RLIM_INFINITY ? false : r.soft > r.hard))
        return error(errc::invalid_argument, "rlimit").value(s).note("soft limit above hard limit");
    return r;
}

/// Securebits (prctl PR_SET_SECUREBITS) values.
namespace securebits {
inline constexpr unsigned noroot = 1u << 0;
inline constexpr unsigned noroot_locked = 1u << 1;
inline constexpr unsigned no_setuid_fixup = 1u << 2;
inline constexpr unsigned no_setuid_fixup_locked = 1u << 3;
inline constexpr unsigned keep_caps = 1u << 4;
inline constexpr unsigned keep_caps_locked = 1u << 5;
inline constexpr unsigned no_cap_ambient_raise = 1u << 6;
inline constexpr unsigned no_cap_ambient_raise_locked = 1u << 7;
} // namespace securebits

/// How the child hardens itself before exec. The defaults drop every capability, set
/// no_new_privs, SIGKILL on parent death, a new session and close all fds but 0-2.
struct hardening {
    /// Capabilities kept in bounding, permitted, effective, inheritable and ambient sets.
    cap_set keep_caps{};
    /// Securebits to set (after dropping the bounding set), nullopt: leave them.
    std::optional<unsigned> securebits{};
    bool no_new_privs = true;
    std::vector<rlimit_setting> rlimits{};
    std::optional<uid_t> uid{};        ///< setresuid inside (after the id maps)
    std::optional<gid_t> gid{};        ///< setresgid inside
    std::optional<std::vector<gid_t>> groups{}; ///< setgroups; {} = clear them (needs setgroups allowed)
    int parent_death_signal = SIGKILL; ///< 0: none
    bool new_session = true;           ///< setsid()
    std::optional<mode_t> umask{};
    std::string cwd = "/";             ///< chdir after pivot_root; empty: leave
    std::vector<int> keep_fds{};       ///< fds >= 3 passed to the payload (kept at their numbers)
    bool close_fds = true;             ///< close every fd >= 3 but keep_fds
};

} // namespace ns
BULKHEAD_NAMESPACE_END
