#pragma once
/// \file ns/steps.hpp
/// The child-side step program. The parent prepares every path (NUL-terminated), flag and
/// array; the child walks the steps between clone and exec without allocating, locking or
/// throwing, and on failure writes a fixed-size `{step index, errno}` record to a
/// close-on-exec pipe and `_exit`s. The parent turns that record into an error naming the step.

#include "bulkhead/config.hpp"
#include "bulkhead/detail/syscall.hpp"
#include "bulkhead/error.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>
#include <linux/netlink.h>
#include <sys/socket.h>

BULKHEAD_NAMESPACE_BEGIN
namespace ns::detail {

// <linux/mount.h> clashes with glibc 2.36's <sys/mount.h>; the few constants we need:
inline constexpr std::uint64_t attr_rdonly = 0x1;
inline constexpr std::uint64_t attr_nosuid = 0x2;
inline constexpr std::uint64_t attr_nodev = 0x4;
inline constexpr std::uint64_t attr_noexec = 0x8;
struct mount_attr_v0 {
    std::uint64_t attr_set;
    std::uint64_t attr_clr;
    std::uint64_t propagation;
    std::uint64_t userns_fd;
};

enum class op : std::uint8_t {
    pdeathsig,     // x = signal, y = expected parent pid (0: do not check)
    wait_go,       // fd = read end; parent writes one byte when ready; flags bit0: keep fd open
    setns,         // fd, x = nstype
    mount,         // a source, b target, c fstype, d data, x flags
    setattr,       // a path, x attr_set, y attr_clr, z propagation, flags bit0 = recursive
    mkdir,         // a path, x mode (EEXIST is fine)
    touch,         // a path (EEXIST is fine)
    symlink,       // a target, b link path
    mask,          // a path, b /dev/null: tmpfs (ro) over a directory, /dev/null over a file
    pivot,         // a new root
    sethostname,   // a name, x length
    setdomainname, // a name, x length
    sigmask,       // ptr = const sigset_t*
    fork_init,     // fd = error pipe (init closes it), init reaps and forwards signals
    setsid,
    umask,         // x mask
    chdir,         // a path
    rlimit,        // x resource, y soft, z hard
    bounding,      // x keep mask, y last cap
    securebits,    // x bits
    setgroups,     // ptr = const gid_t*, x count
    setresgid,     // x gid
    setresuid,     // x uid
    capset,        // x mask for effective/permitted/inheritable
    ambient,       // x mask to raise, y last cap
    no_new_privs,
    dup2,          // fd -> x
    clear_cloexec, // fd
    close_fds,     // ptr = const int* sorted keep list, x count
    seccomp,       // ptr = const sock_fprog*, x flags
    exec,          // ptr = const char* const* candidates (null-terminated), argv, envp
    netlink,       // ptr = a prebuilt rtnetlink request, x = its length: send it, expect an ack
    reset_signals, // every signal's disposition back to SIG_DFL (ignored ones too)
};

struct step {
    op code{};
    const char* a = nullptr;
    const char* b = nullptr;
    const char* c = nullptr;
    const char* d = nullptr;
    std::uint64_t x = 0, y = 0, z = 0;
    unsigned flags = 0;
    int fd = -1;
    const void* ptr = nullptr;
    char* const* argv = nullptr;
    char* const* envp = nullptr;
};

/// What the child writes when a step fails.
struct failure_record {
    std::int32_t step;
    std::int32_t err;
};

/// A step list plus the storage its pointers refer to and the text naming each step.
class program {
public:
    program() = default;
    program(const program&) = delete;
    program& operator=(const program&) = delete;
    program(program&&) = default;
    program& operator=(program&&) = default;

    /// Stores `s` and returns a pointer that stays valid for the program's life.
    const char* str(std::string s) {
        strings_.push_back(std::move(s));
        return strings_.back().c_str();
    }
    /// Adds a step; `op_name` is static ("mount"), `subject` names what it acted on.
    void add(const step& s, const char* op_name, std::string subject) {
        steps_.push_back(s);
        names_.push_back({op_name, std::move(subject)});
    }
    [[nodiscard]] const std::vector<step>& steps() const noexcept { return steps_; }
    [[nodiscard]] std::size_t size() const noexcept { return steps_.size(); }

    /// The error for a failure record from the child.
    [[nodiscard]] error to_error(const failure_record& r) const {
        if (r.step < 0 || static_cast<std::size_t>(r.step) >= names_.size())
            return error(errc::protocol_error, "sandbox setup").note("bad failure record from child");
        const auto& n = names_[static_cast<std::size_t>(r.step)];
        error e = error::from_errno(n.op, r.err);
        if (!n.subject.empty()) e.subject(n.subject);
        return e;
    }
    /// The text naming step `i`: "mount tmpfs at /tmp".
    [[nodiscard]] std::string describe(std::size_t i) const {
        if (i >= names_.size()) return {};
        return names_[i].subject.empty() ? std::string(names_[i].op)
                                         : std::string(names_[i].op) + " " + names_[i].subject;
    }

    // Arrays the child reads (kept here so their storage outlives the clone).
    std::deque<std::vector<char*>> ptr_arrays;
    std::deque<std::vector<int>> int_arrays;
    std::deque<std::vector<gid_t>> gid_arrays;
    std::deque<sigset_t> sigsets;
    std::deque<sock_fprog> fprogs;
    std::deque<std::vector<std::uint8_t>> byte_arrays;
    /// The stack the payload runs its remaining steps on after `fork_init` (CLONE_VM), sized
    /// by the parent; empty: the init forks a copy of itself instead.
    std::vector<std::uint64_t> payload_stack;

private:
    struct name {
        const char* op;
        std::string subject;
    };
    std::deque<std::string> strings_;
    std::vector<step> steps_;
    std::vector<name> names_;
};

/// Sends one prebuilt rtnetlink request on `fd` and reads its ack: 0, or -1 with errno set
/// (the kernel's error, EPROTO for a malformed reply). Allocation-free: the child uses it.
inline int netlink_request(int fd, const void* req, std::size_t len) noexcept {
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    if (::sendto(fd, req, len, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) return -1;
    alignas(nlmsghdr) unsigned char buf[1024];
    ssize_t n;
    do n = ::recv(fd, buf, sizeof buf, 0);
    while (n < 0 && errno == EINTR);
    nlmsghdr h;
    if (n < static_cast<ssize_t>(sizeof h + sizeof(int))) {
        if (n >= 0) errno = EPROTO;
        return -1;
    }
    __builtin_memcpy(&h, buf, sizeof h);
    int e = 0;
    __builtin_memcpy(&e, buf + NLMSG_HDRLEN, sizeof e);
    if (h.nlmsg_type != NLMSG_ERROR) {
        errno = EPROTO;
        return -1;
    }
    if (e < 0) {
        errno = -e;
        return -1;
    }
    return 0;
}

[[noreturn]] inline void child_fail(int err_fd, std::size_t i, int e) noexcept {
    failure_record r{static_cast<std::int32_t>(i), e};
    ssize_t n;
    do n = ::write(err_fd, &r, sizeof r);
    while (n < 0 && errno == EINTR);
    ::_exit(127);
}

/// pid 1 of a new pid namespace: reaps every child, forwards the signals in `fwd` to the
/// payload, and exits with the payload's exit code (128 + signal if it was killed).
[[noreturn]] inline void init_loop(pid_t payload, const sigset_t* waitset) noexcept {
    // The payload holds its own copies of the error pipe and stdio; init needs none.
    bulkhead::detail::sys::close_range(0, ~0U, 0);
    // Init keeps no capabilities: nothing in the sandbox can use it to regain any.
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2] = {};
    (void)::syscall(SYS_capset, &h, d);
    (void)::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int code = 0;
    for (;;) {
        siginfo_t si;
        int sig = ::sigwaitinfo(waitset, &si);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            ::kill(payload, sig);
            continue;
        }
        for (;;) {
            int st = 0;
            pid_t p = ::waitpid(-1, &st, WNOHANG);
            if (p <= 0) break;
            if (p == payload) {
                code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                ::_exit(code);
            }
        }
    }
}

[[noreturn]] inline void run_child_from(const program& prog, int err_fd, std::size_t first) noexcept;

struct payload_start {
    const program* prog;
    int err_fd;
    std::size_t next;
};

inline int payload_entry(void* arg) noexcept {
    const auto* ps = static_cast<const payload_start*>(arg);
    run_child_from(*ps->prog, ps->err_fd, ps->next);
}

/// Splits pid 1 into the init and the payload. With a prepared stack the payload is cloned
/// with CLONE_VM | CLONE_VFORK, as posix_spawn does: no page tables are copied, and the init
/// sleeps until the payload has exec'd (or failed), so the two never run on shared memory
/// at the same time. The payload's remaining steps only change per-task state (ids, caps,
/// rlimits, fds of its own table, its seccomp filter, cwd of its own fs struct).
inline long split_init(const program& prog, int err_fd, std::size_t next) noexcept {
    auto& stack = prog.payload_stack;
    if (stack.empty()) return ::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    payload_start ps{&prog, err_fd, next};
    // The top of the stack, 16-byte aligned as the x86-64 and AArch64 ABIs want.
    auto top = reinterpret_cast<std::uintptr_t>(stack.data() + stack.size()) & ~std::uintptr_t{15};
    return ::clone(payload_entry, reinterpret_cast<void*>(top), CLONE_VM | CLONE_VFORK | SIGCHLD, &ps);
}

/// Runs `prog` in the child. Never returns: execs, or reports a failure and _exits.
[[noreturn]] inline void run_child(const program& prog, int err_fd) noexcept { run_child_from(prog, err_fd, 0); }

[[noreturn]] inline void run_child_from(const program& prog, int err_fd, std::size_t first) noexcept {
    const auto& steps = prog.steps();
    for (std::size_t i = first; i < steps.size(); ++i) {
        const step& s = steps[i];
        int rc = 0;
        switch (s.code) {
        case op::pdeathsig:
            rc = ::prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(s.x), 0, 0, 0);
            if (rc == 0 && s.y != 0 && ::getppid() != static_cast<pid_t>(s.y)) ::_exit(127);
            break;
        case op::wait_go: {
            char c;
            ssize_t n;
            do n = ::read(s.fd, &c, 1);
            while (n < 0 && errno == EINTR);
            if (n != 1) ::_exit(127); // the parent gave up or died: nothing to report to
            if (!(s.flags & 1)) ::close(s.fd);
            break;
        }
        case op::setns: rc = ::setns(s.fd, static_cast<int>(s.x)); break;
        case op::mount: rc = ::mount(s.a, s.b, s.c, s.x, s.d); break;
        case op::setattr: {
            mount_attr_v0 attr{s.x, s.y, s.z, 0};
            rc = bulkhead::detail::sys::mount_setattr(AT_FDCWD, s.a, (s.flags & 1) ? 0x8000 /*AT_RECURSIVE*/ : 0,
                                    &attr, sizeof attr);
            break;
        }
        case op::mkdir:
            rc = ::mkdir(s.a, static_cast<mode_t>(s.x));
            if (rc < 0 && errno == EEXIST) rc = 0;
            break;
        case op::touch: {
            int fd = ::open(s.a, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
            if (fd < 0 && (errno == EEXIST || errno == EISDIR)) {
                rc = 0;
            } else if (fd < 0) {
                rc = -1;
            } else {
                ::close(fd);
            }
            break;
        }
        case op::symlink: rc = ::symlink(s.a, s.b); break;
        case op::mask: {
            struct stat st;
            if (::lstat(s.a, &st) < 0) {
                rc = errno == ENOENT ? 0 : -1;
            } else if (S_ISDIR(st.st_mode)) {
                rc = ::mount("tmpfs", s.a, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                             "mode=0555,size=4k,nr_inodes=1");
            } else {
                rc = ::mount(s.b, s.a, nullptr, MS_BIND, nullptr);
            }
            break;
        }
        case op::pivot:
            rc = ::chdir(s.a);
            if (rc == 0) rc = bulkhead::detail::sys::pivot_root(".", ".");
            if (rc == 0) rc = ::umount2(".", MNT_DETACH);
            if (rc == 0) rc = ::chdir("/");
            break;
        case op::sethostname: rc = ::sethostname(s.a, static_cast<std::size_t>(s.x)); break;
        case op::setdomainname: rc = ::setdomainname(s.a, static_cast<std::size_t>(s.x)); break;
        case op::sigmask:
            rc = ::sigprocmask(SIG_SETMASK, static_cast<const sigset_t*>(s.ptr), nullptr);
            break;
        case op::fork_init: {
            const bool shared = !prog.payload_stack.empty();
            long pid = split_init(prog, err_fd, i + 1);
            if (pid < 0) {
                rc = -1;
                break;
            }
            if (pid > 0) init_loop(static_cast<pid_t>(pid), static_cast<const sigset_t*>(s.ptr));
            if (shared) ::_exit(127); // unreachable: the CLONE_VM payload runs payload_entry
            break;
        }
        case op::setsid: rc = ::setsid() < 0 ? -1 : 0; break;
        case op::umask: ::umask(static_cast<mode_t>(s.x)); break;
        case op::chdir: rc = ::chdir(s.a); break;
        case op::rlimit: {
            struct rlimit rl{static_cast<rlim_t>(s.y), static_cast<rlim_t>(s.z)};
            rc = ::setrlimit(static_cast<__rlimit_resource>(s.x), &rl);
            break;
        }
        case op::bounding:
            for (std::uint64_t cap = 0; cap <= s.y && rc == 0; ++cap)
                if (!((s.x >> cap) & 1)) rc = ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
            break;
        case op::securebits: rc = ::prctl(PR_SET_SECUREBITS, static_cast<unsigned long>(s.x), 0, 0, 0); break;
        case op::setgroups:
            rc = static_cast<int>(::syscall(SYS_setgroups, static_cast<std::size_t>(s.x), static_cast<const gid_t*>(s.ptr)));
            break;
        case op::setresgid: {
            auto g = static_cast<gid_t>(s.x);
            rc = static_cast<int>(::syscall(SYS_setresgid, g, g, g));
            break;
        }
        case op::setresuid: {
            auto u = static_cast<uid_t>(s.x);
            rc = static_cast<int>(::syscall(SYS_setresuid, u, u, u));
            break;
        }
        case op::capset: {
            __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
            __user_cap_data_struct d[2];
            auto lo = static_cast<std::uint32_t>(s.x), hi = static_cast<std::uint32_t>(s.x >> 32);
            d[0] = {lo, lo, lo};
            d[1] = {hi, hi, hi};
            rc = static_cast<int>(::syscall(SYS_capset, &h, d));
            break;
        }
        case op::ambient:
            rc = ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
            for (std::uint64_t cap = 0; cap <= s.y && rc == 0; ++cap)
                if ((s.x >> cap) & 1) rc = ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
            break;
        case op::no_new_privs: rc = ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); break;
        case op::dup2:
            if (s.fd == static_cast<int>(s.x))
                rc = ::fcntl(s.fd, F_SETFD, 0);
            else
                rc = ::dup2(s.fd, static_cast<int>(s.x)) < 0 ? -1 : 0;
            break;
        case op::clear_cloexec: rc = ::fcntl(s.fd, F_SETFD, 0); break;
        case op::close_fds: {
            const int* keep = static_cast<const int*>(s.ptr);
            unsigned from = 3;
            for (std::uint64_t k = 0; k < s.x && rc == 0; ++k) {
                auto f = static_cast<unsigned>(keep[k]);
                if (f < from) continue;
                if (f > from) rc = bulkhead::detail::sys::close_range(from, f - 1, 0);
                from = f + 1;
            }
            if (rc == 0) rc = bulkhead::detail::sys::close_range(from, ~0U, 0);
            break;
        }
        case op::seccomp:
            rc = bulkhead::detail::sys::seccomp(SECCOMP_SET_MODE_FILTER, static_cast<unsigned>(s.x),
                              const_cast<void*>(s.ptr));
            break;
        case op::netlink: {
            int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
            if (fd < 0) {
                rc = -1;
                break;
            }
            rc = netlink_request(fd, s.ptr, static_cast<std::size_t>(s.x));
            int saved = errno;
            ::close(fd);
            errno = saved;
            break;
        }
        case op::reset_signals: {
            struct sigaction sa;
            __builtin_memset(&sa, 0, sizeof sa);
            sa.sa_handler = SIG_DFL;
            for (int sig = 1; sig < NSIG; ++sig)
                if (sig != SIGKILL && sig != SIGSTOP) (void)::sigaction(sig, &sa, nullptr); // EINVAL for libc-reserved ones
            break;
        }
        case op::exec: {
            auto cands = static_cast<char* const*>(s.ptr);
            int saved = ENOENT;
            for (std::size_t k = 0; cands[k]; ++k) {
                ::execve(cands[k], s.argv, s.envp);
                if (errno != ENOENT && errno != ENOTDIR) saved = errno;
                if (errno == EACCES) continue;
                if (errno != ENOENT && errno != ENOTDIR) break;
            }
            errno = saved;
            rc = -1;
            break;
        }
        }
        if (rc < 0) child_fail(err_fd, i, errno);
    }
    child_fail(err_fd, steps.size() - 1, ECANCELED);
}

} // namespace ns::detail
BULKHEAD_NAMESPACE_END
