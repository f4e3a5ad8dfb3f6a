// bulkhead-escape: tries, from inside one site, to reach another site (its processes, files,
// network, IPC) and the host, with raw system calls so libc cannot mask the errno. Run it in
// site A against site B's coordinates ("attack"), and in B against B's own ("control": the
// same attempts must succeed there, or the probe proves nothing). Each probe reports PASS (the
// attempt was refused), FAIL (it worked), N/A (the kernel cannot do it for anyone here) or
// SKIP (no target given), with the errno or what was reached.
#include <bulkhead/detail/json.hpp>
#include <bulkhead/fd.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <mqueue.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

const char* usage = R"(usage:
  bulkhead-escape [--json] [--control] TARGETS...    run the probes
  bulkhead-escape --serve-canaries NAME               hold canaries until killed

targets (the other site's coordinates as the host sees them; in --control mode, the
site's own as it sees them):
  --pid PID            a process of the target (its nginx master)
  --file PATH          a file of the target (in its webroot)
  --ip ADDR            the target's address (port 80)
  --host-ip ADDR       an address of the host (the site's gateway); --host-port PORT:
                       a port a host service listens on (loopback-bound services too)
  --ifname NAME        a network interface of the host (the target's veth)
  --canary NAME        the name --serve-canaries used in the target: abstract unix socket
                       @NAME, SysV IPC key, POSIX queue /NAME, files /tmp/NAME and
                       /dev/shm/NAME
  --setuid-binary PATH a setuid copy of this tool owned by the site's root: running it
                       must not change our effective uid (no_new_privs)

--control   the attempts must succeed (a probe's positive control); failures are FAIL
--json      one JSON object: {"probes": [{"name", "group", "verdict", "detail"}], ...}

--serve-canaries NAME  (run in the target site) creates @NAME (listening), the SysV shared
                       memory segment and message queue with key ftok-like hash of NAME,
                       POSIX queue /NAME, /tmp/NAME, /dev/shm/NAME; prints "ready" and waits.

exit status: 0 every probe PASS or N/A (or, with --control, every control reached its
target), 1 some probe FAIL, 2 usage error
)";

struct probe {
    std::string name, group, verdict, detail;
};

struct options {
    bool json = false, control = false;
    long pid = 0;
    std::string file, ip, host_ip, ifname, canary, setuid_binary;
    int host_port = 0;
};

std::string errname(int e) {
    const char* n = strerrorname_np(e);
    return n ? n : ("errno " + std::to_string(e));
}

key_t canary_key(const std::string& name) {
    std::uint32_t h = 2166136261u;
    for (unsigned char c : name) h = (h ^ c) * 16777619u;
    return static_cast<key_t>(h & 0x7fffffff);
}

/// A raw syscall result: -errno or the value.
long sys(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
    long r = ::syscall(nr, a, b, c, d, e, f);
    return r < 0 ? -errno : r;
}

class runner {
public:
    explicit runner(const options& o) : o_(o) {}

    /// Records an attempt. `reached` true means the attempt got through. In attack mode that
    /// is a FAIL; in control mode it is the expected outcome.
    void attempt(const std::string& group, const std::string& name, bool reached, const std::string& detail) {
        std::string verdict;
        if (o_.control) verdict = reached ? "OK" : "FAIL";
        else verdict = reached ? "FAIL" : "PASS";
        out_.push_back({name, group, verdict, detail});
    }
    /// A syscall-shaped attempt: >= 0 reached, -errno refused.
    void attempt_rc(const std::string& group, const std::string& name, long rc, const std::string& what = {}) {
        bool reached = rc >= 0;
        attempt(group, name, reached, reached ? (what.empty() ? "succeeded" : what) : errname(static_cast<int>(-rc)));
    }
    void na(const std::string& group, const std::string& name, const std::string& why) {
        out_.push_back({name, group, "N/A", why});
    }
    void skip(const std::string& group, const std::string& name, const std::string& why) {
        out_.push_back({name, group, "SKIP", why});
    }
    [[nodiscard]] const std::vector<probe>& results() const { return out_; }

private:
    const options& o_;
    std::vector<probe> out_;
};

long open_rc(const std::string& path, int flags) {
    long fd = sys(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path.c_str()), flags | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(static_cast<int>(fd));
    return fd;
}

void processes(runner& r, const options& o) {
    const std::string g = "processes";
    if (!o.pid) {
        for (const char* n : {"see", "signal", "ptrace", "memory (process_vm_readv)", "memory (/proc/PID/mem)"})
            r.skip(g, n, "no --pid");
        return;
    }
    long pid = o.pid;
    r.attempt_rc(g, "see (kill 0)", sys(SYS_kill, pid, 0));
    r.attempt_rc(g, "signal (SIGCONT)", sys(SYS_kill, pid, SIGCONT));
    long t = sys(SYS_ptrace, 0x4206 /* PTRACE_SEIZE */, pid, 0, 0);
    if (t >= 0) sys(SYS_ptrace, 17 /* PTRACE_DETACH */, pid, 0, 0);
    r.attempt_rc(g, "ptrace (PTRACE_SEIZE)", t);
    char buf[16];
    struct iovec local {buf, sizeof buf}, remote {reinterpret_cast<void*>(0x400000), sizeof buf};
    long m = sys(SYS_process_vm_readv, pid, reinterpret_cast<long>(&local), 1, reinterpret_cast<long>(&remote), 1, 0);
    // EFAULT means the process was reached (only the guessed address was wrong).
    r.attempt(g, "memory (process_vm_readv)", m >= 0 || m == -EFAULT, m >= 0 ? "read" : errname(static_cast<int>(-m)));
    r.attempt_rc(g, "memory (/proc/PID/mem)", open_rc("/proc/" + std::to_string(pid) + "/mem", O_RDONLY));
    r.attempt_rc(g, "root (/proc/PID/root)", open_rc("/proc/" + std::to_string(pid) + "/root/", O_RDONLY | O_DIRECTORY));
}

void files(runner& r, const options& o) {
    const std::string g = "files";
    if (o.file.empty()) {
        for (const char* n : {"read", "write", "traversal", "symlink", "/proc/PID/root"}) r.skip(g, n, "no --file");
        return;
    }
    r.attempt_rc(g, "read", open_rc(o.file, O_RDONLY));
    r.attempt_rc(g, "write", open_rc(o.file, O_WRONLY | O_APPEND));
    r.attempt_rc(g, "traversal (/srv/www/../../..)", open_rc("/srv/www/../../.." + o.file, O_RDONLY));
    std::string link = "/tmp/.escape-link-" + std::to_string(::getpid());
    ::unlink(link.c_str());
    if (::symlink(o.file.c_str(), link.c_str()) == 0) {
        r.attempt_rc(g, "symlink to it", open_rc(link, O_RDONLY));
        ::unlink(link.c_str());
    } else {
        r.skip(g, "symlink to it", "cannot create a symlink in /tmp: " + errname(errno));
    }
    if (o.pid) r.attempt_rc(g, "via /proc/PID/root", open_rc("/proc/" + std::to_string(o.pid) + "/root" + o.file, O_RDONLY));
    // File handles name files by inode, bypassing paths: open_by_handle_at needs
    // CAP_DAC_READ_SEARCH in the initial user namespace.
    // struct file_handle ends in a flexible array: lay it out by hand (handle_bytes, type, bytes).
    alignas(8) unsigned char handle[8 + 128] = {};
    std::uint32_t cap = 128;
    std::memcpy(handle, &cap, sizeof cap);
    int mnt = 0;
    long nh = sys(SYS_name_to_handle_at, AT_FDCWD, reinterpret_cast<long>("/"), reinterpret_cast<long>(handle),
                  reinterpret_cast<long>(&mnt), 0);
    long root = sys(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    long fd = nh < 0 ? nh : sys(SYS_open_by_handle_at, root, reinterpret_cast<long>(handle), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) ::close(static_cast<int>(fd));
    if (root >= 0) ::close(static_cast<int>(root));
    if (!o.control) r.attempt_rc(g, "file handle (open_by_handle_at)", fd);
}

void shared_tmp(runner& r, const options& o) {
    const std::string g = "shared files";
    if (o.canary.empty()) {
        r.skip(g, "/tmp", "no --canary");
        r.skip(g, "/dev/shm", "no --canary");
        return;
    }
    r.attempt_rc(g, "see /tmp/" + o.canary, open_rc("/tmp/" + o.canary, O_RDONLY));
    r.attempt_rc(g, "see /dev/shm/" + o.canary, open_rc("/dev/shm/" + o.canary, O_RDONLY));
}

long connect_rc(int family, const void* addr, socklen_t len, int type = SOCK_STREAM) {
    long s = sys(SYS_socket, family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) return s;
    long rc = sys(SYS_connect, s, reinterpret_cast<long>(addr), len);
    if (rc == -EINPROGRESS) {
        pollfd p{static_cast<int>(s), POLLOUT, 0};
        int n = ::poll(&p, 1, 2000);
        if (n == 0) rc = -ETIMEDOUT;
        else {
            int err = 0;
            socklen_t l = sizeof err;
            ::getsockopt(static_cast<int>(s), SOL_SOCKET, SO_ERROR, &err, &l);
            rc = err ? -err : 0;
        }
    }
    ::close(static_cast<int>(s));
    return rc;
}

long connect_tcp(const std::string& ip, int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) return -EINVAL;
    return connect_rc(AF_INET, &a, sizeof a);
}

void network(runner& r, const options& o) {
    const std::string g = "network";
    if (!o.ip.empty()) r.attempt_rc(g, "connect " + o.ip + ":80", connect_tcp(o.ip, 80));
    else r.skip(g, "connect to the target", "no --ip");
    if (o.host_port) {
        r.attempt_rc(g, "host service via 127.0.0.1:" + std::to_string(o.host_port), connect_tcp("127.0.0.1", o.host_port));
        if (!o.host_ip.empty())
            r.attempt_rc(g, "host service via " + o.host_ip + ":" + std::to_string(o.host_port),
                         connect_tcp(o.host_ip, o.host_port));
    } else {
        r.skip(g, "host services", "no --host-port");
    }
    if (!o.canary.empty()) {
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::memcpy(a.sun_path + 1, o.canary.data(), std::min(o.canary.size(), sizeof a.sun_path - 2));
        auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + o.canary.size());
        r.attempt_rc(g, "abstract unix socket @" + o.canary, connect_rc(AF_UNIX, &a, len));
    }
    if (!o.control) {
        // Sniffing needs a packet socket bound to an interface that carries the traffic.
        long s = sys(SYS_socket, AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
        if (s < 0) {
            r.attempt_rc(g, "packet socket", s);
        } else if (o.ifname.empty()) {
            ::close(static_cast<int>(s));
            r.skip(g, "packet socket on the host's interface", "no --ifname (a packet socket was created)");
        } else {
            unsigned idx = ::if_nametoindex(o.ifname.c_str());
            long b = -ENODEV;
            if (idx) {
                sockaddr_ll ll{};
                ll.sll_family = AF_PACKET;
                ll.sll_protocol = htons(ETH_P_ALL);
                ll.sll_ifindex = static_cast<int>(idx);
                b = sys(SYS_bind, s, reinterpret_cast<long>(&ll), sizeof ll);
            }
            ::close(static_cast<int>(s));
            r.attempt_rc(g, "packet socket on " + o.ifname, b);
        }
        long raw = sys(SYS_socket, AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
        if (raw >= 0) {
            ::close(static_cast<int>(raw));
            r.na(g, "raw IP socket", "created, but it sees only this site's network namespace");
        } else {
            r.attempt_rc(g, "raw IP socket", raw);
        }
    }
}

void ipc(runner& r, const options& o) {
    const std::string g = "ipc";
    if (o.canary.empty()) {
        r.skip(g, "SysV and POSIX IPC", "no --canary");
        return;
    }
    key_t k = canary_key(o.canary);
    r.attempt_rc(g, "SysV shared memory (shmget)", sys(SYS_shmget, k, 0, 0));
    r.attempt_rc(g, "SysV message queue (msgget)", sys(SYS_msgget, k, 0));
    std::string q = "/" + o.canary;
    long mq = sys(SYS_mq_open, reinterpret_cast<long>(q.c_str() + 1), O_RDONLY | O_CLOEXEC, 0, 0);
    if (mq >= 0) ::close(static_cast<int>(mq));
    r.attempt_rc(g, "POSIX message queue " + q, mq);
}

/// Kernel attack surface and the host's global state: refused for every site.
void kernel(runner& r) {
    const std::string g = "kernel";
    // Targets are harmless even where a call succeeds: a fresh directory of our own, undone.
    char dir[] = "/tmp/.escape-mnt-XXXXXX";
    if (::mkdtemp(dir)) {
        long m = sys(SYS_mount, reinterpret_cast<long>("none"), reinterpret_cast<long>(dir),
                     reinterpret_cast<long>("tmpfs"), 0, 0);
        if (m >= 0) ::umount2(dir, MNT_DETACH);
        ::rmdir(dir);
        r.attempt_rc(g, "mount tmpfs", m);
    }
    r.attempt_rc(g, "unshare user namespace", sys(SYS_unshare, CLONE_NEWUSER));
    r.attempt_rc(g, "unshare mount namespace", sys(SYS_unshare, CLONE_NEWNS));
    long nsfd = sys(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/proc/self/ns/net"), O_RDONLY | O_CLOEXEC);
    r.attempt_rc(g, "setns", nsfd < 0 ? nsfd : sys(SYS_setns, nsfd, CLONE_NEWNET));
    if (nsfd >= 0) ::close(static_cast<int>(nsfd));
    r.attempt_rc(g, "pivot_root", sys(SYS_pivot_root, reinterpret_cast<long>("/tmp"), reinterpret_cast<long>("/tmp")));
    r.attempt_rc(g, "chroot", sys(SYS_chroot, reinterpret_cast<long>("/tmp")));
    r.attempt_rc(g, "keyctl (join session keyring)", sys(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, 0));
    union {
        char raw[128];
    } attr{};
    r.attempt_rc(g, "bpf (map create)", sys(SYS_bpf, 0 /* BPF_MAP_CREATE */, reinterpret_cast<long>(&attr), sizeof attr));
    struct {
        std::uint32_t type, size;
        std::uint64_t config, rest[14];
    } pe{};
    pe.type = 1; // PERF_TYPE_SOFTWARE, config 0 = cpu-clock
    pe.size = 112;
    long pfd = sys(SYS_perf_event_open, reinterpret_cast<long>(&pe), 0, -1, -1, 0);
    if (pfd >= 0) ::close(static_cast<int>(pfd));
    r.attempt_rc(g, "perf_event_open", pfd);
    long uf = sys(SYS_userfaultfd, O_CLOEXEC);
    if (uf >= 0) ::close(static_cast<int>(uf));
    r.attempt_rc(g, "userfaultfd", uf);
    unsigned char params[120] = {};
    long io = sys(SYS_io_uring_setup, 4, reinterpret_cast<long>(params));
    if (io >= 0) ::close(static_cast<int>(io));
    r.attempt_rc(g, "io_uring_setup", io);
    long kx = sys(SYS_kexec_load, 0, 0, 0, 0);
    if (kx == -ENOSYS) r.na(g, "kexec_load", "ENOSYS: not in this kernel");
    else r.attempt_rc(g, "kexec_load", kx == -EINVAL ? 0 : kx); // EINVAL: the arguments were checked
    long mod = sys(SYS_finit_module, -1, reinterpret_cast<long>(""), 0);
    if (mod == -ENOSYS) r.na(g, "finit_module", "ENOSYS: modules are compiled out of this kernel");
    else r.attempt(g, "finit_module", mod == -EBADF, errname(static_cast<int>(-mod)));
    for (const char* f : {"/proc/sys/kernel/hostname", "/proc/sysrq-trigger", "/sys/kernel/uevent_helper"}) {
        // A masked path opens, but what opens is /dev/null bound over it: nothing reaches the
        // kernel file.
        long fd = sys(SYS_openat, AT_FDCWD, reinterpret_cast<long>(f), O_WRONLY | O_CLOEXEC);
        std::string name = std::string("write ") + f;
        if (fd < 0) {
            r.attempt_rc(g, name, fd);
            continue;
        }
        struct stat st {};
        bool masked = ::fstat(static_cast<int>(fd), &st) == 0 && S_ISCHR(st.st_mode);
        ::close(static_cast<int>(fd));
        r.attempt(g, name, !masked, masked ? "masked: /dev/null is bound over it" : "opened for writing");
    }
    r.attempt_rc(g, "mknod a block device", sys(SYS_mknodat, AT_FDCWD, reinterpret_cast<long>("/tmp/.escape-dev"),
                                                 S_IFBLK | 0600, static_cast<long>(makedev(8, 0))));
    ::unlink("/tmp/.escape-dev");
    bool any_disk = false;
    for (const char* d : {"/dev/sda", "/dev/vda", "/dev/nvme0n1", "/dev/mem", "/dev/kmsg", "/dev/port"})
        if (open_rc(d, O_RDONLY) >= 0) any_disk = true;
    r.attempt(g, "open a disk, /dev/mem, /dev/kmsg, /dev/port", any_disk, any_disk ? "one opened" : "none exists here");
    char old_name[65] = {};
    ::gethostname(old_name, sizeof old_name - 1);
    long sh = sys(SYS_sethostname, reinterpret_cast<long>(old_name), static_cast<long>(std::strlen(old_name)));
    r.attempt_rc(g, "sethostname (to its own name)", sh);
}

/// Setuid binaries must not raise our privileges. With --setuid-binary (a setuid copy of this
/// tool owned by the site's root) it is run with --report-euid: no_new_privs must keep our
/// effective uid. Setuid-root binaries of the host (/usr/bin) are owned by an id this user
/// namespace does not map, which the kernel never grants: checked by their owner.
void setuid_binary(runner& r, const options& o) {
    const std::string g = "privileges";
    if (!o.setuid_binary.empty()) {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) {
            r.skip(g, "setuid binary", "pipe failed");
            return;
        }
        pid_t c = ::fork();
        if (c == 0) {
            ::dup2(p[1], 1);
            ::execl(o.setuid_binary.c_str(), o.setuid_binary.c_str(), "--report-euid", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::close(p[1]);
        char buf[32] = {};
        ssize_t n = ::read(p[0], buf, sizeof buf - 1);
        ::close(p[0]);
        int st = 0;
        ::waitpid(c, &st, 0);
        if (n <= 0) {
            r.skip(g, "setuid binary " + o.setuid_binary, "it printed nothing");
        } else {
            long euid = std::atol(buf);
            r.attempt(g, "setuid binary raises the effective uid", euid != static_cast<long>(::geteuid()),
                      "effective uid " + std::to_string(euid) + " (ours " + std::to_string(::geteuid()) + ")");
        }
    }
    int found = 0, mapped = 0;
    for (const char* c : {"/usr/bin/passwd", "/usr/bin/su", "/usr/bin/newgrp", "/usr/bin/chsh", "/usr/bin/mount"}) {
        struct stat st {};
        if (::stat(c, &st) != 0 || !(st.st_mode & S_ISUID)) continue;
        ++found;
        if (st.st_uid != 65534) ++mapped; // the overflow uid: unmapped here
    }
    if (!found) r.skip(g, "host setuid-root binaries", "none found under /usr/bin");
    else r.attempt(g, "host setuid-root binaries owned by a mapped id", mapped > 0,
                   std::to_string(found) + " found, owned by the unmapped overflow uid");
}

int serve_canaries(const std::string& name) {
    int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path + 1, name.data(), std::min(name.size(), sizeof a.sun_path - 2));
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(s, 8) != 0) {
        std::perror("bulkhead-escape: abstract socket");
        return 1;
    }
    key_t k = canary_key(name);
    int shm = ::shmget(k, 4096, IPC_CREAT | 0600);
    int msq = ::msgget(k, IPC_CREAT | 0600);
    struct mq_attr at {};
    at.mq_maxmsg = 1;
    at.mq_msgsize = 8;
    mqd_t mq = ::mq_open(("/" + name).c_str(), O_CREAT | O_RDONLY, 0600, &at);
    int f1 = ::open(("/tmp/" + name).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    int f2 = ::open(("/dev/shm/" + name).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (shm < 0 || msq < 0 || mq == static_cast<mqd_t>(-1) || f1 < 0 || f2 < 0) {
        std::perror("bulkhead-escape: canaries");
        return 1;
    }
    std::printf("ready\n");
    std::fflush(stdout);
    for (;;) {
        int c = ::accept4(s, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) ::close(c);
    }
}

} // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&](const char* what) -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "bulkhead-escape: %s needs a value\n", what);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--json") o.json = true;
        else if (a == "--control") o.control = true;
        else if (a == "--pid") o.pid = std::atol(next("--pid").c_str());
        else if (a == "--file") o.file = next("--file");
        else if (a == "--ip") o.ip = next("--ip");
        else if (a == "--host-ip") o.host_ip = next("--host-ip");
        else if (a == "--host-port") o.host_port = std::atoi(next("--host-port").c_str());
        else if (a == "--ifname") o.ifname = next("--ifname");
        else if (a == "--canary") o.canary = next("--canary");
        else if (a == "--setuid-binary") o.setuid_binary = next("--setuid-binary");
        else if (a == "--report-euid") {
            std::printf("%u\n", ::geteuid());
            return 0;
        }
        else if (a == "--serve-canaries") return serve_canaries(next("--serve-canaries"));
        else if (a == "--help" || a == "-h") {
            std::fputs(usage, stdout);
            return 0;
        } else {
            std::fprintf(stderr, "bulkhead-escape: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    // The probes are meant for a site's compartment. On the host (the initial user namespace)
    // refuse: several of them are privileged operations that would succeed there.
    auto map = bulkhead::read_file("/proc/self/uid_map");
    if (map && map->find("4294967295") != std::string::npos) {
        std::fprintf(stderr, "bulkhead-escape: refusing to run in the host's user namespace; run it inside a "
                             "site (sitehost exec SITE -- /opt/bulkhead/bulkhead-escape ...)\n");
        return 2;
    }
    runner r(o);
    processes(r, o);
    files(r, o);
    shared_tmp(r, o);
    network(r, o);
    ipc(r, o);
    if (!o.control) {
        kernel(r);
        setuid_binary(r, o);
    }
    bool failed = false;
    for (const auto& p : r.results()) failed |= p.verdict == "FAIL";
    if (o.json) {
        bulkhead::detail::json::writer w;
        w.begin_object().field("mode", o.control ? "control" : "attack").field("uid", static_cast<std::int64_t>(::getuid()));
        w.key("probes").begin_array();
        for (const auto& p : r.results())
            w.begin_object().field("name", p.name).field("group", p.group).field("verdict", p.verdict)
                .field("detail", p.detail).end_object();
        w.end_array().field("failed", failed).end_object();
        std::printf("%s\n", w.str().c_str());
    } else {
        for (const auto& p : r.results())
            std::printf("%-5s %-13s %-46s %s\n", p.verdict.c_str(), p.group.c_str(), p.name.c_str(), p.detail.c_str());
    }
    return failed ? 1 : 0;
}
