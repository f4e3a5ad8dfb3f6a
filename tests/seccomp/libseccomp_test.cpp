// Equivalence with libseccomp (test-only dependency): the Docker default profile compiled by
// libseccomp and by bulkhead, both run in bulkhead's emulator on the same probe set.
#include "bulkhead/seccomp.hpp"
#include "libseccomp_bridge.hpp"
#include "probes.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>

#include <unistd.h>

namespace sc = bulkhead::seccomp;

TEST_CASE("Docker default: bulkhead and libseccomp give the same verdicts", "[unit]") {
    std::string path;
    for (std::string base : {bulkhead_test::shared_dir(), bulkhead_test::source_dir() + "/../../shared",
                             std::string("/work/shared")}) {
        std::string p = base + "/data/seccomp/docker-default.json";
        if (::access(p.c_str(), R_OK) == 0) {
            path = p;
            break;
        }
    }
    if (path.empty()) {
        WARN("docker-default.json not found: cannot compare with libseccomp");
        return;
    }
    sc::profile_options o;
    o.host = sc::arch::x86_64;
    auto pr = sc::load_profile(path, o);
    if (!pr) FAIL(pr.error().message());
    const auto& ap = pr->policy.arches.at(0);
    auto ours = sc::compile(pr->policy);
    REQUIRE(ours);
    for (int level : {1, 2}) {
        std::string err;
        auto theirs = seccomp_test::libseccomp_program(ap, level, err);
        INFO("libseccomp level " << level << ": " << err);
        REQUIRE(!theirs.empty());
        REQUIRE(sc::check(theirs));
        std::size_t same = 0, enosys_above = 0, other = 0;
        std::set<std::uint32_t> allowed_theirs, allowed_ours;
        auto max = sc::table(sc::arch::x86_64).max_nr;
        seccomp_test::for_each_probe(pr->policy, [&](const sc::data& d) {
            auto a = sc::run(*ours, d).verdict();
            auto b = sc::run(theirs, d).verdict();
            if (d.arch == sc::audit_arch_x86_64 && static_cast<std::uint32_t>(d.nr) <= max) {
                if (b == sc::action::allow()) allowed_theirs.insert(static_cast<std::uint32_t>(d.nr));
                if (a == sc::action::allow()) allowed_ours.insert(static_cast<std::uint32_t>(d.nr));
            }
            if (a == b) {
                ++same;
            } else if (d.arch == sc::audit_arch_x86_64 && static_cast<std::uint32_t>(d.nr) > max &&
                       (static_cast<std::uint32_t>(d.nr) < sc::x32_syscall_bit || d.nr == -1) &&
                       a == sc::action::errno_ret(ENOSYS) && b == ap.default_action) {
                // by design: ENOSYS above the table so libc falls back (also for -1, which
                // both treat as x86_64's)
                ++enosys_above;
            } else if (other++ < 5) {
                UNSCOPED_INFO("arch " << std::hex << d.arch << " nr " << d.nr << " arg0 " << d.args[0]
                                      << ": bulkhead " << a.str() << " libseccomp " << b.str());
            }
        });
        CHECK(other == 0);
        CHECK(same > 8000);
        CHECK(enosys_above > 0);
        CHECK(allowed_theirs == allowed_ours);
        // 292 unconditional + personality, socket, clone (see the unit test and docs).
        CHECK(allowed_ours.size() == 295);
        if (level == 2) {
            // The reference: libseccomp 2.5.4 level 2 = 415 instructions.
            CHECK(theirs.size() > ours->size());
        }
    }
}
