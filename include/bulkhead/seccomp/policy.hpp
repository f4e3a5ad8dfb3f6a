#pragma once
/// \file seccomp/policy.hpp
/// What a filter decides: actions, argument conditions, rules, per-architecture policies, the
/// builder that keeps the first error, and `policy::evaluate`, the reference model every
/// compiled program is tested against.
///
/// Semantics, stated once and plainly:
///  - A rule is (action, conditions). Its conditions are ANDed: the rule matches when every
///    one holds. A rule without conditions always matches.
///  - A syscall may have several rules. They are tried in the order they were added and the
///    FIRST matching rule decides (so rules with the same action are ORed). When none
///    matches, the architecture's default action applies.
///  - Conditions compare the 64-bit argument as the kernel hands it to the filter
///    (seccomp_data.args[i], a u64), unsigned: `arg(0) < 5` is false for -1 (0xffff...ffff).
///    MASKED_EQ holds when (arg & mask) == value.
///  - A syscall number above the architecture table's highest number gets ERRNO(ENOSYS)
///    (unless switched off) so libc falls back from syscalls newer than this table.
///  - A seccomp_data whose architecture has no policy gets the foreign-arch action
///    (KILL_PROCESS by default). x32 is its own architecture here: an x86_64 policy without an
///    x32 policy sends every number from __X32_SYSCALL_BIT up to the foreign-arch action,
///    except -1 (0xffffffff, a ptrace tracer skipping a syscall), which x86_64's policy
///    answers like any number above its table (as libseccomp does).

#include "bulkhead/config.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/seccomp/arch.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <linux/seccomp.h>

BULKHEAD_NAMESPACE_BEGIN
namespace seccomp {

/// The kernel's view of a syscall: nr, arch, instruction_pointer, args[6].
using data = ::seccomp_data;

/// What the filter returns; the raw 32-bit SECCOMP_RET_* value with its data.
class action {
public:
    enum class kind : std::uint8_t {
        kill_process, kill_thread, trap, errno_ret, user_notif, trace, log, allow
    };

    constexpr action() noexcept = default;
    [[nodiscard]] static constexpr action allow() noexcept { return action(0x7fff0000u); }
    [[nodiscard]] static constexpr action log() noexcept { return action(0x7ffc0000u); }
    [[nodiscard]] static constexpr action kill_process() noexcept { return action(0x80000000u); }
    [[nodiscard]] static constexpr action kill_thread() noexcept { return action(0u); }
    [[nodiscard]] static constexpr action user_notif() noexcept { return action(0x7fc00000u); }
    /// ERRNO(e): the syscall fails with -e. The kernel caps e at 4095; the builder rejects more.
    [[nodiscard]] static constexpr action errno_ret(std::uint16_t e) noexcept {
        return action(0x00050000u | e);
    }
    /// TRAP: SIGSYS with si_errno = data.
    [[nodiscard]] static constexpr action trap(std::uint16_t data = 0) noexcept {
        return action(0x00030000u | data);
    }
    /// TRACE: notify a ptrace tracer with PTRACE_EVENT_SECCOMP (msg = data).
    [[nodiscard]] static constexpr action trace(std::uint16_t data = 0) noexcept {
        return action(0x7ff00000u | data);
    }
    /// From a raw SECCOMP_RET_* value (e.g. read back from a program).
    [[nodiscard]] static constexpr action from_raw(std::uint32_t r) noexcept { return action(r); }

    [[nodiscard]] constexpr std::uint32_t raw() const noexcept { return ret_; }
    [[nodiscard]] constexpr std::uint16_t data() const noexcept {
        return static_cast<std::uint16_t>(ret_ & 0xffffu);
    }
    [[nodiscard]] constexpr kind type() const noexcept {
        switch (ret_ & 0xffff0000u) {
        case 0x80000000u: return kind::kill_process;
        case 0x00000000u: return kind::kill_thread;
        case 0x00030000u: return kind::trap;
        case 0x00050000u: return kind::errno_ret;
        case 0x7fc00000u: return kind::user_notif;
        case 0x7ff00000u: return kind::trace;
        case 0x7ffc0000u: return kind::log;
        case 0x7fff0000u: return kind::allow;
        default: break;
        }
        // The kernel treats unknown actions as KILL_PROCESS.
        return kind::kill_process;
    }
    /// A readable form: "ALLOW", "ERRNO(1)", "TRAP(0)", "KILL_PROCESS", ...
    [[nodiscard]] std::string str() const {
        switch (type()) {
        case kind::kill_process: return "KILL_PROCESS";
        case kind::kill_thread: return "KILL_THREAD";
        case kind::trap: return "TRAP(" + std::to_string(data()) + ")";
        case kind::errno_ret: return "ERRNO(" + std::to_string(data()) + ")";
        case kind::user_notif: return "USER_NOTIF";
        case kind::trace: return "TRACE(" + std::to_string(data()) + ")";
        case kind::log: return "LOG";
        case kind::allow: return "ALLOW";
        }
        return "?";
    }
    friend constexpr bool operator==(action a, action b) noexcept { return a.ret_ == b.ret_; }

private:
    explicit constexpr action(std::uint32_t r) noexcept : ret_(r) {}
    std::uint32_t ret_ = 0x80000000u;
};

/// Parses "ALLOW", "LOG", "KILL", "KILL_PROCESS", "KILL_THREAD", "TRAP", "TRAP(n)",
/// "TRACE", "TRACE(n)", "ERRNO(n)", "NOTIFY"/"USER_NOTIF" (case-insensitive, optional
/// SCMP_ACT_ prefix).
[[nodiscard]] inline std::optional<action> parse_action(std::string_view s) {
    std::string u;
    for (char c : s) u += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    std::string_view v = u;
    if (v.starts_with("SCMP_ACT_")) v.remove_prefix(9);
    auto with_data = [&](std::string_view name, std::uint32_t max,
                         std::uint32_t dflt) -> std::optional<std::uint32_t> {
        if (v == name) return dflt;
        if (!v.starts_with(name) || v.size() < name.size() + 3 || v[name.size()] != '(' ||
            v.back() != ')')
            return std::nullopt;
        auto num = v.substr(name.size() + 1, v.size() - name.size() - 2);
        std::uint32_t n = 0;
        if (num.empty() || num.size() > 5) return std::nullopt;
        for (char c : num) {
            if (c < '0' || c > '9') return std::nullopt;
            n = n * 10 + static_cast<std::uint32_t>(c - '0');
        }
        if (n > max) return std::nullopt;
        return n;
    };
    if (v == "ALLOW") return action::allow();
    if (v == "LOG") return action::log();
    if (v == "KILL" || v == "KILL_THREAD") return action::kill_thread();
    if (v == "KILL_PROCESS") return action::kill_process();
    if (v == "NOTIFY" || v == "USER_NOTIF") return action::user_notif();
    if (auto n = with_data("TRAP", 0xffff, 0)) return action::trap(static_cast<std::uint16_t>(*n));
    if (auto n = with_data("TRACE", 0xffff, 0))
        return action::trace(static_cast<std::uint16_t>(*n));
    if (v != "ERRNO")
        if (auto n = with_data("ERRNO", 4095, EPERM))
            return action::errno_ret(static_cast<std::uint16_t>(*n));
    return std::nullopt;
}

/// Comparison of one 64-bit argument with a value (unsigned, as the kernel compares).
enum class cmp : std::uint8_t { eq, ne, lt, le, gt, ge, masked_eq };

[[nodiscard]] constexpr std::string_view cmp_name(cmp c) noexcept {
    switch (c) {
    case cmp::eq: return "==";
    case cmp::ne: return "!=";
    case cmp::lt: return "<";
    case cmp::le: return "<=";
    case cmp::gt: return ">";
    case cmp::ge: return ">=";
    case cmp::masked_eq: return "&==";
    }
    return "?";
}

/// One argument condition: `args[arg] OP value`, or `(args[arg] & mask) == value`.
struct condition {
    std::uint8_t arg = 0; ///< 0..5
    cmp op = cmp::eq;
    std::uint64_t value = 0;
    std::uint64_t mask = ~std::uint64_t{0}; ///< only for masked_eq

    [[nodiscard]] constexpr bool holds(std::uint64_t a) const noexcept {
        switch (op) {
        case cmp::eq: return a == value;
        case cmp::ne: return a != value;
        case cmp::lt: return a < value;
        case cmp::le: return a <= value;
        case cmp::gt: return a > value;
        case cmp::ge: return a >= value;
        case cmp::masked_eq: return (a & mask) == value;
        }
        return false;
    }
    [[nodiscard]] std::string str() const {
        std::string s = "arg" + std::to_string(arg);
        if (op == cmp::masked_eq) s += " & " + std::to_string(mask);
        s += ' ';
        s += op == cmp::masked_eq ? "==" : cmp_name(op);
        s += ' ';
        s += std::to_string(value);
        return s;
    }
    friend constexpr bool operator==(const condition&, const condition&) noexcept = default;
};

/// `arg(i) == v`, `arg(i) < v`, `arg(i).masked_eq(mask, v)`: condition builders.
struct arg_ref {
    std::uint8_t index;
    [[nodiscard]] constexpr condition masked_eq(std::uint64_t mask, std::uint64_t v) const noexcept {
        return {index, cmp::masked_eq, v, mask};
    }
    /// True when every bit of `bits` is clear.
    [[nodiscard]] constexpr condition none_of(std::uint64_t bits) const noexcept {
        return {index, cmp::masked_eq, 0, bits};
    }
};
[[nodiscard]] constexpr arg_ref arg(std::uint8_t i) noexcept { return {i}; }
constexpr condition operator==(arg_ref a, std::uint64_t v) noexcept { return {a.index, cmp::eq, v}; }
constexpr condition operator!=(arg_ref a, std::uint64_t v) noexcept { return {a.index, cmp::ne, v}; }
constexpr condition operator<(arg_ref a, std::uint64_t v) noexcept { return {a.index, cmp::lt, v}; }
constexpr condition operator<=(arg_ref a, std::uint64_t v) noexcept { return {a.index, cmp::le, v}; }
constexpr condition operator>(arg_ref a, std::uint64_t v) noexcept { return {a.index, cmp::gt, v}; }
constexpr condition operator>=(arg_ref a, std::uint64_t v) noexcept { return {a.index, cmp::ge, v}; }

/// An action taken when all conditions hold (AND).
struct rule {
    action act;
    std::vector<condition> all_of;

    [[nodiscard]] bool matches(const data& d) const noexcept {
        for (const auto& c : all_of)
            if (!c.holds(d.args[c.arg])) return false;
        return true;
    }
    friend bool operator==(const rule&, const rule&) = default;
};

/// The policy of one architecture: a default action and the rules of each syscall number
/// (numbers without the x32 bit).
struct arch_policy {
    seccomp::arch arch = seccomp::arch::x86_64;
    action default_action = action::kill_process();
    bool enosys_above_max = true;
    std::map<std::uint32_t, std::vector<rule>> syscalls;

    /// The verdict for syscall number `nr` (without bias) and the arguments in `d`.
    [[nodiscard]] action evaluate(std::uint32_t nr, const data& d) const noexcept {
        auto it = syscalls.find(nr);
        if (it != syscalls.end()) {
            for (const auto& r : it->second)
                if (r.matches(d)) return r.act;
            return default_action;
        }
        if (enosys_above_max && nr > table(arch).max_nr) return action::errno_ret(ENOSYS);
        return default_action;
    }
};

/// A whole filter's meaning: one policy per architecture and the foreign-arch action.
struct policy {
    std::vector<arch_policy> arches;
    action foreign_arch_action = action::kill_process();

    [[nodiscard]] const arch_policy* find(seccomp::arch a) const noexcept {
        for (const auto& p : arches)
            if (p.arch == a) return &p;
        return nullptr;
    }
    [[nodiscard]] arch_policy* find(seccomp::arch a) noexcept {
        for (auto& p : arches)
            if (p.arch == a) return &p;
        return nullptr;
    }

    /// The reference model: the verdict the compiled filter must return for `d`.
    [[nodiscard]] action evaluate(const data& d) const noexcept {
        const arch_policy* p = nullptr;
        std::uint32_t nr = d.nr;
        if (d.arch == audit_arch_x86_64) {
            if (nr == 0xffffffffu) {
                // -1: a tracer skipping the syscall; x86_64's (above the table), as libseccomp
                p = find(seccomp::arch::x86_64);
            } else if (nr >= x32_syscall_bit) {
                p = find(seccomp::arch::x32);
                nr -= x32_syscall_bit;
            } else {
                p = find(seccomp::arch::x86_64);
            }
        } else if (d.arch == audit_arch_i386) {
            p = find(seccomp::arch::i386);
        } else if (d.arch == audit_arch_aarch64) {
            p = find(seccomp::arch::aarch64);
        }
        if (!p) return foreign_arch_action;
        return p->evaluate(nr, d);
    }
};

/// Builds a policy; the first error (unknown syscall, bad argument index, errno > 4095, ...)
/// is kept and reported by build(), later calls are ignored after it.
///
///     auto p = seccomp::policy_builder(arch::x86_64)
///                  .default_action(action::errno_ret(EPERM))
///                  .allow({"read", "write", "exit_group"})
///                  .allow("personality", {arg(0) == 0})
///                  .build();
class policy_builder {
public:
    explicit policy_builder(seccomp::arch a = native_arch().value_or(seccomp::arch::x86_64)) {
        p_.arches.push_back(arch_policy{a, action::kill_process(), true, {}});
        cur_ = 0;
    }

    /// Adds (or selects) the policy of another architecture; later calls apply to it. A new
    /// one starts with the current default action.
    policy_builder& for_arch(seccomp::arch a) {
        for (std::size_t i = 0; i < p_.arches.size(); ++i)
            if (p_.arches[i].arch == a) {
                cur_ = i;
                return *this;
            }
        p_.arches.push_back(arch_policy{a, p_.arches[cur_].default_action,
                                        p_.arches[cur_].enosys_above_max, {}});
        cur_ = p_.arches.size() - 1;
        return *this;
    }
    policy_builder& default_action(action a) {
        if (check_action(a)) p_.arches[cur_].default_action = a;
        return *this;
    }
    policy_builder& foreign_arch_action(action a) {
        if (check_action(a)) p_.foreign_arch_action = a;
        return *this;
    }
    /// ERRNO(ENOSYS) for numbers above the table (default on).
    policy_builder& enosys_above_max(bool on) {
        p_.arches[cur_].enosys_above_max = on;
        return *this;
    }
    /// Adds a rule for syscall `name`: `act` when all `conds` hold.
    policy_builder& add(std::string_view name, action act,
                        std::initializer_list<condition> conds = {}) {
        return add(name, act, std::vector<condition>(conds));
    }
    policy_builder& add(std::string_view name, action act, std::vector<condition> conds) {
        if (err_) return *this;
        auto nr = table(p_.arches[cur_].arch).find(name);
        if (!nr) {
            fail(std::move(error(errc::not_found, "seccomp: policy")
                               .value(name)
                               .note("no such syscall on " +
                                     std::string(arch_name(p_.arches[cur_].arch)))));
            return *this;
        }
        return add_nr(*nr, act, std::move(conds));
    }
    /// Adds a rule by number (without the x32 bit; below 0x40000000).
    policy_builder& add_nr(std::uint32_t nr, action act, std::vector<condition> conds) {
        if (err_ || !check_action(act)) return *this;
        if (nr >= x32_syscall_bit) {
            fail(std::move(error(errc::out_of_range, "seccomp: policy")
                               .value(std::to_string(nr))
                               .note("syscall numbers must be below 0x40000000")));
            return *this;
        }
        for (const auto& c : conds) {
            if (c.arg > 5) {
                fail(std::move(error(errc::invalid_argument, "seccomp: policy")
                                   .value(std::to_string(c.arg))
                                   .note("argument index must be 0..5")));
                return *this;
            }
        }
        p_.arches[cur_].syscalls[nr].push_back(rule{act, std::move(conds)});
        return *this;
    }
    policy_builder& allow(std::string_view name, std::initializer_list<condition> conds = {}) {
        return add(name, action::allow(), conds);
    }
    policy_builder& allow(std::initializer_list<std::string_view> names) {
        for (auto n : names) add(n, action::allow());
        return *this;
    }
    /// The syscall fails with errno `e`.
    policy_builder& deny(std::string_view name, std::uint16_t e,
                         std::initializer_list<condition> conds = {}) {
        return add(name, action::errno_ret(e), conds);
    }

    /// The policy, or the first error met while building it.
    [[nodiscard]] result<policy> build() const {
        if (err_) return *err_;
        return p_;
    }

private:
    bool check_action(action a) {
        if (err_) return false;
        if (a.type() == action::kind::errno_ret && a.data() > 4095) {
            fail(std::move(error(errc::out_of_range, "seccomp: policy")
                               .value(std::to_string(a.data()))
                               .note("errno must be at most 4095")));
            return false;
        }
        auto k = a.raw() & 0xffff0000u;
        bool known = k == 0x80000000u || k == 0u || k == 0x00030000u || k == 0x00050000u ||
                     k == 0x7fc00000u || k == 0x7ff00000u || k == 0x7ffc0000u ||
                     k == 0x7fff0000u;
        if (!known || ((k == 0x80000000u || k == 0u || k == 0x7fc00000u || k == 0x7ffc0000u ||
                        k == 0x7fff0000u) &&
                       (a.raw() & 0xffffu))) {
            fail(std::move(error(errc::invalid_argument, "seccomp: policy")
                               .value(std::to_string(a.raw()))
                               .note("not a SECCOMP_RET_* action")));
            return false;
        }
        return true;
    }
    void fail(error e) {
        if (!err_) err_ = std::move(e);
    }

    policy p_;
    std::size_t cur_ = 0;
    std::optional<error> err_;
};

} // namespace seccomp
BULKHEAD_NAMESPACE_END
