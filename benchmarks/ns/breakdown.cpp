// Where a sandbox start's time goes: bulkhead::sandbox::run in-process with each feature of
// `bulkhead-run --unshare-all ... --root-dir ROOT --root-ro --proc /proc --rlimit NOFILE=1024
// [--seccomp FILE] [--cgroup DIR]` switched off in turn, beside the kernel floor (floor.hpp) done in the same process. No exec
// of a runner and no Python in the measurement, so the differences are not diluted.
// Interleaved: every round runs each variant K times in a rotated order; a variant's
// difference is the median over rounds of (variant - full) within the same round.
//
//   bench_ns_breakdown [--seccomp FILE] [--cgroup DIR] ROOT [ROUNDS [PER_ROUND]]
//     ROOT: a prepared root with /bin/true and an empty /proc; FILE: a raw BPF program (as
//     bulkhead-seccomp compile writes it); DIR: a prepared cgroup2 directory (CLONE_INTO_CGROUP).
//     startup_side_by_side.py --breakdown passes all three. Run as root.
#include "bulkhead/ns.hpp"
#include "bulkhead/sandbox.hpp"

#include "floor.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

using namespace bulkhead;

namespace {

double now() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

enum class kind { sandbox, floor_chroot, floor_pivot };

struct variant {
    const char* name;
    const char* what;
    kind k = kind::sandbox;
    bool init = true, loopback = true, read_only = true, drop_caps = true, seccomp = true, cgroup = true;
};

struct inputs {
    std::string root;
    std::vector<sock_filter> filter;
    int cgroup_fd = -1;
};

sandbox::spec make_spec(const variant& v, const inputs& in) {
    const std::string& root = in.root;
    sandbox::spec s;
    s.argv = {"/bin/true"};
    s.env = sandbox::default_env();
    s.new_namespaces = ns::kind_set{ns::kind::user, ns::kind::pid, ns::kind::mount, ns::kind::net,
                                    ns::kind::uts, ns::kind::ipc, ns::kind::cgroup};
    s.uid_map = ns::id_map{{0, 100000, 65536}};
    s.gid_map = ns::id_map{{0, 100000, 65536}};
    s.mounts.root_directory(root).proc("/proc");
    if (v.read_only) s.mounts.root_read_only();
    s.harden.rlimits.push_back({RLIMIT_NOFILE, 1024, 1024});
    // Keeping every capability leaves the bounding set alone (no PR_CAPBSET_DROP at all).
    if (!v.drop_caps) s.harden.keep_caps = ns::cap_set::from_mask(~std::uint64_t{0});
    s.loopback_up = v.loopback;
    s.init = v.init;
    if (v.seccomp) s.seccomp = in.filter;
    if (v.cgroup) s.cgroup_fd = in.cgroup_fd;
    return s;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    inputs in;
    std::string seccomp_file, cgroup_dir;
    int i = 1;
    for (; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--seccomp") seccomp_file = argv[i + 1];
        else if (a == "--cgroup") cgroup_dir = argv[i + 1];
        else break;
    }
    if (i >= argc) {
        std::fprintf(stderr, "usage: bench_ns_breakdown [--seccomp FILE] [--cgroup DIR] ROOT [ROUNDS [PER_ROUND]]\n");
        return 2;
    }
    in.root = argv[i];
    const int rounds = i + 1 < argc ? std::max(1, std::atoi(argv[i + 1])) : 30;
    const int per = i + 2 < argc ? std::max(1, std::atoi(argv[i + 2])) : 20;
    if (!seccomp_file.empty()) {
        auto bytes = read_file(seccomp_file.c_str(), AT_FDCWD, 1u << 20);
        if (!bytes) {
            std::fprintf(stderr, "bench_ns_breakdown: --seccomp: %s\n", bytes.error().message().c_str());
            return 2;
        }
        if (bytes->empty() || bytes->size() % sizeof(sock_filter) != 0) {
            std::fprintf(stderr, "bench_ns_breakdown: %s: %zu bytes is not a BPF program\n", seccomp_file.c_str(), bytes->size());
            return 2;
        }
        in.filter.resize(bytes->size() / sizeof(sock_filter));
        std::memcpy(in.filter.data(), bytes->data(), bytes->size());
    }
    unique_fd cg;
    if (!cgroup_dir.empty()) {
        auto f = open_fd(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (!f) {
            std::fprintf(stderr, "bench_ns_breakdown: %s\n", f.error().message().c_str());
            return 2;
        }
        cg = std::move(*f);
        in.cgroup_fd = cg.get();
    }
    std::vector<variant> vs = {
        {"full", "as bulkhead-run --unshare-all --root-dir --root-ro --proc --rlimit --seccomp --cgroup"},
        {"-init", "no pid-1 init (the payload is pid 1)", kind::sandbox, false},
        {"-lo", "lo left down", kind::sandbox, true, false},
        {"-ro", "root left writable", kind::sandbox, true, true, false},
        {"-capdrop", "bounding set left full", kind::sandbox, true, true, true, false},
        {"-seccomp", "no seccomp filter", kind::sandbox, true, true, true, true, false},
        {"-cgroup", "not spawned into the cgroup", kind::sandbox, true, true, true, true, true, false},
        {"bare", "none of the six above", kind::sandbox, false, false, false, false, false, false},
        {"floor-pivot", "kernel floor, pivot_root (floor.hpp)", kind::floor_pivot},
        {"floor", "kernel floor, chroot (floor.hpp)", kind::floor_chroot},
    };
    // Without a filter or a cgroup to add, those rows would only repeat "full".
    vs.erase(std::remove_if(vs.begin(), vs.end(), [&](const variant& v) {
        return (std::string(v.name) == "-seccomp" && in.filter.empty()) || (std::string(v.name) == "-cgroup" && in.cgroup_fd < 0);
    }), vs.end());
    const std::string& root = in.root;
    std::vector<sandbox::spec> specs;
    for (const auto& v : vs) specs.push_back(make_spec(v, in));
    char true_path[] = "/bin/true";
    char* floor_argv[] = {true_path, nullptr};

    std::vector<std::vector<double>> ms(vs.size());
    for (int r = 0; r < rounds; ++r) {
        for (std::size_t j = 0; j < vs.size(); ++j) {
            const std::size_t k = (j + static_cast<std::size_t>(r)) % vs.size();
            const double t0 = now();
            for (int n = 0; n < per; ++n) {
                if (vs[k].k == kind::sandbox) {
                    auto st = sandbox::run(specs[k]);
                    if (!st || !st->success()) {
                        std::fprintf(stderr, "bench_ns_breakdown: %s: %s\n", vs[k].name,
                                     st ? st->describe().c_str() : st.error().message().c_str());
                        return 1;
                    }
                } else {
                    int st = bh_floor::run(root.c_str(), vs[k].k == kind::floor_pivot, floor_argv);
                    if (st != 0) {
                        std::fprintf(stderr, "bench_ns_breakdown: %s failed (status %d)\n", vs[k].name, st);
                        return 1;
                    }
                }
            }
            ms[k].push_back((now() - t0) / per * 1e3);
        }
    }
    std::printf("in-process start of /bin/true, %d rounds x %d starts, interleaved (ms per start)\n", rounds, per);
    std::printf("%-12s %8s %14s %10s  %s\n", "variant", "median", "vs full (ms)", "x floor", "what");
    for (std::size_t k = 0; k < vs.size(); ++k) {
        std::vector<double> d, q;
        for (std::size_t r = 0; r < ms[k].size(); ++r) {
            d.push_back(ms[k][r] - ms[0][r]);
            q.push_back(ms[k][r] / ms.back()[r]);
        }
        std::printf("%-12s %8.3f %+14.3f %9.2fx  %s\n", vs[k].name, median(ms[k]), median(d), median(q), vs[k].what);
    }
    return 0;
}
