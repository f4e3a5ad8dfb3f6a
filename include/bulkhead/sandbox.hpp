#pragma once
/// \file sandbox.hpp
/// One `sandbox::spec` composing namespaces, id maps, a mount plan, hardening, an optional
/// cgroup (CLONE_INTO_CGROUP) and an optional seccomp program, and `spawn()`: everything is
/// prepared in the parent, then one clone3(CLONE_PIDFD | namespaces); the child runs the
/// precomputed steps without allocating and reports `{step, errno}` on failure.

#include "bulkhead/config.hpp"
#include "bulkhead/detail/syscall.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"
#include "bulkhead/ns.hpp"
#include "bulkhead/process.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <linux/filter.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

extern char** environ;

BULKHEAD_NAMESPACE_BEGIN
namespace sandbox {

/// What a standard stream of the payload is connected to.
enum class stdio_mode {
    inherit, ///< the caller's descriptor
    pipe,    ///< a new pipe; the caller's end is in `spawned`
    fd,      ///< the descriptor given in `stdio::fd`
};

struct stdio {
    stdio_mode mode = stdio_mode::inherit;
    int fd = -1;
};

/// What the parent hook may use: the child's pid and a descriptor of its network namespace
/// (-1 without a new one). The hook runs while the child sets itself up (mounts, hardening);
/// the child waits for the hook to finish before it closes descriptors and executes.
struct setup_context {
    pid_t pid = -1;
    int netns_fd = -1;
};

/// Everything a sandboxed process is made of.
struct spec {
    std::vector<std::string> argv;           ///< argv[0] is looked up in PATH unless `path` is set
    std::string path;                         ///< explicit executable path (inside the sandbox)
    std::vector<std::string> env;             ///< the complete environment ("K=V"); clean by default
    ns::kind_set new_namespaces{};            ///< namespaces created by clone3
    std::vector<std::pair<ns::kind, int>> join{}; ///< prepared namespaces to setns into (fds)
    ns::id_map uid_map{};                     ///< written by the parent for a new user namespace
    ns::id_map gid_map{};
    bool deny_setgroups = true;               ///< write "deny" to setgroups before gid_map
    ns::mount_plan mounts{};                  ///< applied in the child (needs a mount namespace)
    std::string hostname{};                   ///< needs a uts namespace
    std::string domainname{};
    ns::hardening harden{};
    int cgroup_fd = -1;                       ///< cgroup2 directory fd: CLONE_INTO_CGROUP
    std::span<const sock_filter> seccomp{};   ///< installed last, after no_new_privs (caller keeps it alive)
    unsigned seccomp_flags = 0;               ///< SECCOMP_FILTER_FLAG_*
    bool init = true;                         ///< with a new pid namespace: run an init as pid 1
    bool loopback_up = true;                  ///< with a new network namespace: bring lo up
    stdio in{}, out{}, err{};
    std::string staging_parent = "/tmp";      ///< where the tmpfs root's mount point is made
    /// Runs in the parent after the id maps, while the child sets itself up; the child
    /// executes only after it returned (veth plumbing...). An error stops the start.
    std::function<result<void>(const setup_context&)> before_start{};
};

/// A running sandbox: the process (pid 1 of its pid namespace when there is one) and the
/// caller's ends of the stdio pipes.
struct spawned {
    child process;
    unique_fd stdin_fd;  ///< write end when in = pipe
    unique_fd stdout_fd; ///< read end when out = pipe
    unique_fd stderr_fd; ///< read end when err = pipe
};

namespace detail {

/// Work the parent does after the go byte, while the child sets itself up on the other core.
/// (Bringing lo up from the parent through setns was measured too: no faster than the child's
/// one RTM_NEWLINK, so the child keeps it.)
struct parent_work {
    bool hook = false; ///< spec::before_start
    [[nodiscard]] bool any() const noexcept { return hook; }
};

/// The go channel: a socket pair (read = the child's end, write = the parent's).
[[nodiscard]] inline result<pipe_pair> make_sync() noexcept {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) return error::from_errno("socketpair");
    return pipe_pair{unique_fd(fds[0]), unique_fd(fds[1])};
}

/// A directory this process created, removed on destruction.
class temp_dir {
public:
    temp_dir() = default;
    explicit temp_dir(std::string p) : path_(std::move(p)) {}
    temp_dir(temp_dir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
    temp_dir& operator=(temp_dir&&) = delete;
    ~temp_dir() {
        if (!path_.empty()) ::rmdir(path_.c_str());
    }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
};

/// The ordered child program for `s`. `sync_fd` is the read end the child waits on;
/// `err_fd` the failure pipe; `parent_pid` is checked after PR_SET_PDEATHSIG when the child
/// stays in our pid namespace.
inline result<void> compile(const spec& s, ns::detail::program& p, int sync_fd, int err_fd,
                            const std::string& staging, const std::array<int, 3>& stdio_src,
                            const parent_work& work) {
    using ns::detail::op;
    using ns::detail::step;
    const bool new_pid = s.new_namespaces.has(ns::kind::pid);
    // A joined pid namespace is entered by the parent around clone3 (setns only moves the
    // children of the caller), so the child sees no parent of its own: no getppid() check.
    const bool joined_pid = std::any_of(s.join.begin(), s.join.end(),
                                        [](const auto& j) { return j.first == ns::kind::pid; });
    const pid_t me = ::getpid();

    step pd;
    pd.code = op::pdeathsig;
    pd.x = static_cast<std::uint64_t>(s.harden.parent_death_signal ? s.harden.parent_death_signal : 0);
    pd.y = (new_pid || joined_pid) ? 0 : static_cast<std::uint64_t>(me);
    if (s.harden.parent_death_signal) p.add(pd, "set parent-death signal", {});

    step go;
    go.code = op::wait_go;
    go.fd = sync_fd;
    go.flags = work.any() ? 1 : 0; // a second byte comes when the parent's own work is done
    p.add(go, "wait for parent", {});

    // The caller's ignored signals (SIGPIPE, SIGCHLD...) would survive exec and break init.
    step rs;
    rs.code = op::reset_signals;
    p.add(rs, "reset signal dispositions", {});

    // In a new user namespace the child still has the creator's kernel ids, which the map
    // usually leaves unmapped: become the mapped root (or the requested ids) before mounting.
    if (s.new_namespaces.has(ns::kind::user)) {
        std::optional<std::uint32_t> g, u;
        if (s.gid_map.to_outside(0)) g = 0;
        else if (s.harden.gid && s.gid_map.to_outside(*s.harden.gid)) g = *s.harden.gid;
        if (s.uid_map.to_outside(0)) u = 0;
        else if (s.harden.uid && s.uid_map.to_outside(*s.harden.uid)) u = *s.harden.uid;
        if (g) {
            step sg;
            sg.code = op::setresgid;
            sg.x = *g;
            p.add(sg, "setresgid", std::to_string(*g));
        }
        if (u) {
            step su;
            su.code = op::setresuid;
            su.x = *u;
            p.add(su, "setresuid", std::to_string(*u));
        }
        if ((g || u) && s.harden.parent_death_signal) {
            step again = pd; // credential changes clear the parent-death signal
            again.y = 0;
            p.add(again, "set parent-death signal", {});
        }
    }

    // Prepared namespaces first, user namespace before the others it owns.
    auto joins = s.join;
    std::stable_sort(joins.begin(), joins.end(), [](auto& a, auto& b) {
        return (a.first == ns::kind::user) > (b.first == ns::kind::user);
    });
    for (auto [k, fd] : joins) {
        if (k == ns::kind::pid) continue; // entered by the parent, see spawn()
        step j;
        j.code = op::setns;
        j.fd = fd;
        j.x = ns::clone_flag(k);
        p.add(j, "setns", ns::name(k));
    }

    // lo up, by the child itself: one prebuilt RTM_NEWLINK (lo is index 1 in a new netns).
    if (s.new_namespaces.has(ns::kind::net) && s.loopback_up) {
        nlmsghdr h{};
        ifinfomsg ifi{};
        ifi.ifi_family = AF_UNSPEC;
        ifi.ifi_index = 1;
        ifi.ifi_flags = IFF_UP;
        ifi.ifi_change = IFF_UP;
        h.nlmsg_len = static_cast<std::uint32_t>(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof ifi));
        h.nlmsg_type = RTM_NEWLINK;
        h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        h.nlmsg_seq = 1;
        auto& bytes = p.byte_arrays.emplace_back(h.nlmsg_len);
        std::memcpy(bytes.data(), &h, sizeof h);
        std::memcpy(bytes.data() + NLMSG_HDRLEN, &ifi, sizeof ifi);
        step lo;
        lo.code = op::netlink;
        lo.ptr = bytes.data();
        lo.x = bytes.size();
        p.add(lo, "bring up", "lo");
    }

    if (!s.mounts.empty()) BULKHEAD_TRY(s.mounts.compile(p, staging));

    if (!s.hostname.empty()) {
        step h;
        h.code = op::sethostname;
        h.a = p.str(s.hostname);
        h.x = s.hostname.size();
        p.add(h, "sethostname", s.hostname);
    }
    if (!s.domainname.empty()) {
        step h;
        h.code = op::setdomainname;
        h.a = p.str(s.domainname);
        h.x = s.domainname.size();
        p.add(h, "setdomainname", s.domainname);
    }

    if (new_pid && s.init) {
        sigset_t& waitset = p.sigsets.emplace_back();
        sigemptyset(&waitset);
        for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
                        SIGCONT, SIGALRM, SIGPWR})
            sigaddset(&waitset, sig);
        step b;
        b.code = op::sigmask;
        b.ptr = &waitset;
        p.add(b, "block signals for init", {});
        step f;
        f.code = op::fork_init;
        f.ptr = &waitset;
        p.add(f, "fork init", {});
#if !BULKHEAD_SANITIZED
        // 64 KiB for the payload's last steps (see ns::detail::split_init). Sanitizer
        // runtimes keep per-stack state, so those builds fork the init instead.
        p.payload_stack.resize(64 * 1024 / sizeof(std::uint64_t));
#endif
    }
    // The payload starts with no blocked signals whatever the caller had.
    sigset_t& empty = p.sigsets.emplace_back();
    sigemptyset(&empty);
    step um;
    um.code = op::sigmask;
    um.ptr = &empty;
    p.add(um, "unblock signals", {});

    const auto& h = s.harden;
    if (h.new_session) {
        step ss;
        ss.code = op::setsid;
        p.add(ss, "setsid", {});
    }
    if (h.umask) {
        step u;
        u.code = op::umask;
        u.x = *h.umask;
        p.add(u, "umask", {});
    }
    if (!h.cwd.empty()) {
        step c;
        c.code = op::chdir;
        c.a = p.str(h.cwd);
        p.add(c, "chdir", h.cwd);
    }
    for (const auto& r : h.rlimits) {
        step rl;
        rl.code = op::rlimit;
        rl.x = static_cast<std::uint64_t>(r.resource);
        rl.y = r.soft;
        rl.z = r.hard;
        std::string name = "resource " + std::to_string(r.resource);
        for (const auto& t : ns::detail::rlimit_table)
            if (t.resource == r.resource) name = "RLIMIT_" + std::string(t.name);
        p.add(rl, "setrlimit", name);
    }
    const int last_cap = ns::kernel_cap_last_cap();
    const std::uint64_t keep = h.keep_caps.mask();
    step bd;
    bd.code = op::bounding;
    bd.x = keep;
    bd.y = static_cast<std::uint64_t>(last_cap);
    p.add(bd, "drop bounding capabilities", {});
    const bool change_ids = h.uid || h.gid || h.groups;
    if (h.securebits || (change_ids && keep)) {
        step sb;
        sb.code = op::securebits;
        sb.x = h.securebits.value_or(0) | (change_ids && keep ? ns::securebits::keep_caps : 0);
        p.add(sb, "set securebits", {});
    }
    if (h.groups) {
        auto& g = p.gid_arrays.emplace_back(*h.groups);
        step sg;
        sg.code = op::setgroups;
        sg.ptr = g.data();
        sg.x = g.size();
        p.add(sg, "setgroups", {});
    }
    if (h.gid) {
        step sg;
        sg.code = op::setresgid;
        sg.x = *h.gid;
        p.add(sg, "setresgid", std::to_string(*h.gid));
    }
    if (h.uid) {
        step su;
        su.code = op::setresuid;
        su.x = *h.uid;
        p.add(su, "setresuid", std::to_string(*h.uid));
    }
    step cs;
    cs.code = op::capset;
    cs.x = keep;
    p.add(cs, "capset", {});
    step am;
    am.code = op::ambient;
    am.x = keep;
    am.y = static_cast<std::uint64_t>(last_cap);
    p.add(am, "set ambient capabilities", {});
    if (h.no_new_privs) {
        step n;
        n.code = op::no_new_privs;
        p.add(n, "set no_new_privs", {});
    }
    if (h.parent_death_signal && change_ids) {
        step pd2 = pd; // credential changes clear it: set it again
        p.add(pd2, "set parent-death signal", {});
    }
    if (work.any()) {
        // As late as possible (the parent's work overlaps everything above), but before the
        // descriptors are rearranged: the sync fd may be one the dup2s below overwrite.
        step ready;
        ready.code = op::wait_go;
        ready.fd = sync_fd;
        p.add(ready, "wait for parent", "before_start");
    }
    for (int i = 0; i < 3; ++i) {
        if (stdio_src[static_cast<std::size_t>(i)] < 0) continue;
        step d;
        d.code = op::dup2;
        d.fd = stdio_src[static_cast<std::size_t>(i)];
        d.x = static_cast<std::uint64_t>(i);
        p.add(d, "dup2 stdio", std::to_string(i));
    }
    for (int fd : h.keep_fds) {
        step c;
        c.code = op::clear_cloexec;
        c.fd = fd;
        p.add(c, "pass fd", std::to_string(fd));
    }
    if (h.close_fds) {
        auto& k = p.int_arrays.emplace_back(h.keep_fds);
        k.push_back(err_fd); // close-on-exec: it reports exec failures, then closes itself
        std::sort(k.begin(), k.end());
        step c;
        c.code = op::close_fds;
        c.ptr = k.data();
        c.x = k.size();
        p.add(c, "close fds", {});
    }
    if (!s.seccomp.empty()) {
        auto& fp = p.fprogs.emplace_back();
        fp.len = static_cast<unsigned short>(s.seccomp.size());
        fp.filter = const_cast<sock_filter*>(s.seccomp.data());
        step sc;
        sc.code = op::seccomp;
        sc.ptr = &fp;
        sc.x = s.seccomp_flags;
        p.add(sc, "install seccomp filter", std::to_string(s.seccomp.size()) + " instructions");
    }

    // argv, envp and the executable candidates.
    auto& argv = p.ptr_arrays.emplace_back();
    for (const auto& a : s.argv) argv.push_back(const_cast<char*>(p.str(a)));
    argv.push_back(nullptr);
    auto& envp = p.ptr_arrays.emplace_back();
    for (const auto& e : s.env) envp.push_back(const_cast<char*>(p.str(e)));
    envp.push_back(nullptr);
    auto& cands = p.ptr_arrays.emplace_back();
    std::string what = s.path.empty() ? s.argv[0] : s.path;
    if (!s.path.empty() || s.argv[0].find('/') != std::string::npos) {
        cands.push_back(const_cast<char*>(p.str(what)));
    } else {
        std::string path_var = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (const auto& e : s.env)
            if (e.rfind("PATH=", 0) == 0) path_var = e.substr(5);
        for (auto dir : bulkhead::detail::split(path_var, ':')) {
            std::string d = dir.empty() ? std::string(".") : std::string(dir);
            cands.push_back(const_cast<char*>(p.str(d + "/" + s.argv[0])));
        }
    }
    cands.push_back(nullptr);
    step ex;
    ex.code = op::exec;
    ex.ptr = cands.data();
    ex.argv = argv.data();
    ex.envp = envp.data();
    p.add(ex, "execute", what);
    return {};
}

inline result<void> validate(const spec& s) {
    if (s.argv.empty() || s.argv[0].empty())
        return error(errc::invalid_argument, "sandbox spec").subject("argv").note("no command");
    for (auto [k, fd] : s.join) {
        if (s.new_namespaces.has(k))
            return error(errc::invalid_argument, "sandbox spec").subject(ns::name(k)).note("both joined and created");
        if (fd < 0) return error(errc::invalid_argument, "sandbox spec").subject(ns::name(k)).note("join fd is -1");
    }
    if (!s.mounts.empty() && !s.new_namespaces.has(ns::kind::mount))
        return error(errc::invalid_argument, "sandbox spec").subject("mounts").note("a mount plan needs a new mount namespace");
    if (!s.hostname.empty() && !s.new_namespaces.has(ns::kind::uts))
        return error(errc::invalid_argument, "sandbox spec").subject("hostname").note("needs a new uts namespace");
    if (s.new_namespaces.has(ns::kind::user)) {
        BULKHEAD_TRY(s.uid_map.validate());
        BULKHEAD_TRY(s.gid_map.validate());
    } else if (!s.uid_map.empty() || !s.gid_map.empty()) {
        return error(errc::invalid_argument, "sandbox spec").subject("id maps").note("need a new user namespace");
    }
    if (s.harden.groups && s.new_namespaces.has(ns::kind::user) && s.deny_setgroups)
        return error(errc::invalid_argument, "sandbox spec").subject("groups").note("setgroups is denied in the new user namespace (set deny_setgroups = false)");
    if (s.seccomp.size() > 4096)
        return error(errc::too_large, "sandbox spec").subject("seccomp").note("more than 4096 instructions");
    return {};
}

/// The parent's share of the start (see parent_work), done after the go byte.
inline result<void> parent_side(const spec& s, const parent_work& work, pid_t pid) {
    unique_fd netns;
    if (s.new_namespaces.has(ns::kind::net)) {
        BULKHEAD_TRY_ASSIGN(netns, ns::open_ns(ns::kind::net, pid));
    }
    if (work.hook) BULKHEAD_TRY(s.before_start(setup_context{pid, netns.get()}));
    return {};
}

} // namespace detail

/// The environment variable PATH etc. a clean environment starts with.
[[nodiscard]] inline std::vector<std::string> default_env() {
    return {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", "TERM=dumb"};
}

/// Starts the sandbox. On any failure everything made so far is undone (the child is killed
/// and reaped, the staging directory removed) and the error names the failed step.
[[nodiscard]] inline result<spawned> spawn(const spec& s) {
    BULKHEAD_TRY(detail::validate(s));

    std::optional<detail::temp_dir> staging;
    if (s.mounts.uses_staging()) {
        std::string tmpl = s.staging_parent + "/.bulkhead-root.XXXXXX";
        if (!::mkdtemp(tmpl.data())) return error::from_errno("create staging directory").subject(tmpl);
        staging.emplace(tmpl);
    }

    BULKHEAD_TRY_ASSIGN(auto sync, detail::make_sync());
    BULKHEAD_TRY_ASSIGN(auto errp, make_pipe());

    spawned out;
    std::array<int, 3> src{-1, -1, -1};
    unique_fd child_ends[3];
    const stdio* ios[3] = {&s.in, &s.out, &s.err};
    for (int i = 0; i < 3; ++i) {
        const auto& io = *ios[i];
        if (io.mode == stdio_mode::fd) {
            if (io.fd < 0) return error(errc::invalid_argument, "sandbox spec").subject("stdio fd").note("fd mode with fd -1");
            src[static_cast<std::size_t>(i)] = io.fd;
        } else if (io.mode == stdio_mode::pipe) {
            BULKHEAD_TRY_ASSIGN(auto pp, make_pipe());
            if (i == 0) {
                child_ends[0] = std::move(pp.read);
                out.stdin_fd = std::move(pp.write);
            } else {
                child_ends[i] = std::move(pp.write);
                (i == 1 ? out.stdout_fd : out.stderr_fd) = std::move(pp.read);
            }
            src[static_cast<std::size_t>(i)] = child_ends[i].get();
        }
    }

    detail::parent_work work;
    work.hook = static_cast<bool>(s.before_start);
    ns::detail::program prog;
    BULKHEAD_TRY(detail::compile(s, prog, sync.read.get(), errp.write.get(),
                                 staging ? staging->path() : std::string(), src, work));

    int pidfd = -1;
    // A prepared pid namespace: setns(CLONE_NEWPID) changes where this thread's next child is
    // born (pid_for_children), so it is done here around clone3 and undone right after.
    int join_pid = -1;
    for (auto [k, fd] : s.join)
        if (k == ns::kind::pid) join_pid = fd;
    unique_fd own_pid;
    if (join_pid >= 0) {
        BULKHEAD_TRY_ASSIGN(own_pid, ns::open_ns(ns::kind::pid));
        if (::setns(join_pid, CLONE_NEWPID) < 0) return error::from_errno("setns pid (parent side)");
    }
    // CLONE_CLEAR_SIGHAND: none of the caller's handlers may run in the child before exec.
    long pid = bulkhead::detail::clone3_pidfd(s.new_namespaces.flags() | CLONE_CLEAR_SIGHAND, &pidfd,
                                              s.cgroup_fd);
    int clone_errno = errno;
    if (join_pid >= 0 && pid != 0 && ::setns(own_pid.get(), CLONE_NEWPID) < 0) {
        // Our own active pid namespace is always a valid target; never go on in the wrong one.
        std::perror("bulkhead: restore pid namespace");
        std::abort();
    }
    if (pid < 0) return error::from_errno("clone3", clone_errno);
    if (pid == 0) ns::detail::run_child(prog, errp.write.get());

    out.process = child(unique_fd(pidfd), static_cast<pid_t>(pid));
    sync.read.reset();
    errp.write.reset();
    for (auto& c : child_ends) c.reset();

    // The child's failure record, if it wrote one: read until it is complete or the pipe
    // closes (the child executed or exited).
    auto read_record = [&](ns::detail::failure_record& rec) -> result<std::size_t> {
        std::size_t got = 0;
        while (got < sizeof rec) {
            ssize_t n = ::read(errp.read.get(), reinterpret_cast<char*>(&rec) + got, sizeof rec - got);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return error::from_errno("read child status");
            if (n == 0) break;
            got += static_cast<std::size_t>(n);
        }
        return got;
    };
    // A failure on the parent's side after the clone: the child is killed; if it had already
    // failed on its own, its step is the cause to report.
    auto fail = [&](error e) -> error {
        (void)out.process.kill();
        sync.write.reset();
        ns::detail::failure_record rec{};
        auto got = read_record(rec);
        if (got && *got == sizeof rec) return prog.to_error(rec);
        return e;
    };
    if (s.new_namespaces.has(ns::kind::user)) {
        const auto cpid = static_cast<pid_t>(pid);
        if (s.deny_setgroups) {
            if (auto r = ns::deny_setgroups(cpid); !r) return fail(std::move(r).error());
        }
        if (!s.uid_map.empty()) {
            if (auto r = s.uid_map.write_for(cpid, "uid_map"); !r) return fail(std::move(r).error());
        }
        if (!s.gid_map.empty()) {
            if (auto r = s.gid_map.write_for(cpid, "gid_map"); !r) return fail(std::move(r).error());
        }
    }
    // A socket, not a pipe: a child that died early must give EPIPE here, never a SIGPIPE
    // that kills the caller.
    auto signal_child = [&]() -> int {
        char go = 1;
        for (;;) {
            if (::send(sync.write.get(), &go, 1, MSG_NOSIGNAL) == 1) return 0;
            if (errno != EINTR) return errno;
        }
    };
    int signal_errno = signal_child();
    const char* signal_step = "signal child to start";
    if (signal_errno == 0 && work.any()) {
        // While the child mounts and hardens itself on the other core.
        auto done = detail::parent_side(s, work, static_cast<pid_t>(pid));
        if (!done) return fail(std::move(done).error());
        signal_errno = signal_child();
        signal_step = "signal child to go on";
    }
    sync.write.reset();

    ns::detail::failure_record rec{};
    BULKHEAD_TRY_ASSIGN(std::size_t got, read_record(rec));
    if (got == sizeof rec) return prog.to_error(rec);
    if (got != 0) return error(errc::protocol_error, "read child status").note("short failure record");
    if (signal_errno != 0) return error::from_errno(signal_step, signal_errno);
    return out;
}

/// Spawns and waits: the payload's exit status (pid 1's, which mirrors the payload's).
[[nodiscard]] inline result<exit_status> run(const spec& s) {
    BULKHEAD_TRY_ASSIGN(auto sp, spawn(s));
    return sp.process.wait();
}

} // namespace sandbox
BULKHEAD_NAMESPACE_END
