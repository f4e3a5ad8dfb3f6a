#pragma once
/// \file process.hpp
/// `child`: a process owned through its pidfd. Destroying a running child kills and reaps it,
/// so no object leaks a zombie or an unconfined process. `fork_call` runs a function in a
/// child made by clone3(CLONE_PIDFD), the building block tests and tools use.

#include "bulkhead/config.hpp"
#include "bulkhead/detail/syscall.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

BULKHEAD_NAMESPACE_BEGIN

/// How a process ended.
struct exit_status {
    bool exited = false;      ///< ended by _exit/exit: `code` is valid
    int code = 0;             ///< exit code when `exited`
    int signal = 0;           ///< terminating signal when !exited
    bool core_dumped = false; ///< the signal dumped core

    [[nodiscard]] bool success() const noexcept { return exited && code == 0; }
    [[nodiscard]] bool killed_by(int sig) const noexcept { return !exited && signal == sig; }

    /// "exit 3", "signal 9 (Killed)".
    [[nodiscard]] std::string describe() const {
        if (exited) return "exit " + std::to_string(code);
        std::string s = "signal " + std::to_string(signal);
        if (const char* d = ::strsignal(signal)) {
            s += " (";
            s += d;
            s += ')';
        }
        if (core_dumped) s += ", core dumped";
        return s;
    }

    static exit_status from_siginfo(const siginfo_t& si) noexcept {
        exit_status st;
        if (si.si_code == CLD_EXITED) {
            st.exited = true;
            st.code = si.si_status;
        } else {
            st.signal = si.si_status;
            st.core_dumped = si.si_code == CLD_DUMPED;
        }
        return st;
    }
};

/// A child process owned through a pidfd.
class child {
public:
    child() noexcept = default;
    /// Takes ownership of `pidfd` for process `pid`; the process must be our child.
    child(unique_fd pidfd, pid_t pid) noexcept : pidfd_(std::move(pidfd)), pid_(pid) {}
    child(const child&) = delete;
    child& operator=(const child&) = delete;
    child(child&& o) noexcept
        : pidfd_(std::move(o.pidfd_)), pid_(std::exchange(o.pid_, -1)),
          status_(std::exchange(o.status_, std::nullopt)) {}
    child& operator=(child&& o) noexcept {
        if (this != &o) {
            kill_and_reap();
            pidfd_ = std::move(o.pidfd_);
            pid_ = std::exchange(o.pid_, -1);
            status_ = std::exchange(o.status_, std::nullopt);
        }
        return *this;
    }
    /// Kills (SIGKILL) and reaps a child that is still running.
    ~child() { kill_and_reap(); }

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    [[nodiscard]] int pidfd() const noexcept { return pidfd_.get(); }
    [[nodiscard]] bool valid() const noexcept { return pidfd_.valid(); }
    /// The exit status once reaped.
    [[nodiscard]] const std::optional<exit_status>& status() const noexcept { return status_; }

    /// Sends `sig` through the pidfd (no pid-reuse race).
    result<void> signal(int sig) noexcept {
        if (!pidfd_) return error(errc::state_error, "signal child");
        if (status_) return error(std::error_code(ESRCH, std::system_category()), "signal child");
        if (detail::sys::pidfd_send_signal(pidfd_.get(), sig) < 0)
            return error::from_errno("pidfd_send_signal");
        return {};
    }
    result<void> kill() noexcept { return signal(SIGKILL); }

    /// Blocks until the child ends and reaps it.
    result<exit_status> wait() noexcept {
        if (status_) return *status_;
        if (!pidfd_) return error(errc::state_error, "wait child");
        siginfo_t si{};
        for (;;) {
            if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &si,
                         WEXITED) == 0)
                break;
            if (errno != EINTR) return error::from_errno("waitid");
        }
        status_ = exit_status::from_siginfo(si);
        return *status_;
    }

    /// Reaps the child if it has ended, without blocking; nullopt while it runs.
    result<std::optional<exit_status>> try_wait() noexcept {
        if (status_) return std::optional<exit_status>(*status_);
        if (!pidfd_) return error(errc::state_error, "wait child");
        siginfo_t si{};
        if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &si,
                     WEXITED | WNOHANG) < 0)
            return error::from_errno("waitid");
        if (si.si_pid == 0) return std::optional<exit_status>();
        status_ = exit_status::from_siginfo(si);
        return std::optional<exit_status>(*status_);
    }

    /// Waits at most `timeout`; errc::timeout if the child still runs (it is left running).
    result<exit_status> wait_for(std::chrono::milliseconds timeout) noexcept {
        if (status_) return *status_;
        if (!pidfd_) return error(errc::state_error, "wait child");
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd p{pidfd_.get(), POLLIN, 0};
            int n = ::poll(&p, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
            if (n < 0 && errno != EINTR) return error::from_errno("poll pidfd");
            if (n > 0) return wait();
            if (n == 0) return error(errc::timeout, "wait child");
        }
    }

    /// SIGKILL then reap; a no-op for an empty or already reaped child.
    void kill_and_reap() noexcept {
        if (!pidfd_ || status_) {
            pidfd_.reset();
            return;
        }
        detail::sys::pidfd_send_signal(pidfd_.get(), SIGKILL);
        (void)wait();
        pidfd_.reset();
    }

    /// Leaves the process running unowned (closes the pidfd); returns its pid.
    pid_t detach() noexcept {
        pidfd_.reset();
        return std::exchange(pid_, -1);
    }

private:
    unique_fd pidfd_;
    pid_t pid_ = -1;
    std::optional<exit_status> status_;
};

namespace detail {
/// clone3 with CLONE_PIDFD | `flags`; returns 0 in the child, the pid in the parent (with
/// `*pidfd_out` set), -1 with errno on failure.
///
/// Seccomp profiles (Docker's, bulkhead's web profile) answer clone3 with ENOSYS, because its
/// flags live in memory a filter cannot read, so that libc falls back to clone. We do the same
/// when clone can express the request (no CLONE_INTO_CGROUP, flags in 32 bits).
inline long clone3_pidfd(std::uint64_t flags, int* pidfd_out, int cgroup_fd = -1,
                         int exit_signal = SIGCHLD) noexcept {
    struct clone_args args;
    std::memset(&args, 0, sizeof args);
    args.flags = flags | CLONE_PIDFD;
    args.pidfd = reinterpret_cast<std::uint64_t>(pidfd_out);
    args.exit_signal = static_cast<std::uint64_t>(exit_signal);
    if (cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
    }
    long r = sys::clone3(&args);
    if (r >= 0 || errno != ENOSYS || cgroup_fd >= 0 || (args.flags >> 32) != 0) return r;
    // clone(2) on x86_64/aarch64: (flags, stack, parent_tid, child_tid, tls); with
    // CLONE_PIDFD the pidfd is stored through parent_tid.
    return ::syscall(SYS_clone, static_cast<unsigned long>(args.flags) | static_cast<unsigned long>(exit_signal),
                     nullptr, pidfd_out, nullptr, nullptr);
}
} // namespace detail

/// Runs `fn()` in a new child process (clone3 + CLONE_PIDFD, plus any namespace `flags`) and
/// `_exit`s with its int result. The child is a copy of this process, like fork(): keep `fn`
/// to async-signal-safe work when other threads exist.
template <class F>
[[nodiscard]] result<child> fork_call(F&& fn, std::uint64_t flags = 0, int cgroup_fd = -1) {
    int pidfd = -1;
    long pid = detail::clone3_pidfd(flags, &pidfd, cgroup_fd);
    if (pid < 0) return error::from_errno("clone3");
    if (pid == 0) {
        int rc = static_cast<int>(fn());
        ::_exit(rc);
    }
    return child(unique_fd(pidfd), static_cast<pid_t>(pid));
}

BULKHEAD_NAMESPACE_END
