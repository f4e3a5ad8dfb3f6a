#pragma once
/// \file cgroup/parse.hpp
/// Parsers for cgroup v2 interface files and the validators/formatters of limit values. The
/// parsers take untrusted text: they never throw (beyond allocation), never read out of
/// bounds, and report the line and column of what was wrong. Validators name the file and
/// the value: `cgroup: write memory.max "-5": Invalid argument (negative)`.

#include "bulkhead/cgroup/types.hpp"
#include "bulkhead/config.hpp"
#include "bulkhead/detail/text.hpp"
#include "bulkhead/error.hpp"

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace cg {

namespace detail {

/// `file "value"` as rendered in write errors.
inline std::string file_value(std::string_view file, std::string_view value) {
    std::string s(file);
    s += ' ';
    s += error::quote(value);
    return s;
}

/// A rejected limit: EINVAL naming the file, the value and why.
inline error invalid_write(std::string_view file, std::string_view value, std::string_view why) {
    return std::move(error::from_errno("cgroup: write", EINVAL)
                         .subject(file_value(file, value))
                         .note(why));
}

/// A parse failure in `file` at 1-based line:column.
inline error parse_failure(std::string_view file, std::uint32_t line, std::uint32_t col,
                           std::string_view why) {
    return std::move(error(errc::parse_error, "cgroup: parse").subject(file).at(line, col).note(why));
}

inline std::uint32_t column_of(std::string_view line, std::string_view field) noexcept {
    return static_cast<std::uint32_t>(field.data() - line.data()) + 1;
}

/// Walks the lines of `text` with their 1-based numbers; an empty final line is skipped.
/// `fn(line, number)` returns result<void>; the first error stops the walk.
template <class F>
result<void> walk_lines(std::string_view text, F&& fn) {
    std::uint32_t n = 0;
    while (!text.empty()) {
        ++n;
        auto p = text.find('\n');
        std::string_view line = text.substr(0, p);
        if (auto r = fn(line, n); !r) return r;
        if (p == std::string_view::npos) break;
        text.remove_prefix(p + 1);
    }
    return {};
}

/// Parses a decimal number with two decimals as PSI prints it ("12.34").
inline bool parse_decimal(std::string_view s, double& out) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if ((c < '0' || c > '9') && c != '.') return false; // no sign, exponent, inf, nan
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, std::chars_format::fixed);
    return ec == std::errc{} && p == s.data() + s.size();
}

} // namespace detail

/// "max" or a decimal count, as the kernel prints memory.max, pids.max, ... (a trailing
/// newline is allowed). Returns `unlimited` for "max".
[[nodiscard]] inline result<std::uint64_t> parse_max_or_number(std::string_view text,
                                                               std::string_view file) {
    auto t = bulkhead::detail::trim(text);
    if (t == "max") return unlimited;
    if (auto v = bulkhead::detail::parse_int<std::uint64_t>(t)) return *v;
    return detail::parse_failure(file, 1, 1, "\"max\" or a non-negative integer expected");
}

/// A byte size as an operator writes it: "max", "1048576", "512K", "64M", "2G", "1T"
/// (binary multiples). Negative, fractional and overflowing values are errors naming `file`.
[[nodiscard]] inline result<std::uint64_t> parse_size(std::string_view text,
                                                      std::string_view file) {
    auto t = bulkhead::detail::trim(text);
    if (t == "max") return unlimited;
    if (t.empty()) return detail::invalid_write(file, text, "empty value");
    if (t.front() == '-') return detail::invalid_write(file, text, "negative");
    std::uint64_t mult = 1;
    switch (t.back()) {
    case 'k': case 'K': mult = 1ull << 10; break;
    case 'm': case 'M': mult = 1ull << 20; break;
    case 'g': case 'G': mult = 1ull << 30; break;
    case 't': case 'T': mult = 1ull << 40; break;
    default: break;
    }
    if (mult != 1) t.remove_suffix(1);
    auto v = bulkhead::detail::parse_int<std::uint64_t>(t);
    if (!v) return detail::invalid_write(file, text, "\"max\" or a byte count (K/M/G/T suffix) expected");
    if (*v > (unlimited - 1) / mult) return detail::invalid_write(file, text, "out of range");
    return *v * mult;
}

/// Renders "max" for `unlimited`, else the decimal number.
[[nodiscard]] inline std::string format_max_or_number(std::uint64_t v) {
    return v == unlimited ? std::string("max") : std::to_string(v);
}

// ---- cpu --------------------------------------------------------------------------------

/// Kernel bounds of cpu.max (kernel/sched/core.c): period 1 ms .. 1 s, quota >= 1 ms.
inline constexpr std::uint64_t cpu_period_min_us = 1000;
inline constexpr std::uint64_t cpu_period_max_us = 1000000;
inline constexpr std::uint64_t cpu_quota_min_us = 1000;
/// The quota may not exceed this (max_cfs_runtime, ~2^44 ns in microseconds).
inline constexpr std::uint64_t cpu_quota_max_us = (1ull << 44) / 1000;

[[nodiscard]] inline result<void> validate(const cpu_max& v) {
    auto shown = [&] { return format_max_or_number(v.quota_us) + " " + std::to_string(v.period_us); };
    if (v.period_us == 0) return detail::invalid_write("cpu.max", shown(), "zero period");
    if (v.period_us < cpu_period_min_us || v.period_us > cpu_period_max_us)
        return detail::invalid_write("cpu.max", shown(), "period must be 1000..1000000 us");
    if (v.quota_us != unlimited && (v.quota_us < cpu_quota_min_us || v.quota_us > cpu_quota_max_us))
        return detail::invalid_write("cpu.max", shown(), "quota must be >= 1000 us or max");
    return {};
}

/// "quota period" for cpu.max, validated.
[[nodiscard]] inline result<std::string> format_cpu_max(const cpu_max& v) {
    BULKHEAD_TRY(validate(v));
    return format_max_or_number(v.quota_us) + " " + std::to_string(v.period_us);
}

/// Parses cpu.max ("max 100000", "50000 100000", or a quota alone as users write it).
[[nodiscard]] inline result<cpu_max> parse_cpu_max(std::string_view text) {
    auto f = bulkhead::detail::split_ws(text);
    if (f.empty() || f.size() > 2)
        return detail::parse_failure("cpu.max", 1, 1, "\"QUOTA|max [PERIOD]\" expected");
    cpu_max v;
    if (f[0] == "max") {
        v.quota_us = unlimited;
    } else if (auto q = bulkhead::detail::parse_int<std::uint64_t>(f[0])) {
        v.quota_us = *q;
    } else {
        return detail::parse_failure("cpu.max", 1, detail::column_of(text, f[0]),
                                     "quota: \"max\" or microseconds expected");
    }
    if (f.size() == 2) {
        auto p = bulkhead::detail::parse_int<std::uint64_t>(f[1]);
        if (!p) return detail::parse_failure("cpu.max", 1, detail::column_of(text, f[1]),
                                             "period: microseconds expected");
        v.period_us = *p;
    }
    return v;
}

/// cpu.weight / io.weight range.
inline constexpr std::uint32_t weight_min = 1;
inline constexpr std::uint32_t weight_max = 10000;

[[nodiscard]] inline result<void> validate_weight(std::string_view file, std::uint64_t w) {
    if (w < weight_min || w > weight_max)
        return detail::invalid_write(file, std::to_string(w), "weight must be 1..10000");
    return {};
}

/// Checks a cpuset list ("0-3,6,8-9"; empty means "inherit"): ascending ranges of numbers.
[[nodiscard]] inline result<void> validate_cpuset_list(std::string_view file, std::string_view list) {
    auto t = bulkhead::detail::trim(list);
    if (t.empty()) return {};
    for (auto part : bulkhead::detail::split(t, ',')) {
        auto dash = part.find('-');
        auto a = bulkhead::detail::parse_int<std::uint32_t>(part.substr(0, dash));
        if (!a) return detail::invalid_write(file, list, "a list like \"0-3,6\" expected");
        if (dash != std::string_view::npos) {
            auto b = bulkhead::detail::parse_int<std::uint32_t>(part.substr(dash + 1));
            if (!b) return detail::invalid_write(file, list, "a list like \"0-3,6\" expected");
            if (*b < *a) return detail::invalid_write(file, list, "descending range");
        }
        if (*a >= 65536) return detail::invalid_write(file, list, "out of range");
    }
    return {};
}

// ---- pids -------------------------------------------------------------------------------

/// pids.max accepts 0..PID_MAX_LIMIT (4194304) or max.
inline constexpr std::uint64_t pids_limit_max = 4194304;

[[nodiscard]] inline result<void> validate_pids_max(std::uint64_t v) {
    if (v != unlimited && v > pids_limit_max)
        return detail::invalid_write("pids.max", std::to_string(v), "out of range (0..4194304 or max)");
    return {};
}

// ---- io ---------------------------------------------------------------------------------

/// "MAJOR:MINOR".
[[nodiscard]] inline result<device_number> parse_device_number(std::string_view s,
                                                               std::string_view file = "io.max") {
    auto c = s.find(':');
    if (c == std::string_view::npos)
        return detail::invalid_write(file, s, "device \"MAJOR:MINOR\" expected");
    auto ma = bulkhead::detail::parse_int<std::uint32_t>(s.substr(0, c));
    auto mi = bulkhead::detail::parse_int<std::uint32_t>(s.substr(c + 1));
    if (!ma || !mi) return detail::invalid_write(file, s, "device \"MAJOR:MINOR\" expected");
    return device_number{*ma, *mi};
}

[[nodiscard]] inline std::string format_device(device_number d) {
    return std::to_string(d.major) + ":" + std::to_string(d.minor);
}

/// One io.max line to write ("8:0 rbps=1048576 wiops=max"); at least one field must be set.
[[nodiscard]] inline result<std::string> format_io_max(const io_max& v) {
    std::string s = format_device(v.device);
    bool any = false;
    auto add = [&](const char* k, const std::optional<std::uint64_t>& f) {
        if (!f) return;
        any = true;
        s += ' ';
        s += k;
        s += '=';
        s += format_max_or_number(*f);
    };
    add("rbps", v.rbps);
    add("wbps", v.wbps);
    add("riops", v.riops);
    add("wiops", v.wiops);
    if (!any) return detail::invalid_write("io.max", s, "no limit given (rbps, wbps, riops, wiops)");
    for (const auto* f : {&v.rbps, &v.wbps, &v.riops, &v.wiops})
        if (*f && **f == 0) return detail::invalid_write("io.max", s, "zero limit (use a positive value or max)");
    return s;
}

/// Parses io.max as read back: one line per device with every field.
[[nodiscard]] inline result<std::vector<io_max>> parse_io_max(std::string_view text) {
    std::vector<io_max> out;
    auto r = detail::walk_lines(text, [&](std::string_view line, std::uint32_t n) -> result<void> {
        if (bulkhead::detail::trim(line).empty()) return {};
        auto f = bulkhead::detail::split_ws(line);
        auto dev = parse_device_number(f[0]);
        if (!dev) return detail::parse_failure("io.max", n, 1, "device \"MAJOR:MINOR\" expected");
        io_max e;
        e.device = *dev;
        for (std::size_t i = 1; i < f.size(); ++i) {
            auto eq = f[i].find('=');
            if (eq == std::string_view::npos)
                return detail::parse_failure("io.max", n, detail::column_of(line, f[i]), "KEY=VALUE expected");
            auto key = f[i].substr(0, eq);
            auto val = f[i].substr(eq + 1);
            std::uint64_t v = unlimited;
            if (val != "max") {
                auto p = bulkhead::detail::parse_int<std::uint64_t>(val);
                if (!p) return detail::parse_failure("io.max", n, detail::column_of(line, val), "number or max expected");
                v = *p;
            }
            if (key == "rbps") e.rbps = v;
            else if (key == "wbps") e.wbps = v;
            else if (key == "riops") e.riops = v;
            else if (key == "wiops") e.wiops = v;
        }
        out.push_back(e);
        return {};
    });
    if (!r) return std::move(r).error();
    return out;
}

/// The "default N" weight of io.weight (or a bare cpu.weight number).
[[nodiscard]] inline result<std::uint32_t> parse_weight(std::string_view text, std::string_view file) {
    std::optional<std::uint32_t> w;
    auto r = detail::walk_lines(text, [&](std::string_view line, std::uint32_t n) -> result<void> {
        auto f = bulkhead::detail::split_ws(line);
        if (f.empty()) return {};
        std::string_view num;
        if (f.size() == 1) num = f[0];
        else if (f.size() == 2 && f[0] == "default") num = f[1];
        else if (f.size() == 2) return {}; // a per-device override
        else return detail::parse_failure(file, n, 1, "\"[default] WEIGHT\" expected");
        auto v = bulkhead::detail::parse_int<std::uint32_t>(num);
        if (!v) return detail::parse_failure(file, n, detail::column_of(line, num), "weight expected");
        w = *v;
        return {};
    });
    if (!r) return std::move(r).error();
    if (!w) return detail::parse_failure(file, 1, 1, "no weight");
    return *w;
}

// ---- flat keyed files -------------------------------------------------------------------

/// "key value" lines (cpu.stat, memory.stat, memory.events, cgroup.events, cgroup.stat).
[[nodiscard]] inline result<keyed_values> parse_keyed(std::string_view text, std::string_view file) {
    keyed_values out;
    auto r = detail::walk_lines(text, [&](std::string_view line, std::uint32_t n) -> result<void> {
        if (bulkhead::detail::trim(line).empty()) return {};
        auto f = bulkhead::detail::split_ws(line);
        if (f.size() != 2)
            return detail::parse_failure(file, n, 1, "\"KEY VALUE\" expected");
        auto v = bulkhead::detail::parse_int<std::uint64_t>(f[1]);
        if (!v) return detail::parse_failure(file, n, detail::column_of(line, f[1]),
                                             "non-negative integer expected");
        out.entries.emplace_back(std::string(f[0]), *v);
        return {};
    });
    if (!r) return std::move(r).error();
    return out;
}

[[nodiscard]] inline result<cpu_stat> parse_cpu_stat(std::string_view text) {
    BULKHEAD_TRY_ASSIGN(auto kv, parse_keyed(text, "cpu.stat"));
    cpu_stat s;
    for (const auto& [k, v] : kv.entries) {
        if (k == "usage_usec") s.usage_usec = v;
        else if (k == "user_usec") s.user_usec = v;
        else if (k == "system_usec") s.system_usec = v;
        else if (k == "nr_periods") s.nr_periods = v;
        else if (k == "nr_throttled") s.nr_throttled = v;
        else if (k == "throttled_usec") s.throttled_usec = v;
        else if (k == "nr_bursts") s.nr_bursts = v;
        else if (k == "burst_usec") s.burst_usec = v;
    }
    return s;
}

[[nodiscard]] inline result<memory_events> parse_memory_events(std::string_view text) {
    BULKHEAD_TRY_ASSIGN(auto kv, parse_keyed(text, "memory.events"));
    memory_events e;
    for (const auto& [k, v] : kv.entries) {
        if (k == "low") e.low = v;
        else if (k == "high") e.high = v;
        else if (k == "max") e.max = v;
        else if (k == "oom") e.oom = v;
        else if (k == "oom_kill") e.oom_kill = v;
        else if (k == "oom_group_kill") e.oom_group_kill = v;
    }
    return e;
}

/// pids.events: "max N", how many forks were refused at pids.max (this group and below).
[[nodiscard]] inline result<std::uint64_t> parse_pids_events(std::string_view text) {
    BULKHEAD_TRY_ASSIGN(auto kv, parse_keyed(text, "pids.events"));
    std::uint64_t max = 0;
    for (const auto& [k, v] : kv.entries)
        if (k == "max") max = v;
    return max;
}

[[nodiscard]] inline result<cgroup_events> parse_cgroup_events(std::string_view text) {
    BULKHEAD_TRY_ASSIGN(auto kv, parse_keyed(text, "cgroup.events"));
    cgroup_events e;
    for (const auto& [k, v] : kv.entries) {
        if (k == "populated") e.populated = v != 0;
        else if (k == "frozen") e.frozen = v != 0;
    }
    return e;
}

[[nodiscard]] inline result<cgroup_stat> parse_cgroup_stat(std::string_view text) {
    BULKHEAD_TRY_ASSIGN(auto kv, parse_keyed(text, "cgroup.stat"));
    cgroup_stat s;
    for (const auto& [k, v] : kv.entries) {
        if (k == "nr_descendants") s.nr_descendants = v;
        else if (k == "nr_dying_descendants") s.nr_dying_descendants = v;
    }
    return s;
}

// ---- nested keyed files -----------------------------------------------------------------

/// io.stat: "MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=.." per device;
/// keys it does not name (cost.*, ...) are skipped, but every KEY=VALUE must be well formed.
[[nodiscard]] inline result<io_stat> parse_io_stat(std::string_view text) {
    io_stat out;
    auto r = detail::walk_lines(text, [&](std::string_view line, std::uint32_t n) -> result<void> {
        if (bulkhead::detail::trim(line).empty()) return {};
        auto f = bulkhead::detail::split_ws(line);
        auto dev = parse_device_number(f[0], "io.stat");
        if (!dev) return detail::parse_failure("io.stat", n, 1, "device \"MAJOR:MINOR\" expected");
        io_stat_entry e;
        e.device = *dev;
        for (std::size_t i = 1; i < f.size(); ++i) {
            auto eq = f[i].find('=');
            if (eq == std::string_view::npos || eq == 0)
                return detail::parse_failure("io.stat", n, detail::column_of(line, f[i]), "KEY=VALUE expected");
            auto key = f[i].substr(0, eq);
            auto val = f[i].substr(eq + 1);
            auto v = bulkhead::detail::parse_int<std::uint64_t>(val);
            if (!v) {
                // cost.* values may be fractional; only the counters below must be integers.
                if (key == "rbytes" || key == "wbytes" || key == "rios" || key == "wios" ||
                    key == "dbytes" || key == "dios")
                    return detail::parse_failure("io.stat", n, detail::column_of(line, val),
                                                 "non-negative integer expected");
                continue;
            }
            if (key == "rbytes") e.rbytes = *v;
            else if (key == "wbytes") e.wbytes = *v;
            else if (key == "rios") e.rios = *v;
            else if (key == "wios") e.wios = *v;
            else if (key == "dbytes") e.dbytes = *v;
            else if (key == "dios") e.dios = *v;
        }
        out.push_back(e);
        return {};
    });
    if (!r) return std::move(r).error();
    return out;
}

/// A PSI file: "some avg10=A avg60=B avg300=C total=T" and optionally the same for "full".
[[nodiscard]] inline result<psi> parse_psi(std::string_view text, std::string_view file = "pressure") {
    psi out;
    bool have_some = false;
    auto r = detail::walk_lines(text, [&](std::string_view line, std::uint32_t n) -> result<void> {
        if (bulkhead::detail::trim(line).empty()) return {};
        auto f = bulkhead::detail::split_ws(line);
        psi_line* dst = nullptr;
        if (f[0] == "some") {
            dst = &out.some;
            have_some = true;
        } else if (f[0] == "full") {
            dst = &out.full;
            out.has_full = true;
        } else {
            return detail::parse_failure(file, n, 1, "\"some\" or \"full\" expected");
        }
        unsigned seen = 0;
        for (std::size_t i = 1; i < f.size(); ++i) {
            auto eq = f[i].find('=');
            auto col = detail::column_of(line, f[i]);
            if (eq == std::string_view::npos) return detail::parse_failure(file, n, col, "KEY=VALUE expected");
            auto key = f[i].substr(0, eq);
            auto val = f[i].substr(eq + 1);
            double* avg = nullptr;
            unsigned bit = 0;
            if (key == "avg10") { avg = &dst->avg10; bit = 1; }
            else if (key == "avg60") { avg = &dst->avg60; bit = 2; }
            else if (key == "avg300") { avg = &dst->avg300; bit = 4; }
            else if (key == "total") bit = 8;
            else continue;
            if (seen & bit) return detail::parse_failure(file, n, col, "duplicate key");
            seen |= bit;
            if (avg) {
                if (!detail::parse_decimal(val, *avg) || *avg > 100.0)
                    return detail::parse_failure(file, n, col, "percentage 0..100 expected");
            } else {
                auto t = bulkhead::detail::parse_int<std::uint64_t>(val);
                if (!t) return detail::parse_failure(file, n, col, "total: microseconds expected");
                dst->total_usec = *t;
            }
        }
        if (seen != 15) return detail::parse_failure(file, n, 1, "avg10, avg60, avg300 and total expected");
        return {};
    });
    if (!r) return std::move(r).error();
    if (!have_some) return detail::parse_failure(file, 1, 1, "no \"some\" line");
    return out;
}

/// A PSI trigger: stall of `stall_us` within a window of `window_us` (kernel: window
/// 500 ms..10 s; stall > 0 and <= window).
struct psi_trigger_spec {
    bool full = false; ///< "full" instead of "some"
    std::uint64_t stall_us = 150000;
    std::uint64_t window_us = 1000000;
};

[[nodiscard]] inline result<std::string> format_psi_trigger(const psi_trigger_spec& t,
                                                            std::string_view file = "pressure") {
    std::string s = std::string(t.full ? "full " : "some ") + std::to_string(t.stall_us) + " " +
                    std::to_string(t.window_us);
    if (t.window_us < 500000 || t.window_us > 10000000)
        return detail::invalid_write(file, s, "window must be 500000..10000000 us");
    if (t.stall_us == 0 || t.stall_us > t.window_us)
        return detail::invalid_write(file, s, "stall must be 1..window us");
    return s;
}

/// The controller an interface file belongs to ("memory" for memory.max), or "" for core
/// files (cgroup.*).
[[nodiscard]] constexpr std::string_view controller_of(std::string_view file) noexcept {
    auto dot = file.find('.');
    if (dot == std::string_view::npos) return {};
    auto c = file.substr(0, dot);
    if (c == "cgroup") return {};
    // PSI files exist without their controller being enabled.
    if (file.size() > 9 && file.substr(file.size() - 9) == ".pressure") return {};
    return c;
}

} // namespace cg
BULKHEAD_NAMESPACE_END
