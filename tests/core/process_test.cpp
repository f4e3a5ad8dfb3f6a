#include "bulkhead/process.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>

#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;

TEST_CASE("fork_call reports exit codes and signals", "[kernel][process]") {
    auto c = bulkhead::fork_call([] { return 7; });
    REQUIRE(c);
    CHECK(c->pid() > 0);
    auto st = c->wait();
    REQUIRE(st);
    CHECK(st->exited);
    CHECK(st->code == 7);
    CHECK(st->describe() == "exit 7");
    CHECK(c->wait()->code == 7); // waiting twice returns the recorded status

    auto k = bulkhead::fork_call([] {
        ::raise(SIGTERM);
        return 0;
    });
    REQUIRE(k);
    auto ks = k->wait();
    REQUIRE(ks);
    CHECK(ks->killed_by(SIGTERM));
    CHECK(ks->describe().rfind("signal 15", 0) == 0);
}

TEST_CASE("signal, try_wait and wait_for", "[kernel][process]") {
    auto c = bulkhead::fork_call([] {
        ::pause();
        return 0;
    });
    REQUIRE(c);
    auto t = c->try_wait();
    REQUIRE(t);
    CHECK_FALSE(t->has_value());
    auto w = c->wait_for(50ms);
    REQUIRE_FALSE(w);
    CHECK(w.error().code() == bulkhead::errc::timeout);
    REQUIRE(c->signal(SIGUSR1));
    auto st = c->wait_for(5000ms);
    REQUIRE(st);
    CHECK(st->killed_by(SIGUSR1));
    auto again = c->signal(SIGUSR1); // reaped: refused, never sent to a reused pid
    REQUIRE_FALSE(again);
    CHECK(again.error().sys_errno() == ESRCH);
}

TEST_CASE("destroying a running child kills and reaps it", "[kernel][process]") {
    pid_t pid = -1;
    {
        auto c = bulkhead::fork_call([] {
            for (;;) ::pause();
            return 0;
        });
        REQUIRE(c);
        pid = c->pid();
        CHECK(::kill(pid, 0) == 0);
    }
    // Reaped: no zombie remains, so the pid is gone (or reused by an unrelated process that
    // is not our child, which waitpid tells apart).
    CHECK(::waitpid(pid, nullptr, WNOHANG) == -1);
    CHECK(errno == ECHILD);
}

TEST_CASE("moving a child transfers ownership", "[kernel][process]") {
    auto c = bulkhead::fork_call([] { return 3; });
    REQUIRE(c);
    bulkhead::child a = std::move(*c);
    CHECK_FALSE(c->valid());
    bulkhead::child b;
    b = std::move(a);
    auto st = b.wait();
    REQUIRE(st);
    CHECK(st->code == 3);
}

TEST_CASE("fork_call with a new pid namespace makes the child pid 1", "[kernel][process]") {
    auto c = bulkhead::fork_call([] { return ::getpid() == 1 ? 0 : 1; }, CLONE_NEWPID);
    REQUIRE(c);
    CHECK(c->wait()->success());
}

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

TEST_CASE("fork_call falls back to clone when a filter answers clone3 with ENOSYS", "[kernel][process]") {
    // As Docker's and bulkhead's web profiles do: clone3 -> ENOSYS, everything else allowed.
    auto outer = bulkhead::fork_call([] {
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = {4, f};
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 10;
        if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return 11;
        if (::syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) return 12;
        auto inner = bulkhead::fork_call([] { return 42; });
        if (!inner) return 13;
        auto st = inner->wait();
        return st && st->exited && st->code == 42 ? 0 : 14;
    });
    REQUIRE(outer);
    auto st = outer->wait();
    REQUIRE(st);
    CHECK(st->describe() == "exit 0");
}
