// bulkhead-run: a command-line sandbox runner (like bwrap) built on bulkhead::sandbox.
#include "bulkhead/detail/json.hpp"
#include "bulkhead/ns.hpp"
#include "bulkhead/sandbox.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace bulkhead;

namespace {

// Exit codes for failures of bulkhead-run itself (the payload's own code passes through).
constexpr int exit_usage = 125;    // bad flags, or setup failed before the command could start
constexpr int exit_cannot_run = 126; // the command exists but could not be executed
constexpr int exit_not_found = 127;  // the command was not found

const char* const usage_text = R"(Usage: bulkhead-run [OPTIONS] [--] COMMAND [ARG...]

Runs COMMAND in new Linux namespaces with a declarative mount plan, dropped capabilities,
no_new_privs, rlimits, an optional seccomp filter and an optional cgroup.
Options are applied in the order given where order matters (mounts).

Namespaces:
  --unshare-user --unshare-pid --unshare-net --unshare-ipc --unshare-uts
  --unshare-cgroup --unshare-mount --unshare-time
                          create that namespace (a mount namespace is implied by mounts)
  --unshare-all           user, pid, mount, net, ipc, uts and cgroup namespaces
  --share-net             with --unshare-all: stay in the caller's network namespace
  --join-net PATH         join a prepared network namespace (a pinned nsfs file)

Identity (user namespace):
  --uid-map IN:OUT:COUNT[,IN:OUT:COUNT...]   uid map (several ranges allowed)
  --gid-map IN:OUT:COUNT[,...]               gid map
  --uid N, --gid N        ids inside; without maps N maps to the caller's id (single id)
  --allow-setgroups       do not write "deny" to /proc/PID/setgroups

Filesystem (a new root on a tmpfs unless --root-dir is given):
  --root-dir DIR          use DIR as the new root (bound onto itself)
  --root-ro               make the new root read-only after all mounts
  --bind SRC DST          bind mount (recursive, read-write)
  --ro-bind SRC DST       bind mount, read-only
  --tmpfs DST             tmpfs (mode 1777 unless --perms); --size SIZE before it sets the size
  --size SIZE             size of the next --tmpfs ("64m", bytes, "50%")
  --perms OCTAL           mode of the next --tmpfs or --dir
  --proc DST              proc (hidepid=invisible with --hidepid)
  --hidepid               mount the next --proc with hidepid=invisible
  --dev DST               minimal /dev: null zero full random urandom tty (host nodes, bound
                          as they are), devpts (newinstance), shm, fd/stdin/stdout/stderr
  --dir DST               create a directory
  --symlink TARGET LINK   create a symbolic link
  --mask PATH             hide PATH (empty read-only tmpfs, or /dev/null over a file)
  --mask-defaults         hide the OCI default paths (/proc/kcore, /proc/keys, /sys/firmware...)
  --ro PATH               make an already mounted PATH read-only
  --ro-defaults           the OCI default read-only paths (/proc/sys, /proc/bus, ...)

Process:
  --hostname NAME         hostname (needs --unshare-uts)
  --chdir DIR             working directory (default /)
  --setenv VAR VALUE      set a variable (the environment starts clean: PATH, HOME, TERM)
  --keep-env              start from the caller's environment instead
  --cap-keep CAP          keep a capability (repeatable; default: none)
  --rlimit NAME=SOFT[:HARD]   e.g. NOFILE=1024:4096, CORE=0, NPROC=unlimited
  --allow-new-privs       do not set no_new_privs
  --no-new-session        do not call setsid()
  --no-init               no init process as pid 1 (the command is pid 1)
  --seccomp FILE          raw BPF program (struct sock_filter array) installed last

cgroup:
  --cgroup PATH           spawn into this cgroup2 directory (CLONE_INTO_CGROUP)
  --memory-max V, --cpu-max "QUOTA PERIOD", --pids-max V
                          written to memory.max / cpu.max / pids.max of --cgroup first

Network:
  --net                   own network namespace with a veth pair to the caller's namespace
  --ip ADDR/PREFIX        address of the sandbox end (eth0), repeatable (IPv4 or IPv6)
  --peer-ip ADDR/PREFIX   address of the caller's end; also the sandbox's default gateway
  --veth NAME             name of the caller's end (default bh<pid>)

Output:
  --json-status           write JSON status lines to stderr ("started", "exited", "error")
  --help                  this text

Exit status: the command's exit code; 128+N if it was killed by signal N; 125 when
bulkhead-run's flags are wrong or the sandbox could not be set up (mount, pivot_root, id maps,
network, cgroup...); 126 when the command could not be executed; 127 when it was not found.
Errors name the flag or the failed step, e.g.
  bulkhead-run: mount /proc at /proc: Operation not permitted
)";

struct options {
    sandbox::spec spec;
    bool json = false;
    bool want_net = false;
    bool share_net = false;
    std::vector<ns::ip_prefix> ips;
    std::optional<ns::ip_prefix> peer_ip;
    std::string veth;
    std::string cgroup;
    std::vector<std::pair<const char*, std::string>> cgroup_files;
    std::string seccomp_file;
    std::string join_net;
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    std::string next_size;
    std::optional<mode_t> next_perms;
    bool next_hidepid = false;
    bool mounts_used = false;
};

[[noreturn]] void die(const std::string& msg, int code = exit_usage, bool json = false) {
    if (json) {
        detail::json::writer w;
        w.begin_object().field("event", "error").field("message", msg).field("exit_code", code).end_object();
        std::fprintf(stderr, "%s\n", w.str().c_str());
    }
    std::fprintf(stderr, "bulkhead-run: %s\n", msg.c_str());
    std::exit(code);
}

std::optional<mode_t> parse_mode(std::string_view s) {
    auto v = detail::parse_int<unsigned>(s, 8);
    if (!v || *v > 07777) return std::nullopt;
    return static_cast<mode_t>(*v);
}

options parse(int argc, char** argv) {
    options o;
    auto& s = o.spec;
    s.env = sandbox::default_env();
    int i = 1;
    auto need = [&](const char* flag, int n) {
        if (i + n >= argc) die(std::string(flag) + ": needs " + std::to_string(n) + (n == 1 ? " argument" : " arguments"));
    };
    auto mounts = [&]() -> ns::mount_plan& {
        if (!o.mounts_used) {
            o.mounts_used = true;
            if (!s.mounts.has_root()) s.mounts.root_tmpfs();
        }
        return s.mounts;
    };
    for (; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a.empty() || a[0] != '-') break;
        auto unshare = [&](ns::kind k) { s.new_namespaces.add(k); };
        if (a == "--help" || a == "-h") {
            std::fputs(usage_text, stdout);
            std::exit(0);
        } else if (a == "--unshare-user") unshare(ns::kind::user);
        else if (a == "--unshare-pid") unshare(ns::kind::pid);
        else if (a == "--unshare-net") unshare(ns::kind::net);
        else if (a == "--unshare-ipc") unshare(ns::kind::ipc);
        else if (a == "--unshare-uts") unshare(ns::kind::uts);
        else if (a == "--unshare-cgroup") unshare(ns::kind::cgroup);
        else if (a == "--unshare-mount") unshare(ns::kind::mount);
        else if (a == "--unshare-time") unshare(ns::kind::time);
        else if (a == "--unshare-all") {
            for (auto k : {ns::kind::user, ns::kind::pid, ns::kind::mount, ns::kind::net, ns::kind::ipc,
                           ns::kind::uts, ns::kind::cgroup})
                unshare(k);
        } else if (a == "--share-net") o.share_net = true;
        else if (a == "--join-net") { need("--join-net", 1); o.join_net = argv[++i]; }
        else if (a == "--uid-map" || a == "--gid-map") {
            need(argv[i], 1);
            auto m = ns::id_map::parse_spec(argv[i + 1]);
            if (!m) die(std::string(a) + " " + argv[i + 1] + ": " + m.error().message());
            (a == "--uid-map" ? s.uid_map : s.gid_map) = std::move(*m);
            ++i;
        } else if (a == "--uid" || a == "--gid") {
            need(argv[i], 1);
            auto v = detail::parse_int<std::uint32_t>(argv[i + 1]);
            if (!v) die(std::string(a) + ": not a number: " + argv[i + 1]);
            if (a == "--uid") o.uid = *v; else o.gid = *v;
            ++i;
        } else if (a == "--allow-setgroups") s.deny_setgroups = false;
        else if (a == "--root-dir") { need("--root-dir", 1); s.mounts.root_directory(argv[++i]); o.mounts_used = true; }
        else if (a == "--root-ro") { mounts().root_read_only(); }
        else if (a == "--bind" || a == "--ro-bind") {
            need(argv[i], 2);
            if (a == "--bind") mounts().bind(argv[i + 1], argv[i + 2]);
            else mounts().ro_bind(argv[i + 1], argv[i + 2]);
            i += 2;
        } else if (a == "--size") { need("--size", 1); o.next_size = argv[++i]; }
        else if (a == "--perms") {
            need("--perms", 1);
            o.next_perms = parse_mode(argv[i + 1]);
            if (!o.next_perms) die(std::string("--perms: not an octal mode: ") + argv[i + 1]);
            ++i;
        } else if (a == "--tmpfs") {
            need("--tmpfs", 1);
            ns::tmpfs_options t;
            t.size = std::exchange(o.next_size, {});
            if (o.next_perms) t.mode = *std::exchange(o.next_perms, std::nullopt);
            mounts().tmpfs(argv[++i], t);
        } else if (a == "--hidepid") o.next_hidepid = true;
        else if (a == "--proc") {
            need("--proc", 1);
            mounts().proc(argv[++i], std::exchange(o.next_hidepid, false) ? ns::hidepid::invisible : ns::hidepid::off);
        } else if (a == "--dev") { need("--dev", 1); mounts().dev(argv[++i]); }
        else if (a == "--dir") {
            need("--dir", 1);
            mode_t m = 0755;
            if (o.next_perms) m = *std::exchange(o.next_perms, std::nullopt);
            mounts().dir(argv[++i], m);
        } else if (a == "--symlink") { need("--symlink", 2); mounts().symlink(argv[i + 1], argv[i + 2]); i += 2; }
        else if (a == "--mask") { need("--mask", 1); mounts().mask(argv[++i]); }
        else if (a == "--mask-defaults") mounts().mask_defaults();
        else if (a == "--ro") { need("--ro", 1); mounts().read_only(argv[++i]); }
        else if (a == "--ro-defaults") mounts().read_only_defaults();
        else if (a == "--hostname") { need("--hostname", 1); s.hostname = argv[++i]; }
        else if (a == "--chdir") { need("--chdir", 1); s.harden.cwd = argv[++i]; }
        else if (a == "--setenv") {
            need("--setenv", 2);
            std::string var = argv[i + 1];
            if (var.empty() || var.find('=') != std::string::npos) die("--setenv: bad variable name: " + var);
            std::erase_if(s.env, [&](const std::string& e) { return e.rfind(var + "=", 0) == 0; });
            s.env.push_back(var + "=" + argv[i + 2]);
            i += 2;
        } else if (a == "--keep-env") {
            s.env.clear();
            for (char** e = environ; *e; ++e) s.env.emplace_back(*e);
        } else if (a == "--cap-keep") {
            need("--cap-keep", 1);
            auto c = ns::parse_capability(argv[i + 1]);
            if (!c) die("--cap-keep: " + c.error().message());
            s.harden.keep_caps.add(*c);
            ++i;
        } else if (a == "--rlimit") {
            need("--rlimit", 1);
            auto r = ns::parse_rlimit(argv[i + 1]);
            if (!r) die("--rlimit: " + r.error().message());
            s.harden.rlimits.push_back(*r);
            ++i;
        } else if (a == "--allow-new-privs") s.harden.no_new_privs = false;
        else if (a == "--no-new-session") s.harden.new_session = false;
        else if (a == "--no-init") s.init = false;
        else if (a == "--seccomp") { need("--seccomp", 1); o.seccomp_file = argv[++i]; }
        else if (a == "--cgroup") { need("--cgroup", 1); o.cgroup = argv[++i]; }
        else if (a == "--memory-max") { need(argv[i], 1); o.cgroup_files.push_back({"memory.max", argv[++i]}); }
        else if (a == "--cpu-max") { need(argv[i], 1); o.cgroup_files.push_back({"cpu.max", argv[++i]}); }
        else if (a == "--pids-max") { need(argv[i], 1); o.cgroup_files.push_back({"pids.max", argv[++i]}); }
        else if (a == "--net") o.want_net = true;
        else if (a == "--ip" || a == "--peer-ip") {
            need(argv[i], 1);
            auto p = ns::ip_prefix::parse(argv[i + 1]);
            if (!p) die(std::string(a) + ": " + p.error().message());
            if (a == "--ip") o.ips.push_back(*p); else o.peer_ip = *p;
            ++i;
        } else if (a == "--veth") {
            need("--veth", 1);
            o.veth = argv[++i];
            if (o.veth.empty() || o.veth.size() > 15) die("--veth: interface names are 1-15 bytes");
        } else if (a == "--json-status") o.json = true;
        else die("unknown option " + std::string(a) + " (see --help)");
    }
    if (i >= argc) die("no command given (see --help)");
    for (; i < argc; ++i) s.argv.emplace_back(argv[i]);

    if (o.share_net) s.new_namespaces.remove(ns::kind::net);
    if (o.want_net) s.new_namespaces.add(ns::kind::net);
    if (o.mounts_used) s.new_namespaces.add(ns::kind::mount);
    if (!o.cgroup_files.empty() && o.cgroup.empty()) die("--memory-max/--cpu-max/--pids-max need --cgroup PATH");
    if ((!o.ips.empty() || o.peer_ip || !o.veth.empty()) && !o.want_net) die("--ip/--peer-ip/--veth need --net");
    if (!o.next_size.empty()) die("--size: must come before a --tmpfs");
    s.harden.uid = o.uid;
    s.harden.gid = o.gid;
    if (s.new_namespaces.has(ns::kind::user)) {
        // Without explicit maps: the inside id (0 unless --uid/--gid) maps to the caller's.
        if (s.uid_map.empty()) s.uid_map = ns::id_map::single(o.uid.value_or(0), ::getuid());
        if (s.gid_map.empty()) s.gid_map = ns::id_map::single(o.gid.value_or(0), ::getgid());
    } else if (!s.uid_map.empty() || !s.gid_map.empty()) {
        die("--uid-map/--gid-map need --unshare-user");
    }
    return o;
}

int exit_code_for(const error& e, bool exec_step) {
    if (!exec_step) return exit_usage;
    return e.sys_errno() == ENOENT ? exit_not_found : exit_cannot_run;
}

} // namespace

int main(int argc, char** argv) {
    options o = parse(argc, argv);
    auto& s = o.spec;
    const bool json = o.json;

    std::vector<sock_filter> filter;
    if (!o.seccomp_file.empty()) {
        auto bytes = read_file(o.seccomp_file.c_str(), AT_FDCWD, 1u << 20);
        if (!bytes) die("--seccomp: " + bytes.error().message(), exit_usage, json);
        if (bytes->empty() || bytes->size() % sizeof(sock_filter) != 0)
            die("--seccomp " + o.seccomp_file + ": size " + std::to_string(bytes->size()) +
                    " is not a positive multiple of 8 (struct sock_filter)", exit_usage, json);
        filter.resize(bytes->size() / sizeof(sock_filter));
        std::memcpy(filter.data(), bytes->data(), bytes->size());
        s.seccomp = filter;
    }

    unique_fd cgfd;
    if (!o.cgroup.empty()) {
        auto f = open_fd(o.cgroup.c_str(), O_RDONLY | O_DIRECTORY);
        if (!f) die("--cgroup: " + f.error().message(), exit_usage, json);
        cgfd = std::move(*f);
        // Limits are plain cgroup2 files written before the spawn.
        for (const auto& [file, value] : o.cgroup_files) {
            auto w = write_file(file, value, cgfd.get());
            if (!w) die(std::string("--") + std::string(file, std::strlen(file) - 4) + "-max: " + w.error().message() +
                            (w.error().sys_errno() == ENOENT ? " (controller not enabled in this cgroup)" : ""),
                        exit_usage, json);
        }
        s.cgroup_fd = cgfd.get();
    }

    unique_fd joinfd;
    if (!o.join_net.empty()) {
        auto f = open_fd(o.join_net.c_str(), O_RDONLY);
        if (!f) die("--join-net: " + f.error().message(), exit_usage, json);
        joinfd = std::move(*f);
        s.join.push_back({ns::kind::net, joinfd.get()});
    }

    ns::veth_guard veth;
    const std::string host_end = o.veth.empty() ? "bh" + std::to_string(::getpid()) : o.veth;
    if (o.want_net) {
        s.before_start = [&](const sandbox::setup_context& c) -> result<void> {
            BULKHEAD_TRY_ASSIGN(auto nl, ns::rtnl::open());
            BULKHEAD_TRY(nl.create_veth(host_end, "eth0", c.netns_fd));
            veth = ns::veth_guard(-1, host_end);
            BULKHEAD_TRY_ASSIGN(int hidx, nl.link_index(host_end));
            if (o.peer_ip) BULKHEAD_TRY(nl.add_address(hidx, *o.peer_ip));
            BULKHEAD_TRY(nl.set_link_up(hidx));
            BULKHEAD_TRY_ASSIGN(auto in, ns::rtnl::open_in(c.netns_fd));
            BULKHEAD_TRY_ASSIGN(int idx, in.link_index("eth0"));
            for (const auto& ip : o.ips) BULKHEAD_TRY(in.add_address(idx, ip));
            BULKHEAD_TRY(in.set_link_up(idx));
            if (o.peer_ip) {
                ns::ip_prefix gw = *o.peer_ip;
                gw.prefix = gw.family == AF_INET ? 32 : 128;
                ns::ip_prefix any;
                any.family = gw.family;
                any.prefix = 0;
                bool same_family = false;
                for (const auto& ip : o.ips) same_family |= ip.family == gw.family;
                if (same_family) BULKHEAD_TRY(in.add_route(any, gw, idx));
            }
            return {};
        };
    }

    auto sp = sandbox::spawn(s);
    if (!sp) {
        const std::string msg = sp.error().message();
        bool exec_step = std::strcmp(sp.error().op(), "execute") == 0;
        die(msg, exit_code_for(sp.error(), exec_step), json);
    }
    if (json) {
        detail::json::writer w;
        w.begin_object().field("event", "started").field("pid", sp->process.pid()).end_object();
        std::fprintf(stderr, "%s\n", w.str().c_str());
    }
    // The runner's own signals reach the sandbox: forward the usual termination signals.
    static int pidfd_for_signals = -1;
    pidfd_for_signals = sp->process.pidfd();
    struct sigaction sa {};
    sa.sa_handler = [](int sig) { detail::sys::pidfd_send_signal(pidfd_for_signals, sig); };
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) ::sigaction(sig, &sa, nullptr);

    auto st = sp->process.wait();
    if (!st) die(st.error().message(), exit_usage, json);
    int code = st->exited ? st->code : 128 + st->signal;
    if (json) {
        detail::json::writer w;
        w.begin_object().field("event", "exited").field("exit_code", code);
        if (!st->exited) w.field("signal", st->signal);
        w.end_object();
        std::fprintf(stderr, "%s\n", w.str().c_str());
    }
    return code;
}
