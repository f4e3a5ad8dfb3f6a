#pragma once
/// \file cgroup/group.hpp
/// `bulkhead::cgroup`: one cgroup v2 directory owned through an O_DIRECTORY descriptor.
/// A cgroup made by `create()` is killed and removed (with every group below it) when the
/// object dies; one opened with `open()` is only used, never removed.

#include "bulkhead/cgroup/discovery.hpp"
#include "bulkhead/cgroup/parse.hpp"
#include "bulkhead/cgroup/types.hpp"
#include "bulkhead/config.hpp"
#include "bulkhead/detail/text.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"
#include "bulkhead/process.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

BULKHEAD_NAMESPACE_BEGIN

namespace cg {
/// How `cgroup::kill` empties a group.
enum class kill_method {
    automatic,  ///< cgroup.kill (Linux 5.14), else the loop below
    procs_loop, ///< SIGKILL every pid in cgroup.procs (recursively) until the group is empty
};

/// What `cgroup::remove` does with processes still inside.
enum class remove_mode {
    kill,    ///< kill everything inside first (the default)
    no_kill, ///< fail with errc::busy when the group stays populated
};

/// Bounded retries of rmdir on EBUSY (a just-killed group can stay busy for a moment).
inline constexpr int remove_attempts = 40;

/// The block device number of a device node (`/dev/loop0`, `/dev/vda`).
[[nodiscard]] inline result<device_number> block_device(const char* path) {
    struct stat st;
    if (::stat(path, &st) != 0) return std::move(error::from_errno("cgroup: io device").subject(path));
    if (!S_ISBLK(st.st_mode))
        return std::move(error::from_errno("cgroup: io device", ENOTBLK).subject(path));
    return device_number{static_cast<std::uint32_t>(major(st.st_rdev)),
                         static_cast<std::uint32_t>(minor(st.st_rdev))};
}

/// Controllers that may be enabled in a group with processes (threaded controllers are
/// exempt from the no-internal-processes rule).
[[nodiscard]] constexpr bool is_threaded_controller(std::string_view c) noexcept {
    return c == "cpu" || c == "cpuset" || c == "pids" || c == "perf_event";
}

/// True when `e` says the cgroup itself disappeared (removed behind our back).
[[nodiscard]] inline bool is_vanished(const error& e) noexcept {
    return e.code() == make_error_code(errc::not_found);
}
} // namespace cg

/// One cgroup v2 directory.
class cgroup {
public:
    cgroup() noexcept = default;
    cgroup(const cgroup&) = delete;
    cgroup& operator=(const cgroup&) = delete;
    cgroup(cgroup&& o) noexcept
        : dir_(std::move(o.dir_)), path_(std::move(o.path_)), owned_(std::exchange(o.owned_, false)) {}
    cgroup& operator=(cgroup&& o) noexcept {
        if (this != &o) {
            destroy();
            dir_ = std::move(o.dir_);
            path_ = std::move(o.path_);
            owned_ = std::exchange(o.owned_, false);
        }
        return *this;
    }
    /// Kills and removes the group (and the groups below it) if this object created it.
    ~cgroup() { destroy(); }

    /// Creates `parent/name` (mkdir) and owns it. EEXIST is an error unless `adopt_existing`,
    /// in which case the existing directory is used but not owned.
    [[nodiscard]] static result<cgroup> create(const std::string& parent, std::string_view name,
                                               bool adopt_existing = false) {
        if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos)
            return std::move(error::from_errno("cgroup: create", EINVAL)
                                 .value(name)
                                 .note("a single path component expected"));
        std::string path = parent + "/" + std::string(name);
        if (::mkdir(path.c_str(), 0755) != 0) {
            int err = errno;
            if (err == EEXIST && adopt_existing) return open(path);
            error e = std::move(error::from_errno("cgroup: create", err).subject(path));
            if (err == ENOENT) e.note("parent cgroup does not exist");
            if (err == EACCES || err == EPERM || err == EROFS) e.note("parent is not delegated to this user");
            return e;
        }
        auto g = open(path);
        if (!g) {
            ::rmdir(path.c_str());
            return g;
        }
        g->owned_ = true;
        return g;
    }

    /// Opens an existing cgroup directory without taking ownership.
    [[nodiscard]] static result<cgroup> open(std::string path) {
        while (path.size() > 1 && path.back() == '/') path.pop_back();
        int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return std::move(error::from_errno("cgroup: open").subject(path));
        unique_fd dir(fd);
        struct statfs fs;
        if (::fstatfs(fd, &fs) != 0) return std::move(error::from_errno("cgroup: open").subject(path));
        if (fs.f_type != CGROUP2_SUPER_MAGIC)
            return std::move(error(errc::invalid_argument, "cgroup: open")
                                 .subject(path)
                                 .note(fs.f_type == CGROUP_SUPER_MAGIC
                                           ? "a cgroup v1 hierarchy, not cgroup v2"
                                           : "not a cgroup v2 directory (not on a cgroup2 filesystem)"));
        cgroup g;
        g.dir_ = std::move(dir);
        g.path_ = std::move(path);
        return g;
    }

    /// Creates a child group `name` below this one, owned by the returned object.
    [[nodiscard]] result<cgroup> create_child(std::string_view name, bool adopt_existing = false) const {
        return create(path_, name, adopt_existing);
    }

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    /// The O_DIRECTORY descriptor (for CLONE_INTO_CGROUP, openat).
    [[nodiscard]] int fd() const noexcept { return dir_.get(); }
    [[nodiscard]] bool valid() const noexcept { return dir_.valid(); }
    /// A close-on-exec duplicate of the directory descriptor.
    [[nodiscard]] result<unique_fd> dup_fd() const noexcept { return dir_.dup(); }
    /// True when this object created the group and will remove it.
    [[nodiscard]] bool owned() const noexcept { return owned_; }
    /// Keeps the group after this object dies.
    void disown() noexcept { owned_ = false; }

    // ---- raw interface files -------------------------------------------------------------

    /// Reads an interface file. ENOENT is errc::not_found when the group vanished and
    /// errc::not_available when the file's controller is not enabled here.
    [[nodiscard]] result<std::string> read(std::string_view file) const {
        std::string f(file);
        int fd = ::openat(dir_.get(), f.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return file_error("cgroup: read", file, {}, errno);
        unique_fd owner(fd);
        auto r = read_to_string(fd, 4u << 20);
        if (!r && r.error().sys_errno() != 0) return file_error("cgroup: read", file, {}, r.error().sys_errno());
        if (!r) return std::move(r.error().subject(path_ + "/" + f));
        return r;
    }

    /// Writes `value` to an interface file in one write(2). Errors read
    /// `cgroup: write memory.max "-5": Invalid argument`.
    [[nodiscard]] result<void> write(std::string_view file, std::string_view value) const {
        std::string f(file);
        int fd = ::openat(dir_.get(), f.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return file_error("cgroup: write", file, value, errno);
        unique_fd owner(fd);
        for (;;) {
            ssize_t n = ::write(fd, value.data(), value.size());
            if (n >= 0) break;
            if (errno != EINTR) return file_error("cgroup: write", file, value, errno);
        }
        return {};
    }

    // ---- controllers ----------------------------------------------------------------------

    /// Controllers available here (cgroup.controllers).
    [[nodiscard]] result<std::vector<std::string>> controllers() const {
        BULKHEAD_TRY_ASSIGN(auto t, read("cgroup.controllers"));
        return cg::parse_controller_list(t);
    }
    /// Controllers enabled for the children (cgroup.subtree_control).
    [[nodiscard]] result<std::vector<std::string>> subtree_control() const {
        BULKHEAD_TRY_ASSIGN(auto t, read("cgroup.subtree_control"));
        return cg::parse_controller_list(t);
    }

    /// Enables controllers for the children. A non-root cgroup with processes cannot have
    /// domain controllers enabled (no internal processes): with `leaf` given, its processes
    /// are first moved into the child group `leaf` (created, owned by this group's tree).
    [[nodiscard]] result<void> enable_controllers(std::initializer_list<std::string_view> names,
                                                  std::string_view leaf = {}) const {
        BULKHEAD_TRY_ASSIGN(auto avail, controllers());
        for (auto n : names) {
            if (std::find(avail.begin(), avail.end(), n) == avail.end()) {
                auto sys = cg::discover();
                if (sys) {
                    auto r = cg::require_controller(*sys, path_, n);
                    if (!r) return r;
                }
                return std::move(error(errc::not_available, "cgroup: controller")
                                     .subject("'" + std::string(n) + "' is not available at " + path_));
            }
        }
        // Only domain controllers are subject to the rule, and never at the root.
        bool domain = false;
        for (auto n : names) domain = domain || !cg::is_threaded_controller(n);
        std::vector<pid_t> pids;
        if (domain && !is_root()) {
            BULKHEAD_TRY_ASSIGN(pids, procs());
        }
        if (!pids.empty()) {
            if (leaf.empty())
                return std::move(error::from_errno("cgroup: enable controllers", EBUSY)
                                     .subject(path_)
                                     .note("the cgroup has processes (no-internal-processes rule): "
                                           "move them into a leaf group first"));
            std::string lp = path_ + "/" + std::string(leaf);
            if (::mkdir(lp.c_str(), 0755) != 0 && errno != EEXIST)
                return std::move(error::from_errno("cgroup: create").subject(lp));
            BULKHEAD_TRY_ASSIGN(auto lg, open(lp));
            for (pid_t p : pids) {
                auto r = lg.attach(p);
                if (!r && r.error().sys_errno() != ESRCH) return r;
            }
        }
        std::string v;
        for (auto n : names) {
            if (!v.empty()) v += ' ';
            v += '+';
            v += n;
        }
        return write("cgroup.subtree_control", v);
    }

    /// Disables controllers for the children.
    [[nodiscard]] result<void> disable_controllers(std::initializer_list<std::string_view> names) const {
        std::string v;
        for (auto n : names) {
            if (!v.empty()) v += ' ';
            v += '-';
            v += n;
        }
        return write("cgroup.subtree_control", v);
    }

    // ---- processes ------------------------------------------------------------------------

    /// Moves process `pid` (all its threads) into this group.
    [[nodiscard]] result<void> attach(pid_t pid) const { return write("cgroup.procs", std::to_string(pid)); }
    /// Moves one thread (threaded cgroups only).
    [[nodiscard]] result<void> attach_thread(pid_t tid) const {
        return write("cgroup.threads", std::to_string(tid));
    }
    /// Process ids in this group (not in its children).
    [[nodiscard]] result<std::vector<pid_t>> procs() const { return read_pids("cgroup.procs"); }
    /// Thread ids in this group.
    [[nodiscard]] result<std::vector<pid_t>> threads() const { return read_pids("cgroup.threads"); }

    /// Runs `fn` in a child started directly inside this group (clone3 CLONE_INTO_CGROUP).
    template <class F>
    [[nodiscard]] result<child> spawn(F&& fn, std::uint64_t clone_flags = 0) const {
        auto c = fork_call(std::forward<F>(fn), clone_flags, dir_.get());
        if (!c) return std::move(c.error().subject(path_));
        return c;
    }

    // ---- state ----------------------------------------------------------------------------

    [[nodiscard]] result<cg::cgroup_events> events() const {
        BULKHEAD_TRY_ASSIGN(auto t, read("cgroup.events"));
        return cg::parse_cgroup_events(t);
    }
    [[nodiscard]] result<cg::cgroup_stat> stat() const {
        BULKHEAD_TRY_ASSIGN(auto t, read("cgroup.stat"));
        return cg::parse_cgroup_stat(t);
    }

    /// Freezes every process below and waits until cgroup.events says `frozen 1`.
    [[nodiscard]] result<void> freeze(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
        BULKHEAD_TRY(write("cgroup.freeze", "1"));
        return wait_events([](const cg::cgroup_events& e) { return e.frozen; }, timeout, "cgroup: freeze");
    }
    /// Thaws and waits until `frozen 0`.
    [[nodiscard]] result<void> thaw(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
        BULKHEAD_TRY(write("cgroup.freeze", "0"));
        return wait_events([](const cg::cgroup_events& e) { return !e.frozen; }, timeout, "cgroup: thaw");
    }

    /// Waits until no process is left below this group (cgroup.events `populated 0`).
    [[nodiscard]] result<void> wait_empty(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
        return wait_events([](const cg::cgroup_events& e) { return !e.populated; }, timeout,
                           "cgroup: wait empty");
    }

    /// SIGKILLs every process in this group and below, and waits until it is empty.
    [[nodiscard]] result<void> kill(cg::kill_method how = cg::kill_method::automatic,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
        if (is_root())
            return std::move(error(errc::invalid_argument, "cgroup: kill").subject(path_).note("refusing to kill the root cgroup"));
        if (how == cg::kill_method::automatic) {
            auto r = write("cgroup.kill", "1");
            if (r) return wait_empty(timeout);
            // Older kernels (< 5.14) have no cgroup.kill: fall back to the loop.
            if (r.error().code() != make_error_code(errc::not_available) && r.error().sys_errno() != ENOENT)
                return r;
        }
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            BULKHEAD_TRY_ASSIGN(bool any, kill_tree_once(dir_.get(), path_, 0));
            BULKHEAD_TRY_ASSIGN(auto ev, events());
            if (!ev.populated) return {};
            (void)any;
            if (std::chrono::steady_clock::now() >= deadline)
                return std::move(error(errc::timeout, "cgroup: kill").subject(path_).note("processes keep appearing"));
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }

    /// Removes the group and every group below it (deepest first). Kills what is inside
    /// first unless `no_kill`. rmdir is retried a bounded number of times on EBUSY, then
    /// errc::busy. A group that vanished already gives errc::not_found.
    [[nodiscard]] result<void> remove(cg::remove_mode mode = cg::remove_mode::kill) {
        if (!dir_) return error(errc::state_error, "cgroup: remove");
        if (is_root())
            return std::move(error(errc::invalid_argument, "cgroup: remove").subject(path_).note("the root cgroup cannot be removed"));
        if (vanished())
            return std::move(error(errc::not_found, "cgroup: remove").subject(path_).note("the cgroup was removed already"));
        if (mode == cg::remove_mode::kill) {
            auto k = kill();
            if (!k && !cg::is_vanished(k.error())) return k;
        }
        BULKHEAD_TRY(remove_children(dir_.get(), path_, 0, mode));
        // An open descriptor does not keep a cgroup busy; keep it until rmdir succeeded so
        // a failed removal leaves the object usable.
        auto r = rmdir_retry(AT_FDCWD, path_, path_, mode);
        if (r) {
            owned_ = false;
            dir_.reset();
        }
        return r;
    }

    // ---- limits ---------------------------------------------------------------------------

    [[nodiscard]] result<void> set_cpu_max(const cg::cpu_max& v) const {
        BULKHEAD_TRY_ASSIGN(auto s, cg::format_cpu_max(v));
        return write("cpu.max", s);
    }
    [[nodiscard]] result<cg::cpu_max> cpu_max() const {
        BULKHEAD_TRY_ASSIGN(auto t, read("cpu.max"));
        return cg::parse_cpu_max(t);
    }
    [[nodiscard]] result<void> set_cpu_weight(std::uint32_t w) const {
        BULKHEAD_TRY(cg::validate_weight("cpu.weight", w));
        return write("cpu.weight", std::to_string(w));
    }
    [[nodiscard]] result<std::uint32_t> cpu_weight() const {
        BULKHEAD_TRY_ASSIGN(auto t, read("cpu.weight"));
        return cg::parse_weight(t, "cpu.weight");
    }
    [[nodiscard]] result<void> set_cpuset_cpus(std::string_view list) const {
        BULKHEAD_TRY(cg::validate_cpuset_list("cpuset.cpus", list));
        return write("cpuset.cpus", list);
    }
    [[nodiscard]] result<std::string> cpuset_cpus(bool effective = false) const {
        BULKHEAD_TRY_ASSIGN(auto t, read(effective ? "cpuset.cpus.effective" : "cpuset.cpus"));
        return std::string(bulkhead::detail::trim(t));
    }
    [[nodiscard]] result<void> set_cpuset_mems(std::string_view list) const {
        BULKHEAD_TRY(cg::validate_cpuset_list("cpuset.mems", list));
        return write("cpuset.mems", list);
    }
    [[nodiscard]] result<std::string> cpuset_mems(bool effective = false) const {
        BULKHEAD_TRY_ASSIGN(auto t, read(effective ? "cpuset.mems.effective" : "cpuset.mems"));
        return std::string(bulkhead::detail::trim(t));
    }

    /// memory.min/low/high/max and memory.swap.max: bytes, or cg::unlimited for "max".
    [[nodiscard]] result<void> set_memory_min(std::uint64_t v) const { return write_count("memory.min", v); }
    [[nodiscard]] result<void> set_memory_low(std::uint64_t v) const { return write_count("memory.low", v); }
    [[nodiscard]] result<void> set_memory_high(std::uint64_t v) const { return write_count("memory.high", v); }
    [[nodiscard]] result<void> set_memory_max(std::uint64_t v) const { return write_count("memory.max", v); }
    [[nodiscard]] result<void> set_memory_swap_max(std::uint64_t v) const { return write_count("memory.swap.max", v); }
    [[nodiscard]] result<std::uint64_t> memory_min() const { return read_count("memory.min"); }
    [[nodiscard]] result<std::uint64_t> memory_low() const { return read_count("memory.low"); }
    [[nodiscard]] result<std::uint64_t> memory_high() const { return read_count("memory.high"); }
    [[nodiscard]] result<std::uint64_t> memory_max() const { return read_count("memory.max"); }
    [[nodiscard]] result<std::uint64_t> memory_swap_max() const { return read_count("memory.swap.max"); }
    [[nodiscard]] result<void> set_memory_oom_group(bool on) const { return write("memory.oom.group", on ? "1" : "0"); }
    [[nodiscard]] result<bool> memory_oom_group() const {
        BULKHEAD_TRY_ASSIGN(auto v, read_count("memory.oom.group"));
        return v != 0;
    }

    [[nodiscard]] result<void> set_pids_max(std::uint64_t v) const {
        BULKHEAD_TRY(cg::validate_pids_max(v));
        return write_count("pids.max", v);
    }
    [[nodiscard]] result<std::uint64_t> pids_max() const { return read_count("pids.max"); }

    /// Sets io.max for one device; the device must exist (/sys/dev/block/MAJ:MIN).
    [[nodiscard]] result<void> set_io_max(const cg::io_max& v) const {
        BULKHEAD_TRY_ASSIGN(auto s, cg::format_io_max(v));
        std::string sys = "/sys/dev/block/" + cg::format_device(v.device);
        if (::access(sys.c_str(), F_OK) != 0)
            return std::move(error::from_errno("cgroup: write", ENODEV)
                                 .subject(cg::detail::file_value("io.max", s))
                                 .note("no block device " + cg::format_device(v.device) + " (" + sys + ")"));
        return write("io.max", s);
    }
    /// io.max for a device given by its node path (/dev/loop0).
    [[nodiscard]] result<void> set_io_max(const char* device_path, cg::io_max v) const {
        BULKHEAD_TRY_ASSIGN(v.device, cg::block_device(device_path));
        return set_io_max(v);
    }
    [[nodiscard]] result<std::vector<cg::io_max>> io_max() const {
        BULKHEAD_TRY_ASSIGN(auto t, read("io.max"));
        return cg::parse_io_max(t);
    }
    [[nodiscard]] result<void> set_io_weight(std::uint32_t w) const {
        BULKHEAD_TRY(cg::validate_weight("io.weight", w));
        return write("io.weight", "default " + std::to_string(w));
    }
    [[nodiscard]] result<std::uint32_t> io_weight() const {
        BULKHEAD_TRY_ASSIGN(auto t, read("io.weight"));
        return cg::parse_weight(t, "io.weight");
    }

    /// Writes every limit that `l` holds (cpuset first, io last); stops at the first error.
    [[nodiscard]] result<void> apply(const cg::limits& l) const {
        if (l.cpuset_cpus) BULKHEAD_TRY(set_cpuset_cpus(*l.cpuset_cpus));
        if (l.cpuset_mems) BULKHEAD_TRY(set_cpuset_mems(*l.cpuset_mems));
        if (l.cpu) BULKHEAD_TRY(set_cpu_max(*l.cpu));
        if (l.cpu_weight) BULKHEAD_TRY(set_cpu_weight(*l.cpu_weight));
        if (l.memory_min) BULKHEAD_TRY(set_memory_min(*l.memory_min));
        if (l.memory_low) BULKHEAD_TRY(set_memory_low(*l.memory_low));
        if (l.memory_high) BULKHEAD_TRY(set_memory_high(*l.memory_high));
        if (l.memory_max) BULKHEAD_TRY(set_memory_max(*l.memory_max));
        if (l.memory_swap_max) BULKHEAD_TRY(set_memory_swap_max(*l.memory_swap_max));
        if (l.memory_oom_group) BULKHEAD_TRY(set_memory_oom_group(*l.memory_oom_group));
        if (l.pids_max) BULKHEAD_TRY(set_pids_max(*l.pids_max));
        for (const auto& io : l.io) BULKHEAD_TRY(set_io_max(io));
        if (l.io_weight) BULKHEAD_TRY(set_io_weight(*l.io_weight));
        return {};
    }

    // ---- statistics -----------------------------------------------------------------------

    [[nodiscard]] result<cg::cpu_stat> cpu_stat() const {
        BULKHEAD_TRY_ASSIGN(auto t, read("cpu.stat"));
        return cg::parse_cpu_stat(t);
    }
    [[nodiscard]] result<std::uint64_t> memory_current() const { return read_count("memory.current"); }
    /// memory.peak (Linux 5.19).
    [[nodiscard]] result<std::uint64_t> memory_peak() const { return read_count("memory.peak"); }
    [[nodiscard]] result<cg::memory_stat> memory_stat() const {
        BULKHEAD_TRY_ASSIGN(auto t, read("memory.stat"));
        return cg::parse_keyed(t, "memory.stat");
    }
    /// memory.events (hierarchical) or memory.events.local.
    [[nodiscard]] result<cg::memory_events> memory_events(bool local = false) const {
        BULKHEAD_TRY_ASSIGN(auto t, read(local ? "memory.events.local" : "memory.events"));
        return cg::parse_memory_events(t);
    }
    [[nodiscard]] result<std::uint64_t> pids_current() const { return read_count("pids.current"); }
    /// pids.peak (Linux 6.1).
    [[nodiscard]] result<std::uint64_t> pids_peak() const { return read_count("pids.peak"); }
    [[nodiscard]] result<cg::io_stat> io_stat() const {
        BULKHEAD_TRY_ASSIGN(auto t, read("io.stat"));
        return cg::parse_io_stat(t);
    }
    /// cpu.pressure / memory.pressure / io.pressure (CONFIG_PSI, Linux 4.20).
    [[nodiscard]] result<cg::psi> pressure(cg::psi_resource r) const {
        BULKHEAD_TRY_ASSIGN(auto t, read(cg::psi_file(r)));
        return cg::parse_psi(t, cg::psi_file(r));
    }

    /// True for the root of the cgroup2 hierarchy (it has no cgroup.type).
    [[nodiscard]] bool is_root() const noexcept {
        return dir_ && ::faccessat(dir_.get(), "cgroup.type", F_OK, 0) != 0 && !vanished();
    }

    /// True when the directory this object opened is gone (removed or replaced).
    [[nodiscard]] bool vanished() const noexcept {
        struct stat a, b;
        if (::fstat(dir_.get(), &a) != 0) return true;
        if (::stat(path_.c_str(), &b) != 0) return errno == ENOENT || errno == ENOTDIR;
        return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
    }

private:
    [[nodiscard]] error file_error(const char* op, std::string_view file, std::string_view value,
                                   int err) const {
        std::string subj = value.data() ? cg::detail::file_value(file, value) : std::string(file);
        if (err == ENOENT) {
            if (vanished())
                return std::move(error(errc::not_found, op).subject(subj).note("the cgroup " + path_ + " was removed"));
            auto c = cg::controller_of(file);
            if (!c.empty())
                return std::move(error(errc::not_available, op)
                                     .subject(subj)
                                     .note("controller '" + std::string(c) + "' is not enabled for " + path_ +
                                           " (not in its parent's cgroup.subtree_control)"));
            return std::move(error::from_errno(op, err).subject(subj).note("no such interface file in " + path_));
        }
        error e = std::move(error::from_errno(op, err).subject(subj));
        if (err == EBUSY && file == "cgroup.subtree_control")
            e.note("the cgroup has processes (no-internal-processes rule)");
        else if (err == EOPNOTSUPP && file == "cgroup.procs")
            e.note("the target is not a domain cgroup or has controllers enabled for children");
        else if (err == ENODEV && file == "io.max")
            e.note("unknown block device");
        return e;
    }

    [[nodiscard]] result<void> write_count(std::string_view file, std::uint64_t v) const {
        return write(file, cg::format_max_or_number(v));
    }
    [[nodiscard]] result<std::uint64_t> read_count(std::string_view file) const {
        BULKHEAD_TRY_ASSIGN(auto t, read(file));
        return cg::parse_max_or_number(t, file);
    }

    [[nodiscard]] result<std::vector<pid_t>> read_pids(std::string_view file) const {
        BULKHEAD_TRY_ASSIGN(auto t, read(file));
        std::vector<pid_t> out;
        auto r = cg::detail::walk_lines(t, [&](std::string_view line, std::uint32_t n) -> result<void> {
            if (line.empty()) return {};
            auto p = bulkhead::detail::parse_int<pid_t>(line);
            if (!p || *p <= 0) return cg::detail::parse_failure(file, n, 1, "pid expected");
            out.push_back(*p);
            return {};
        });
        if (!r) return std::move(r).error();
        return out;
    }

    template <class Pred>
    [[nodiscard]] result<void> wait_events(Pred pred, std::chrono::milliseconds timeout, const char* op) const {
        int fd = ::openat(dir_.get(), "cgroup.events", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return file_error(op, "cgroup.events", {}, errno);
        unique_fd owner(fd);
        auto deadline = std::chrono::steady_clock::now() + timeout;
        int step_ms = 1;
        for (;;) {
            char buf[256];
            ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                return file_error(op, "cgroup.events", {}, errno);
            }
            auto ev = cg::parse_cgroup_events(std::string_view(buf, static_cast<std::size_t>(n)));
            if (!ev) return std::move(ev).error();
            if (pred(*ev)) return {};
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return std::move(error(errc::timeout, op).subject(path_).note("cgroup.events did not change in time"));
            // kernfs signals a change of cgroup.events with POLLPRI, but the kernel rate-limits
            // these notifications (one per 20 ms per file), so also re-read on a short,
            // growing interval: 1, 2, 4 .. 32 ms.
            pollfd p{fd, POLLPRI, 0};
            int w = static_cast<int>(std::min<long long>(left.count(), step_ms));
            step_ms = std::min(step_ms * 2, 32);
            if (::poll(&p, 1, w) < 0 && errno != EINTR) return error::from_errno(op);
        }
    }

    /// SIGKILLs every pid listed in cgroup.procs of `dirfd` and its subdirectories.
    static result<bool> kill_tree_once(int dirfd, const std::string& path, int depth) {
        if (depth > 64) return error(errc::too_large, "cgroup: kill");
        bool any = false;
        int pf = ::openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
        if (pf >= 0) {
            unique_fd owner(pf);
            auto t = read_to_string(pf, 4u << 20);
            if (t) {
                bulkhead::detail::for_each_line(*t, [&](std::string_view l) {
                    if (auto p = bulkhead::detail::parse_int<pid_t>(l); p && *p > 0) {
                        ::kill(*p, SIGKILL);
                        any = true;
                    }
                });
            }
        }
        BULKHEAD_TRY_ASSIGN(auto subs, subdirs(dirfd));
        for (const auto& s : subs) {
            int sfd = ::openat(dirfd, s.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sfd < 0) continue;
            unique_fd so(sfd);
            BULKHEAD_TRY_ASSIGN(bool a, kill_tree_once(sfd, path + "/" + s, depth + 1));
            any = any || a;
        }
        return any;
    }

    static result<std::vector<std::string>> subdirs(int dirfd) {
        int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return error::from_errno("cgroup: list children");
        DIR* d = ::fdopendir(fd);
        if (!d) {
            int e = errno;
            ::close(fd);
            return error::from_errno("cgroup: list children", e);
        }
        std::vector<std::string> out;
        while (dirent* e = ::readdir(d)) {
            if (e->d_type != DT_DIR) continue;
            std::string_view n(e->d_name);
            if (n == "." || n == "..") continue;
            out.emplace_back(n);
        }
        ::closedir(d);
        return out;
    }

    static result<void> remove_children(int dirfd, const std::string& path, int depth, cg::remove_mode mode) {
        if (depth > 64) return error(errc::too_large, "cgroup: remove");
        BULKHEAD_TRY_ASSIGN(auto subs, subdirs(dirfd));
        for (const auto& s : subs) {
            std::string sp = path + "/" + s;
            int sfd = ::openat(dirfd, s.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sfd < 0) {
                if (errno == ENOENT) continue;
                return std::move(error::from_errno("cgroup: remove").subject(sp));
            }
            unique_fd so(sfd);
            BULKHEAD_TRY(remove_children(sfd, sp, depth + 1, mode));
            so.reset();
            auto r = rmdir_retry(dirfd, s, sp, mode);
            if (!r && r.error().code() != make_error_code(errc::not_found)) return r;
        }
        return {};
    }

    static result<void> rmdir_retry(int dirfd, const std::string& name, const std::string& shown,
                                    cg::remove_mode mode) {
        for (int i = 0;; ++i) {
            if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) == 0) return {};
            int err = errno;
            if (err == ENOENT)
                return std::move(error(errc::not_found, "cgroup: remove").subject(shown).note("the cgroup was removed already"));
            if (err != EBUSY) return std::move(error::from_errno("cgroup: remove", err).subject(shown));
            if (i + 1 >= cg::remove_attempts || mode == cg::remove_mode::no_kill)
                return std::move(error(errc::busy, "cgroup: remove")
                                     .subject(shown)
                                     .note(mode == cg::remove_mode::no_kill
                                               ? "the cgroup still has processes or child groups"
                                               : "still busy after " + std::to_string(cg::remove_attempts) +
                                                     " attempts (processes or child groups left)"));
            // A killed group empties asynchronously: back off 1, 2, 4 .. 50 ms (~1.7 s in all).
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1 << std::min(i, 6), 50)));
        }
    }

    void destroy() noexcept {
        if (owned_ && dir_) {
#if BULKHEAD_HAS_EXCEPTIONS
            try {
                (void)remove();
            } catch (...) {
            }
#else
            (void)remove();
#endif
        }
        dir_.reset();
        owned_ = false;
    }

    unique_fd dir_;
    std::string path_;
    bool owned_ = false;
};

namespace cg {
/// The same class under the module's namespace.
using group = bulkhead::cgroup;

/// The calling process's own cgroup (not owned: never removed by the object).
[[nodiscard]] inline result<cgroup> open_self() {
    BULKHEAD_TRY_ASSIGN(auto sys, discover());
    return cgroup::open(sys.self_path());
}
} // namespace cg

BULKHEAD_NAMESPACE_END
