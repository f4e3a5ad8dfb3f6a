#pragma once
// Test/benchmark-only bridge to libseccomp (Debian's libseccomp-dev): builds libseccomp's
// filter for one architecture's policy and exports it as classic BPF through a memfd, so
// both programs can run in the same emulator. The library itself never links libseccomp.

#include "bulkhead/seccomp.hpp"

#include <seccomp.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

namespace seccomp_test {
namespace sc = bulkhead::seccomp;

inline scmp_compare to_scmp(sc::cmp c) {
    switch (c) {
    case sc::cmp::eq: return SCMP_CMP_EQ;
    case sc::cmp::ne: return SCMP_CMP_NE;
    case sc::cmp::lt: return SCMP_CMP_LT;
    case sc::cmp::le: return SCMP_CMP_LE;
    case sc::cmp::gt: return SCMP_CMP_GT;
    case sc::cmp::ge: return SCMP_CMP_GE;
    case sc::cmp::masked_eq: return SCMP_CMP_MASKED_EQ;
    }
    return SCMP_CMP_EQ;
}

/// libseccomp's program for `ap` (native arch only; foreign arches KILL_PROCESS), at
/// optimize level `level` (1 linear, 2 binary tree). Empty and `err` set on failure.
inline sc::program libseccomp_program(const sc::arch_policy& ap, int level, std::string& err) {
    scmp_filter_ctx ctx = seccomp_init(ap.default_action.raw());
    if (!ctx) {
        err = "seccomp_init failed";
        return {};
    }
    struct guard {
        scmp_filter_ctx c;
        ~guard() { seccomp_release(c); }
    } g{ctx};
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, static_cast<std::uint32_t>(level));
    if (rc != 0) {
        err = std::string("seccomp_attr_set: ") + std::strerror(-rc);
        return {};
    }
    for (const auto& [nr, rules] : ap.syscalls) {
        for (const auto& r : rules) {
            if (r.act == ap.default_action) continue;
            std::vector<scmp_arg_cmp> cmps;
            for (const auto& c : r.all_of) {
                scmp_arg_cmp a{};
                a.arg = c.arg;
                a.op = to_scmp(c.op);
                a.datum_a = c.op == sc::cmp::masked_eq ? c.mask : c.value;
                a.datum_b = c.op == sc::cmp::masked_eq ? c.value : 0;
                cmps.push_back(a);
            }
            rc = seccomp_rule_add_exact_array(ctx, r.act.raw(), static_cast<int>(nr),
                                              static_cast<unsigned>(cmps.size()), cmps.data());
            if (rc != 0) {
                err = "seccomp_rule_add nr " + std::to_string(nr) + ": " + std::strerror(-rc);
                return {};
            }
        }
    }
    int fd = ::memfd_create("libseccomp-bpf", MFD_CLOEXEC);
    if (fd < 0) {
        err = "memfd_create failed";
        return {};
    }
    rc = seccomp_export_bpf(ctx, fd);
    sc::program out;
    if (rc == 0) {
        off_t len = ::lseek(fd, 0, SEEK_END);
        out.resize(static_cast<std::size_t>(len) / sizeof(sc::insn));
        if (::pread(fd, out.data(), out.size() * sizeof(sc::insn), 0) !=
            static_cast<ssize_t>(out.size() * sizeof(sc::insn)))
            out.clear();
    } else {
        err = std::string("seccomp_export_bpf: ") + std::strerror(-rc);
    }
    ::close(fd);
    return out;
}

} // namespace seccomp_test
