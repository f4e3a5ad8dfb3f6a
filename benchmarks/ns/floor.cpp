// The kernel floor for a sandbox start: clone3 with 7 namespaces, the parent writes the id
// maps, the child mounts /proc and execs the payload; the parent waits. No library, no
// mount plan, no hardening: what any runtime must at least pay.
//   floor [--plain] [--pivot] [--root DIR] PATH [ARG...]
//     --root DIR  chroot into DIR, a prepared root (with --pivot: pivot_root into it and
//                 detach the old root, as a sandbox must)
//     --plain     no namespaces at all: fork + exec + wait (the baseline runner)
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

static void write_str(const char* path, const char* s) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, s, strlen(s)) < 0) {
        perror(path);
        exit(125);
    }
    close(fd);
}

int main(int argc, char** argv) {
    int i = 1;
    const char* root = nullptr;
    bool plain = false, pivot = false;
    for (;;) {
        if (i < argc && strcmp(argv[i], "--plain") == 0) {
            plain = true;
            ++i;
        } else if (i < argc && strcmp(argv[i], "--pivot") == 0) {
            pivot = true;
            ++i;
        } else if (i + 1 < argc && strcmp(argv[i], "--root") == 0) {
            root = argv[i + 1];
            i += 2;
        } else {
            break;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: floor [--root DIR] PATH [ARG...]\n");
        return 125;
    }
    if (plain) {
        pid_t p = fork();
        if (p == 0) {
            execv(argv[i], argv + i);
            _exit(127);
        }
        int st = 0;
        while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0) return 125;
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS |
                 CLONE_NEWIPC | CLONE_NEWCGROUP;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) {
        perror("clone3");
        return 125;
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
        execv(argv[i], argv + i);
        _exit(127);
    }
    close(sync[0]);
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/setgroups", pid);
    write_str(path, "deny");
    snprintf(path, sizeof path, "/proc/%ld/uid_map", pid);
    write_str(path, "0 100000 65536\n");
    snprintf(path, sizeof path, "/proc/%ld/gid_map", pid);
    write_str(path, "0 100000 65536\n");
    if (write(sync[1], "x", 1) != 1) return 125;
    int st = 0;
    while (waitpid(static_cast<pid_t>(pid), &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
