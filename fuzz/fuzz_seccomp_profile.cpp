// The seccomp profile reader (OCI / Docker JSON) on arbitrary bytes. A profile that parses
// is compiled; a compiled program must pass the checker and agree with the policy model on
// every syscall the profile names (arguments probed around its constants).
#include "bulkhead/seccomp.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace sc = bulkhead::seccomp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    sc::profile_options o;
    o.host = sc::arch::x86_64;
    o.sub_arches = size % 2 == 1;
    auto pr = sc::parse_profile(text, o);
    if (!pr) {
        if (pr.error().message().empty()) std::abort();
        return 0;
    }
    auto prog = sc::compile(pr->policy);
    if (!prog) return 0;
    if (!sc::check(*prog)) std::abort();
    for (const auto& ap : pr->policy.arches) {
        for (const auto& [nr, rules] : ap.syscalls) {
            sc::data d{};
            d.arch = sc::audit_arch(ap.arch);
            d.nr = static_cast<int>(nr + sc::nr_bias(ap.arch));
            for (const auto& r : rules)
                for (const auto& c : r.all_of)
                    for (std::uint64_t v : {c.value, c.value + 1, c.value - 1, c.mask, ~std::uint64_t{0}}) {
                        d.args[c.arg] = v;
                        if (sc::run(*prog, d).verdict() != pr->policy.evaluate(d)) std::abort();
                    }
            d.args[0] = d.args[1] = d.args[2] = 0;
            if (sc::run(*prog, d).verdict() != pr->policy.evaluate(d)) std::abort();
        }
    }
    return 0;
}
