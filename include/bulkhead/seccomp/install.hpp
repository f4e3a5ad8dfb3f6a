#pragma once
/// \file seccomp/install.hpp
/// Installing a compiled filter with seccomp(2), and the user-notification supervisor: a
/// listener fd (pollable: add it to an epoll set for EPOLLIN), receive, respond, the
/// id-validity check (against pid reuse / TOCTOU) and ADDFD.

#include "bulkhead/config.hpp"
#include "bulkhead/detail/syscall.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"
#include "bulkhead/seccomp/bpf.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

BULKHEAD_NAMESPACE_BEGIN
namespace seccomp {

struct install_options {
    bool tsync = false;              ///< SECCOMP_FILTER_FLAG_TSYNC: all threads of the process
    bool log = false;                ///< SECCOMP_FILTER_FLAG_LOG: log every non-ALLOW action
    bool spec_allow = false;         ///< SECCOMP_FILTER_FLAG_SPEC_ALLOW: keep SSB mitigation off
    bool new_listener = false;       ///< SECCOMP_FILTER_FLAG_NEW_LISTENER: return a notify fd
    bool wait_killable_recv = false; ///< SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19+)
    /// Set no_new_privs first (needed unless the caller has CAP_SYS_ADMIN).
    bool set_no_new_privs = true;
};

/// Options from an OCI profile's `flags` (SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW,
/// _NEW_LISTENER, _WAIT_KILLABLE_RECV); an unknown flag is an error naming it.
[[nodiscard]] inline result<install_options> install_options_from(const std::vector<std::string>& flags) {
    install_options o;
    for (const auto& f : flags) {
        if (f == "SECCOMP_FILTER_FLAG_TSYNC") o.tsync = true;
        else if (f == "SECCOMP_FILTER_FLAG_LOG") o.log = true;
        else if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") o.spec_allow = true;
        else if (f == "SECCOMP_FILTER_FLAG_NEW_LISTENER") o.new_listener = true;
        else if (f == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") o.wait_killable_recv = true;
        else
            return std::move(error(errc::invalid_argument, "seccomp: flags")
                                 .value(f)
                                 .note("not a SECCOMP_FILTER_FLAG_* this library knows"));
    }
    return o;
}

/// Installs `prog` on the calling thread (or process with tsync). Returns the listener fd
/// when new_listener was asked, else an invalid fd. Async-signal-safe when it succeeds
/// (no allocation on the success path), so it can run in a forked child.
[[nodiscard]] inline result<unique_fd> install(std::span<const insn> prog,
                                               const install_options& o = {}) noexcept {
    if (prog.empty() || prog.size() > max_insns)
        return std::move(error(errc::invalid_argument, "seccomp: install")
                             .note("program must have 1..4096 instructions"));
    if (o.set_no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return error::from_errno("seccomp: prctl(PR_SET_NO_NEW_PRIVS)");
    unsigned flags = 0;
    if (o.tsync) flags |= SECCOMP_FILTER_FLAG_TSYNC;
    if (o.log) flags |= SECCOMP_FILTER_FLAG_LOG;
    if (o.spec_allow) flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    if (o.new_listener) flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
#ifdef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    if (o.wait_killable_recv) flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
#else
    if (o.wait_killable_recv) flags |= 1u << 5;
#endif
    if (o.tsync && o.new_listener) flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    sock_fprog fp{static_cast<unsigned short>(prog.size()), const_cast<insn*>(prog.data())};
    int rc = ::bulkhead::detail::sys::seccomp(SECCOMP_SET_MODE_FILTER, flags, &fp);
    if (rc < 0) {
        int e = errno;
        if (e == EACCES)
            return std::move(error::from_errno("seccomp: install", e)
                                 .note("needs no_new_privs or CAP_SYS_ADMIN: neither is set"));
        if (e == EINVAL)
            return std::move(error::from_errno("seccomp: install", e)
                                 .note("a flag this kernel lacks, or flags that exclude each other"));
        if (e == EBUSY)
            return std::move(error::from_errno("seccomp: install", e)
                                 .note("a listener exists already in this filter chain"));
        return error::from_errno("seccomp: install", e);
    }
    if (o.tsync && !o.new_listener && rc > 0)
        return std::move(error(errc::busy, "seccomp: install")
                             .note("TSYNC failed: a thread has a diverging filter"));
    if (o.new_listener) return unique_fd(rc);
    return unique_fd();
}

/// One intercepted syscall.
struct notification {
    std::uint64_t id = 0;
    std::uint32_t pid = 0;
    std::uint32_t flags = 0;
    data call{};
};

/// The supervisor's end of a USER_NOTIF filter.
class notify_listener {
public:
    notify_listener() noexcept = default;
    explicit notify_listener(unique_fd fd) noexcept : fd_(std::move(fd)) {}

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    [[nodiscard]] bool valid() const noexcept { return fd_.valid(); }

    /// Blocks (or use epoll/poll for EPOLLIN first) and returns the next notification.
    /// ENOENT: the target died before it was received.
    [[nodiscard]] result<notification> receive() const {
        BULKHEAD_TRY(sizes());
        std::vector<unsigned char> buf(std::max<std::size_t>(sizes_.seccomp_notif, sizeof(seccomp_notif)));
        for (;;) {
            std::memset(buf.data(), 0, buf.size());
            if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_RECV, buf.data()) == 0) break;
            if (errno == EINTR) continue;
            return error::from_errno("seccomp: notify receive");
        }
        seccomp_notif n;
        std::memcpy(&n, buf.data(), sizeof n);
        return notification{n.id, n.pid, n.flags, n.data};
    }

    /// Answers `id`: the syscall returns `val`, or fails with `err` (> 0) when non-zero.
    [[nodiscard]] result<void> respond(std::uint64_t id, std::int64_t val, int err = 0) const {
        return send(id, val, err, 0);
    }
    /// Lets the syscall run as if the filter had said ALLOW (only safe for auditing: the
    /// arguments may have changed since the supervisor looked at them).
    [[nodiscard]] result<void> respond_continue(std::uint64_t id) const {
        return send(id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
    }
    /// True while the notification `id` is still pending (the target has not died or been
    /// interrupted): check it after reading target memory and before acting on it.
    [[nodiscard]] result<bool> id_valid(std::uint64_t id) const {
        std::uint64_t v = id;
        if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &v) == 0) return true;
        if (errno == ENOENT) return false;
        return error::from_errno("seccomp: notify id_valid");
    }
    /// Installs a copy of our `srcfd` into the target; returns the target's fd number. With
    /// `send` the syscall also returns that number (atomic ADDFD + respond).
    [[nodiscard]] result<int> add_fd(std::uint64_t id, int srcfd, bool send = false,
                                     unsigned newfd_flags = O_CLOEXEC) const {
        seccomp_notif_addfd a{};
        a.id = id;
        a.flags = send ? SECCOMP_ADDFD_FLAG_SEND : 0;
        a.srcfd = static_cast<std::uint32_t>(srcfd);
        a.newfd = 0;
        a.newfd_flags = newfd_flags;
        int rc = ::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_ADDFD, &a);
        if (rc < 0) return error::from_errno("seccomp: notify addfd");
        return rc;
    }

private:
    result<void> send(std::uint64_t id, std::int64_t val, int err, std::uint32_t flags) const {
        BULKHEAD_TRY(sizes());
        std::vector<unsigned char> buf(std::max<std::size_t>(sizes_.seccomp_notif_resp, sizeof(seccomp_notif_resp)));
        seccomp_notif_resp r{};
        r.id = id;
        r.val = val;
        r.error = err ? -err : 0;
        r.flags = flags;
        std::memcpy(buf.data(), &r, sizeof r);
        if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SEND, buf.data()) != 0)
            return error::from_errno("seccomp: notify respond");
        return {};
    }
    result<void> sizes() const {
        if (sizes_.seccomp_notif) return {};
        if (::bulkhead::detail::sys::seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sizes_) != 0)
            return error::from_errno("seccomp: SECCOMP_GET_NOTIF_SIZES");
        return {};
    }

    unique_fd fd_;
    mutable seccomp_notif_sizes sizes_{};
};

} // namespace seccomp
BULKHEAD_NAMESPACE_END
