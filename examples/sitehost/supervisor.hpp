#pragma once
// sitehost's supervisor: starts every site, keeps its servers running (restart with back-off),
// turns cgroup events into JSON events, serves the control socket, and tears everything down
// on SIGTERM/SIGINT. Single-threaded: one epoll loop over pidfds, inotify fds, a signalfd and
// the control socket.

#include "certcheck.hpp"
#include "compartment.hpp"
#include "config.hpp"
#include "control.hpp"
#include "prewarm.hpp"
#include "uploads.hpp"

#include <bulkhead/cgroup.hpp>
#include <bulkhead/seccomp.hpp>

#include <grp.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sitehost {

/// Produces the seccomp program for a site's profile name ("web", "docker-default", "none",
/// or a file); empty for "none".
using filter_factory = std::function<bh::result<std::vector<sock_filter>>(const site&)>;

struct supervisor_options {
    std::string tools_dir;
    bool native = false; ///< run without enforced limits when the controllers are missing
    int log_fd = 1;
    filter_factory filters;
};

class supervisor {
public:
    supervisor(config c, supervisor_options o) : cfg_(std::move(c)), opt_(std::move(o)) {}
    supervisor(const supervisor&) = delete;
    supervisor& operator=(const supervisor&) = delete;
    ~supervisor() { shutdown(); }

    /// Discovers cgroups, removes what a killed supervisor left, prepares the state directory
    /// and the control socket.
    bh::result<void> prepare() {
        ::setgroups(0, nullptr); // children must not inherit the host's supplementary groups
        env_.state_dir = cfg_.state_dir;
        env_.tools_dir = opt_.tools_dir;
        // 0711: site user namespaces must traverse it to reach their generated files.
        if (::mkdir(env_.state_dir.c_str(), 0711) < 0 && errno != EEXIST)
            return bh::error::from_errno("mkdir state directory").subject(env_.state_dir);
        BULKHEAD_TRY(check_traversable(env_.state_dir, "state_dir"));
        BULKHEAD_TRY_ASSIGN(auto sys, bh::cg::discover());
        std::string root = sys.mount;
        env_.cgroup_root = root + "/" + cfg_.cgroup;
        BULKHEAD_TRY(cleanup_leftovers());
        BULKHEAD_TRY_ASSIGN(auto avail, bh::cg::controllers_at(root));
        std::vector<std::string> missing;
        for (const char* c : {"cpu", "memory", "pids"}) {
            if (std::find(avail.begin(), avail.end(), c) != avail.end()) env_.controllers.push_back(c);
            else missing.push_back(c);
        }
        if (std::find(avail.begin(), avail.end(), "io") != avail.end()) env_.controllers.push_back("io");
        env_.limits_enforced = missing.empty();
        if (!missing.empty()) {
            std::string list;
            for (auto& m : missing) list += (list.empty() ? "" : ", ") + m;
            auto why = bh::cg::require_controller(sys, root, missing.front());
            std::string detail = why ? std::string() : why.error().message();
            if (!opt_.native)
                return bh::error(bh::errc::not_available, "sitehost: cgroup controllers")
                    .subject(list + " missing at " + root)
                    .note("limits cannot be enforced (" + detail +
                          "); run in a pure cgroup v2 system (scripts/demo.sh boots one) or pass --native");
            auto w = event("warning", "");
            w.field("message", "LIMITS ARE NOT ENFORCED: controllers " + list + " are not available at " + root +
                                   " (" + detail + "); --native runs the sites without cpu/memory/pids limits");
            emit(opt_.log_fd, std::move(w));
        }
        BULKHEAD_TRY_ASSIGN(auto rootg, bh::cgroup::open(root));
        BULKHEAD_TRY_ASSIGN(top_, rootg.create_child(cfg_.cgroup));
        for (const auto& c : env_.controllers) BULKHEAD_TRY(top_->write("cgroup.subtree_control", "+" + c));
        BULKHEAD_TRY_ASSIGN(control_, listen_control(env_.state_dir + "/control.sock"));
        if (!cfg_.scan.databases.empty()) {
            auto t0 = std::chrono::steady_clock::now();
            BULKHEAD_TRY_ASSIGN(sigs_, signature_db::load(cfg_.scan));
            auto w = event("signatures", "");
            w.field("count", static_cast<std::uint64_t>(sigs_->db().signature_count()))
                .field("ms", static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                              std::chrono::steady_clock::now() - t0).count()));
            emit(opt_.log_fd, std::move(w));
            scan_state_ = std::make_unique<sg::scan_state>(sigs_->db());
            if (cfg_.scan.schedule_s)
                next_full_scan_ = std::chrono::steady_clock::now() + std::chrono::seconds(cfg_.scan.schedule_s);
        }
        return {};
    }

    /// Starts every site; a site that fails to start is reported and the others go on.
    bh::result<void> start_all() {
        if (cfg_.prewarm && !cfg_.sites.empty()) {
            bool php = std::any_of(cfg_.sites.begin(), cfg_.sites.end(), [](const site& s) { return s.php; });
            std::vector<std::string> exes{nginx_path};
            std::vector<std::string> ext_dirs;
            if (php) {
                exes.push_back(php_fpm_path);
                ext_dirs = php_extension_dirs();
            }
            auto r = read_files(shared_code(exes, ext_dirs));
            auto w = event("prewarm", "");
            w.field("files", static_cast<std::uint64_t>(r.files))
                .field("mib", static_cast<std::uint64_t>(r.bytes >> 20))
                .field("ms", static_cast<std::uint64_t>(r.took.count()));
            emit(opt_.log_fd, std::move(w));
        }
        int index = 0;
        for (const auto& s : cfg_.sites) {
            std::vector<sock_filter> filter;
            if (opt_.filters) {
                auto f = opt_.filters(s);
                if (!f) return std::move(f.error().subject("site " + s.name));
                filter = std::move(*f);
            }
            auto rt = std::make_unique<site_runtime>(env_, s, std::move(filter), index++);
            auto t0 = std::chrono::steady_clock::now();
            auto r = rt->start();
            if (r) r = rt->start_services();
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
            if (!r) {
                auto w = event("start_failed", s.name);
                w.field("error", r.error().message());
                emit(opt_.log_fd, std::move(w));
                rt->stop();
                sites_.push_back(nullptr);
                runtimes_failed_.push_back(s.name);
                continue;
            }
            auto w = event("start", s.name);
            w.field("ipv4", s.ipv4).field("uid_base", s.ids->base).field("ms", static_cast<std::uint64_t>(ms.count()))
                .field("limits_enforced", env_.limits_enforced);
            emit(opt_.log_fd, std::move(w));
            sites_.push_back(std::move(rt));
        }
        return {};
    }

    /// CAA preflight of every site's domains, as events (`certcheck`).
    void certcheck_all() {
        if (!cfg_.caa.on_up) return;
        for (const auto& s : cfg_.sites) {
            auto r = certcheck(cfg_.caa, s);
            if (!r) {
                auto w = event("certcheck_failed", s.name);
                w.field("error", r.error().message());
                emit(opt_.log_fd, std::move(w));
                continue;
            }
            for (const auto& v : *r) {
                auto w = event("certcheck", s.name);
                w.field("domain", v.domain).field("ca", cfg_.caa.ca).field("permitted", v.permitted)
                    .field("reason", v.reason).field("explanation", v.explanation);
                emit(opt_.log_fd, std::move(w));
            }
        }
    }

    /// The event loop; returns after SIGTERM/SIGINT or a `shutdown` request.
    bh::result<void> run() {
        BULKHEAD_TRY(setup_loop());
        while (!stopping_) {
            int timeout = next_timeout_ms();
            epoll_event evs[16];
            int n = ::epoll_wait(epoll_.get(), evs, 16, timeout);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return bh::error::from_errno("epoll_wait");
            for (int i = 0; i < n; ++i) dispatch(evs[i].data.u64);
            restart_due();
            poll_due_watches();
            if (next_full_scan_ && std::chrono::steady_clock::now() >= *next_full_scan_) {
                for (std::size_t i = 0; i < sites_.size(); ++i) {
                    if (!sites_[i]) continue;
                    auto t = scan_site(i);
                    auto w = event("scheduled_scan", cfg_.sites[i].name);
                    w.field("files", t.files).field("infected", t.infected).field("unchanged", t.cached);
                    emit(opt_.log_fd, std::move(w));
                }
                next_full_scan_ = std::chrono::steady_clock::now() + std::chrono::seconds(cfg_.scan.schedule_s);
            }
            rearm();
        }
        return {};
    }

    /// Stops every site and removes what was made for them. Idempotent.
    void shutdown() noexcept {
        if (shut_) return;
        shut_ = true;
        for (auto& e : execs_) e.proc.kill_and_reap();
        execs_.clear();
        for (auto& s : sites_)
            if (s) {
                s->stop();
                auto w = event("stop", s->config().name);
                emit(opt_.log_fd, std::move(w));
            }
        triggers_.clear();
        sites_.clear();
        watches_.clear();
        if (top_) (void)top_->remove();
        top_.reset();
        control_.reset();
        ::unlink((env_.state_dir + "/control.sock").c_str());
        ::rmdir((env_.state_dir + "/sites").c_str());
        ::rmdir(env_.state_dir.c_str());
    }

    [[nodiscard]] const host_env& env() const noexcept { return env_; }
    [[nodiscard]] const std::vector<std::string>& failed_sites() const noexcept { return runtimes_failed_; }

private:
    enum tag : std::uint64_t { t_signal = 1, t_control = 2, t_service = 3, t_holder = 4, t_watch = 5, t_exec = 6, t_log = 7, t_psi = 8, t_uploads = 9 };
    static constexpr unsigned watch_flags =
        bh::cg::watch_cgroup_events | bh::cg::watch_memory_events | bh::cg::watch_pids_events;
    static std::uint64_t key(tag t, std::uint64_t a = 0, std::uint64_t b = 0) { return t << 56 | a << 28 | b; }

    struct pending_exec {
        bh::child proc;
        bh::unique_fd client;
        std::uint64_t id;
    };

    /// A supervisor killed with SIGKILL leaves its sites' cgroups (its processes die with it
    /// through the pid namespaces and PDEATHSIG), veths and state files: remove them.
    bh::result<void> cleanup_leftovers() {
        struct stat st {};
        if (::stat(env_.cgroup_root.c_str(), &st) == 0) {
            BULKHEAD_TRY_ASSIGN(auto old, bh::cgroup::open(env_.cgroup_root));
            (void)old.thaw();
            auto r = old.remove();
            if (!r) return std::move(r.error().note("removing what an earlier sitehost left"));
            emit(opt_.log_fd, event("cleanup", ""));
        }
        if (auto nl = bh::ns::rtnl::open(); nl) {
            if (auto links = nl->list_links(); links)
                for (const auto& l : *links)
                    if (l.rfind("bh", 0) == 0 && l.find('-') != std::string::npos) (void)nl->delete_link(l);
        }
        std::string sites = env_.state_dir + "/sites";
        std::system(("rm -rf '" + sites + "'").c_str());
        return {};
    }

    bh::result<void> setup_loop() {
        epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
        if (!epoll_) return bh::error::from_errno("epoll_create1");
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        ::sigprocmask(SIG_BLOCK, &set, nullptr);
        signal_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!signal_) return bh::error::from_errno("signalfd");
        BULKHEAD_TRY(add(signal_.get(), key(t_signal)));
        BULKHEAD_TRY(add(control_.get(), key(t_control)));
        watches_.resize(sites_.size());
        for (std::size_t i = 0; i < sites_.size(); ++i) {
            if (!sites_[i]) continue;
            BULKHEAD_TRY(add(sites_[i]->holder().pidfd(), key(t_holder, i)));
            BULKHEAD_TRY(watch_site(i));
        }
        BULKHEAD_TRY(arm_pressure());
        if (sigs_) {
            BULKHEAD_TRY_ASSIGN(uploads_, webroot_watch::open());
            BULKHEAD_TRY(add(uploads_->fd(), key(t_uploads)));
            roots_.resize(sites_.size());
            for (std::size_t i = 0; i < sites_.size(); ++i)
                if (sites_[i]) watch_webroot(i);
        }
        rearm();
        return {};
    }

    // ---- upload scanning -------------------------------------------------------------------

    void watch_webroot(std::size_t si) {
        if (roots_.size() <= si) roots_.resize(si + 1);
        auto fd = bulkhead::open_fd(cfg_.sites[si].webroot.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (!fd) {
            auto w = event("scan_error", cfg_.sites[si].name);
            w.field("error", fd.error().message());
            emit(opt_.log_fd, std::move(w));
            return;
        }
        roots_[si] = std::move(*fd);
        (void)uploads_->add_tree(si, roots_[si].get(), ""); // files already there: full scans
    }

    void uploads_fired() {
        auto todo = uploads_->read([this](std::size_t si) { return roots_[si].get(); });
        for (const auto& [si, rel] : todo) {
            if (si >= roots_.size() || !roots_[si]) continue;
            auto v = scan_below(*sigs_, *scan_state_, roots_[si].get(), rel);
            if (!v.signature.empty()) detected(si, v, "upload");
        }
    }

    /// Malware found: quarantine, event, and freeze the site when configured.
    void detected(std::size_t si, const file_verdict& v, const char* how) {
        const auto& name = cfg_.sites[si].name;
        auto q = quarantine_below(roots_[si].get(), v.rel, cfg_.scan.quarantine_dir, name, v.signature);
        auto w = event("malware", name);
        w.field("path", v.rel).field("signature", v.signature).field("found_by", how);
        if (q) w.field("sha256", q->sha256).field("quarantined_to", q->stored).field("record", q->record);
        else w.field("quarantine_error", q.error().message());
        emit(opt_.log_fd, std::move(w));
        note(si, "malware " + v.signature + " in " + v.rel);
        if (cfg_.scan.freeze_on_detection && sites_[si] && sites_[si]->group() && !sites_[si]->frozen()) {
            if (sites_[si]->group()->freeze()) {
                sites_[si]->set_frozen(true);
                emit(opt_.log_fd, event("freeze", name));
            }
        }
    }

    struct scan_totals {
        std::uint64_t files = 0, infected = 0, cached = 0, errors = 0;
    };

    scan_totals scan_site(std::size_t si) {
        scan_totals t;
        if (!sigs_ || si >= roots_.size() || !roots_[si]) return t;
        auto results = full_scan(*sigs_, roots_[si].get(), cfg_.scan.threads);
        for (const auto& v : results) {
            ++t.files;
            if (v.cached) ++t.cached;
            if (!v.error.empty()) ++t.errors;
            if (!v.signature.empty()) {
                ++t.infected;
                detected(si, v, "full scan");
            }
        }
        return t;
    }

    static bh::cg::psi_resource psi_of(const std::string& r) {
        return r == "cpu" ? bh::cg::psi_resource::cpu : r == "memory" ? bh::cg::psi_resource::memory
                                                                     : bh::cg::psi_resource::io;
    }

    /// One PSI trigger per configured resource and site (pressure events).
    bh::result<void> arm_pressure() {
        if (!env_.limits_enforced) return {};
        for (std::size_t i = 0; i < sites_.size(); ++i) {
            if (!sites_[i]) continue;
            for (std::size_t j = 0; j < cfg_.pressure.size(); ++j) {
                const auto& p = cfg_.pressure[j];
                bh::cg::psi_trigger_spec spec;
                spec.full = p.full;
                spec.stall_us = std::uint64_t{p.stall_ms} * 1000;
                spec.window_us = std::uint64_t{p.window_ms} * 1000;
                BULKHEAD_TRY_ASSIGN(auto t, bh::cg::psi_trigger::open(*sites_[i]->group(), psi_of(p.resource), spec));
                epoll_event ev{};
                ev.events = EPOLLPRI;
                ev.data.u64 = key(t_psi, i, j);
                if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, t.fd(), &ev) < 0) return bh::error::from_errno("epoll_ctl psi");
                triggers_.push_back(std::move(t));
            }
        }
        return {};
    }

    void pressure_fired(std::size_t si, std::size_t pi) {
        if (si >= sites_.size() || !sites_[si] || pi >= cfg_.pressure.size()) return;
        const auto& p = cfg_.pressure[pi];
        auto w = event("pressure", sites_[si]->config().name);
        w.field("resource", p.resource).field("stall_ms", p.stall_ms).field("window_ms", p.window_ms);
        if (auto v = sites_[si]->group()->pressure(psi_of(p.resource)); v)
            w.field("some_total_usec", v->some.total_usec).field("full_total_usec", v->full.total_usec);
        note(si, "pressure " + p.resource);
        emit(opt_.log_fd, std::move(w));
    }

    /// The last few resource events of a site, for `status`.
    void note(std::size_t si, std::string what) {
        if (recent_.size() <= si) recent_.resize(si + 1);
        auto& r = recent_[si];
        r.push_back(rfc3339_now() + " " + std::move(what));
        if (r.size() > 8) r.erase(r.begin());
    }

    bh::result<void> add(int fd, std::uint64_t k) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = k;
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST)
            return bh::error::from_errno("epoll_ctl");
        return {};
    }

    /// (Re)registers the pidfds and log pipes of the services (EEXIST is fine).
    void rearm() {
        for (std::size_t i = 0; i < sites_.size(); ++i) {
            if (!sites_[i]) continue;
            auto& svs = sites_[i]->services();
            for (std::size_t j = 0; j < svs.size(); ++j) {
                if (svs[j].proc.valid() && !svs[j].proc.status()) (void)add(svs[j].proc.pidfd(), key(t_service, i, j));
                if (svs[j].log_read) (void)add(svs[j].log_read.get(), key(t_log, i, j));
            }
        }
    }

    /// A service wrote to its stdout/stderr: one "log" event per line.
    void forward_log(std::size_t si, std::size_t svi) {
        if (si >= sites_.size() || !sites_[si] || svi >= sites_[si]->services().size()) return;
        auto& sv = sites_[si]->services()[svi];
        char buf[4096];
        ssize_t n = ::read(sv.log_read.get(), buf, sizeof buf);
        if (n <= 0) return;
        std::string_view text(buf, static_cast<std::size_t>(n));
        bulkhead::detail::for_each_line(text, [&](std::string_view line) {
            if (line.empty()) return;
            auto w = event("log", sites_[si]->config().name);
            w.field("service", sv.name).field("line", line);
            emit(opt_.log_fd, std::move(w));
        });
    }

    int next_timeout_ms() const {
        auto now = std::chrono::steady_clock::now();
        long best = -1;
        if (next_full_scan_)
            best = std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(*next_full_scan_ - now).count());
        for (const auto& [k, due] : watch_due_) {
            long ms = std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(due - now).count());
            best = best < 0 ? ms : std::min(best, ms);
        }
        for (const auto& s : sites_) {
            if (!s) continue;
            for (const auto& sv : const_cast<site_runtime&>(*s).services())
                if (sv.restart_at) {
                    long ms = std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(*sv.restart_at - now).count());
                    best = best < 0 ? ms : std::min(best, ms);
                }
        }
        return static_cast<int>(best);
    }

    void dispatch(std::uint64_t k) {
        auto t = static_cast<tag>(k >> 56);
        std::size_t a = (k >> 28) & 0xfffffff, b = k & 0xfffffff;
        switch (t) {
        case t_signal: {
            signalfd_siginfo si{};
            while (::read(signal_.get(), &si, sizeof si) == sizeof si) {
                auto w = event("signal", "");
                w.field("signal", static_cast<int>(si.ssi_signo));
                emit(opt_.log_fd, std::move(w));
                stopping_ = true;
            }
            break;
        }
        case t_control: handle_control(); break;
        case t_service: service_exited(a, b); break;
        case t_holder: holder_exited(a); break;
        case t_watch: watch_fired(a, b); break;
        case t_exec: exec_done(k); break;
        case t_log: forward_log(a, b); break;
        case t_psi: pressure_fired(a, b); break;
        case t_uploads: uploads_fired(); break;
        }
    }

    void service_exited(std::size_t si, std::size_t svi) {
        if (si >= sites_.size() || !sites_[si]) return;
        auto& svs = sites_[si]->services();
        if (svi >= svs.size()) return;
        auto& sv = svs[svi];
        (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, sv.proc.pidfd(), nullptr);
        auto st = sv.proc.wait();
        auto ran = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sv.started);
        auto delay = sv.backoff.next(ran);
        auto w = event("exit", sites_[si]->config().name);
        w.field("service", sv.name).field("status", st ? st->describe() : st.error().message())
            .field("ran_ms", static_cast<std::uint64_t>(ran.count())).field("restart_in_ms", static_cast<std::uint64_t>(delay.count()));
        emit(opt_.log_fd, std::move(w));
        sv.proc = bh::child();
        sv.restart_at = std::chrono::steady_clock::now() + delay;
    }

    void restart_due() {
        auto now = std::chrono::steady_clock::now();
        for (auto& s : sites_) {
            if (!s || s->frozen()) continue;
            for (auto& sv : s->services()) {
                if (!sv.restart_at || *sv.restart_at > now) continue;
                auto r = s->start_service(sv);
                ++sv.restarts;
                auto w = event(r ? "restart" : "restart_failed", s->config().name);
                w.field("service", sv.name).field("restarts", sv.restarts);
                if (!r) {
                    w.field("error", r.error().message());
                    sv.restart_at = now + sv.backoff.next(std::chrono::milliseconds(0));
                }
                emit(opt_.log_fd, std::move(w));
            }
        }
    }

    void holder_exited(std::size_t si) {
        if (si >= sites_.size() || !sites_[si]) return;
        (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, sites_[si]->holder().pidfd(), nullptr);
        auto st = sites_[si]->holder().wait();
        auto w = event("site_down", sites_[si]->config().name);
        w.field("status", st ? st->describe() : st.error().message());
        emit(opt_.log_fd, std::move(w));
        // The namespaces died with their pid 1: the site restarts as a whole.
        (void)restart_site(si); // reported as site_restart(_failed)
    }

    /// Watches the site group's cgroup.events, memory.events and pids.events, and the leaves'
    /// pids.events: before Linux 6.2 a refused fork counts in the forking task's own group.
    bh::result<void> watch_site(std::size_t si) {
        if (!env_.limits_enforced || !sites_[si] || !sites_[si]->group()) return {};
        if (watches_.size() <= si) watches_.resize(si + 1);
        auto& ws = watches_[si];
        BULKHEAD_TRY_ASSIGN(auto w, bh::cg::event_watch::open(*sites_[si]->group(), watch_flags));
        ws.push_back(std::move(w));
        for (auto* leaf : sites_[si]->leaves()) {
            BULKHEAD_TRY_ASSIGN(auto lw, bh::cg::event_watch::open(*leaf, bh::cg::watch_pids_events));
            ws.push_back(std::move(lw));
        }
        for (std::size_t k = 0; k < ws.size(); ++k) BULKHEAD_TRY(add(ws[k].fd(), key(t_watch, si, k)));
        return {};
    }

    void unwatch_site(std::size_t si) {
        for (auto it = watch_due_.begin(); it != watch_due_.end();)
            it = it->first.first == si ? watch_due_.erase(it) : std::next(it);
        if (watches_.size() <= si) return;
        for (auto& w : watches_[si]) (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.fd(), nullptr);
        watches_[si].clear();
    }

    bh::result<void> restart_site(std::size_t si) {
        unwatch_site(si);
        if (uploads_) uploads_->drop(si);
        site s = sites_[si]->config();
        std::vector<sock_filter> filter;
        if (opt_.filters) {
            BULKHEAD_TRY_ASSIGN(filter, opt_.filters(s));
        }
        sites_[si]->stop();
        auto rt = std::make_unique<site_runtime>(env_, s, std::move(filter), static_cast<int>(si));
        auto r = rt->start();
        if (r) r = rt->start_services();
        auto w = event(r ? "site_restart" : "site_restart_failed", s.name);
        if (!r) w.field("error", r.error().message());
        emit(opt_.log_fd, std::move(w));
        if (!r) {
            rt->stop();
            sites_[si].reset();
            return r;
        }
        sites_[si] = std::move(rt);
        BULKHEAD_TRY(add(sites_[si]->holder().pidfd(), key(t_holder, si)));
        if (uploads_) watch_webroot(si);
        return watch_site(si);
    }

    /// A noisy site can modify its event files thousands of times a second (every refused
    /// fork, every reclaim): re-read the files of one watch at most every 250 ms, and while a
    /// re-read is pending take the watch out of the epoll set, so the storm does not wake the
    /// supervisor either (inotify merges the repeated events meanwhile). The counters are
    /// cumulative, so nothing is lost, only batched; the supervisor itself runs outside every
    /// site's limits, so its own CPU time is what this protects the neighbours from.
    static constexpr auto watch_interval = std::chrono::milliseconds(250);

    void set_watch_armed(std::size_t si, std::size_t k, bool armed) {
        epoll_event ev{};
        ev.events = armed ? static_cast<std::uint32_t>(EPOLLIN) : 0u;
        ev.data.u64 = key(t_watch, si, k);
        (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, watches_[si][k].fd(), &ev);
    }

    /// Reads (and drops) the queued notifications.
    void drain_watch(std::size_t si, std::size_t k) {
        alignas(8) char buf[4096];
        while (::read(watches_[si][k].fd(), buf, sizeof buf) > 0) {
        }
    }

    void watch_fired(std::size_t si, std::size_t k) {
        if (si >= watches_.size() || k >= watches_[si].size()) return;
        drain_watch(si, k);
        const std::pair<std::size_t, std::size_t> id{si, k};
        if (watch_due_.count(id)) return; // a re-read is already scheduled
        auto now = std::chrono::steady_clock::now();
        auto last = last_watch_poll_.find(id);
        if (last != last_watch_poll_.end() && now - last->second < watch_interval) {
            watch_due_[id] = last->second + watch_interval;
            set_watch_armed(si, k, false);
            return;
        }
        poll_watch(si, k);
    }

    /// Re-reads the watches whose deferred time has come, and listens to them again.
    void poll_due_watches() {
        auto now = std::chrono::steady_clock::now();
        for (auto it = watch_due_.begin(); it != watch_due_.end();) {
            if (it->second <= now) {
                auto [si, k] = it->first;
                it = watch_due_.erase(it);
                if (si >= watches_.size() || k >= watches_[si].size()) continue;
                set_watch_armed(si, k, true);
                drain_watch(si, k);
                poll_watch(si, k);
            } else {
                ++it;
            }
        }
    }

    void poll_watch(std::size_t si, std::size_t k) {
        if (si >= watches_.size() || k >= watches_[si].size()) return;
        auto now = std::chrono::steady_clock::now();
        last_watch_poll_[{si, k}] = now;
        auto evs = watches_[si][k].poll_changes();
        if (!evs) return;
        for (const auto& e : *evs) {
            using ek = bh::cg::event_kind;
            if (e.kind == ek::populated || e.kind == ek::unpopulated) continue;
            if (e.kind == ek::pids_max || e.kind == ek::memory_high || e.kind == ek::memory_max ||
                e.kind == ek::memory_low) {
                // Storms of refused forks or reclaim: one event per site, kind and second (the
                // count says how many); OOM kills are always reported.
                auto& last = last_event_[{si, static_cast<int>(e.kind)}];
                if (now - last < std::chrono::seconds(1)) continue;
                last = now;
            }
            auto w = event(bh::cg::to_string(e.kind), sites_[si]->config().name);
            note(si, std::string(bh::cg::to_string(e.kind)) + " (count " + std::to_string(e.count) + ")");
            w.field("count", e.count).field("delta", e.delta);
            emit(opt_.log_fd, std::move(w));
        }
    }

    std::string site_status_json(std::size_t i) {
        json::writer w;
        const auto& cfgsite = cfg_.sites[i];
        w.begin_object().field("name", cfgsite.name).field("ipv4", cfgsite.ipv4);
        site_runtime* rt = i < sites_.size() ? sites_[i].get() : nullptr;
        if (!rt) {
            w.field("state", "failed").end_object();
            return std::move(w).str();
        }
        w.field("state", rt->frozen() ? "frozen" : "running").field("uid_base", cfgsite.ids->base);
        w.key("services").begin_array();
        for (auto& sv : rt->services())
            w.begin_object().field("name", sv.name).field("running", sv.proc.valid() && !sv.proc.status())
                .field("pid", static_cast<std::int64_t>(sv.proc.pid())).field("restarts", sv.restarts).end_object();
        w.end_array();
        if (auto* g = rt->group()) {
            if (auto c = g->cpu_stat(); c) w.field("cpu_usage_usec", c->usage_usec);
            if (auto m = g->memory_current(); m) w.field("memory_bytes", *m);
            if (auto p = g->pids_current(); p) w.field("pids", *p);
            if (auto m = g->memory_events(); m) w.field("oom_kills", m->oom_kill);
            for (auto [res, name] : {std::pair{bh::cg::psi_resource::cpu, "psi_cpu_some_avg10"},
                                     std::pair{bh::cg::psi_resource::memory, "psi_memory_some_avg10"}})
                if (auto p = g->pressure(res); p) w.field(name, p->some.avg10);
        }
        w.field("limits_enforced", env_.limits_enforced);
        w.key("recent_events").begin_array();
        if (i < recent_.size())
            for (const auto& r : recent_[i]) w.string(r);
        w.end_array();
        w.end_object();
        return std::move(w).str();
    }

    std::size_t find_site(const std::string& name) const {
        for (std::size_t i = 0; i < cfg_.sites.size(); ++i)
            if (cfg_.sites[i].name == name) return i;
        return static_cast<std::size_t>(-1);
    }

    static std::string reply_error(const std::string& msg) {
        json::writer w;
        w.begin_object().field("ok", false).field("error", msg).end_object();
        return std::move(w).str();
    }

    void handle_control() {
        bh::unique_fd c(::accept4(control_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c) return;
        timeval tv{2, 0};
        ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        auto m = recv_message(c.get());
        if (!m) {
            (void)send_message(c.get(), reply_error(m.error().message()));
            return;
        }
        auto req = json::parse(m->line);
        const json::value* cmd = req ? req->find("cmd") : nullptr;
        if (!cmd || !cmd->is_string()) {
            (void)send_message(c.get(), reply_error("request needs a \"cmd\" string"));
            return;
        }
        const std::string& name = cmd->as_string();
        if (name == "status") {
            std::string out = R"({"ok":true,"limits_enforced":)" + std::string(env_.limits_enforced ? "true" : "false") +
                              R"(,"sites":[)";
            for (std::size_t i = 0; i < cfg_.sites.size(); ++i) out += (i ? "," : "") + site_status_json(i);
            out += "]}";
            (void)send_message(c.get(), out);
            return;
        }
        if (name == "config") {
            json::writer w;
            w.begin_object().field("ok", true).field("path", cfg_.path).end_object();
            (void)send_message(c.get(), std::move(w).str());
            return;
        }
        if (name == "scan") {
            if (!sigs_) {
                (void)send_message(c.get(), reply_error("scanning is off: the config has no scan.databases"));
                return;
            }
            const json::value* all = req->find("all");
            const json::value* sn = req->find("site");
            json::writer w;
            w.begin_object().field("ok", true).key("sites").begin_array();
            for (std::size_t i = 0; i < cfg_.sites.size(); ++i) {
                if (!(all && all->is_bool() && all->as_bool()) && !(sn && sn->is_string() && sn->as_string() == cfg_.sites[i].name))
                    continue;
                auto t = scan_site(i);
                w.begin_object().field("name", cfg_.sites[i].name).field("files", t.files).field("infected", t.infected)
                    .field("unchanged", t.cached).field("errors", t.errors).end_object();
            }
            w.end_array().end_object();
            (void)send_message(c.get(), std::move(w).str());
            return;
        }
        if (name == "shutdown") {
            stopping_ = true;
            (void)send_message(c.get(), R"({"ok":true})");
            return;
        }
        const json::value* sname = req->find("site");
        std::size_t si = sname && sname->is_string() ? find_site(sname->as_string()) : static_cast<std::size_t>(-1);
        if (si == static_cast<std::size_t>(-1)) {
            (void)send_message(c.get(), reply_error("unknown site"));
            return;
        }
        auto& rt = sites_[si];
        bh::result<void> r;
        if (name == "restart") {
            r = restart_site(si);
        } else if (!rt) {
            r = bh::error(bh::errc::state_error, "site is not running");
        } else if (name == "freeze") {
            r = rt->group()->freeze();
            if (r) rt->set_frozen(true);
        } else if (name == "thaw") {
            r = rt->group()->thaw();
            if (r) rt->set_frozen(false);
        } else if (name == "kill") {
            // Kill the servers and exec'd commands (the holder keeps the compartment);
            // supervision restarts the servers.
            for (auto& sv : rt->services())
                if (sv.group) (void)sv.group->kill();
            if (auto* g = rt->exec_group()) (void)g->kill();
        } else if (name == "exec") {
            if (rt->frozen()) {
                // A new process would be frozen on arrival and the client would wait forever.
                (void)send_message(c.get(), reply_error("site is frozen: thaw it first"));
                return;
            }
            start_exec(si, *req, std::move(m->fds), std::move(c));
            return;
        } else {
            r = bh::error(bh::errc::invalid_argument, "unknown command").subject(name);
        }
        auto w = event(name, cfg_.sites[si].name);
        w.field("ok", static_cast<bool>(r));
        emit(opt_.log_fd, std::move(w));
        (void)send_message(c.get(), r ? std::string(R"({"ok":true})") : reply_error(r.error().message()));
    }

    void start_exec(std::size_t si, const json::value& req, std::vector<bh::unique_fd> fds, bh::unique_fd client) {
        const json::value* argv = req.find("argv");
        if (!argv || !argv->is_array() || argv->items().empty()) {
            (void)send_message(client.get(), reply_error("exec needs a non-empty \"argv\" array"));
            return;
        }
        std::vector<std::string> args;
        for (const auto& a : argv->items()) {
            if (!a.is_string()) {
                (void)send_message(client.get(), reply_error("argv holds a non-string"));
                return;
            }
            args.push_back(a.as_string());
        }
        const json::value* as_root = req.find("root");
        std::uint32_t uid = as_root && as_root->is_bool() && as_root->as_bool() ? 0 : www_data;
        std::array<int, 3> io{-1, -1, -1};
        for (std::size_t i = 0; i < fds.size() && i < 3; ++i) io[i] = fds[i].get();
        std::vector<std::string> env = {"PATH=/opt/bulkhead:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/srv/www",
                                        "LANG=C.UTF-8"};
        if (const json::value* hn = req.find("host_ns"); hn && hn->is_string())
            env.push_back("BULKHEAD_HOST_NS=" + hn->as_string());
        // A sanitizer build runs sanitized tools in the sites: LeakSanitizer stops threads with
        // ptrace, which sites refuse, so it would fail every command at exit.
        if constexpr (bh::seccomp::sanitizers_enabled()) env.push_back("ASAN_OPTIONS=detect_leaks=0");
        auto sp = sites_[si]->spawn_in(args, uid, {}, nullptr, io, env);
        if (!sp) {
            (void)send_message(client.get(), reply_error(sp.error().message()));
            return;
        }
        std::uint64_t id = next_exec_++;
        auto k = key(t_exec, 0, id & 0xfffffff);
        if (!add(sp->process.pidfd(), k)) {
            (void)send_message(client.get(), reply_error("cannot watch the process"));
            return;
        }
        execs_.push_back({std::move(sp->process), std::move(client), id & 0xfffffff});
    }

    void exec_done(std::uint64_t k) {
        std::uint64_t id = k & 0xfffffff;
        for (auto it = execs_.begin(); it != execs_.end(); ++it) {
            if (it->id != id) continue;
            (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->proc.pidfd(), nullptr);
            auto st = it->proc.wait();
            json::writer w;
            w.begin_object().field("ok", true);
            if (st && st->exited) w.field("exit", st->code);
            else if (st) w.field("signal", st->signal);
            w.end_object();
            (void)send_message(it->client.get(), std::move(w).str());
            execs_.erase(it);
            return;
        }
    }

    config cfg_;
    supervisor_options opt_;
    host_env env_;
    std::optional<bh::cgroup> top_;
    std::vector<std::unique_ptr<site_runtime>> sites_;
    std::vector<std::vector<bh::cg::event_watch>> watches_; ///< per site: the group, then its leaves
    std::map<std::pair<std::size_t, int>, std::chrono::steady_clock::time_point> last_event_;
    std::map<std::pair<std::size_t, std::size_t>, std::chrono::steady_clock::time_point> watch_due_, last_watch_poll_;
    std::vector<bh::cg::psi_trigger> triggers_;
    std::unique_ptr<signature_db> sigs_;
    std::unique_ptr<sg::scan_state> scan_state_;
    std::optional<webroot_watch> uploads_;
    std::vector<bh::unique_fd> roots_; ///< webroot directory fds, per site
    std::optional<std::chrono::steady_clock::time_point> next_full_scan_;
    std::vector<std::vector<std::string>> recent_;
    std::vector<std::string> runtimes_failed_;
    std::vector<pending_exec> execs_;
    std::uint64_t next_exec_ = 1;
    bh::unique_fd epoll_, signal_, control_;
    bool stopping_ = false;
    bool shut_ = false;
};

} // namespace sitehost
