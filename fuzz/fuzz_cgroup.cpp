// Fuzz target for the cgroup module's parsers of kernel-produced text: flat keyed files
// (cpu.stat, memory.events, cgroup.events, cgroup.stat, memory.stat), io.stat, io.max, PSI,
// cpu.max, weights, mountinfo, /proc/cgroups, /proc/self/cgroup and user-written sizes.
// The first byte selects the parser; the rest is its input.
#include "bulkhead/cgroup/discovery.hpp"
#include "bulkhead/cgroup/parse.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace bulkhead;
    if (size == 0) return 0;
    std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 14) {
    case 0: (void)cg::parse_cpu_stat(in); break;
    case 1: (void)cg::parse_memory_events(in); break;
    case 2: (void)cg::parse_cgroup_events(in); break;
    case 3: (void)cg::parse_cgroup_stat(in); break;
    case 4: {
        auto kv = cg::parse_keyed(in, "memory.stat");
        if (kv) (void)kv->get("anon");
        break;
    }
    case 5: (void)cg::parse_io_stat(in); break;
    case 6: {
        auto m = cg::parse_io_max(in);
        if (m)
            for (const auto& e : *m)
                if (e.rbps || e.wbps || e.riops || e.wiops) (void)cg::format_io_max(e);
        break;
    }
    case 7: {
        auto p = cg::parse_psi(in, "memory.pressure");
        if (p && (p->some.avg10 < 0 || p->some.avg10 > 100)) __builtin_trap();
        break;
    }
    case 8: {
        auto c = cg::parse_cpu_max(in);
        if (c) (void)cg::format_cpu_max(*c);
        break;
    }
    case 9: (void)cg::parse_weight(in, "io.weight"); break;
    case 10: (void)cg::parse_mountinfo(in); break;
    case 11: (void)cg::parse_proc_cgroups(in); break;
    case 12: (void)cg::parse_proc_pid_cgroup(in); break;
    case 13: {
        (void)cg::parse_size(in, "memory.max");
        (void)cg::parse_max_or_number(in, "memory.max");
        (void)cg::validate_cpuset_list("cpuset.cpus", in);
        (void)cg::discover_from(in, "0::/\n", "");
        break;
    }
    }
    return 0;
}
