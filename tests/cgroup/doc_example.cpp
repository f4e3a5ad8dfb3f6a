// The example of docs/cgroup.md, compiled and run by the VM tier (keep the two in sync).
#include <bulkhead/cgroup.hpp>

#include <cstdio>

int run_site_example() {
    using namespace bulkhead;
    auto sys = cg::discover();
    if (!sys) {
        std::fprintf(stderr, "%s\n", sys.error().message().c_str());
        return 1;
    }
    // A site gets its own group; nginx and php-fpm get sub-groups with their own limits.
    auto site = cgroup::create(sys->mount, "example.org");
    if (!site) {
        std::fprintf(stderr, "%s\n", site.error().message().c_str());
        return 1;
    }
    if (auto r = site->enable_controllers({"cpu", "memory", "pids"}); !r) {
        std::fprintf(stderr, "%s\n", r.error().message().c_str());
        return 1;
    }
    cg::limits whole;
    whole.memory_max = 256u << 20;
    whole.cpu = cg::cpu_max{50000, 100000}; // half a CPU
    auto php = site->create_child("php");
    cg::limits l;
    l.memory_high = 96u << 20;
    l.pids_max = 64;
    if (auto r = site->apply(whole); !r || !php) return 1;
    if (auto r = php->apply(l); !r) {
        std::fprintf(stderr, "%s\n", r.error().message().c_str());
        return 1;
    }
    // Start a worker directly inside the php group (clone3 + CLONE_INTO_CGROUP).
    auto worker = php->spawn([] { return 0; });
    if (!worker || !worker->wait()) return 1;
    auto mem = site->memory_current();
    std::printf("example.org uses %llu bytes\n", static_cast<unsigned long long>(mem.value_or(0)));
    return 0;
} // php and the site are killed and removed here, deepest first
