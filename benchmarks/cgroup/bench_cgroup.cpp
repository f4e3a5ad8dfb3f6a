// cgroup lifecycle costs: mkdir+rmdir, configuring limits, starting a process inside a group
// (clone3 CLONE_INTO_CGROUP vs. the child writing its pid into cgroup.procs), and the whole
// create + limits + spawn + kill + remove cycle. Runs on the hybrid host (no controllers:
// limits are skipped and reported as such) and in the VM (benchmarks/cgroup/vm_bench.sh).
#include "bulkhead/cgroup.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>

#include <fcntl.h>
#include <unistd.h>

using namespace bulkhead;

namespace {

std::string g_mount;
bool g_controllers = false;

bool setup() {
    if (!g_mount.empty()) return true;
    auto sys = cg::discover();
    if (!sys) return false;
    g_mount = sys->mount;
    auto sub = cg::subtree_control_at(g_mount);
    g_controllers = sub && std::find(sub->begin(), sub->end(), "memory") != sub->end() &&
                    std::find(sub->begin(), sub->end(), "pids") != sub->end() &&
                    std::find(sub->begin(), sub->end(), "cpu") != sub->end();
    return true;
}

std::string bench_name() { return "bulkhead-bench-" + std::to_string(::getpid()); }

cg::limits site_limits() {
    cg::limits l;
    l.memory_max = 256u << 20;
    l.memory_high = 192u << 20;
    l.pids_max = 128;
    l.cpu = cg::cpu_max{50000, 100000};
    l.cpu_weight = 200;
    return l;
}

/// Child side of the cgroup.procs variant: move itself, then exit. Allocation-free.
int join_by_procs(int dirfd) {
    int fd = ::openat(dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    if (::write(fd, "0", 1) != 1) return 2;
    ::close(fd);
    return 0;
}

bool spawn_one(const cgroup& g, bool clone_into) {
    result<child> c = clone_into ? g.spawn([] { return 0; })
                                 : fork_call([fd = g.fd()] { return join_by_procs(fd); });
    if (!c) return false;
    auto st = c->wait();
    return st && st->success();
}

void BM_mkdir_rmdir(benchmark::State& state) {
    if (!setup()) return state.SkipWithError("no cgroup2 mount");
    for (auto _ : state) {
        auto g = cgroup::create(g_mount, bench_name());
        if (!g) return state.SkipWithError(g.error().message().c_str());
        if (auto r = g->remove(); !r) return state.SkipWithError(r.error().message().c_str());
    }
}
BENCHMARK(BM_mkdir_rmdir)->UseRealTime();

void BM_apply_limits(benchmark::State& state) {
    if (!setup()) return state.SkipWithError("no cgroup2 mount");
    if (!g_controllers) return state.SkipWithError("memory/pids/cpu controllers not available here (hybrid)");
    auto g = cgroup::create(g_mount, bench_name());
    if (!g) return state.SkipWithError(g.error().message().c_str());
    auto l = site_limits();
    for (auto _ : state)
        if (auto r = g->apply(l); !r) return state.SkipWithError(r.error().message().c_str());
    state.SetItemsProcessed(state.iterations() * 5);
}
BENCHMARK(BM_apply_limits)->UseRealTime();

/// Arg 1: clone3(CLONE_INTO_CGROUP); arg 0: the child writes cgroup.procs itself.
void BM_spawn_into(benchmark::State& state) {
    if (!setup()) return state.SkipWithError("no cgroup2 mount");
    auto g = cgroup::create(g_mount, bench_name());
    if (!g) return state.SkipWithError(g.error().message().c_str());
    bool clone_into = state.range(0) == 1;
    for (auto _ : state)
        if (!spawn_one(*g, clone_into)) return state.SkipWithError("spawn failed");
    state.SetLabel(clone_into ? "CLONE_INTO_CGROUP" : "write cgroup.procs");
}
BENCHMARK(BM_spawn_into)->Arg(1)->Arg(0)->UseRealTime();

/// Baseline: the same child without any cgroup move.
void BM_spawn_plain(benchmark::State& state) {
    for (auto _ : state) {
        auto c = fork_call([] { return 0; });
        if (!c || !c->wait()) return state.SkipWithError("spawn failed");
    }
}
BENCHMARK(BM_spawn_plain)->UseRealTime();

/// create + limits (when available) + spawn a sleeper into it + kill + remove.
void BM_lifecycle(benchmark::State& state) {
    if (!setup()) return state.SkipWithError("no cgroup2 mount");
    bool clone_into = state.range(0) == 1;
    auto l = site_limits();
    for (auto _ : state) {
        auto g = cgroup::create(g_mount, bench_name());
        if (!g) return state.SkipWithError(g.error().message().c_str());
        if (g_controllers)
            if (auto r = g->apply(l); !r) return state.SkipWithError(r.error().message().c_str());
        // Both children report through a pipe once they run inside the group, so the kill
        // below always finds a running process.
        auto ready = make_pipe();
        if (!ready) return state.SkipWithError("pipe failed");
        int w = ready->write.get();
        result<child> c = clone_into ? g->spawn([w] {
                                           if (::write(w, "x", 1) != 1) return 2;
                                           for (;;) ::pause();
                                           return 0;
                                       })
                                     : fork_call([fd = g->fd(), w] {
                                           if (join_by_procs(fd) != 0) return 1;
                                           if (::write(w, "x", 1) != 1) return 2;
                                           for (;;) ::pause();
                                           return 0;
                                       });
        if (!c) return state.SkipWithError("spawn failed");
        char b;
        if (::read(ready->read.get(), &b, 1) != 1) return state.SkipWithError("child did not start");
        if (auto r = g->kill(); !r) return state.SkipWithError(r.error().message().c_str());
        (void)c->wait();
        if (auto r = g->remove(); !r) return state.SkipWithError(r.error().message().c_str());
    }
    state.SetLabel(std::string(clone_into ? "CLONE_INTO_CGROUP" : "write cgroup.procs") +
                   (g_controllers ? ", with limits" : ", no controllers (hybrid)"));
}
BENCHMARK(BM_lifecycle)->Arg(1)->Arg(0)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
