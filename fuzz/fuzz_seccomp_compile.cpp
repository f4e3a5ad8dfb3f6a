// Random policies decoded from the input bytes are compiled; the program must pass the
// checker and return the policy model's verdict on every probe (numbers next to every rule and
// table end on every architecture, x32 numbers, and arguments around every constant). A program over
// BPF_MAXINSNS must be reported as an error, never truncated.
#include "bulkhead/seccomp.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace sc = bulkhead::seccomp;

namespace {

struct reader {
    const std::uint8_t* p;
    std::size_t n;
    std::uint8_t byte() {
        if (!n) return 0;
        --n;
        return *p++;
    }
    std::uint64_t u64() {
        // Small values are the interesting ones: 1 byte picks a class, then maybe 8 bytes.
        switch (byte() % 6) {
        case 0: return byte();
        case 1: return 0xffffffffull - byte();
        case 2: return 0x100000000ull + byte();
        case 3: return ~std::uint64_t{0} - byte();
        case 4: return std::uint64_t{byte()} << (byte() % 64);
        default: {
            std::uint64_t v = 0;
            for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
            return v;
        }
        }
    }
};

const sc::action actions[] = {sc::action::allow(),       sc::action::errno_ret(1),  sc::action::errno_ret(38),
                              sc::action::kill_process(), sc::action::kill_thread(), sc::action::trap(2),
                              sc::action::trace(3),       sc::action::log(),         sc::action::user_notif()};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    reader in{data, size};
    const sc::arch arches[] = {sc::arch::x86_64, sc::arch::i386, sc::arch::x32, sc::arch::aarch64};
    sc::policy_builder b(arches[in.byte() % 4]);
    b.default_action(actions[in.byte() % 9]);
    b.foreign_arch_action(actions[in.byte() % 9]);
    b.enosys_above_max(in.byte() % 4 != 0);
    std::vector<std::uint64_t> consts{0, 1, ~std::uint64_t{0}, 0xffffffffull, 0x100000000ull};
    while (in.n) {
        std::uint8_t cmd = in.byte();
        if (cmd % 16 == 0) {
            b.for_arch(arches[in.byte() % 4]);
            b.default_action(actions[in.byte() % 9]);
            continue;
        }
        std::uint32_t nr = (std::uint32_t{in.byte()} << 8 | in.byte()) % 600;
        sc::action act = actions[in.byte() % 9];
        std::vector<sc::condition> conds;
        int nc = in.byte() % 4;
        for (int i = 0; i < nc; ++i) {
            sc::condition c;
            c.arg = static_cast<std::uint8_t>(in.byte() % 6);
            c.op = static_cast<sc::cmp>(in.byte() % 7);
            c.value = in.u64();
            c.mask = in.u64();
            if (c.op == sc::cmp::masked_eq && in.byte() % 2) c.value &= c.mask;
            consts.push_back(c.value);
            consts.push_back(c.mask);
            conds.push_back(c);
        }
        b.add_nr(nr, act, conds);
    }
    auto p = b.build();
    if (!p) return 0;
    auto prog = sc::compile(*p);
    if (!prog) {
        if (prog.error().code() != bulkhead::errc::too_large) std::abort();
        return 0;
    }
    if (!sc::check(*prog)) std::abort();
    // Probes: numbers next to every rule and table end, every arch; arguments around
    // every constant on the argument indexes conditions use.
    std::sort(consts.begin(), consts.end());
    consts.erase(std::unique(consts.begin(), consts.end()), consts.end());
    if (consts.size() > 48) consts.resize(48);
    std::vector<std::uint32_t> nrs{0, 1, 599, 600, 0x3fffffff, 0x7fffffff, 0xffffffff};
    std::vector<std::uint8_t> used_args;
    for (const auto& ap : p->arches)
        for (const auto& [nr, rules] : ap.syscalls) {
            for (std::uint32_t d : {0u, 1u, 2u}) nrs.push_back(nr + d), nrs.push_back(nr - d);
            for (const auto& r : rules)
                for (const auto& c : r.all_of)
                    if (std::find(used_args.begin(), used_args.end(), c.arg) == used_args.end())
                        used_args.push_back(c.arg);
        }
    for (auto a : arches) {
        auto m = sc::table(a).max_nr;
        for (std::uint32_t d : {0u, 1u, 2u}) nrs.push_back(m + d), nrs.push_back(m - d);
    }
    const std::uint32_t audits[] = {sc::audit_arch_x86_64, sc::audit_arch_i386, sc::audit_arch_aarch64, 0x40000028u};
    for (auto a : audits) {
        for (std::uint32_t nr0 : nrs) {
            for (std::uint32_t bias : {0u, sc::x32_syscall_bit}) {
                if (bias && a != sc::audit_arch_x86_64) continue;
                std::uint32_t nr = nr0 + bias;
                sc::data d{};
                d.arch = a;
                d.nr = static_cast<int>(nr);
                if (sc::run(*prog, d).verdict() != p->evaluate(d)) std::abort();
                bool has_rules = false;
                for (const auto& ap : p->arches)
                    if (sc::audit_arch(ap.arch) == a && ap.syscalls.count(nr - sc::nr_bias(ap.arch)))
                        has_rules = true;
                if (!has_rules) continue;
                for (unsigned ai : used_args)
                    for (std::uint64_t c : consts)
                        for (std::uint64_t v : {c, c + 1, c - 1}) {
                            d.args[ai] = v;
                            if (sc::run(*prog, d).verdict() != p->evaluate(d)) std::abort();
                            d.args[ai] = 0;
                        }
            }
        }
    }
    return 0;
}
