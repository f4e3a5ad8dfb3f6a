// The kernel floor for a sandbox start, shared by floor.cpp (a program, as bulkhead-run is)
// and breakdown.cpp (in-process): clone3 with 7 namespaces, the parent writes the id maps,
// the child makes its mounts private, enters the prepared root (chroot, or pivot_root with
// the old root detached), mounts /proc and execs; the parent waits. No library, no hardening.
#pragma once

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bh_floor {

inline bool write_str(const char* path, const char* s) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && write(fd, s, strlen(s)) == static_cast<ssize_t>(strlen(s));
    if (!ok) perror(path);
    if (fd >= 0) close(fd);
    return ok;
}

/// Runs argv[0] (a path inside `root`, or on the host when root is null) in new namespaces
/// and returns its wait status, or -1 (with a message on stderr) when the start failed.
inline int run(const char* root, bool pivot, char* const* argv) {
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0) return -1;
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS |
                 CLONE_NEWIPC | CLONE_NEWCGROUP;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) {
        perror("clone3");
        close(sync[0]);
        close(sync[1]);
        return -1;
    }
    if (pid == 0) {
        char c;
        close(sync[1]);
        if (read(sync[0], &c, 1) != 1) _exit(125);
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) _exit(125);
        if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) _exit(125);
        if (root && pivot) {
            // proc must be mounted while the host's /proc is still visible in this mount ns.
            char proc[4096];
            snprintf(proc, sizeof proc, "%s/proc", root);
            if (mount(root, root, nullptr, MS_BIND | MS_REC, nullptr) < 0 ||
                mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0 || chdir(root) < 0 ||
                syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
                _exit(123);
        } else if (root && chroot(root) < 0) {
            _exit(125);
        }
        if (!pivot && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0) _exit(124);
        execv(argv[0], argv);
        _exit(127);
    }
    close(sync[0]);
    char path[64];
    bool ok = true;
    snprintf(path, sizeof path, "/proc/%ld/setgroups", pid);
    ok = ok && write_str(path, "deny");
    snprintf(path, sizeof path, "/proc/%ld/uid_map", pid);
    ok = ok && write_str(path, "0 100000 65536\n");
    snprintf(path, sizeof path, "/proc/%ld/gid_map", pid);
    ok = ok && write_str(path, "0 100000 65536\n");
    // Without the byte the child exits 125 (EOF) and is reaped below either way.
    if (ok && write(sync[1], "x", 1) != 1) ok = false;
    close(sync[1]);
    int st = 0;
    while (waitpid(static_cast<pid_t>(pid), &st, 0) < 0 && errno == EINTR) {
    }
    return ok ? st : -1;
}

/// fork + exec + wait, no namespaces: the baseline runner.
inline int run_plain(char* const* argv) {
    pid_t p = fork();
    if (p < 0) return -1;
    if (p == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
    }
    return st;
}

} // namespace bh_floor
