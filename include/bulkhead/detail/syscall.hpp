#pragma once
/// \file detail/syscall.hpp
/// Raw wrappers for system calls glibc 2.36 does not wrap (or wraps differently). They return
/// what the kernel returns (-1 and errno on failure), are async-signal-safe and allocate
/// nothing, so the child side of a clone may call them.

#include "bulkhead/config.hpp"

#include <cstddef>
#include <cstdint>

#include <linux/openat2.h> // struct open_how, RESOLVE_*
#include <linux/sched.h>   // struct clone_args, CLONE_* (clone3 flags)
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif

BULKHEAD_NAMESPACE_BEGIN
namespace detail::sys {

/// clone3(2). Returns the child's pid in the parent, 0 in the child. The child continues on
/// the caller's stack (no new stack given), like fork().
inline long clone3(struct clone_args* args) noexcept {
    return ::syscall(SYS_clone3, args, sizeof(struct clone_args));
}

inline int pidfd_open(pid_t pid, unsigned flags = 0) noexcept {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}

inline int pidfd_send_signal(int pidfd, int sig, siginfo_t* info = nullptr,
                             unsigned flags = 0) noexcept {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags));
}

inline int pidfd_getfd(int pidfd, int targetfd, unsigned flags = 0) noexcept {
    return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, targetfd, flags));
}

inline int pivot_root(const char* new_root, const char* put_old) noexcept {
    return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}

inline int seccomp(unsigned op, unsigned flags, void* args) noexcept {
    return static_cast<int>(::syscall(SYS_seccomp, op, flags, args));
}

inline int close_range(unsigned first, unsigned last, unsigned flags) noexcept {
    return static_cast<int>(::syscall(SYS_close_range, first, last, flags));
}

inline int open_tree(int dirfd, const char* path, unsigned flags) noexcept {
    return static_cast<int>(::syscall(SYS_open_tree, dirfd, path, flags));
}

inline int move_mount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                      unsigned flags) noexcept {
    return static_cast<int>(
        ::syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags));
}

inline int fsopen(const char* fsname, unsigned flags) noexcept {
    return static_cast<int>(::syscall(SYS_fsopen, fsname, flags));
}

inline int fsconfig(int fd, unsigned cmd, const char* key, const void* value, int aux) noexcept {
    return static_cast<int>(::syscall(SYS_fsconfig, fd, cmd, key, value, aux));
}

inline int fsmount(int fd, unsigned flags, unsigned attr_flags) noexcept {
    return static_cast<int>(::syscall(SYS_fsmount, fd, flags, attr_flags));
}

inline int mount_setattr(int dirfd, const char* path, unsigned flags, void* attr,
                         std::size_t size) noexcept {
    return static_cast<int>(::syscall(SYS_mount_setattr, dirfd, path, flags, attr, size));
}

inline pid_t gettid() noexcept { return static_cast<pid_t>(::syscall(SYS_gettid)); }

/// openat2(2) (Linux 5.6): `how->resolve` confines path resolution (RESOLVE_BENEATH,
/// RESOLVE_NO_SYMLINKS, ...), which is how a privileged process safely opens paths inside a
/// directory that an untrusted party controls.
inline int openat2(int dirfd, const char* path, struct open_how* how) noexcept {
    return static_cast<int>(::syscall(SYS_openat2, dirfd, path, how, sizeof(struct open_how)));
}

} // namespace detail::sys
BULKHEAD_NAMESPACE_END
