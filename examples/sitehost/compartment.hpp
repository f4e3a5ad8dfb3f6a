#pragma once
// One site's compartment: its cgroup tree, its namespaces (held by a "holder" process that is
// pid 1 of the site's pid namespace), its veth and address, and the servers spawned into it.
//
// Layout inside every site (its own mount namespace, pivot_root'ed into a tmpfs):
//   /usr (ro, + the merged-/usr symlinks /bin /sbin /lib /lib64), /etc (tmpfs with a few host
//   files bound read-only, and the site's own passwd/group), /srv/www (the webroot, rw),
//   /run (private tmpfs), /run/sitehost (generated configs, ro), /tmp and /dev/shm (private
//   tmpfs), /proc (own pid namespace; OCI masked paths), /dev (minimal), /opt/bulkhead (tools,
//   ro, when given).
// Nothing of any other site is mounted, and the holder, nginx and PHP-FPM run with the site's
// own ids (root inside = ids.base outside), no_new_privs and the site's seccomp filter.

#include "config.hpp"
#include "control.hpp"
#include "servers.hpp"

#include <bulkhead/cgroup.hpp>
#include <bulkhead/ns.hpp>
#include <bulkhead/sandbox.hpp>

#include <linux/filter.h>
#include <sys/stat.h>

#include <chrono>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace sitehost {

namespace bh = bulkhead;

inline constexpr std::uint32_t www_data = 33;
inline constexpr std::uint32_t nobody = 65534;

/// What every site on this host shares: the top cgroup, the state directory, the tools.
struct host_env {
    std::string state_dir;
    std::string cgroup_root;      ///< the cgroup2 directory sites live below
    bool limits_enforced = false; ///< cpu/memory/pids controllers available there
    std::vector<std::string> controllers;
    std::string tools_dir;        ///< bound at /opt/bulkhead in every site when set
};

/// A process of a site that the supervisor keeps running.
struct service {
    std::string name;                 ///< "nginx", "php-fpm"
    std::vector<std::string> argv;
    bh::ns::cap_set caps;             ///< capabilities it keeps (ambient)
    std::optional<bh::cgroup> group;  ///< its leaf cgroup
    bh::child proc;
    std::chrono::steady_clock::time_point started{};
    std::optional<std::chrono::steady_clock::time_point> restart_at;
    struct backoff backoff;
    int restarts = 0;
    bh::unique_fd log_read;  ///< the supervisor reads the service's stdout+stderr here
    bh::unique_fd log_write; ///< kept across restarts, so the pipe never reports end of file
};

/// The namespaces of a site, opened from its holder, to join.
struct site_namespaces {
    std::vector<std::pair<bh::ns::kind, bh::unique_fd>> fds;

    [[nodiscard]] std::vector<std::pair<bh::ns::kind, int>> join_list() const {
        std::vector<std::pair<bh::ns::kind, int>> j;
        for (const auto& [k, fd] : fds) j.emplace_back(k, fd.get());
        return j;
    }
};

inline std::string site_state_dir(const host_env& h, const site& s) { return h.state_dir + "/sites/" + s.name; }

inline std::string octal(unsigned v) {
    char b[16];
    std::snprintf(b, sizeof b, "%04o", v);
    return b;
}

/// Site processes reach host paths (webroot, binds, generated files) as unprivileged ids: every
/// directory on the way must be searchable by "others". Names the first one that is not.
inline bh::result<void> check_traversable(const std::string& path, const char* what) {
    std::string cur;
    for (auto part : bh::detail::split(path, '/')) {
        if (part.empty()) continue;
        cur += "/";
        cur += part;
        struct stat st {};
        if (::stat(cur.c_str(), &st) != 0) return bh::error::from_errno(what).subject(cur);
        if (S_ISDIR(st.st_mode) && !(st.st_mode & S_IXOTH))
            return bh::error(bh::errc::invalid_argument, what)
                .subject(path)
                .note(cur + " is not searchable by site users (mode " + octal(st.st_mode & 07777) + "): chmod o+x it");
    }
    return {};
}

/// Writes the site's generated files (server configs, passwd, group) into its state directory.
inline bh::result<void> write_site_files(const host_env& h, const site& s) {
    std::string dir = site_state_dir(h, s);
    std::string conf = dir + "/conf";
    for (const auto& d : {h.state_dir + "/sites", dir, conf})
        if (::mkdir(d.c_str(), 0755) < 0 && errno != EEXIST) return bh::error::from_errno("mkdir").subject(d);
    auto put = [&](const char* name, const std::string& text) {
        return bh::write_file((conf + "/" + name).c_str(), text, AT_FDCWD, O_WRONLY | O_CREAT | O_TRUNC);
    };
    layout l;
    BULKHEAD_TRY(put("nginx.conf", nginx_conf(s, l)));
    BULKHEAD_TRY(put("php-fpm.conf", php_fpm_conf(s, l)));
    BULKHEAD_TRY(put("passwd", "root:x:0:0:site root:/root:/usr/sbin/nologin\n"
                               "www-data:x:33:33:site " + s.name + ":/srv/www:/usr/sbin/nologin\n"
                               "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"));
    BULKHEAD_TRY(put("group", "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n"));
    BULKHEAD_TRY(put("hosts", "127.0.0.1 localhost\n::1 localhost\n" + s.ipv4 + " " + s.name +
                                  (s.domains.empty() ? std::string() : " " + s.domains.front()) + "\n"));
    BULKHEAD_TRY(put("hostname", s.name + "\n"));
    return {};
}

/// The mount plan every process of the site sees (applied once, by the holder).
inline bh::ns::mount_plan site_mounts(const host_env& h, const site& s) {
    bh::ns::mount_plan m;
    m.root_tmpfs("16m");
    m.ro_bind("/usr", "/usr");
    for (const char* l : {"bin", "sbin", "lib", "lib64"}) {
        struct stat st {};
        std::string host = std::string("/") + l;
        if (::lstat(host.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) m.symlink(std::string("usr/") + l, host);
        else if (::stat(host.c_str(), &st) == 0) m.ro_bind(host, host);
    }
    bh::ns::tmpfs_options etc;
    etc.size = "1m";
    etc.mode = 0755;
    m.tmpfs("/etc", etc);
    const std::string conf = site_state_dir(h, s) + "/conf";
    for (const char* f : {"passwd", "group", "hosts", "hostname"}) m.ro_bind(conf + "/" + f, std::string("/etc/") + f);
    for (const char* p : {"/etc/nginx", "/etc/php", "/etc/ssl", "/etc/alternatives", "/etc/ld.so.cache",
                          "/etc/localtime", "/etc/mime.types", "/etc/nsswitch.conf"}) {
        struct stat st {};
        if (::stat(p, &st) == 0) m.ro_bind(p, p);
    }
    bh::ns::bind_options rw;
    rw.nosuid = true;
    rw.nodev = true;
    m.bind(s.webroot, "/srv/www", rw);
    bh::ns::tmpfs_options run;
    run.size = "16m";
    run.mode = 01777;
    m.tmpfs("/run", run);
    m.ro_bind(conf, "/run/sitehost");
    bh::ns::tmpfs_options tmp;
    tmp.size = "256m";
    tmp.mode = 01777;
    m.tmpfs("/tmp", tmp);
    m.dev("/dev"); // null zero full random urandom tty, devpts, a private /dev/shm
    m.proc("/proc");
    // The site's own cgroup, read-only: it can see its limits and usage, not change them.
    m.ro_bind(h.cgroup_root + "/" + s.name, "/sys/fs/cgroup");
    m.mask_defaults();
    m.read_only_defaults();
    for (const auto& b : s.ro_binds) m.ro_bind(b, b);
    if (!h.tools_dir.empty()) m.ro_bind(h.tools_dir, "/opt/bulkhead");
    return m;
}

/// Hardening common to every process of a site: its own unprivileged id, no capabilities
/// but `caps`, no_new_privs, killed with the supervisor.
inline bh::ns::hardening site_hardening(std::uint32_t uid, bh::ns::cap_set caps) {
    bh::ns::hardening hd;
    hd.uid = uid;
    hd.gid = uid;
    // Supplementary groups stay as the supervisor left them (it drops its own at start):
    // setgroups is denied in site user namespaces.
    hd.keep_caps = caps;
    hd.no_new_privs = true;
    hd.parent_death_signal = SIGKILL;
    hd.new_session = true;
    hd.umask = 022;
    hd.cwd = "/";
    return hd;
}

/// A running site. Destroying it stops everything of the site and removes what was made for
/// it (processes, cgroups, veth, generated files), also after a failure half-way.
class site_runtime {
public:
    site_runtime(const host_env& h, site s, std::vector<sock_filter> filter, int index)
        : host_(&h), site_(std::move(s)), filter_(std::move(filter)), index_(index) {}
    site_runtime(const site_runtime&) = delete;
    site_runtime& operator=(const site_runtime&) = delete;
    ~site_runtime() { stop(); }

    [[nodiscard]] const site& config() const noexcept { return site_; }
    [[nodiscard]] const std::string& host_veth() const noexcept { return veth_; }
    [[nodiscard]] bh::child& holder() noexcept { return holder_; }
    [[nodiscard]] std::vector<service>& services() noexcept { return services_; }
    [[nodiscard]] bh::cgroup* group() noexcept { return group_ ? &*group_ : nullptr; }
    [[nodiscard]] bh::cgroup* exec_group() noexcept { return exec_group_ ? &*exec_group_ : nullptr; }
    /// The leaf groups processes live in: init, exec and one per service.
    [[nodiscard]] std::vector<bh::cgroup*> leaves() noexcept {
        std::vector<bh::cgroup*> v;
        if (init_group_) v.push_back(&*init_group_);
        if (exec_group_) v.push_back(&*exec_group_);
        for (auto& sv : services_)
            if (sv.group) v.push_back(&*sv.group);
        return v;
    }
    [[nodiscard]] bool frozen() const noexcept { return frozen_; }
    void set_frozen(bool f) noexcept { frozen_ = f; }

    /// Builds the compartment: cgroups with limits, generated files, the holder (which makes
    /// the namespaces and applies the mount plan), the veth and addresses.
    bh::result<void> start() {
        BULKHEAD_TRY(check_traversable(site_.webroot, "webroot"));
        for (const auto& b : site_.ro_binds) BULKHEAD_TRY(check_traversable(b, "ro_bind"));
        BULKHEAD_TRY(write_site_files(*host_, site_));
        BULKHEAD_TRY_ASSIGN(auto top, bh::cgroup::open(host_->cgroup_root));
        BULKHEAD_TRY_ASSIGN(group_, top.create_child(site_.name));
        BULKHEAD_TRY_ASSIGN(auto lim, limits_of(site_));
        if (host_->limits_enforced) {
            BULKHEAD_TRY(group_->apply(lim));
        }
        BULKHEAD_TRY_ASSIGN(auto init_group, group_->create_child("init"));

        bh::sandbox::spec sp;
        sp.argv = {"/usr/bin/sleep", "infinity"};
        sp.path = "/usr/bin/sleep";
        sp.new_namespaces = bh::ns::kind_set{bh::ns::kind::user, bh::ns::kind::pid, bh::ns::kind::mount,
                                             bh::ns::kind::net, bh::ns::kind::uts, bh::ns::kind::ipc,
                                             bh::ns::kind::cgroup};
        sp.uid_map = bh::ns::id_map{{0, site_.ids->base, site_.ids->count}};
        sp.gid_map = bh::ns::id_map{{0, site_.ids->base, site_.ids->count}};
        sp.mounts = site_mounts(*host_, site_);
        sp.hostname = site_.name;
        sp.harden = site_hardening(nobody, {});
        // Born in the site's group, so the site's cgroup namespace is rooted there (the site
        // sees /init, /nginx, /php below its own root); moved to the init leaf right after,
        // before controllers are enabled (no processes in inner groups).
        sp.cgroup_fd = group_->fd();
        sp.seccomp = filter_;
        sp.in.mode = bh::sandbox::stdio_mode::fd;
        BULKHEAD_TRY_ASSIGN(devnull_, bh::open_fd("/dev/null", O_RDWR));
        sp.in.fd = sp.out.fd = sp.err.fd = devnull_.get();
        sp.out.mode = sp.err.mode = bh::sandbox::stdio_mode::fd;
        sp.before_start = [this](const bh::sandbox::setup_context& ctx) { return plumb(ctx); };
        BULKHEAD_TRY_ASSIGN(auto sp_out, bh::sandbox::spawn(sp));
        holder_ = std::move(sp_out.process);
        // The holder's init and the process it forked (it has exec'd once spawn returns).
        BULKHEAD_TRY_ASSIGN(auto born, group_->procs());
        for (pid_t p : born) BULKHEAD_TRY(init_group.attach(p));
        init_group_ = std::move(init_group);
        BULKHEAD_TRY_ASSIGN(exec_group_, group_->create_child("exec")); // `sitehost exec` commands
        if (!host_->controllers.empty()) BULKHEAD_TRY(enable(*group_));
        // Keep the namespaces to join.
        for (auto k : {bh::ns::kind::user, bh::ns::kind::pid, bh::ns::kind::mount, bh::ns::kind::net,
                       bh::ns::kind::uts, bh::ns::kind::ipc, bh::ns::kind::cgroup}) {
            BULKHEAD_TRY_ASSIGN(auto fd, bh::ns::open_ns(k, holder_.pid()));
            ns_.fds.emplace_back(k, std::move(fd));
        }
        return {};
    }

    /// Spawns `argv` inside the site as `uid` (inside), keeping `caps`, in leaf cgroup `leaf`.
    bh::result<bh::sandbox::spawned> spawn_in(const std::vector<std::string>& argv, std::uint32_t uid,
                                               bh::ns::cap_set caps, const bh::cgroup* leaf,
                                               std::array<int, 3> stdio_fds, std::vector<std::string> env = {}) {
        if (!holder_.valid()) return bh::error(bh::errc::state_error, "spawn in site").subject(site_.name);
        bh::sandbox::spec sp;
        sp.argv = argv;
        sp.join = ns_.join_list();
        sp.harden = site_hardening(uid, caps);
        sp.cgroup_fd = leaf ? leaf->fd() : exec_group_->fd();
        sp.seccomp = filter_;
        sp.env = env.empty() ? std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/srv/www",
                                                        "LANG=C.UTF-8"}
                             : std::move(env);
        sp.in = {bh::sandbox::stdio_mode::fd, stdio_fds[0] >= 0 ? stdio_fds[0] : devnull_.get()};
        sp.out = {bh::sandbox::stdio_mode::fd, stdio_fds[1] >= 0 ? stdio_fds[1] : devnull_.get()};
        sp.err = {bh::sandbox::stdio_mode::fd, stdio_fds[2] >= 0 ? stdio_fds[2] : devnull_.get()};
        return bh::sandbox::spawn(sp);
    }

    /// Adds the site's servers (nginx, and PHP-FPM when enabled) and starts them.
    bh::result<void> start_services() {
        if (site_.php) {
            service php;
            php.name = "php-fpm";
            php.argv = {php_fpm_path, "--nodaemonize", "--fpm-config", "/run/sitehost/php-fpm.conf"};
            BULKHEAD_TRY_ASSIGN(auto g, group_->create_child("php"));
            php.group = std::move(g);
            services_.push_back(std::move(php));
        }
        service ngx;
        ngx.name = "nginx";
        ngx.argv = {nginx_path, "-e", "stderr", "-c", "/run/sitehost/nginx.conf"};
        ngx.caps.add(CAP_NET_BIND_SERVICE);
        BULKHEAD_TRY_ASSIGN(auto g, group_->create_child("nginx"));
        ngx.group = std::move(g);
        services_.push_back(std::move(ngx));
        for (auto& sv : services_) BULKHEAD_TRY(start_service(sv));
        return {};
    }

    bh::result<void> start_service(service& sv) {
        if (!sv.log_write) {
            BULKHEAD_TRY_ASSIGN(auto p, bh::make_pipe(O_NONBLOCK));
            // Servers reopen /proc/self/fd/2 (php-fpm's error_log): the site's uid must be
            // allowed to open the pipe for writing.
            if (::fchmod(p.write.get(), 0622) < 0) return bh::error::from_errno("chmod log pipe");
            sv.log_read = std::move(p.read);
            sv.log_write = std::move(p.write);
        }
        BULKHEAD_TRY_ASSIGN(auto sp, spawn_in(sv.argv, www_data, sv.caps, sv.group ? &*sv.group : nullptr,
                                              {devnull_.get(), sv.log_write.get(), sv.log_write.get()}));
        sv.proc = std::move(sp.process);
        sv.started = std::chrono::steady_clock::now();
        sv.restart_at.reset();
        return {};
    }

    /// Stops the site: everything in its cgroup is killed, then the cgroups, the veth and the
    /// generated files are removed. Safe to call twice.
    void stop() noexcept {
        for (auto& sv : services_) sv.proc.kill_and_reap();
        holder_.kill_and_reap();
        if (group_) {
            (void)group_->thaw();
            (void)group_->remove(); // kills anything left, removes the leaves below
        }
        services_.clear();
        init_group_.reset();
        exec_group_.reset();
        group_.reset();
        ns_ = {};
        if (!veth_.empty()) {
            if (auto nl = bh::ns::rtnl::open(); nl) (void)nl->delete_link(veth_);
            veth_.clear();
        }
        std::string dir = site_state_dir(*host_, site_);
        for (const char* f : {"nginx.conf", "php-fpm.conf", "passwd", "group", "hosts", "hostname"})
            ::unlink((dir + "/conf/" + f).c_str());
        ::rmdir((dir + "/conf").c_str());
        ::rmdir(dir.c_str());
    }

    /// The cgroup limits of a site; io devices are resolved here (a path or MAJ:MIN).
    static bh::result<bh::cg::limits> limits_of(const site& s) {
        bh::cg::limits l;
        for (const auto& io : s.limits.io_max) {
            bh::cg::io_max m;
            if (io.device.front() == '/') {
                BULKHEAD_TRY_ASSIGN(m.device, bh::cg::block_device(io.device.c_str()));
            } else {
                BULKHEAD_TRY_ASSIGN(m.device, bh::cg::parse_device_number(io.device));
            }
            m.rbps = io.rbps;
            m.wbps = io.wbps;
            m.riops = io.riops;
            m.wiops = io.wiops;
            l.io.push_back(m);
        }
        if (s.limits.cpu_max) {
            auto f = bh::detail::split_ws(*s.limits.cpu_max);
            bh::cg::cpu_max c;
            c.quota_us = f[0] == "max" ? bh::cg::unlimited : *bh::detail::parse_int<std::uint64_t>(f[0]);
            c.period_us = *bh::detail::parse_int<std::uint64_t>(f[1]);
            l.cpu = c;
        }
        l.cpu_weight = s.limits.cpu_weight;
        l.memory_max = s.limits.memory_max;
        l.memory_high = s.limits.memory_high;
        l.pids_max = s.limits.pids_max;
        // One OOM kill takes the whole leaf (nginx or php-fpm) so it restarts cleanly.
        return l;
    }

private:
    bh::result<void> enable(const bh::cgroup& g) const {
        for (const auto& c : host_->controllers) {
            auto r = g.write("cgroup.subtree_control", "+" + c);
            if (!r) return r;
        }
        return {};
    }

    /// Runs in the supervisor while the holder waits: a veth pair, one end moved into the
    /// site's network namespace as eth0 with the site's address and a default route.
    bh::result<void> plumb(const bh::sandbox::setup_context& ctx) {
        std::string host_name = "bh" + std::to_string(index_) + "-" + site_.name.substr(0, 9);
        std::string peer_tmp = "bhp" + std::to_string(index_);
        BULKHEAD_TRY_ASSIGN(auto nl, bh::ns::rtnl::open());
        BULKHEAD_TRY(nl.create_veth(host_name, peer_tmp));
        veth_ = host_name;
        BULKHEAD_TRY(nl.move_link(peer_tmp, ctx.netns_fd, "eth0"));
        BULKHEAD_TRY_ASSIGN(auto hidx, nl.link_index(host_name));
        BULKHEAD_TRY_ASSIGN(auto hostp, bh::ns::ip_prefix::parse(host_side_ipv4(site_) + "/30"));
        BULKHEAD_TRY(nl.add_address(hidx, hostp));
        BULKHEAD_TRY(nl.set_link_up(hidx));
        BULKHEAD_TRY_ASSIGN(auto in, bh::ns::rtnl::open_in(ctx.netns_fd));
        BULKHEAD_TRY_ASSIGN(auto eidx, in.link_index("eth0"));
        BULKHEAD_TRY_ASSIGN(auto sitep, bh::ns::ip_prefix::parse(site_.ipv4 + "/30"));
        BULKHEAD_TRY(in.add_address(eidx, sitep));
        if (!site_.ipv6.empty()) {
            // A /126 like the IPv4 /30: the host side gets the neighbouring address.
            BULKHEAD_TRY_ASSIGN(auto v6, bh::ns::ip_prefix::parse(site_.ipv6 + "/126"));
            BULKHEAD_TRY(in.add_address(eidx, v6));
            BULKHEAD_TRY_ASSIGN(auto h6, bh::ns::ip_prefix::parse(host_side_ipv6(site_) + "/126"));
            BULKHEAD_TRY(nl.add_address(hidx, h6));
        }
        BULKHEAD_TRY(in.set_link_up(eidx));
        if (site_.egress) {
            BULKHEAD_TRY_ASSIGN(auto any, bh::ns::ip_prefix::parse("0.0.0.0/0"));
            BULKHEAD_TRY_ASSIGN(auto gw, bh::ns::ip_prefix::parse(host_side_ipv4(site_)));
            BULKHEAD_TRY(in.add_route(any, gw, eidx));
        }
        return {};
    }

    const host_env* host_;
    site site_;
    std::vector<sock_filter> filter_;
    int index_;
    std::optional<bh::cgroup> group_;
    std::optional<bh::cgroup> init_group_;
    std::optional<bh::cgroup> exec_group_;
    bh::child holder_;
    site_namespaces ns_;
    std::string veth_;
    std::vector<service> services_;
    bh::unique_fd devnull_;
    bool frozen_ = false;
};

} // namespace sitehost
