#pragma once
/// \file seccomp/builtin.hpp
/// Built-in policies: Docker's default profile (for Docker's default capabilities) and a
/// profile for web-site workers (nginx, PHP-FPM) that closes the kernel attack surface a
/// compromised site uses to break out; plus an opt-in for the syscalls sanitizer runtimes
/// make. docs/seccomp.md explains every group.

#include "bulkhead/config.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/seccomp/arch.hpp"
#include "bulkhead/seccomp/policy.hpp"

#include <cerrno>
#include <cstdint>
#include <span>
#include <string_view>

#include <sched.h>

BULKHEAD_NAMESPACE_BEGIN
namespace seccomp {
namespace detail {

/// Docker's default profile, unconditional ALLOW entries that apply with Docker's default
/// capabilities, over all the architectures we have tables for (names of other arches are
/// skipped per arch).
inline constexpr std::string_view docker_allow[] = {
    "_llseek", "_newselect", "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl",
    "bind", "brk", "capget", "capset", "chdir", "chmod", "chown", "chown32", "chroot",
    "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
    "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
    "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
    "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
    "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
    "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark",
    "fchdir", "fchmod", "fchmodat", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64",
    "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
    "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_time64", "futex_waitv", "futimesat", "get_robust_list",
    "get_thread_area", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
    "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
    "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
    "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "getrusage", "getsid",
    "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
    "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup",
    "io_submit", "ioctl", "ioprio_get", "ioprio_set", "ipc", "kill", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr",
    "link", "linkat", "listen", "listxattr", "llistxattr", "lremovexattr", "lseek",
    "lsetxattr", "lstat", "lstat64", "madvise", "membarrier", "memfd_create", "memfd_secret",
    "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
    "mmap2", "modify_ldt", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
    "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
    "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
    "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "open", "openat",
    "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc",
    "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64",
    "preadv", "preadv2", "prlimit64", "process_mrelease", "process_vm_readv",
    "process_vm_writev", "pselect6", "pselect6_time64", "ptrace", "pwrite64", "pwritev",
    "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recvfrom", "recvmmsg",
    "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
    "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
    "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_get_priority_max",
    "sched_get_priority_min", "sched_getaffinity", "sched_getattr", "sched_getparam",
    "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
    "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
    "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
    "set_robust_list", "set_thread_area", "set_tid_address", "setfsgid", "setfsgid32",
    "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
    "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
    "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "setsid", "setsockopt",
    "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
    "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall",
    "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink",
    "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time",
    "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
    "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
    "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
    "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
    "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
    "writev",
};

/// Namespace flags of clone(2) (CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER |
/// NEWPID | NEWNET), the mask Docker's profile uses.
inline constexpr std::uint64_t clone_ns_flags = 0x7e020000u;

/// Adds `names` to `b` with `act`, skipping names this architecture does not have.
inline void add_known(policy_builder& b, arch a, std::span<const std::string_view> names, action act) {
    auto t = table(a);
    for (auto n : names)
        if (t.find(n)) b.add(n, act);
}

inline void docker_arg_rules(policy_builder& b, arch a) {
    // personality: only PER_LINUX, PER_LINUX32, UNAME26 variants and the query (0xffffffff).
    for (std::uint64_t v : {0x0ull, 0x8ull, 0x20000ull, 0x20008ull, 0xffffffffull})
        b.allow("personality", {arg(0) == v});
    // socket: Docker allows families < 38, == 39 and > 40, refusing AF_ALG (38) and
    // AF_VSOCK (40).
    b.allow("socket", {arg(0) < 38});
    b.allow("socket", {arg(0) == 39});
    b.allow("socket", {arg(0) > 40});
    // clone: no namespace flags (clone's flags are the first argument on our arches).
    b.allow("clone", {arg(0).none_of(clone_ns_flags)});
    // clone3: its flags sit in memory the filter cannot read; ENOSYS makes libc use clone.
    if (table(a).find("clone3")) b.deny("clone3", ENOSYS);
    if (a == arch::x86_64 || a == arch::x32) b.allow("arch_prctl");
    if (a != arch::aarch64) b.allow("modify_ldt");
}

} // namespace detail

/// Docker's default profile as resolved for Docker's default capabilities: default
/// ERRNO(EPERM), ~300 syscalls allowed, personality/socket/clone argument-checked, clone3
/// ENOSYS. On x86_64 it gives the same verdicts as docker-default.json resolved with
/// load_profile (a test checks every syscall and argument probe).
[[nodiscard]] inline result<policy> docker_default(arch a = native_arch().value_or(arch::x86_64)) {
    policy_builder b(a);
    b.default_action(action::errno_ret(EPERM));
    detail::docker_arg_rules(b, a);
    detail::add_known(b, a, detail::docker_allow, action::allow());
    return b.build();
}

namespace detail {

/// What the web-site profile refuses on top of Docker's default (which already refuses
/// most of it), by group; docs/seccomp.md gives the reasons.
inline constexpr std::string_view web_denied[] = {
    // io_uring: its operations run in kernel workers and never pass through seccomp.
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    // debugging other processes / reading their memory
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd",
    "kcmp",
    // mount family and root changes
    "mount", "umount", "umount2", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
    "fspick", "mount_setattr", "pivot_root", "chroot",
    // namespaces
    "unshare", "setns",
    // kernel keyrings
    "keyctl", "add_key", "request_key",
    // eBPF, perf, userfaultfd (exploit primitives), kexec, modules
    "bpf", "perf_event_open", "userfaultfd", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module",
    // other kernel attack surface and host-wide state
    "acct", "swapon", "swapoff", "reboot", "syslog", "quotactl", "quotactl_fd",
    "lookup_dcookie", "fanotify_init", "name_to_handle_at", "open_by_handle_at", "iopl",
    "ioperm", "vm86", "vm86old", "uselib", "ustat", "sysfs", "_sysctl", "nfsservctl",
    "settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime",
    "clock_adjtime64", "adjtimex", "vhangup", "modify_ldt", "get_kernel_syms",
    "query_module", "create_module", "mbind", "set_mempolicy", "migrate_pages", "move_pages",
    "memfd_secret", "setdomainname", "sethostname", "remap_file_pages",
};

} // namespace detail

/// A policy for nginx and PHP-FPM workers of a hosted site: Docker's default allow list
/// minus io_uring, ptrace and process_vm_*, the mount family, namespaces (unshare, setns,
/// namespace flags of clone; clone3 gets ENOSYS so libc falls back to clone), keyrings,
/// bpf, perf_event_open, userfaultfd, kexec, module loading and other kernel attack surface.
/// Refused syscalls fail with EPERM; personality is limited to PER_LINUX queries.
[[nodiscard]] inline result<policy> web_site(arch a = native_arch().value_or(arch::x86_64)) {
    policy_builder b(a);
    b.default_action(action::errno_ret(EPERM));
    auto t = table(a);
    for (auto n : detail::web_denied)
        if (t.find(n)) b.deny(n, EPERM);
    b.allow("personality", {arg(0) == 0});
    b.allow("personality", {arg(0) == 0xffffffffull});
    b.allow("socket", {arg(0) < 38});
    b.allow("socket", {arg(0) == 39});
    b.allow("socket", {arg(0) > 40});
    b.allow("clone", {arg(0).none_of(detail::clone_ns_flags)});
    if (t.find("clone3")) b.deny("clone3", ENOSYS);
    if (a == arch::x86_64 || a == arch::x32) b.allow("arch_prctl");
    // First rule wins: the denials above stay in force for names also in Docker's list.
    detail::add_known(b, a, detail::docker_allow, action::allow());
    return b.build();
}

/// The syscalls ASan/UBSan/LSan runtimes make on their own (shadow memory, reports,
/// /proc/self/maps, alternate signal stacks), allowed with `act` (ALLOW by default), so a
/// sanitized program keeps working under a filter. Opt-in: add to a builder before build().
inline policy_builder& allow_sanitizer_runtime(policy_builder& b, arch a,
                                               action act = action::allow()) {
    static constexpr std::string_view names[] = {
        "mmap", "munmap", "mprotect", "madvise", "mremap", "brk", "sigaltstack", "prctl",
        "prlimit64", "getrlimit", "sched_getaffinity", "sched_yield", "readlink",
        "readlinkat", "open", "openat", "read", "pread64", "write", "writev", "close",
        "fstat", "newfstatat", "statx", "lseek", "getpid", "gettid", "tgkill", "rt_sigaction",
        "rt_sigprocmask", "exit_group", "exit", "futex", "getrandom", "clock_gettime",
        "nanosleep", "clock_nanosleep", "uname", "dup", "dup2", "pipe2", "getppid", "ioctl",
    };
    detail::add_known(b, a, names, act);
    return b;
}

/// True when this program runs under ASan or UBSan (to decide on allow_sanitizer_runtime).
[[nodiscard]] constexpr bool sanitizers_enabled() noexcept {
#if defined(__SANITIZE_ADDRESS__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

} // namespace seccomp
BULKHEAD_NAMESPACE_END
