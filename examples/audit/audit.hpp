#pragma once
// bulkhead-audit's collector: what a process can observe, from the inside, about the
// compartment it runs in. Everything is read from /proc, /sys/fs/cgroup and the kernel's
// answers to harmless probe syscalls; nothing is assumed from configuration.

#include <bulkhead/detail/json.hpp>
#include <bulkhead/detail/text.hpp>
#include <bulkhead/error.hpp>
#include <bulkhead/fd.hpp>
#include <bulkhead/process.hpp>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <dirent.h>
#include <ifaddrs.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace audit {

namespace json = bulkhead::detail::json;
using bulkhead::detail::parse_int;
using bulkhead::detail::split_ws;
using bulkhead::detail::trim;

/// One namespace of this process and how it compares with the host's.
struct ns_entry {
    std::string kind;
    std::uint64_t inode = 0;
    std::optional<std::uint64_t> host_inode; ///< reference, when known
    std::string verdict;                     ///< "private", "host", "unverified"
};

/// A probe syscall and what the kernel answered.
struct probe_result {
    std::string name;
    std::string group;   ///< why it matters ("io_uring bypasses seccomp", ...)
    std::string outcome; ///< "blocked" or "reachable"
    std::string detail;  ///< "errno EPERM", "killed by SIGSYS", "errno EINVAL (allowed)"
};

struct cgroup_limit {
    std::string group; ///< cgroup path (relative to the visible cgroup2 root)
    std::string file;
    std::string value;
};

struct mount_entry {
    std::string point, fstype, source, options;
};

struct iface {
    std::string name;
    bool up = false;
    std::vector<std::string> addresses;
};

struct process_entry {
    int pid = 0;
    unsigned uid = 0;
    std::string comm;
};

struct report {
    std::string hostname;
    unsigned uid = 0, euid = 0, gid = 0, egid = 0;
    std::vector<ns_entry> namespaces;
    std::string uid_map, gid_map, setgroups;
    bool uid_map_identity = true;
    std::map<std::string, std::uint64_t> caps; ///< CapInh, CapPrm, CapEff, CapBnd, CapAmb
    int no_new_privs = -1;
    int seccomp_mode = -1; ///< 0 off, 1 strict, 2 filter
    int seccomp_filters = -1;
    std::vector<probe_result> probes;
    std::string cgroup_path;
    std::vector<cgroup_limit> limits;
    std::vector<process_entry> processes;
    std::vector<mount_entry> mounts;
    std::vector<iface> interfaces;
    std::vector<std::string> warnings;
};

/// Inode numbers the kernel gives its initial namespaces (include/linux/proc_ns.h). net and
/// mnt have fixed numbers only on newer kernels, so they need a reference to be judged.
inline std::optional<std::uint64_t> initial_ns_inode(const std::string& kind) {
    if (kind == "user") return 0xEFFFFFFDu;
    if (kind == "uts") return 0xEFFFFFFEu;
    if (kind == "ipc") return 0xEFFFFFFFu;
    if (kind == "pid") return 0xEFFFFFFCu;
    if (kind == "cgroup") return 0xEFFFFFFBu;
    if (kind == "time") return 0xEFFFFFFAu;
    return std::nullopt;
}

/// Parses "user:4026531837,net:4026531833" (BULKHEAD_HOST_NS / --host-ns).
inline bulkhead::result<std::map<std::string, std::uint64_t>> parse_host_ns(std::string_view s) {
    std::map<std::string, std::uint64_t> out;
    for (auto item : bulkhead::detail::split(s, ',')) {
        item = trim(item);
        if (item.empty()) continue;
        auto colon = item.find(':');
        auto ino = colon == std::string_view::npos ? std::nullopt
                                                   : parse_int<std::uint64_t>(item.substr(colon + 1));
        if (!ino)
            return bulkhead::error(bulkhead::errc::parse_error, "--host-ns")
                .value(item)
                .note("expected KIND:INODE[,KIND:INODE...]");
        out[std::string(item.substr(0, colon))] = *ino;
    }
    return out;
}

inline const char* errno_name(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case ESRCH: return "ESRCH";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOENT: return "ENOENT";
    case E2BIG: return "E2BIG";
    case ENOTDIR: return "ENOTDIR";
    case EBUSY: return "EBUSY";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    default: return nullptr;
    }
}

inline std::string errno_text(int e) {
    if (const char* n = errno_name(e)) return n;
    return "errno " + std::to_string(e);
}

struct probe_def {
    const char* name;
    const char* group;
    long nr;
    std::array<long, 6> args;
    std::array<int, 3> reachable_errnos; ///< what the kernel says when the call is allowed
};

/// Probes chosen so that, where the call is allowed, the kernel rejects the arguments and
/// nothing changes; each runs in its own child so a KILL action cannot take the audit down.
inline const std::vector<probe_def>& probe_defs() {
    static const std::vector<probe_def> defs = {
        {"io_uring_setup", "io_uring (its operations bypass seccomp)", SYS_io_uring_setup, {0, 0}, {EINVAL, EFAULT, 0}},
        {"ptrace", "process inspection", SYS_ptrace, {2 /* PTRACE_PEEKDATA */, -1, 0, 0}, {ESRCH, 0, 0}},
        {"process_vm_readv", "process inspection", SYS_process_vm_readv, {-1, 0, 0, 0, 0, 1}, {EINVAL, ESRCH, 0}},
        {"keyctl", "kernel keyring", SYS_keyctl, {-1}, {EOPNOTSUPP, EINVAL, 0}},
        {"add_key", "kernel keyring", SYS_add_key, {0, 0, 0, 0, 0}, {EFAULT, EINVAL, 0}},
        {"bpf", "eBPF", SYS_bpf, {-1, 0, 0}, {EINVAL, 0, 0}},
        {"perf_event_open", "perf events", SYS_perf_event_open, {0, 0, -1, -1, 0}, {EFAULT, EINVAL, 0}},
        {"userfaultfd", "userfaultfd (exploit primitive)", SYS_userfaultfd, {-1}, {EINVAL, 0, 0}},
        {"unshare", "namespace creation", SYS_unshare, {1}, {EINVAL, 0, 0}},
        {"setns", "namespace joining", SYS_setns, {-1, 0}, {EBADF, 0, 0}},
        {"mount", "mount family", SYS_mount, {0, 0, 0, 0, 0}, {EFAULT, ENOENT, 0}},
        {"pivot_root", "mount family", SYS_pivot_root, {0, 0}, {EFAULT, 0, 0}},
        {"open_by_handle_at", "file handles", SYS_open_by_handle_at, {-1, 0, 0}, {EBADF, EFAULT, 0}},
        {"kexec_load", "kexec", SYS_kexec_load, {0, 0, 0, -1}, {EINVAL, 0, 0}},
        {"init_module", "kernel modules", SYS_init_module, {0, 0, 0}, {EFAULT, 0, 0}},
        {"clone3", "clone3 (flags unreadable by seccomp)", SYS_clone3, {0, 0}, {EINVAL, 0, 0}},
    };
    return defs;
}

inline probe_result run_probe(const probe_def& d) {
    probe_result r{d.name, d.group, "blocked", ""};
    auto c = bulkhead::fork_call([&d] {
        long rc = ::syscall(d.nr, d.args[0], d.args[1], d.args[2], d.args[3], d.args[4], d.args[5]);
        if (rc >= 0) return 0;
        return errno > 0 && errno < 250 ? errno : 250;
    });
    if (!c) {
        r.outcome = "unknown";
        r.detail = c.error().message();
        return r;
    }
    auto st = c->wait();
    if (!st) {
        r.outcome = "unknown";
        r.detail = st.error().message();
    } else if (!st->exited) {
        r.detail = "killed by signal " + std::to_string(st->signal) +
                   (st->signal == SIGSYS ? " (SIGSYS: seccomp)" : "");
    } else if (st->code == 0) {
        r.outcome = "reachable";
        r.detail = "call succeeded";
    } else {
        int e = st->code;
        bool reachable = false;
        for (int ok : d.reachable_errnos)
            if (ok != 0 && ok == e) reachable = true;
        r.outcome = reachable ? "reachable" : "blocked";
        r.detail = errno_text(e) + (reachable ? " (arguments checked: the call is allowed)" : "");
    }
    return r;
}

inline std::string read_or_empty(const char* path) {
    auto r = bulkhead::read_file(path);
    return r ? *r : std::string();
}

inline void collect_namespaces(report& rep, const std::map<std::string, std::uint64_t>& host) {
    static const char* kinds[] = {"user", "pid", "mnt", "net", "uts", "ipc", "cgroup", "time"};
    for (const char* k : kinds) {
        ns_entry e;
        e.kind = k;
        struct stat st {};
        std::string path = std::string("/proc/self/ns/") + k;
        if (::stat(path.c_str(), &st) != 0) {
            e.verdict = "unavailable";
            rep.namespaces.push_back(e);
            continue;
        }
        e.inode = st.st_ino;
        if (auto it = host.find(k); it != host.end()) e.host_inode = it->second;
        else e.host_inode = initial_ns_inode(k);
        if (!e.host_inode) e.verdict = "unverified";
        else e.verdict = *e.host_inode == e.inode ? "host" : "private";
        rep.namespaces.push_back(e);
    }
}

inline void collect_status(report& rep) {
    std::string status = read_or_empty("/proc/self/status");
    bulkhead::detail::for_each_line(status, [&](std::string_view line) {
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return;
        std::string key(line.substr(0, colon));
        std::string_view val = trim(line.substr(colon + 1));
        if (key.rfind("Cap", 0) == 0) {
            if (auto v = parse_int<std::uint64_t>(val, 16)) rep.caps[key] = *v;
        } else if (key == "NoNewPrivs") {
            rep.no_new_privs = parse_int<int>(val).value_or(-1);
        } else if (key == "Seccomp") {
            rep.seccomp_mode = parse_int<int>(val).value_or(-1);
        } else if (key == "Seccomp_filters") {
            rep.seccomp_filters = parse_int<int>(val).value_or(-1);
        }
    });
    rep.uid_map = std::string(trim(read_or_empty("/proc/self/uid_map")));
    rep.gid_map = std::string(trim(read_or_empty("/proc/self/gid_map")));
    rep.setgroups = std::string(trim(read_or_empty("/proc/self/setgroups")));
    auto f = split_ws(rep.uid_map);
    rep.uid_map_identity = f.size() == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295";
    rep.uid = ::getuid();
    rep.euid = ::geteuid();
    rep.gid = ::getgid();
    rep.egid = ::getegid();
    struct utsname u {};
    if (::uname(&u) == 0) rep.hostname = u.nodename;
}

inline void collect_mounts(report& rep, std::string& cgroup2_point) {
    std::string mi = read_or_empty("/proc/self/mountinfo");
    bulkhead::detail::for_each_line(mi, [&](std::string_view line) {
        // id parent maj:min root point options [optional...] - fstype source superopts
        auto dash = line.find(" - ");
        if (dash == std::string_view::npos) return;
        auto left = split_ws(line.substr(0, dash));
        auto right = split_ws(line.substr(dash + 3));
        if (left.size() < 6 || right.size() < 2) return;
        mount_entry m{std::string(left[4]), std::string(right[0]), std::string(right[1]),
                      std::string(left[5])};
        if (m.fstype == "cgroup2" && cgroup2_point.empty()) cgroup2_point = m.point;
        rep.mounts.push_back(std::move(m));
    });
}

inline void collect_cgroup(report& rep, const std::string& cgroup2_point) {
    std::string self = read_or_empty("/proc/self/cgroup");
    bulkhead::detail::for_each_line(self, [&](std::string_view line) {
        if (line.rfind("0::", 0) == 0) rep.cgroup_path = std::string(line.substr(3));
    });
    if (cgroup2_point.empty()) {
        rep.warnings.push_back("no cgroup2 file system is mounted here: limits cannot be read");
        return;
    }
    static const char* files[] = {"cpu.max", "cpu.weight", "memory.max", "memory.high",
                                  "memory.swap.max", "pids.max", "io.max", "io.weight"};
    // From our group up to the visible root: the tightest limit applies.
    std::string rel = rep.cgroup_path;
    for (;;) {
        std::string dir = cgroup2_point + (rel == "/" ? "" : rel);
        for (const char* f : files) {
            auto v = bulkhead::read_file((dir + "/" + f).c_str());
            if (!v) continue;
            std::string val(trim(*v));
            if (val.empty()) continue;
            rep.limits.push_back({rel, f, val});
        }
        if (rel == "/" || rel.empty()) break;
        auto slash = rel.rfind('/');
        rel = slash == 0 ? "/" : rel.substr(0, slash);
    }
}

inline void collect_processes(report& rep) {
    DIR* d = ::opendir("/proc");
    if (!d) return;
    while (auto* e = ::readdir(d)) {
        auto pid = parse_int<int>(e->d_name);
        if (!pid) continue;
        process_entry p;
        p.pid = *pid;
        std::string base = std::string("/proc/") + e->d_name;
        p.comm = std::string(trim(read_or_empty((base + "/comm").c_str())));
        struct stat st {};
        if (::stat(base.c_str(), &st) == 0) p.uid = st.st_uid;
        rep.processes.push_back(std::move(p));
    }
    ::closedir(d);
}

inline void collect_interfaces(report& rep) {
    struct ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) {
        rep.warnings.push_back(std::string("getifaddrs: ") + std::strerror(errno));
        return;
    }
    for (auto* a = list; a; a = a->ifa_next) {
        iface* cur = nullptr;
        for (auto& i : rep.interfaces)
            if (i.name == a->ifa_name) cur = &i;
        if (!cur) {
            rep.interfaces.push_back({a->ifa_name, (a->ifa_flags & IFF_UP) != 0, {}});
            cur = &rep.interfaces.back();
        }
        if (!a->ifa_addr) continue;
        char buf[INET6_ADDRSTRLEN] = {};
        if (a->ifa_addr->sa_family == AF_INET)
            ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf);
        else if (a->ifa_addr->sa_family == AF_INET6)
            ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, buf, sizeof buf);
        if (buf[0]) cur->addresses.emplace_back(buf);
    }
    ::freeifaddrs(list);
}

struct options {
    std::map<std::string, std::uint64_t> host_ns;
    bool probes = true;
};

inline report collect(const options& opt) {
    report rep;
    collect_namespaces(rep, opt.host_ns);
    collect_status(rep);
    std::string cg2;
    collect_mounts(rep, cg2);
    collect_cgroup(rep, cg2);
    collect_processes(rep);
    collect_interfaces(rep);
    if (opt.probes)
        for (const auto& d : probe_defs()) rep.probes.push_back(run_probe(d));
    return rep;
}

inline std::string to_json(const report& r) {
    json::writer w;
    w.begin_object().field("hostname", r.hostname);
    w.key("ids").begin_object().field("uid", r.uid).field("euid", r.euid).field("gid", r.gid)
        .field("egid", r.egid).field("uid_map", r.uid_map).field("gid_map", r.gid_map)
        .field("setgroups", r.setgroups).field("uid_map_identity", r.uid_map_identity).end_object();
    w.key("namespaces").begin_array();
    for (const auto& n : r.namespaces) {
        w.begin_object().field("kind", n.kind).field("inode", n.inode);
        if (n.host_inode) w.field("host_inode", *n.host_inode);
        w.field("verdict", n.verdict).end_object();
    }
    w.end_array();
    w.key("capabilities").begin_object();
    for (const auto& [k, v] : r.caps) w.field(k, v);
    w.end_object();
    w.field("no_new_privs", r.no_new_privs).field("seccomp_mode", r.seccomp_mode)
        .field("seccomp_filters", r.seccomp_filters);
    w.key("syscalls").begin_array();
    for (const auto& p : r.probes)
        w.begin_object().field("name", p.name).field("group", p.group).field("outcome", p.outcome)
            .field("detail", p.detail).end_object();
    w.end_array();
    w.field("cgroup", r.cgroup_path);
    w.key("limits").begin_array();
    for (const auto& l : r.limits)
        w.begin_object().field("group", l.group).field("file", l.file).field("value", l.value).end_object();
    w.end_array();
    w.key("processes").begin_array();
    for (const auto& p : r.processes)
        w.begin_object().field("pid", p.pid).field("uid", p.uid).field("comm", p.comm).end_object();
    w.end_array();
    w.key("mounts").begin_array();
    for (const auto& m : r.mounts)
        w.begin_object().field("point", m.point).field("fstype", m.fstype).field("source", m.source)
            .field("options", m.options).end_object();
    w.end_array();
    w.key("interfaces").begin_array();
    for (const auto& i : r.interfaces) {
        w.begin_object().field("name", i.name).field("up", i.up).key("addresses").begin_array();
        for (const auto& a : i.addresses) w.string(a);
        w.end_array().end_object();
    }
    w.end_array();
    w.key("warnings").begin_array();
    for (const auto& s : r.warnings) w.string(s);
    w.end_array();
    w.end_object();
    return std::move(w).str();
}

inline std::string hex64(std::uint64_t v) {
    char b[20];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
    return b;
}

inline std::string to_table(const report& r) {
    std::string o;
    auto row = [&o](const std::string& a, const std::string& b) {
        o += "  ";
        o += a;
        if (a.size() < 22) o.append(22 - a.size(), ' ');
        o += ' ';
        o += b;
        o += '\n';
    };
    o += "identity\n";
    row("hostname", r.hostname);
    row("uid/euid gid/egid", std::to_string(r.uid) + "/" + std::to_string(r.euid) + " " +
                                 std::to_string(r.gid) + "/" + std::to_string(r.egid));
    row("uid_map", r.uid_map + (r.uid_map_identity ? "  (identity: host ids)" : ""));
    row("gid_map", r.gid_map);
    row("setgroups", r.setgroups);
    o += "namespaces\n";
    for (const auto& n : r.namespaces)
        row(n.kind, n.verdict + "  (inode " + std::to_string(n.inode) +
                        (n.host_inode ? ", host " + std::to_string(*n.host_inode) : "") + ")");
    o += "privileges\n";
    for (const auto& [k, v] : r.caps) row(k, hex64(v) + (v == 0 ? "  (none)" : ""));
    row("NoNewPrivs", std::to_string(r.no_new_privs));
    row("seccomp", r.seccomp_mode == 2 ? "filter (" + std::to_string(r.seccomp_filters) + " filters)"
                   : r.seccomp_mode == 0 ? "off"
                                         : std::to_string(r.seccomp_mode));
    o += "dangerous syscalls\n";
    for (const auto& p : r.probes) row(p.name, p.outcome + "  " + p.detail);
    o += "cgroup " + r.cgroup_path + "\n";
    for (const auto& l : r.limits) row(l.file, l.value + "  (" + l.group + ")");
    o += "processes visible: " + std::to_string(r.processes.size()) + "\n";
    for (const auto& p : r.processes)
        row(std::to_string(p.pid), p.comm + "  uid " + std::to_string(p.uid));
    o += "mounts: " + std::to_string(r.mounts.size()) + "\n";
    for (const auto& m : r.mounts) row(m.point, m.fstype + " " + m.options);
    o += "network interfaces\n";
    for (const auto& i : r.interfaces) {
        std::string a = i.up ? "up" : "down";
        for (const auto& x : i.addresses) a += " " + x;
        row(i.name, a);
    }
    for (const auto& w : r.warnings) o += "warning: " + w + "\n";
    return o;
}

} // namespace audit
