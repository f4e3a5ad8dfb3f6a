#pragma once
/// \file cgroup/discovery.hpp
/// Where cgroup v2 lives on this system and what it offers: the cgroup2 mount (from
/// /proc/self/mountinfo), the calling process's cgroup (/proc/self/cgroup), controllers
/// available at a node and enabled in its parent, which controllers a v1 hierarchy holds
/// (hybrid mode), and whether a subtree is writable (delegated).

#include "bulkhead/cgroup/parse.hpp"
#include "bulkhead/config.hpp"
#include "bulkhead/detail/text.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

BULKHEAD_NAMESPACE_BEGIN
namespace cg {

/// One line of /proc/self/mountinfo (escapes such as \040 decoded).
struct mount_entry {
    std::string root;          ///< the mounted subtree of the filesystem
    std::string mount_point;
    std::string fstype;        ///< "cgroup2", "cgroup", ...
    std::string source;
    std::string super_options; ///< for cgroup v1: the controllers bound ("rw,memory")
};

/// One line of /proc/cgroups.
struct proc_cgroup_entry {
    std::string name;
    std::uint32_t hierarchy = 0; ///< 0: not bound to a v1 hierarchy (usable by v2)
    std::uint64_t num_cgroups = 0;
    bool enabled = false;
};

namespace detail {
inline std::string unescape_mount(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && s.size() - i >= 4 && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
            s[i + 3] >= '0' && s[i + 3] <= '7') {
            out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

inline bool list_has(std::string_view list, char sep, std::string_view item) {
    for (auto f : bulkhead::detail::split(list, sep))
        if (f == item) return true;
    return false;
}

/// The v1 name of a v2 controller in /proc/cgroups and v1 mount options.
constexpr std::string_view v1_name(std::string_view controller) noexcept {
    return controller == "io" ? std::string_view("blkio") : controller;
}
} // namespace detail

/// Parses /proc/self/mountinfo.
[[nodiscard]] inline result<std::vector<mount_entry>> parse_mountinfo(std::string_view text) {
    std::vector<mount_entry> out;
    auto r = detail::walk_lines(text, [&](std::string_view line, std::uint32_t n) -> result<void> {
        if (bulkhead::detail::trim(line).empty()) return {};
        auto f = bulkhead::detail::split_ws(line);
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
        std::size_t dash = 6;
        while (dash < f.size() && f[dash] != "-") ++dash;
        if (f.size() < 6 || dash + 2 >= f.size())
            return std::move(error(errc::parse_error, "cgroup: parse")
                                 .subject("/proc/self/mountinfo")
                                 .at(n, 1)
                                 .note("mountinfo line with fewer fields than expected"));
        mount_entry m;
        m.root = detail::unescape_mount(f[3]);
        m.mount_point = detail::unescape_mount(f[4]);
        m.fstype = std::string(f[dash + 1]);
        m.source = detail::unescape_mount(f[dash + 2]);
        if (dash + 3 < f.size()) m.super_options = std::string(f[dash + 3]);
        out.push_back(std::move(m));
        return {};
    });
    if (!r) return std::move(r).error();
    return out;
}

/// Parses /proc/cgroups ("#subsys_name hierarchy num_cgroups enabled").
[[nodiscard]] inline result<std::vector<proc_cgroup_entry>> parse_proc_cgroups(std::string_view text) {
    std::vector<proc_cgroup_entry> out;
    auto r = detail::walk_lines(text, [&](std::string_view line, std::uint32_t n) -> result<void> {
        auto t = bulkhead::detail::trim(line);
        if (t.empty() || t.front() == '#') return {};
        auto f = bulkhead::detail::split_ws(t);
        auto h = f.size() == 4 ? bulkhead::detail::parse_int<std::uint32_t>(f[1]) : std::nullopt;
        auto c = f.size() == 4 ? bulkhead::detail::parse_int<std::uint64_t>(f[2]) : std::nullopt;
        auto e = f.size() == 4 ? bulkhead::detail::parse_int<std::uint32_t>(f[3]) : std::nullopt;
        if (!h || !c || !e)
            return detail::parse_failure("/proc/cgroups", n, 1, "\"NAME HIERARCHY NUM ENABLED\" expected");
        out.push_back({std::string(f[0]), *h, *c, *e != 0});
        return {};
    });
    if (!r) return std::move(r).error();
    return out;
}

/// The cgroup v2 path ("0::/a/b") in /proc/<pid>/cgroup.
[[nodiscard]] inline result<std::string> parse_proc_pid_cgroup(std::string_view text) {
    std::optional<std::string> path;
    auto r = detail::walk_lines(text, [&](std::string_view line, std::uint32_t) -> result<void> {
        if (bulkhead::detail::starts_with(line, "0::")) path = std::string(line.substr(3));
        return {};
    });
    if (!r) return std::move(r).error();
    if (!path || path->empty() || path->front() != '/')
        return std::move(error(errc::not_found, "cgroup: find own cgroup")
                             .subject("/proc/self/cgroup")
                             .note("no \"0::/path\" line: this process is not in a cgroup v2 hierarchy"));
    return *path;
}

/// Splits a space-separated controller list (cgroup.controllers / cgroup.subtree_control).
[[nodiscard]] inline std::vector<std::string> parse_controller_list(std::string_view text) {
    std::vector<std::string> out;
    for (auto f : bulkhead::detail::split_ws(text)) out.emplace_back(f);
    return out;
}

/// What `discover()` found.
struct system_info {
    std::string mount;                        ///< cgroup2 mount point, e.g. /sys/fs/cgroup
    std::string mount_root = "/";             ///< the hierarchy path mounted there (bind mounts)
    std::string self;                         ///< own cgroup, relative to the hierarchy root
    std::vector<mount_entry> v1_mounts;       ///< cgroup v1 hierarchies (hybrid/legacy mode)
    std::vector<proc_cgroup_entry> kernel_controllers; ///< /proc/cgroups

    /// Absolute path of the calling process's cgroup (when the mount shows the root).
    [[nodiscard]] std::string self_path() const {
        std::string rel = self;
        if (mount_root != "/" && bulkhead::detail::starts_with(rel, mount_root))
            rel = rel.substr(mount_root.size());
        return rel.empty() || rel == "/" ? mount : mount + rel;
    }
    /// True when some controllers are bound to v1 hierarchies beside cgroup2.
    [[nodiscard]] bool hybrid() const noexcept { return !v1_mounts.empty(); }
    /// The mount point of the v1 hierarchy holding `controller`, if any.
    [[nodiscard]] std::optional<std::string> v1_mount_of(std::string_view controller) const {
        auto v1 = detail::v1_name(controller);
        for (const auto& m : v1_mounts)
            if (detail::list_has(m.super_options, ',', v1)) return m.mount_point;
        return std::nullopt;
    }
    /// The /proc/cgroups line of `controller`, if the kernel has it.
    [[nodiscard]] const proc_cgroup_entry* kernel_controller(std::string_view controller) const noexcept {
        auto v1 = detail::v1_name(controller);
        for (const auto& e : kernel_controllers)
            if (e.name == v1 || e.name == controller) return &e;
        return nullptr;
    }
};

/// Builds system_info from the texts of mountinfo, /proc/self/cgroup and /proc/cgroups.
[[nodiscard]] inline result<system_info> discover_from(std::string_view mountinfo,
                                                       std::string_view self_cgroup,
                                                       std::string_view proc_cgroups) {
    system_info info;
    BULKHEAD_TRY_ASSIGN(auto mounts, parse_mountinfo(mountinfo));
    // Prefer a mount of the whole hierarchy; else the first one (a bind-mounted subtree).
    const mount_entry* v2 = nullptr;
    for (const auto& m : mounts)
        if (m.fstype == "cgroup2" && (!v2 || (v2->root != "/" && m.root == "/"))) v2 = &m;
    if (v2) {
        info.mount = v2->mount_point;
        info.mount_root = v2->root;
    }
    for (auto& m : mounts)
        if (m.fstype == "cgroup") info.v1_mounts.push_back(std::move(m));
    if (info.mount.empty())
        return std::move(error(errc::not_available, "cgroup: find cgroup2 mount")
                             .subject("/proc/self/mountinfo")
                             .note("no cgroup2 filesystem is mounted (mount -t cgroup2 none /sys/fs/cgroup)"));
    BULKHEAD_TRY_ASSIGN(info.self, parse_proc_pid_cgroup(self_cgroup));
    if (!proc_cgroups.empty()) {
        BULKHEAD_TRY_ASSIGN(info.kernel_controllers, parse_proc_cgroups(proc_cgroups));
    }
    return info;
}

/// Reads /proc/self/mountinfo, /proc/self/cgroup and /proc/cgroups.
[[nodiscard]] inline result<system_info> discover() {
    BULKHEAD_TRY_ASSIGN(auto mi, read_file("/proc/self/mountinfo"));
    BULKHEAD_TRY_ASSIGN(auto self, read_file("/proc/self/cgroup"));
    auto pc = read_file("/proc/cgroups"); // absent on kernels without CONFIG_CGROUPS v1 bits
    return discover_from(mi, self, pc ? std::string_view(*pc) : std::string_view());
}

/// Controllers offered at the cgroup directory `path` (its cgroup.controllers).
[[nodiscard]] inline result<std::vector<std::string>> controllers_at(const std::string& path) {
    BULKHEAD_TRY_ASSIGN(auto t, read_file((path + "/cgroup.controllers").c_str()));
    return parse_controller_list(t);
}

/// Controllers enabled for the children of `path` (its cgroup.subtree_control).
[[nodiscard]] inline result<std::vector<std::string>> subtree_control_at(const std::string& path) {
    BULKHEAD_TRY_ASSIGN(auto t, read_file((path + "/cgroup.subtree_control").c_str()));
    return parse_controller_list(t);
}

namespace detail {
inline std::string parent_of(const std::string& path) {
    auto p = path.find_last_of('/');
    if (p == std::string::npos || p == 0) return "/";
    return path.substr(0, p);
}
} // namespace detail

/// Succeeds when `controller` can be used at `path` (it is listed in the node's
/// cgroup.controllers). Otherwise the error says which controller, where, and the likely
/// cause: not in this kernel, disabled on the command line, bound to a v1 hierarchy, or not
/// enabled in the parent's cgroup.subtree_control.
[[nodiscard]] inline result<void> require_controller(const system_info& sys, const std::string& path,
                                                     std::string_view controller) {
    BULKHEAD_TRY_ASSIGN(auto avail, controllers_at(path));
    if (std::find(avail.begin(), avail.end(), controller) != avail.end()) return {};
    std::string what = "'" + std::string(controller) + "' is not available at " + path;
    error e(errc::not_available, "cgroup: controller");
    e.subject(what);
    const auto* k = sys.kernel_controller(controller);
    if (!sys.kernel_controllers.empty() && !k) {
        e.note("not built into this kernel");
    } else if (k && !k->enabled) {
        e.note("disabled on the kernel command line (cgroup_disable=)");
    } else if (auto v1 = sys.v1_mount_of(controller)) {
        e.note("bound to a cgroup v1 hierarchy at " + *v1 + "; boot with cgroup_no_v1=all or " +
               "systemd.unified_cgroup_hierarchy=1 to use it with cgroup v2");
    } else if (k && k->hierarchy != 0) {
        e.note("bound to a cgroup v1 hierarchy");
    } else if (path != sys.mount) {
        e.note("not enabled in the parent's cgroup.subtree_control (" + detail::parent_of(path) + ")");
    } else {
        e.note("not offered by the cgroup2 root");
    }
    return e;
}

/// Whether a subtree can be managed by this process: create children (directory writable),
/// move processes in (cgroup.procs writable) and enable controllers (subtree_control).
struct delegation {
    bool can_create = false;
    bool can_attach = false;
    bool can_enable = false;
    [[nodiscard]] bool full() const noexcept { return can_create && can_attach && can_enable; }
};

[[nodiscard]] inline result<delegation> check_delegation(const std::string& path) {
    if (::access(path.c_str(), F_OK) != 0)
        return std::move(error::from_errno("cgroup: check delegation").subject(path));
    delegation d;
    d.can_create = ::access(path.c_str(), W_OK | X_OK) == 0;
    d.can_attach = ::access((path + "/cgroup.procs").c_str(), W_OK) == 0;
    d.can_enable = ::access((path + "/cgroup.subtree_control").c_str(), W_OK) == 0;
    return d;
}

} // namespace cg
BULKHEAD_NAMESPACE_END
