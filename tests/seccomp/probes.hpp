#pragma once
// Probe sets shared by the seccomp tests: every syscall number 0-1023 of every architecture,
// the x32 range, numbers far above the tables, and argument values around every constant a
// policy compares with (and their 64-bit neighbours).

#include "bulkhead/seccomp.hpp"

#include <cstdint>
#include <functional>
#include <set>
#include <vector>

namespace seccomp_test {
namespace sc = bulkhead::seccomp;

/// Interesting u64 values for conditions in `p`: each constant, +-1, with hi words set.
inline std::vector<std::uint64_t> arg_values(const sc::policy& p) {
    std::set<std::uint64_t> v{0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull,
                              0xffffffff00000000ull, ~0ull, 0x8000000000000000ull};
    for (const auto& ap : p.arches)
        for (const auto& [nr, rules] : ap.syscalls)
            for (const auto& r : rules)
                for (const auto& c : r.all_of) {
                    for (std::uint64_t base : {c.value, c.mask, c.value | ~c.mask, c.value ^ c.mask}) {
                        for (std::int64_t d : {-1, 0, 1}) {
                            std::uint64_t x = base + static_cast<std::uint64_t>(d);
                            v.insert(x);
                            v.insert(x ^ 0x100000000ull);
                            v.insert(x | 0xffffffff00000000ull);
                            v.insert(x & 0xffffffffull);
                        }
                    }
                }
    return {v.begin(), v.end()};
}

/// Calls `f(data)` for every probe: all arches' numbers 0..1023, x32 0..1023, high numbers,
/// an unknown arch; and for numbers with argument rules, every arg value on every arg index
/// used (others zero).
inline std::size_t for_each_probe(const sc::policy& p, const std::function<void(const sc::data&)>& f) {
    std::size_t n = 0;
    const std::uint32_t audits[] = {sc::audit_arch_x86_64, sc::audit_arch_i386,
                                    sc::audit_arch_aarch64, 0x40000028u /* ARM */};
    std::vector<std::uint32_t> nrs;
    for (std::uint32_t i = 0; i < 1024; ++i) nrs.push_back(i);
    for (std::uint32_t i = 0; i < 1024; ++i) nrs.push_back(sc::x32_syscall_bit + i);
    for (std::uint32_t x : {0x3fffffffu, 0x7fffffffu, 0x80000000u, 0xbfffffffu, 0xc0000000u,
                            0xfffffffeu, 0xffffffffu, 100000u, 65535u, 65536u})
        nrs.push_back(x);
    auto vals = arg_values(p);
    for (auto a : audits) {
        for (auto nr : nrs) {
            sc::data d{};
            d.arch = a;
            d.nr = static_cast<int>(nr);
            f(d);
            ++n;
            // argument probes where some policy has rules for this number
            std::set<std::uint8_t> args;
            for (const auto& ap : p.arches) {
                std::uint32_t local = nr - sc::nr_bias(ap.arch);
                if (sc::audit_arch(ap.arch) != a) continue;
                auto it = ap.syscalls.find(local);
                if (it == ap.syscalls.end()) continue;
                for (const auto& r : it->second)
                    for (const auto& c : r.all_of) args.insert(c.arg);
            }
            for (auto ai : args) {
                for (auto v : vals) {
                    d.args[ai] = v;
                    f(d);
                    ++n;
                }
                d.args[ai] = 0;
            }
            if (args.size() >= 2 && args.size() <= 3) {
                // pairs of args, a coarser value set
                for (auto a1 : args)
                    for (auto a2 : args) {
                        if (a1 >= a2) continue;
                        for (std::size_t i = 0; i < vals.size(); i += 1 + vals.size() / 8)
                            for (std::size_t j = 0; j < vals.size(); j += 1 + vals.size() / 8) {
                                d.args[a1] = vals[i];
                                d.args[a2] = vals[j];
                                f(d);
                                ++n;
                            }
                        d.args[a1] = d.args[a2] = 0;
                    }
            }
        }
    }
    return n;
}

} // namespace seccomp_test
