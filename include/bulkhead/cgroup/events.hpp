#pragma once
/// \file cgroup/events.hpp
/// cgroup events as file descriptors that plug into any epoll/poll loop:
///  - `event_watch`: cgroup.events (populated, frozen) and memory.events (low, high, max,
///    oom, oom_kill, oom_group_kill) through inotify; each readiness is turned into the list
///    of changes since the last look.
///  - `psi_trigger`: a PSI trigger ("some 150000 1000000") written to a pressure file; the
///    descriptor polls POLLPRI (EPOLLPRI) when the stall threshold is crossed.
/// `event_loop` is a small ready-made epoll loop over both; no thread is started.

#include "bulkhead/cgroup/group.hpp"
#include "bulkhead/cgroup/parse.hpp"
#include "bulkhead/cgroup/types.hpp"
#include "bulkhead/config.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

BULKHEAD_NAMESPACE_BEGIN
namespace cg {

namespace detail {
/// A poll(2) timeout in ms from a duration: negative becomes 0, huge values saturate.
inline int poll_ms(std::chrono::milliseconds d) noexcept {
    if (d.count() <= 0) return 0;
    return d.count() > 0x7fffffff ? 0x7fffffff : static_cast<int>(d.count());
}
} // namespace detail

/// What changed.
enum class event_kind {
    populated,      ///< the group (or a descendant) got its first process
    unpopulated,    ///< the last process left
    frozen,         ///< the freeze completed
    thawed,         ///< the group is no longer frozen
    memory_low,     ///< memory.events "low" increased
    memory_high,    ///< "high": reclaim throttled at memory.high
    memory_max,     ///< "max": usage hit memory.max
    oom,            ///< "oom": the OOM state was entered
    oom_kill,       ///< "oom_kill": a process was OOM-killed
    oom_group_kill, ///< "oom_group_kill": the whole group was killed (memory.oom.group)
    pids_max,       ///< pids.events "max": a fork was refused at pids.max
};

[[nodiscard]] constexpr const char* to_string(event_kind k) noexcept {
    switch (k) {
    case event_kind::populated: return "populated";
    case event_kind::unpopulated: return "unpopulated";
    case event_kind::frozen: return "frozen";
    case event_kind::thawed: return "thawed";
    case event_kind::memory_low: return "low";
    case event_kind::memory_high: return "high";
    case event_kind::memory_max: return "max";
    case event_kind::oom: return "oom";
    case event_kind::oom_kill: return "oom_kill";
    case event_kind::oom_group_kill: return "oom_group_kill";
    case event_kind::pids_max: return "pids_max";
    }
    return "?";
}

/// One change: for memory events `count` is the counter's new value and `delta` how much it
/// grew since the last look; for state changes both are 1.
struct event {
    event_kind kind;
    std::uint64_t count = 1;
    std::uint64_t delta = 1;
};

/// Which files an event_watch follows.
enum watch_flags : unsigned {
    watch_cgroup_events = 1u, ///< cgroup.events
    watch_memory_events = 2u, ///< memory.events (needs the memory controller)
    watch_pids_events = 4u,   ///< pids.events (needs the pids controller)
};

/// Watches a cgroup's event files through one non-blocking inotify descriptor.
class event_watch {
public:
    event_watch() = default;

    /// Starts watching `g`; the current values become the baseline.
    [[nodiscard]] static result<event_watch> open(const cgroup& g,
                                                  unsigned what = watch_cgroup_events | watch_memory_events) {
        event_watch w;
        int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0) return error::from_errno("cgroup: inotify_init1");
        w.fd_.reset(fd);
        w.path_ = g.path();
        if (auto d = g.dup_fd(); d) w.dir_ = std::move(*d);
        else return std::move(d).error();
        if (what & watch_cgroup_events) {
            if (::inotify_add_watch(fd, (w.path_ + "/cgroup.events").c_str(), IN_MODIFY) < 0)
                return std::move(error::from_errno("cgroup: watch").subject(w.path_ + "/cgroup.events"));
            BULKHEAD_TRY_ASSIGN(w.cg_, g.events());
            w.watch_cg_ = true;
        }
        if (what & watch_memory_events) {
            BULKHEAD_TRY_ASSIGN(w.mem_, g.memory_events());
            if (::inotify_add_watch(fd, (w.path_ + "/memory.events").c_str(), IN_MODIFY) < 0)
                return std::move(error::from_errno("cgroup: watch").subject(w.path_ + "/memory.events"));
            w.watch_mem_ = true;
        }
        if (what & watch_pids_events) {
            BULKHEAD_TRY_ASSIGN(auto t, w.read_at("pids.events"));
            BULKHEAD_TRY_ASSIGN(w.pids_max_, parse_pids_events(t));
            if (::inotify_add_watch(fd, (w.path_ + "/pids.events").c_str(), IN_MODIFY) < 0)
                return std::move(error::from_errno("cgroup: watch").subject(w.path_ + "/pids.events"));
            w.watch_pids_ = true;
        }
        return w;
    }

    /// The inotify descriptor: readable (EPOLLIN) when something may have changed.
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] const cgroup_events& last_cgroup_events() const noexcept { return cg_; }
    [[nodiscard]] const memory_events& last_memory_events() const noexcept { return mem_; }

    /// Drains the inotify queue and reports what changed since the last call (possibly
    /// nothing). Never blocks.
    [[nodiscard]] result<std::vector<event>> read() {
        alignas(inotify_event) char buf[4096];
        for (;;) {
            ssize_t n = ::read(fd_.get(), buf, sizeof buf);
            if (n > 0) continue;
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno != EAGAIN) return error::from_errno("cgroup: read inotify");
            break;
        }
        return poll_changes();
    }

    /// Waits up to `timeout` for at least one change; an empty vector on timeout.
    [[nodiscard]] result<std::vector<event>> wait(std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            BULKHEAD_TRY_ASSIGN(auto ev, read());
            if (!ev.empty()) return ev;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return ev;
            pollfd p{fd_.get(), POLLIN, 0};
            if (::poll(&p, 1, detail::poll_ms(left)) < 0 && errno != EINTR)
                return error::from_errno("cgroup: poll inotify");
        }
    }

    /// Re-reads the watched files and returns the differences from the last values.
    [[nodiscard]] result<std::vector<event>> poll_changes() {
        std::vector<event> out;
        if (watch_cg_) {
            BULKHEAD_TRY_ASSIGN(auto t, read_at("cgroup.events"));
            BULKHEAD_TRY_ASSIGN(auto e, parse_cgroup_events(t));
            if (e.populated != cg_.populated)
                out.push_back({e.populated ? event_kind::populated : event_kind::unpopulated});
            if (e.frozen != cg_.frozen) out.push_back({e.frozen ? event_kind::frozen : event_kind::thawed});
            cg_ = e;
        }
        if (watch_mem_) {
            BULKHEAD_TRY_ASSIGN(auto t, read_at("memory.events"));
            BULKHEAD_TRY_ASSIGN(auto m, parse_memory_events(t));
            auto add = [&](event_kind k, std::uint64_t now, std::uint64_t before) {
                if (now > before) out.push_back({k, now, now - before});
            };
            add(event_kind::memory_low, m.low, mem_.low);
            add(event_kind::memory_high, m.high, mem_.high);
            add(event_kind::memory_max, m.max, mem_.max);
            add(event_kind::oom, m.oom, mem_.oom);
            add(event_kind::oom_kill, m.oom_kill, mem_.oom_kill);
            add(event_kind::oom_group_kill, m.oom_group_kill, mem_.oom_group_kill);
            mem_ = m;
        }
        if (watch_pids_) {
            BULKHEAD_TRY_ASSIGN(auto t, read_at("pids.events"));
            BULKHEAD_TRY_ASSIGN(auto n, parse_pids_events(t));
            if (n > pids_max_) out.push_back({event_kind::pids_max, n, n - pids_max_});
            pids_max_ = n;
        }
        return out;
    }

private:
    result<std::string> read_at(const char* file) const {
        int fd = ::openat(dir_.get(), file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            if (err == ENOENT)
                return std::move(error(errc::not_found, "cgroup: read").subject(path_ + "/" + file).note("the cgroup was removed"));
            return std::move(error::from_errno("cgroup: read", err).subject(path_ + "/" + file));
        }
        unique_fd o(fd);
        auto r = read_to_string(fd, 1u << 20);
        if (!r) return std::move(r.error().subject(path_ + "/" + file));
        return r;
    }

    unique_fd fd_;
    unique_fd dir_;
    std::string path_;
    cgroup_events cg_{};
    memory_events mem_{};
    std::uint64_t pids_max_ = 0;
    bool watch_cg_ = false;
    bool watch_mem_ = false;
    bool watch_pids_ = false;
};

/// A PSI trigger on a pressure file. The descriptor signals POLLPRI each time the stall
/// threshold is crossed within the window (at most once per window).
class psi_trigger {
public:
    psi_trigger() = default;

    /// Registers `spec` on `g`'s cpu/memory/io.pressure.
    [[nodiscard]] static result<psi_trigger> open(const cgroup& g, psi_resource r, const psi_trigger_spec& spec) {
        return open_path(g.path() + "/" + psi_file(r), spec, psi_file(r));
    }

    /// Registers `spec` on any pressure file (/proc/pressure/memory, ...).
    [[nodiscard]] static result<psi_trigger> open_path(const std::string& file, const psi_trigger_spec& spec,
                                                       std::string_view shown = {}) {
        BULKHEAD_TRY_ASSIGN(auto text, format_psi_trigger(spec, shown.empty() ? std::string_view(file) : shown));
        int fd = ::open(file.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) return std::move(error::from_errno("cgroup: open").subject(file));
        psi_trigger t;
        t.fd_.reset(fd);
        t.path_ = file;
        // The trigger string must be written with its terminating NUL or newline.
        text += '\0';
        if (::write(fd, text.data(), text.size()) < 0) {
            int err = errno;
            error e = std::move(error::from_errno("cgroup: write", err)
                                    .subject(detail::file_value(file, text.substr(0, text.size() - 1))));
            if (err == EPERM || err == EACCES) e.note("PSI triggers need CAP_SYS_RESOURCE or a 2 s window multiple");
            return e;
        }
        return t;
    }

    /// Poll this for POLLPRI / EPOLLPRI.
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

    /// Waits up to `timeout`; true when the trigger fired. POLLERR means the cgroup is gone
    /// (errc::not_found).
    [[nodiscard]] result<bool> wait(std::chrono::milliseconds timeout) const {
        pollfd p{fd_.get(), POLLPRI, 0};
        for (;;) {
            int n = ::poll(&p, 1, detail::poll_ms(timeout));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return error::from_errno("cgroup: poll psi trigger");
            if (n == 0) return false;
            if (p.revents & POLLERR)
                return std::move(error(errc::not_found, "cgroup: psi trigger").subject(path_).note("the cgroup was removed"));
            return (p.revents & POLLPRI) != 0;
        }
    }

private:
    unique_fd fd_;
    std::string path_;
};

/// A small epoll loop dispatching event_watch changes and psi_trigger firings to callbacks.
/// The watched objects must outlive their registration.
class event_loop {
public:
    using event_handler = std::function<void(const event&)>;
    using trigger_handler = std::function<void()>;

    [[nodiscard]] static result<event_loop> create() {
        int fd = ::epoll_create1(EPOLL_CLOEXEC);
        if (fd < 0) return error::from_errno("cgroup: epoll_create1");
        event_loop l;
        l.ep_.reset(fd);
        return l;
    }

    [[nodiscard]] result<void> add(event_watch& w, event_handler h) {
        return add_entry(entry{w.fd(), &w, nullptr, std::move(h), {}}, EPOLLIN);
    }
    [[nodiscard]] result<void> add(psi_trigger& t, trigger_handler h) {
        return add_entry(entry{t.fd(), nullptr, &t, {}, std::move(h)}, EPOLLPRI);
    }
    /// Stops dispatching for the object owning `fd`.
    [[nodiscard]] result<void> remove(int fd) {
        for (auto& e : entries_)
            if (e.fd == fd) {
                ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr);
                e.fd = -1;
                return {};
            }
        return error(errc::not_found, "cgroup: event loop remove");
    }

    /// Waits up to `timeout` once and dispatches what is ready; returns the number of
    /// callbacks invoked.
    [[nodiscard]] result<std::size_t> run_once(std::chrono::milliseconds timeout) {
        epoll_event evs[16];
        int n = ::epoll_wait(ep_.get(), evs, 16, detail::poll_ms(timeout));
        if (n < 0) {
            if (errno == EINTR) return std::size_t{0};
            return error::from_errno("cgroup: epoll_wait");
        }
        std::size_t calls = 0;
        for (int i = 0; i < n; ++i) {
            auto idx = static_cast<std::size_t>(evs[i].data.u64);
            if (idx >= entries_.size() || entries_[idx].fd < 0) continue;
            auto& e = entries_[idx];
            if (e.watch) {
                BULKHEAD_TRY_ASSIGN(auto changes, e.watch->read());
                for (const auto& c : changes) {
                    e.on_event(c);
                    ++calls;
                }
            } else if (e.trigger) {
                if (evs[i].events & EPOLLERR) {
                    ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, e.fd, nullptr);
                    e.fd = -1;
                    return std::move(error(errc::not_found, "cgroup: psi trigger")
                                         .subject(e.trigger->path())
                                         .note("the cgroup was removed"));
                }
                e.on_trigger();
                ++calls;
            }
        }
        return calls;
    }

    /// Runs until `done()` is true (checked after each dispatch) or `timeout` passes
    /// (errc::timeout).
    [[nodiscard]] result<void> run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done()) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return error(errc::timeout, "cgroup: event loop");
            BULKHEAD_TRY(run_once(std::min(left, std::chrono::milliseconds(100))));
        }
        return {};
    }

    [[nodiscard]] int fd() const noexcept { return ep_.get(); }

private:
    struct entry {
        int fd;
        event_watch* watch;
        psi_trigger* trigger;
        event_handler on_event;
        trigger_handler on_trigger;
    };

    result<void> add_entry(entry e, std::uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = entries_.size();
        if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, e.fd, &ev) < 0) return error::from_errno("cgroup: epoll_ctl");
        entries_.push_back(std::move(e));
        return {};
    }

    unique_fd ep_;
    std::vector<entry> entries_;
};

} // namespace cg
BULKHEAD_NAMESPACE_END
