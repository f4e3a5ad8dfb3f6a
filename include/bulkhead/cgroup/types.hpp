#pragma once
/// \file cgroup/types.hpp
/// Value types of the cgroup module: limits (what is written to interface files) and
/// statistics (what is read back), free of any I/O.

#include "bulkhead/config.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace cg {

/// "max" in a cgroup interface file: no limit.
inline constexpr std::uint64_t unlimited = std::numeric_limits<std::uint64_t>::max();

/// cpu.max: `quota_us` of CPU time per `period_us` (quota `unlimited` = "max").
struct cpu_max {
    std::uint64_t quota_us = unlimited;
    std::uint64_t period_us = 100000;
    friend bool operator==(const cpu_max&, const cpu_max&) = default;
};

/// A block device by number.
struct device_number {
    std::uint32_t major = 0;
    std::uint32_t minor = 0;
    friend bool operator==(const device_number&, const device_number&) = default;
};

/// One line of io.max. A field left empty is not written (the kernel keeps its value);
/// `unlimited` writes "max".
struct io_max {
    device_number device;
    std::optional<std::uint64_t> rbps, wbps, riops, wiops;
    friend bool operator==(const io_max&, const io_max&) = default;
};

/// A set of limits; only the fields that hold a value are written by `cgroup::apply`.
struct limits {
    std::optional<cpu_max> cpu;                    ///< cpu.max
    std::optional<std::uint32_t> cpu_weight;       ///< cpu.weight, 1..10000
    std::optional<std::string> cpuset_cpus;        ///< cpuset.cpus, e.g. "0-3,6"
    std::optional<std::string> cpuset_mems;        ///< cpuset.mems
    std::optional<std::uint64_t> memory_min;       ///< memory.min, bytes
    std::optional<std::uint64_t> memory_low;       ///< memory.low
    std::optional<std::uint64_t> memory_high;      ///< memory.high
    std::optional<std::uint64_t> memory_max;       ///< memory.max
    std::optional<std::uint64_t> memory_swap_max;  ///< memory.swap.max
    std::optional<bool> memory_oom_group;          ///< memory.oom.group
    std::optional<std::uint64_t> pids_max;         ///< pids.max
    std::vector<io_max> io;                        ///< io.max, one entry per device
    std::optional<std::uint32_t> io_weight;        ///< io.weight "default", 1..10000
};

/// cpu.stat (times in microseconds). Keys this struct does not name are ignored.
struct cpu_stat {
    std::uint64_t usage_usec = 0, user_usec = 0, system_usec = 0;
    std::uint64_t nr_periods = 0, nr_throttled = 0, throttled_usec = 0;
    std::uint64_t nr_bursts = 0, burst_usec = 0;
};

/// memory.events (or memory.events.local): counts of each event.
struct memory_events {
    std::uint64_t low = 0, high = 0, max = 0, oom = 0, oom_kill = 0, oom_group_kill = 0;
};

/// cgroup.events.
struct cgroup_events {
    bool populated = false;
    bool frozen = false;
};

/// cgroup.stat.
struct cgroup_stat {
    std::uint64_t nr_descendants = 0;
    std::uint64_t nr_dying_descendants = 0;
};

/// A flat keyed file ("key value" lines) such as memory.stat, in file order.
struct keyed_values {
    std::vector<std::pair<std::string, std::uint64_t>> entries;
    /// The value of `key`, or nullopt.
    [[nodiscard]] std::optional<std::uint64_t> get(std::string_view key) const noexcept {
        for (const auto& [k, v] : entries)
            if (k == key) return v;
        return std::nullopt;
    }
};

/// memory.stat: every key the kernel reports (anon, file, kernel, sock, pgfault, ...).
using memory_stat = keyed_values;

/// One device line of io.stat.
struct io_stat_entry {
    device_number device;
    std::uint64_t rbytes = 0, wbytes = 0, rios = 0, wios = 0, dbytes = 0, dios = 0;
};
using io_stat = std::vector<io_stat_entry>;

/// One line of a PSI file: the share of wall time stalled (percent) over 10/60/300 s and
/// the total stall time in microseconds.
struct psi_line {
    double avg10 = 0, avg60 = 0, avg300 = 0;
    std::uint64_t total_usec = 0;
};

/// cpu.pressure / memory.pressure / io.pressure (or /proc/pressure/*).
struct psi {
    psi_line some;
    psi_line full;
    bool has_full = false; ///< the "full" line was present
};

/// Which PSI file.
enum class psi_resource { cpu, memory, io };

[[nodiscard]] constexpr const char* psi_file(psi_resource r) noexcept {
    switch (r) {
    case psi_resource::cpu: return "cpu.pressure";
    case psi_resource::memory: return "memory.pressure";
    case psi_resource::io: return "io.pressure";
    }
    return "memory.pressure";
}

} // namespace cg
BULKHEAD_NAMESPACE_END
