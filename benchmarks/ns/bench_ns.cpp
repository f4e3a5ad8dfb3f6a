// Google Benchmark: start latency of /bin/true through bulkhead::sandbox::spawn, against a
// plain fork+exec and the raw clone3 floor done in-process.
#include "bulkhead/ns.hpp"
#include "bulkhead/sandbox.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <spawn.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>

using namespace bulkhead;

namespace {

const char* payload() {
    static std::string p = [] {
        const char* e = std::getenv("BH_BENCH_TRUE");
        return std::string(e ? e : "/bin/true");
    }();
    return p.c_str();
}

void check(bool ok, benchmark::State& state, const std::string& what) {
    if (!ok) state.SkipWithError(what.c_str());
}

void BM_fork_exec(benchmark::State& state) {
    for (auto _ : state) {
        pid_t pid;
        char* argv[] = {const_cast<char*>(payload()), nullptr};
        if (posix_spawn(&pid, payload(), nullptr, nullptr, argv, environ) != 0) {
            state.SkipWithError("posix_spawn");
            break;
        }
        int st;
        waitpid(pid, &st, 0);
    }
}
BENCHMARK(BM_fork_exec)->UseRealTime()->Unit(benchmark::kMicrosecond);

sandbox::spec full_spec() {
    sandbox::spec s;
    s.argv = {payload()};
    s.env = sandbox::default_env();
    s.new_namespaces = ns::kind_set{ns::kind::user, ns::kind::pid, ns::kind::mount, ns::kind::net,
                                    ns::kind::uts, ns::kind::ipc, ns::kind::cgroup};
    s.uid_map = ns::id_map{{0, 100000, 65536}};
    s.gid_map = ns::id_map{{0, 100000, 65536}};
    if (const char* root = std::getenv("BH_BENCH_ROOT")) {
        s.mounts.root_directory(root).proc("/proc").root_read_only();
    } else {
        s.mounts.root_tmpfs().ro_bind("/usr", "/usr").symlink("usr/bin", "/bin").symlink("usr/lib", "/lib")
            .symlink("usr/lib64", "/lib64").proc("/proc").root_read_only();
    }
    s.harden.rlimits.push_back({RLIMIT_NOFILE, 1024, 1024});
    s.loopback_up = false;
    return s;
}

void BM_spawn_full_isolation(benchmark::State& state) {
    auto s = full_spec();
    for (auto _ : state) {
        auto r = sandbox::run(s);
        if (!r || !r->success()) {
            state.SkipWithError(r ? r->describe().c_str() : r.error().message().c_str());
            break;
        }
    }
}
BENCHMARK(BM_spawn_full_isolation)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_spawn_warm(benchmark::State& state) {
    // A warm start: the site's netns and cgroup exist; the new process joins them.
    char tmpl[] = "/tmp/bh-bench-net.XXXXXX";
    if (!::mkdtemp(tmpl)) return check(false, state, "mkdtemp");
    std::string dir = tmpl;
    auto pin = ns::pinned_ns::create(ns::kind::net, dir + "/net");
    if (!pin) {
        ::rmdir(tmpl);
        return check(false, state, pin.error().message());
    }
    auto netfd = pin->open();
    std::string cg = "/sys/fs/cgroup/unified/bh-bench-" + std::to_string(::getpid());
    unique_fd cgfd;
    if (::mkdir(cg.c_str(), 0755) == 0) {
        auto f = open_fd(cg.c_str(), O_RDONLY | O_DIRECTORY);
        if (f) cgfd = std::move(*f);
    } else {
        cg.clear();
    }
    sandbox::spec s;
    s.argv = {payload()};
    s.env = sandbox::default_env();
    s.join.push_back({ns::kind::net, netfd->get()});
    s.cgroup_fd = cgfd.get();
    for (auto _ : state) {
        auto r = sandbox::run(s);
        if (!r || !r->success()) {
            state.SkipWithError(r ? r->describe().c_str() : r.error().message().c_str());
            break;
        }
    }
    state.SetLabel(cg.empty() ? "netns only (no cgroup2 dir)" : "netns + cgroup");
    cgfd.reset();
    if (!cg.empty()) ::rmdir(cg.c_str());
    netfd->reset();
    (void)pin->release();
    ::rmdir(tmpl);
}
BENCHMARK(BM_spawn_warm)->UseRealTime()->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
