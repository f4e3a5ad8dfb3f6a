#pragma once
/// \file ns/namespaces.hpp
/// Namespace kinds, unshare/setns (by namespace fd and by pidfd), namespace identity, and
/// keeping a namespace alive by bind-mounting its /proc file (`pinned_ns`).

#include "bulkhead/config.hpp"
#include "bulkhead/detail/syscall.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"
#include "bulkhead/process.hpp"

#include <array>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

BULKHEAD_NAMESPACE_BEGIN
namespace ns {

/// The eight namespace kinds of Linux.
enum class kind : std::uint8_t { user, pid, mount, net, uts, ipc, cgroup, time };

inline constexpr std::array<kind, 8> all_kinds = {kind::user, kind::pid, kind::mount, kind::net,
                                                  kind::uts,  kind::ipc, kind::cgroup, kind::time};

/// The CLONE_NEW* flag of a kind.
[[nodiscard]] constexpr std::uint64_t clone_flag(kind k) noexcept {
    switch (k) {
    case kind::user: return CLONE_NEWUSER;
    case kind::pid: return CLONE_NEWPID;
    case kind::mount: return CLONE_NEWNS;
    case kind::net: return CLONE_NEWNET;
    case kind::uts: return CLONE_NEWUTS;
    case kind::ipc: return CLONE_NEWIPC;
    case kind::cgroup: return CLONE_NEWCGROUP;
    case kind::time: return CLONE_NEWTIME;
    }
    return 0;
}

/// The file name under /proc/<pid>/ns/ ("mnt" for mount).
[[nodiscard]] constexpr const char* proc_name(kind k) noexcept {
    switch (k) {
    case kind::user: return "user";
    case kind::pid: return "pid";
    case kind::mount: return "mnt";
    case kind::net: return "net";
    case kind::uts: return "uts";
    case kind::ipc: return "ipc";
    case kind::cgroup: return "cgroup";
    case kind::time: return "time";
    }
    return "?";
}

/// The user-facing name ("mount" for mnt).
[[nodiscard]] constexpr const char* name(kind k) noexcept {
    return k == kind::mount ? "mount" : proc_name(k);
}

/// Parses "user", "pid", "mount"/"mnt", "net", "uts", "ipc", "cgroup", "time".
[[nodiscard]] constexpr std::optional<kind> parse_kind(std::string_view s) noexcept {
    if (s == "mnt") return kind::mount;
    for (kind k : all_kinds)
        if (s == name(k)) return k;
    return std::nullopt;
}

/// A set of kinds, as the union of their CLONE_NEW* flags.
class kind_set {
public:
    constexpr kind_set() noexcept = default;
    constexpr kind_set(std::initializer_list<kind> ks) noexcept {
        for (kind k : ks) add(k);
    }
    [[nodiscard]] static constexpr kind_set all() noexcept {
        kind_set s;
        for (kind k : all_kinds) s.add(k);
        return s;
    }
    constexpr kind_set& add(kind k) noexcept {
        flags_ |= clone_flag(k);
        return *this;
    }
    constexpr kind_set& remove(kind k) noexcept {
        flags_ &= ~clone_flag(k);
        return *this;
    }
    [[nodiscard]] constexpr bool has(kind k) const noexcept { return (flags_ & clone_flag(k)) != 0; }
    [[nodiscard]] constexpr bool empty() const noexcept { return flags_ == 0; }
    [[nodiscard]] constexpr std::uint64_t flags() const noexcept { return flags_; }

private:
    std::uint64_t flags_ = 0;
};

/// A namespace's identity: the device and inode of its nsfs file.
struct identity {
    dev_t dev = 0;
    ino_t ino = 0;
    friend bool operator==(const identity&, const identity&) = default;
};

/// "/proc/<pid>/ns/<kind>" ("/proc/self/ns/<kind>" for pid 0).
[[nodiscard]] inline std::string proc_path(kind k, pid_t pid = 0) {
    std::string p = pid == 0 ? std::string("/proc/self") : "/proc/" + std::to_string(pid);
    p += "/ns/";
    p += proc_name(k);
    return p;
}

/// The identity of `pid`'s (0: this thread's process) namespace of kind `k`.
[[nodiscard]] inline result<identity> identity_of(kind k, pid_t pid = 0) {
    std::string p = proc_path(k, pid);
    struct stat st {};
    if (::stat(p.c_str(), &st) < 0) return error::from_errno("stat namespace").subject(p);
    return identity{st.st_dev, st.st_ino};
}

/// The identity of a namespace file descriptor (or a bind-mounted namespace file).
[[nodiscard]] inline result<identity> identity_of_fd(int fd) noexcept {
    struct stat st {};
    if (::fstat(fd, &st) < 0) return error::from_errno("fstat namespace");
    return identity{st.st_dev, st.st_ino};
}

/// Opens `pid`'s namespace of kind `k` (O_RDONLY|O_CLOEXEC).
[[nodiscard]] inline result<unique_fd> open_ns(kind k, pid_t pid = 0) {
    std::string p = proc_path(k, pid);
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error::from_errno("open namespace").subject(p);
    return unique_fd(fd);
}

/// unshare(2) of the given kinds for the calling thread/process.
[[nodiscard]] inline result<void> unshare(kind_set ks) noexcept {
    if (::unshare(static_cast<int>(ks.flags())) < 0) return error::from_errno("unshare");
    return {};
}

/// setns(2) into the namespace `fd` refers to; `k` checks its kind (nullopt: any kind).
[[nodiscard]] inline result<void> join(int fd, std::optional<kind> k = std::nullopt) noexcept {
    int nstype = k ? static_cast<int>(clone_flag(*k)) : 0;
    if (::setns(fd, nstype) < 0) return error::from_errno("setns");
    return {};
}

/// setns(2) with a pidfd: joins the namespaces of `kinds` of that process at once (atomically,
/// kernel >= 5.8).
[[nodiscard]] inline result<void> join_pidfd(int pidfd, kind_set kinds) noexcept {
    if (kinds.empty()) return error(errc::invalid_argument, "setns pidfd").note("no kinds given");
    if (::setns(pidfd, static_cast<int>(kinds.flags())) < 0)
        return error::from_errno("setns pidfd");
    return {};
}

/// A namespace kept alive by a bind mount of its nsfs file at `path`. Destruction unmounts
/// (MNT_DETACH) and unlinks the file it created. Join it with `open()` + `join()`.
class pinned_ns {
public:
    pinned_ns() noexcept = default;
    pinned_ns(const pinned_ns&) = delete;
    pinned_ns& operator=(const pinned_ns&) = delete;
    pinned_ns(pinned_ns&& o) noexcept
        : path_(std::move(o.path_)), kind_(o.kind_), id_(o.id_) {
        o.path_.clear();
    }
    pinned_ns& operator=(pinned_ns&& o) noexcept {
        if (this != &o) {
            (void)release();
            path_ = std::move(o.path_);
            o.path_.clear();
            kind_ = o.kind_;
            id_ = o.id_;
        }
        return *this;
    }
    ~pinned_ns() { (void)release(); }

    /// Bind-mounts `source` (a /proc/<pid>/ns/<kind> path) at `path`, creating an empty file
    /// there first; `path` must not exist yet.
    [[nodiscard]] static result<pinned_ns> pin(kind k, const std::string& source,
                                               const std::string& path) {
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (fd < 0) return error::from_errno("create namespace pin").subject(path);
        ::close(fd);
        if (::mount(source.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) < 0) {
            int e = errno;
            ::unlink(path.c_str());
            return error::from_errno("bind namespace", e).subject(source + " at " + path);
        }
        pinned_ns p;
        p.path_ = path;
        p.kind_ = k;
        auto id = identity_of_path(path);
        if (!id) return std::move(id).error();
        p.id_ = *id;
        return p;
    }

    /// Pins `pid`'s namespace of kind `k` at `path`.
    [[nodiscard]] static result<pinned_ns> pin_process(kind k, pid_t pid, const std::string& path) {
        return pin(k, proc_path(k, pid), path);
    }

    /// Creates a new namespace of kind `k` (not user: use a sandbox for that) in a short-lived
    /// helper process and pins it at `path`. The caller's own namespaces do not change.
    [[nodiscard]] static result<pinned_ns> create(kind k, const std::string& path) {
        if (k == kind::user || k == kind::pid || k == kind::time)
            return error(errc::unsupported, "create namespace")
                .subject(name(k))
                .note("user/pid/time namespaces need a process inside: pin a sandbox's");
        BULKHEAD_TRY_ASSIGN(auto ready, make_pipe());
        BULKHEAD_TRY_ASSIGN(auto hold, make_pipe());
        int rfd = ready.write.get(), hfd = hold.read.get(), hwfd = hold.write.get();
        std::uint64_t flag = clone_flag(k);
        auto helper = fork_call([rfd, hfd, hwfd, flag]() -> int {
            ::close(hwfd); // so the parent's close (or death) gives EOF
            if (::unshare(static_cast<int>(flag)) < 0) return 1;
            char c = 1;
            if (::write(rfd, &c, 1) != 1) return 2;
            (void)::read(hfd, &c, 1); // wait until the parent has pinned it (or died)
            return 0;
        });
        if (!helper) return std::move(helper).error();
        ready.write.reset();
        hold.read.reset();
        char c = 0;
        ssize_t n;
        do n = ::read(ready.read.get(), &c, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1) {
            (void)helper->wait();
            return error(errc::child_failed, "create namespace").subject(name(k)).note("unshare failed");
        }
        auto pinned = pin_process(k, helper->pid(), path);
        hold.write.reset();
        (void)helper->wait();
        return pinned;
    }

    [[nodiscard]] bool valid() const noexcept { return !path_.empty(); }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] kind ns_kind() const noexcept { return kind_; }
    [[nodiscard]] identity id() const noexcept { return id_; }

    /// Opens the pinned namespace for setns (close-on-exec).
    [[nodiscard]] result<unique_fd> open() const {
        return open_fd(path_.c_str(), O_RDONLY);
    }

    /// Unmounts and unlinks now; reports the first failure.
    result<void> release() noexcept {
        if (path_.empty()) return {};
        std::string p = std::move(path_);
        path_.clear();
        result<void> r;
        if (::umount2(p.c_str(), MNT_DETACH) < 0) r = error::from_errno("unmount namespace pin");
        if (::unlink(p.c_str()) < 0 && r) r = error::from_errno("unlink namespace pin");
        return r;
    }

private:
    [[nodiscard]] static result<identity> identity_of_path(const std::string& p) {
        struct stat st {};
        if (::stat(p.c_str(), &st) < 0) return error::from_errno("stat namespace").subject(p);
        return identity{st.st_dev, st.st_ino};
    }

    std::string path_;
    kind kind_ = kind::net;
    identity id_{};
};

} // namespace ns
BULKHEAD_NAMESPACE_END
