// seccomp kernel tier: filters installed for real, each in a child process (fork_call), so
// the test runner itself is never filtered.
#include "bulkhead/process.hpp"
#include "bulkhead/seccomp.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sc = bulkhead::seccomp;
using sc::action;
using sc::arch;
using sc::arg;

namespace {

constexpr arch here = sc::native_arch().value_or(arch::x86_64);

/// A policy builder that lets the sanitizer runtimes work when this test is sanitized.
sc::policy_builder base(action dflt) {
    sc::policy_builder b(here);
    b.default_action(dflt);
    return b;
}

sc::program must_compile(sc::policy_builder& b) {
    if constexpr (sc::sanitizers_enabled()) sc::allow_sanitizer_runtime(b, here);
    auto p = b.build();
    if (!p) FAIL(p.error().message());
    auto prog = sc::compile(*p);
    if (!prog) FAIL(prog.error().message());
    return *prog;
}

bulkhead::exit_status run_child(const std::function<int()>& fn) {
    auto c = bulkhead::fork_call([&] { return fn(); });
    if (!c) FAIL(c.error().message());
    auto st = c->wait();
    if (!st) FAIL(st.error().message());
    return *st;
}

volatile sig_atomic_t trap_syscall = -1;
volatile sig_atomic_t trap_errno = -1;
volatile sig_atomic_t trap_arch = 0;

void on_sigsys(int, siginfo_t* si, void*) {
    trap_syscall = si->si_syscall;
    trap_errno = si->si_errno;
    trap_arch = static_cast<sig_atomic_t>(si->si_arch);
}

} // namespace

TEST_CASE("a refused syscall fails with the configured errno", "[kernel]") {
    auto b = base(action::allow());
    b.add("getppid", action::errno_ret(99));
    auto prog = must_compile(b);
    auto st = run_child([&] {
        if (!sc::install(prog)) return 10;
        long r = ::syscall(SYS_getppid);
        if (r != -1 || errno != 99) return 11;
        return ::syscall(SYS_getpid) > 0 ? 0 : 12;
    });
    INFO(st.describe());
    CHECK(st.success());
}

TEST_CASE("KILL_PROCESS and KILL_THREAD end the process with SIGSYS", "[kernel]") {
    for (action a : {action::kill_process(), action::kill_thread()}) {
        auto b = base(action::allow());
        b.add("getppid", a);
        auto prog = must_compile(b);
        auto st = run_child([&] {
            if (!sc::install(prog)) return 10;
            ::syscall(SYS_getppid);
            return 11;
        });
        INFO(a.str() << ": " << st.describe());
        CHECK(st.killed_by(SIGSYS));
    }
}

TEST_CASE("LOG allows the syscall (and the kernel logs it)", "[kernel]") {
    auto b = base(action::allow());
    b.add("getppid", action::log());
    auto prog = must_compile(b);
    pid_t me = ::getpid();
    // The kernel's audit record goes to the kernel log when no audit daemon takes it.
    bulkhead::unique_fd kmsg(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (kmsg.valid()) ::lseek(kmsg.get(), 0, SEEK_END);
    auto c = bulkhead::fork_call([&] {
        if (!sc::install(prog)) return 10;
        return ::syscall(SYS_getppid) == me ? 0 : 11;
    });
    REQUIRE(c);
    pid_t pid = c->pid();
    auto st = c->wait();
    REQUIRE(st);
    INFO(st->describe());
    CHECK(st->success());
    auto logged = bulkhead::read_file("/proc/sys/kernel/seccomp/actions_logged");
    if (!kmsg.valid() || !logged || logged->find("log") == std::string::npos) {
        WARN("cannot read /dev/kmsg or LOG is not in actions_logged: the log line is not checked");
        return;
    }
    std::string want_pid = " pid=" + std::to_string(pid) + " ";
    std::string want_nr = " syscall=" + std::to_string(SYS_getppid) + " ";
    bool found = false;
    char rec[8192];
    for (;;) {
        ssize_t n = ::read(kmsg.get(), rec, sizeof rec - 1);
        if (n < 0 && errno == EPIPE) continue; // overwritten records: keep reading
        if (n <= 0) break;
        std::string_view r(rec, static_cast<std::size_t>(n));
        if (r.find("type=1326") != r.npos && r.find(want_pid) != r.npos && r.find(want_nr) != r.npos &&
            r.find("code=0x7ffc0000") != r.npos)
            found = true;
    }
    if (!found) WARN("no audit record for the LOG action in /dev/kmsg (an audit daemon or rate limit took it)");
    else SUCCEED("kernel logged the LOG action");
}

TEST_CASE("TRAP delivers SIGSYS with the syscall number, arch and data", "[kernel]") {
    auto b = base(action::allow());
    b.add("getppid", action::trap(42));
    auto prog = must_compile(b);
    auto st = run_child([&] {
        struct sigaction sa {};
        sa.sa_sigaction = on_sigsys;
        sa.sa_flags = SA_SIGINFO;
        if (::sigaction(SIGSYS, &sa, nullptr) != 0) return 9;
        if (!sc::install(prog)) return 10;
        long r = ::syscall(SYS_getppid);
        (void)r;
        if (trap_syscall != SYS_getppid) return 11;
        if (trap_errno != 42) return 12;
        if (static_cast<std::uint32_t>(trap_arch) != sc::audit_arch(here)) return 13;
        return 0;
    });
    INFO(st.describe());
    CHECK(st.success());
}

TEST_CASE("argument conditions are enforced on the 64-bit value", "[kernel]") {
    auto b = base(action::allow());
    b.add("personality", action::allow(), {arg(0) == 0xffffffffull});
    b.add("personality", action::errno_ret(1));
    b.add("getpriority", action::allow(), {arg(0).masked_eq(0xffff, 0), arg(1) <= 0});
    b.add("getpriority", action::errno_ret(77));
    auto prog = must_compile(b);
    auto st = run_child([&] {
        if (!sc::install(prog)) return 10;
        if (::syscall(SYS_personality, 0xffffffffUL) < 0) return 11;           // query: allowed
        if (::syscall(SYS_personality, 0x1ffffffffUL) != -1 || errno != 1) return 12; // hi word set
        if (::syscall(SYS_personality, 8UL) != -1 || errno != 1) return 13;
        if (::syscall(SYS_getpriority, PRIO_PROCESS, 0) == -1 && errno == 77) return 14;
        if (::syscall(SYS_getpriority, PRIO_PGRP, 0) != -1 || errno != 77) return 15;
        return 0;
    });
    INFO(st.describe());
    CHECK(st.success());
}

TEST_CASE("user notification round trip: epoll, receive, id_valid, respond, ADDFD", "[kernel]") {
    if (!bulkhead_test::is_root()) {
        WARN("not root: pidfd_getfd of the child's listener may be refused; skipping");
        return;
    }
    auto b = base(action::allow());
    b.add("getppid", action::user_notif());
    b.add("getpgid", action::user_notif());
    auto prog = must_compile(b);
    auto pp = bulkhead::make_pipe(O_CLOEXEC);
    REQUIRE(pp);
    int wfd = pp->write.get();
    auto c = bulkhead::fork_call([&] {
        sc::install_options o;
        o.new_listener = true;
        auto l = sc::install(prog, o);
        if (!l) return 10;
        int n = l->release();
        if (::write(wfd, &n, sizeof n) != sizeof n) return 11;
        if (::syscall(SYS_getppid) != 4242) return 12;
        long fd = ::syscall(SYS_getpgid, 0);
        if (fd < 0) return 13;
        if (::write(static_cast<int>(fd), "ok", 2) != 2) return 14;
        return 0;
    });
    REQUIRE(c);
    pp->write.reset();
    int n = -1;
    REQUIRE(::read(pp->read.get(), &n, sizeof n) == sizeof n);
    int lfd = bulkhead::detail::sys::pidfd_getfd(c->pidfd(), n);
    REQUIRE(lfd >= 0);
    sc::notify_listener listener{bulkhead::unique_fd(lfd)};

    bulkhead::unique_fd ep(::epoll_create1(EPOLL_CLOEXEC));
    REQUIRE(ep.valid());
    epoll_event ev{};
    ev.events = EPOLLIN;
    REQUIRE(::epoll_ctl(ep.get(), EPOLL_CTL_ADD, listener.fd(), &ev) == 0);
    epoll_event got{};
    REQUIRE(::epoll_wait(ep.get(), &got, 1, 5000) == 1);

    auto note = listener.receive();
    if (!note) FAIL(note.error().message());
    CHECK(note->call.nr == SYS_getppid);
    CHECK(static_cast<pid_t>(note->pid) == c->pid());
    auto valid = listener.id_valid(note->id);
    REQUIRE(valid);
    CHECK(*valid);
    REQUIRE(listener.respond(note->id, 4242));
    auto stale = listener.id_valid(note->id);
    REQUIRE(stale);
    CHECK(!*stale);

    REQUIRE(::epoll_wait(ep.get(), &got, 1, 5000) == 1);
    auto second = listener.receive();
    if (!second) FAIL(second.error().message());
    CHECK(second->call.nr == SYS_getpgid);
    auto out = bulkhead::make_pipe(O_CLOEXEC);
    REQUIRE(out);
    auto remote = listener.add_fd(second->id, out->write.get(), /*send=*/true);
    if (!remote) FAIL(remote.error().message());
    CHECK(*remote >= 0);
    out->write.reset();
    char buf[4] = {};
    CHECK(::read(out->read.get(), buf, sizeof buf) == 2);
    CHECK(std::string(buf, 2) == "ok");
    auto st = c->wait();
    REQUIRE(st);
    INFO(st->describe());
    CHECK(st->success());
}

TEST_CASE("web-site profile: io_uring, namespaces, ptrace blocked; clone3 ENOSYS", "[kernel]") {
    auto p = sc::web_site(here);
    REQUIRE(p);
    if constexpr (sc::sanitizers_enabled()) {
        // Sanitizer runtimes need a few more syscalls: add them for this test's child.
        auto b = sc::policy_builder(here);
        sc::allow_sanitizer_runtime(b, here);
        auto extra = b.build();
        REQUIRE(extra);
        for (auto& [nr, rules] : extra->arches[0].syscalls)
            if (!p->arches[0].syscalls.count(nr)) p->arches[0].syscalls[nr] = rules;
    }
    auto prog = sc::compile(*p);
    REQUIRE(prog);
    auto st = run_child([&] {
        if (!sc::install(*prog)) return 10;
        io_uring_params params{};
        if (::syscall(SYS_io_uring_setup, 4, &params) != -1 || errno != EPERM) return 11;
        if (::syscall(SYS_unshare, CLONE_NEWUSER) != -1 || errno != EPERM) return 12;
        if (::syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) return 13;
        if (::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0) != -1 || errno != EPERM) return 14;
        if (::syscall(SYS_ptrace, 0 /*TRACEME*/, 0, 0, 0) != -1 || errno != EPERM) return 15;
        if (::syscall(SYS_keyctl, 0, 0, 0, 0, 0) != -1 || errno != EPERM) return 16;
        if (::syscall(SYS_bpf, 0, 0, 0) != -1 || errno != EPERM) return 17;
        if (::syscall(SYS_personality, 0xffffffffUL) < 0) return 18;
        if (::syscall(SYS_personality, 6UL) != -1 || errno != EPERM) return 19;
        // Numbers above the table: ENOSYS so libc falls back.
        if (::syscall(460) != -1 || errno != ENOSYS) return 20;
        return ::syscall(SYS_getppid) > 0 ? 0 : 21;
    });
    INFO(st.describe());
    CHECK(st.success());
}

TEST_CASE("install explains a missing no_new_privs and CAP_SYS_ADMIN; flags are accepted", "[kernel]") {
    auto b = base(action::allow());
    auto prog = must_compile(b);
    auto st = run_child([&] {
        // Drop CAP_SYS_ADMIN from the effective set.
        __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct d[2]{};
        if (::syscall(SYS_capget, &h, d) != 0) return 9;
        d[0].effective &= ~(1u << CAP_SYS_ADMIN);
        if (::syscall(SYS_capset, &h, d) != 0) return 10;
        sc::install_options o;
        o.set_no_new_privs = false;
        auto r = sc::install(prog, o);
        if (r) return 11;
        if (r.error().note_text().find("no_new_privs") == std::string::npos) return 12;
        sc::install_options flags;
        flags.tsync = true;
        flags.log = true;
        flags.spec_allow = true;
        if (!sc::install(prog, flags)) return 13;
        return 0;
    });
    INFO(st.describe());
    CHECK(st.success());
}
