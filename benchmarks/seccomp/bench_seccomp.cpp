// Docker's default profile on x86_64 (i386/x32 killed), bulkhead vs libseccomp:
//  1. program length and instructions executed per allowed syscall (emulator), bulkhead vs
//     libseccomp optimize levels 1 and 2;
//  2. syscall cost with the kernel's seccomp action cache defeated (every program gets a
//     leading `ld [instruction_pointer]`, so the kernel cannot prove any verdict constant
//     and runs the filter on every call): getppid, a syscall mix, personality(0xffffffff)
//     (argument-checked). Each filter is installed in its own child process running Google
//     Benchmark; the parent prints CPU-time ratios bulkhead/libseccomp (goal <= 1.00).
//  3. paired A/B (the figure for the goal): one resident child per filter, both pinned to
//     one CPU, alternating timed blocks; the median per-pair ratio with a 95% CI.
//
// Usage: bench_seccomp [PROFILE.json] [google benchmark flags]
#include "bulkhead/detail/json.hpp"
#include "bulkhead/process.hpp"
#include "bulkhead/seccomp.hpp"
#include "libseccomp_bridge.hpp"
#include "probes.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sc = bulkhead::seccomp;

namespace {

void BM_getppid(benchmark::State& st) {
    for (auto _ : st) benchmark::DoNotOptimize(::syscall(SYS_getppid));
    st.SetItemsProcessed(st.iterations());
}
void BM_mix(benchmark::State& st) {
    for (auto _ : st) {
        benchmark::DoNotOptimize(::syscall(SYS_read, -1, nullptr, 0));
        benchmark::DoNotOptimize(::syscall(SYS_lseek, -1, 0, 0));
        benchmark::DoNotOptimize(::syscall(SYS_fcntl, 0, F_GETFD));
        benchmark::DoNotOptimize(::syscall(SYS_getrlimit, 7, nullptr));
        benchmark::DoNotOptimize(::syscall(SYS_getppid));
        benchmark::DoNotOptimize(::syscall(SYS_getuid));
        benchmark::DoNotOptimize(::syscall(SYS_umask, 022));
        benchmark::DoNotOptimize(::syscall(SYS_sched_getscheduler, 0));
    }
    st.SetItemsProcessed(st.iterations() * 8);
}
void BM_personality(benchmark::State& st) {
    for (auto _ : st) benchmark::DoNotOptimize(::syscall(SYS_personality, 0xffffffffUL));
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_getppid);
BENCHMARK(BM_mix);
BENCHMARK(BM_personality);

struct stats {
    std::size_t n = 0;
    std::uint32_t min = 0, median = 0, max = 0;
};
stats summarize(std::vector<std::uint32_t> v) {
    stats s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    return {v.size(), v.front(), v[v.size() / 2], v.back()};
}

/// Executed instructions per allowed (syscall, probe), split into syscalls whose verdict
/// does not depend on arguments and argument-checked ones.
void executed(const sc::program& prog, const sc::policy& p, stats& plain, stats& checked) {
    std::vector<std::uint32_t> a, b;
    const auto& ap = p.arches.at(0);
    auto max = sc::table(sc::arch::x86_64).max_nr;
    seccomp_test::for_each_probe(p, [&](const sc::data& d) {
        if (d.arch != sc::audit_arch_x86_64 || static_cast<std::uint32_t>(d.nr) > max) return;
        auto r = sc::run(prog, d);
        if (r.verdict() != sc::action::allow()) return;
        auto it = ap.syscalls.find(static_cast<std::uint32_t>(d.nr));
        bool args = it != ap.syscalls.end() && !it->second.empty() && !it->second[0].all_of.empty();
        (args ? b : a).push_back(r.executed);
    });
    plain = summarize(a);
    checked = summarize(b);
}

sc::program defeat_cache(const sc::program& p) {
    sc::program out{BPF_STMT(BPF_LD | BPF_W | BPF_ABS, sc::off_ip)};
    out.insert(out.end(), p.begin(), p.end());
    return out;
}

/// Runs the registered benchmarks in a child that installed `prog` (none when empty);
/// returns name -> cpu_time (ns) read back from Google Benchmark's JSON.
std::map<std::string, double> run_variant(const std::string& name, const sc::program& prog, int argc, char** argv,
                                          int stack = 1) {
    std::string file = "/tmp/bench_seccomp_" + name + "_" + std::to_string(::getpid()) + ".json";
    auto c = bulkhead::fork_call([&] {
        // `stack` copies: the kernel runs every filter of the chain on each syscall, which
        // multiplies the filters' share of the cost and makes their difference measurable.
        for (int i = 0; i < stack; ++i)
            if (!prog.empty() && !sc::install(prog)) return 3;
        std::vector<std::string> args{argv[0], "--benchmark_out=" + file, "--benchmark_out_format=json",
                                      "--benchmark_repetitions=5"};
        for (int i = 1; i < argc; ++i)
            if (std::string(argv[i]).rfind("--benchmark", 0) == 0) args.emplace_back(argv[i]);
        std::vector<char*> av;
        for (auto& s : args) av.push_back(s.data());
        int ac = static_cast<int>(av.size());
        std::printf("--- %s ---\n", name.c_str());
        std::fflush(stdout);
        benchmark::Initialize(&ac, av.data());
        benchmark::RunSpecifiedBenchmarks();
        benchmark::Shutdown();
        std::fflush(stdout);
        return 0;
    });
    std::map<std::string, double> out;
    if (!c) return out;
    auto st = c->wait();
    if (!st || !st->success()) {
        std::fprintf(stderr, "bench_seccomp: variant %s failed: %s\n", name.c_str(), st ? st->describe().c_str() : "wait");
        return out;
    }
    auto text = bulkhead::read_file(file.c_str());
    ::unlink(file.c_str());
    if (!text) return out;
    auto doc = bulkhead::detail::json::parse(*text);
    if (!doc) return out;
    if (const auto* bs = doc->find("benchmarks"))
        for (const auto& b : bs->items()) {
            const auto* n = b.find("name");
            const auto* t = b.find("cpu_time");
            const auto* rt = b.find("run_type");
            if (!n || !t || !n->is_string() || !t->is_number()) continue;
            if (rt && rt->is_string() && rt->as_string() != "iteration") continue;
            std::string key = n->as_string();
            if (!out.count(key) || t->as_double() < out[key]) out[key] = t->as_double();
        }
    return out;
}

// ---- paired A/B: two resident children, one per filter, pinned to one CPU -------------
// Each child installs its filter once and then runs timed blocks of syscalls on command;
// the parent alternates A B / B A blocks, so the two filters see the same machine state
// within microseconds of each other, and takes the median of the per-pair ratios with a
// distribution-free 95% confidence interval (order statistics of the sign test). Timing
// uses clock_gettime(CLOCK_MONOTONIC) through the vDSO, which makes no syscall.

enum class workload : char { getppid = 'g', mix = 'm', personality = 'p' };

inline void run_workload(workload w, long n) {
    for (long i = 0; i < n; ++i) switch (w) {
        case workload::getppid: benchmark::DoNotOptimize(::syscall(SYS_getppid)); break;
        case workload::personality: benchmark::DoNotOptimize(::syscall(SYS_personality, 0xffffffffUL)); break;
        case workload::mix:
            benchmark::DoNotOptimize(::syscall(SYS_read, -1, nullptr, 0));
            benchmark::DoNotOptimize(::syscall(SYS_lseek, -1, 0, 0));
            benchmark::DoNotOptimize(::syscall(SYS_fcntl, 0, F_GETFD));
            benchmark::DoNotOptimize(::syscall(SYS_getrlimit, 7, nullptr));
            benchmark::DoNotOptimize(::syscall(SYS_getppid));
            benchmark::DoNotOptimize(::syscall(SYS_getuid));
            benchmark::DoNotOptimize(::syscall(SYS_umask, 022));
            benchmark::DoNotOptimize(::syscall(SYS_sched_getscheduler, 0));
            break;
    }
}

struct resident {
    bulkhead::unique_fd cmd, reply;
    std::optional<bulkhead::child> proc;
};

std::optional<resident> start_resident(const sc::program& prog, int cpu) {
    auto to = bulkhead::make_pipe();
    auto from = bulkhead::make_pipe();
    if (!to || !from) return std::nullopt;
    int rd = to->read.get(), wr = from->write.get();
    auto c = bulkhead::fork_call([&]() -> int {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (::sched_setaffinity(0, sizeof set, &set) != 0) return 4;
        if (!prog.empty() && !sc::install(prog)) return 3;
        for (;;) {
            char op = 0;
            long n = 0;
            if (::read(rd, &op, 1) != 1 || op == 'q') return 0;
            if (::read(rd, &n, sizeof n) != sizeof n) return 5;
            timespec t0{}, t1{};
            ::clock_gettime(CLOCK_MONOTONIC, &t0);
            run_workload(static_cast<workload>(op), n);
            ::clock_gettime(CLOCK_MONOTONIC, &t1);
            double ns = double(t1.tv_sec - t0.tv_sec) * 1e9 + double(t1.tv_nsec - t0.tv_nsec);
            if (::write(wr, &ns, sizeof ns) != sizeof ns) return 6;
        }
    });
    if (!c) return std::nullopt;
    resident r{std::move(to->write), std::move(from->read), std::move(*c)};
    return r;
}

double timed_block(resident& r, workload w, long n) {
    char op = static_cast<char>(w);
    double ns = 0;
    if (::write(r.cmd.get(), &op, 1) != 1 || ::write(r.cmd.get(), &n, sizeof n) != sizeof n) return -1;
    if (::read(r.reply.get(), &ns, sizeof ns) != sizeof ns) return -1;
    return ns / double(n);
}

struct paired_result {
    double a_ns = 0, b_ns = 0, median = 0, lo = 0, hi = 0;
    std::size_t a_faster = 0, pairs = 0;
};

/// `pairs` alternating blocks of `n` iterations; ratio = A / B per pair.
std::optional<paired_result> paired_ab(resident& a, resident& b, workload w, long n, std::size_t pairs) {
    std::vector<double> ratio, ta, tb;
    for (int warm = 0; warm < 3; ++warm) {
        timed_block(a, w, n);
        timed_block(b, w, n);
    }
    for (std::size_t i = 0; i < pairs; ++i) {
        double x, y;
        if (i % 2 == 0) {
            x = timed_block(a, w, n);
            y = timed_block(b, w, n);
        } else {
            y = timed_block(b, w, n);
            x = timed_block(a, w, n);
        }
        if (x <= 0 || y <= 0) return std::nullopt;
        ratio.push_back(x / y);
        ta.push_back(x);
        tb.push_back(y);
    }
    auto med = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    paired_result r;
    r.pairs = pairs;
    r.a_ns = med(ta);
    r.b_ns = med(tb);
    for (double q : ratio) r.a_faster += q < 1.0;
    std::sort(ratio.begin(), ratio.end());
    r.median = ratio[ratio.size() / 2];
    // 95% CI of the median: ranks n/2 -+ 1.96 sqrt(n)/2 (normal approximation of the sign test).
    double half = 1.96 * std::sqrt(double(pairs)) / 2.0;
    auto k = static_cast<std::size_t>(std::max(0.0, std::floor(double(pairs) / 2.0 - half)));
    r.lo = ratio[k];
    r.hi = ratio[std::min(pairs - 1, pairs - 1 - k)];
    return r;
}

} // namespace

int main(int argc, char** argv) {
    std::string path = std::string(BULKHEAD_BENCH_SHARED_DIR) + "/data/seccomp/docker-default.json";
    if (argc > 1 && argv[1][0] != '-') path = argv[1];
    if (::access(path.c_str(), R_OK) != 0) path = "/work/shared/data/seccomp/docker-default.json";
    sc::profile_options o;
    o.host = sc::arch::x86_64;
    auto pr = sc::load_profile(path, o);
    if (!pr) {
        std::fprintf(stderr, "bench_seccomp: %s\n", pr.error().message().c_str());
        return 2;
    }
    auto ours = sc::compile(pr->policy);
    if (!ours) {
        std::fprintf(stderr, "bench_seccomp: %s\n", ours.error().message().c_str());
        return 2;
    }
    std::string err;
    auto l1 = seccomp_test::libseccomp_program(pr->policy.arches[0], 1, err);
    auto l2 = seccomp_test::libseccomp_program(pr->policy.arches[0], 2, err);
    if (l1.empty() || l2.empty()) {
        std::fprintf(stderr, "bench_seccomp: libseccomp: %s\n", err.c_str());
        return 2;
    }
    std::printf("Docker default profile (%s), x86_64, i386/x32 killed\n", path.c_str());
    std::printf("%-22s %8s   %-22s %-22s\n", "filter", "insns", "executed plain min/med/max", "arg-checked min/med/max");
    for (auto& [name, prog] : std::vector<std::pair<std::string, const sc::program*>>{
             {"bulkhead", &*ours}, {"libseccomp level 1", &l1}, {"libseccomp level 2", &l2}}) {
        stats a, b;
        executed(*prog, pr->policy, a, b);
        std::printf("%-22s %8zu   %4u / %4u / %4u          %4u / %4u / %4u\n", name.c_str(), prog->size(), a.min,
                    a.median, a.max, b.min, b.median, b.max);
    }
    std::printf("ratio insns bulkhead/libseccomp-L2: %.2f\n\n", double(ours->size()) / double(l2.size()));
    std::fflush(stdout);

    // A B A B A B A B: the fastest repetition over four runs of each, against interference
    // and drift on a busy host (the minimum estimates the cost without interference).
    auto base = run_variant("no-filter", {}, argc, argv);
    std::map<std::string, double> b, l;
    auto keep_min = [](std::map<std::string, double>& into, const std::map<std::string, double>& r) {
        for (auto& [k, v] : r)
            if (!into.count(k) || v < into[k]) into[k] = v;
    };
    for (int round = 0; round < 4; ++round) {
        keep_min(b, run_variant("bulkhead", defeat_cache(*ours), argc, argv));
        keep_min(l, run_variant("libseccomp-L2", defeat_cache(l2), argc, argv));
    }
    std::map<std::string, double> b8, l8;
    for (int round = 0; round < 2; ++round) {
        keep_min(b8, run_variant("bulkhead-x8", defeat_cache(*ours), argc, argv, 8));
        keep_min(l8, run_variant("libseccomp-L2-x8", defeat_cache(l2), argc, argv, 8));
    }
    auto table = [&](const char* title, std::map<std::string, double>& x, std::map<std::string, double>& y) {
        std::printf("\n%s\n", title);
        std::printf("%-18s %12s %12s %14s %10s\n", "benchmark", "no filter", "bulkhead", "libseccomp-L2", "ratio");
        for (const char* n : {"BM_getppid", "BM_mix", "BM_personality"}) {
            double bx = x.count(n) ? x[n] : 0, ly = y.count(n) ? y[n] : 0, z = base.count(n) ? base[n] : 0;
            std::printf("%-18s %12.1f %12.1f %14.1f %10.3f\n", n, z, bx, ly, ly > 0 ? bx / ly : 0.0);
        }
    };
    table("CPU ns per iteration, one filter, fastest of 5 repetitions x 4 A/B runs\n"
          "(action cache defeated: leading ld [instruction_pointer])", b, l);
    table("CPU ns per iteration, the same filter stacked 8 times, fastest of 5 repetitions x 2 A/B runs", b8, l8);
    // Paired A/B (see paired_ab): the primary figure for the goal.
    {
        const int cpu = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)) - 1;
        auto ra = start_resident(defeat_cache(*ours), cpu);
        auto rb = start_resident(defeat_cache(l2), cpu);
        if (!ra || !rb) {
            std::fprintf(stderr, "bench_seccomp: cannot start the paired A/B children\n");
            return 2;
        }
        std::printf("\nPaired A/B, one filter each, both children pinned to CPU %d, action cache defeated\n"
                    "(%d pairs of alternating blocks per workload; ratio = bulkhead / libseccomp-L2 per pair)\n",
                    cpu, 401);
        std::printf("%-16s %8s %10s %14s %9s %17s %14s\n", "workload", "executed", "bulkhead", "libseccomp-L2",
                    "median", "95% CI", "bulkhead faster");
        struct row {
            const char* name;
            workload w;
            long n;
            std::vector<long> nrs;
            std::uint64_t arg0;
        };
        for (const auto& rw : {row{"getppid", workload::getppid, 20000, {SYS_getppid}, 0},
                               row{"mix (8 calls)", workload::mix, 2500,
                                   {SYS_read, SYS_lseek, SYS_fcntl, SYS_getrlimit, SYS_getppid, SYS_getuid, SYS_umask,
                                    SYS_sched_getscheduler},
                                   0},
                               row{"personality", workload::personality, 20000, {SYS_personality}, 0xffffffffUL}}) {
            // Instructions executed (emulator, the cache-defeating load included): ours / theirs.
            unsigned ea = 0, eb = 0;
            for (long nr : rw.nrs) {
                sc::data d{};
                d.nr = static_cast<int>(nr);
                d.arch = sc::audit_arch_x86_64;
                d.args[0] = rw.arg0;
                ea += sc::run(defeat_cache(*ours), d).executed;
                eb += sc::run(defeat_cache(l2), d).executed;
            }
            auto r = paired_ab(*ra, *rb, rw.w, rw.n, 401);
            if (!r) {
                std::fprintf(stderr, "bench_seccomp: paired A/B failed\n");
                return 2;
            }
            char ex[32], ci[40], fa[32];
            std::snprintf(ex, sizeof ex, "%u/%u", ea, eb);
            std::snprintf(ci, sizeof ci, "[%.3f, %.3f]", r->lo, r->hi);
            std::snprintf(fa, sizeof fa, "%zu of %zu", r->a_faster, r->pairs);
            std::printf("%-16s %8s %10.1f %14.1f %9.3f %17s %14s\n", rw.name, ex, r->a_ns, r->b_ns, r->median, ci, fa);
        }
        for (auto* r : {&*ra, &*rb}) {
            char q = 'q';
            if (::write(r->cmd.get(), &q, 1) != 1) (void)r->proc->kill();
            (void)r->proc->wait();
        }
    }
    return 0;
}
