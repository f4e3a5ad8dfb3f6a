#pragma once
/// \file seccomp/compiler.hpp
/// policy -> classic BPF.
///
/// Layout: `ld arch` and one `jeq` per architecture first (anything else gets the
/// foreign-arch action); then per architecture `ld nr` and a binary search over the number
/// line cut into maximal ranges of equal verdict (x86_64 and x32 share one search: x32 is the
/// range with __X32_SYSCALL_BIT set). The search tree's shape is chosen by dynamic
/// programming: first the deepest path to an argument-independent verdict is minimised, then
/// the deepest path through argument checks, then the total. Leaves jump straight to shared
/// RET instructions, so a syscall whose verdict does not depend on its arguments never loads
/// an argument on its path (the kernel's seccomp action cache can then prove it constant).
/// Argument checks compare 32-bit halves: hi word first, then lo. A syscall whose rules all
/// test one argument with EQ/NE/LT/LE/GT/GE is compiled as a range search over that
/// argument's u64 value; other rules are compiled one condition at a time, rule by rule.
/// Conditional jumps that would exceed 255 get JA trampolines; a program longer than
/// BPF_MAXINSNS is an error.

#include "bulkhead/config.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/seccomp/arch.hpp"
#include "bulkhead/seccomp/bpf.hpp"
#include "bulkhead/seccomp/policy.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace seccomp {
namespace detail {

/// A straight-line block of instructions whose jumps name labels.
struct ir {
    std::uint16_t code = 0;
    std::uint32_t k = 0;
    int jt = -1; ///< label (conditional jumps, and JA's target)
    int jf = -1;
};

/// Where A stands: unknown, or the seccomp_data offset it was loaded from.
using a_state = std::int64_t;
inline constexpr a_state a_unknown = -1;

class block {
public:
    explicit block(int* next_label) noexcept : next_label_(next_label) {}

    int new_label() { return (*next_label_)++; }

    void place(int label) {
        a_state s = live_ ? a_ : a_unknown - 1; // -2: nothing yet
        bool first = !live_;
        auto it = incoming_.find(label);
        if (it != incoming_.end()) {
            for (a_state in : it->second) {
                if (first) {
                    s = in;
                    first = false;
                } else if (s != in) {
                    s = a_unknown;
                }
            }
        }
        a_ = s < a_unknown ? a_unknown : s;
        live_ = true;
        placed_.emplace_back(label, code_.size());
    }
    void load(std::uint32_t off) {
        if (live_ && a_ == off) return;
        code_.push_back({static_cast<std::uint16_t>(BPF_LD | BPF_W | BPF_ABS), off});
        a_ = off;
    }
    void alu_and(std::uint32_t k) {
        code_.push_back({static_cast<std::uint16_t>(BPF_ALU | BPF_AND | BPF_K), k});
        a_ = a_unknown;
    }
    void jump(std::uint16_t op, std::uint32_t k, int jt, int jf) {
        if (jt == jf) return ja(jt);
        code_.push_back({static_cast<std::uint16_t>(BPF_JMP | op | BPF_K), k, jt, jf});
        incoming_[jt].push_back(a_);
        incoming_[jf].push_back(a_);
        live_ = false;
    }
    void ja(int target) {
        code_.push_back({static_cast<std::uint16_t>(BPF_JMP | BPF_JA), 0, target, -1});
        incoming_[target].push_back(a_);
        live_ = false;
    }
    void ret(std::uint32_t k) {
        code_.push_back({static_cast<std::uint16_t>(BPF_RET | BPF_K), k});
        live_ = false;
    }

    /// The longest path from the block's entry to a jump out of it, counting one more
    /// instruction for the RET every exit reaches.
    [[nodiscard]] int worst_path() const {
        std::map<int, std::size_t> pos;
        for (auto& [l, p] : placed_) pos[l] = p;
        std::vector<int> len(code_.size() + 1, 0);
        auto target_len = [&](int label) {
            auto it = pos.find(label);
            if (it == pos.end()) return 1;
            return len[it->second];
        };
        for (std::size_t i = code_.size(); i-- > 0;) {
            const ir& x = code_[i];
            if (BPF_CLASS(x.code) == BPF_RET) len[i] = 1;
            else if (BPF_CLASS(x.code) == BPF_JMP && BPF_OP(x.code) == BPF_JA)
                len[i] = 1 + target_len(x.jt);
            else if (BPF_CLASS(x.code) == BPF_JMP)
                len[i] = 1 + std::max(target_len(x.jt), target_len(x.jf));
            else len[i] = 1 + len[i + 1];
        }
        return code_.empty() ? 0 : len[0];
    }

    std::vector<ir> code_;
    std::vector<std::pair<int, std::size_t>> placed_;

private:
    int* next_label_;
    std::map<int, std::vector<a_state>> incoming_;
    a_state a_ = a_unknown;
    bool live_ = true;
};

/// A leaf of a range search: jump to `label` (a shared RET or an argument block); `cost` is
/// the instructions executed from there; `checked` marks argument-dependent leaves.
struct leaf {
    int label;
    int cost;
    bool checked;
};

/// A range [lo, hi] of a 32-bit word mapped to a leaf.
struct segment {
    std::uint32_t lo, hi;
    int leaf;
};

struct tree_cost {
    int max_plain = -1;
    int max_checked = -1;
    long sum = 0;
    long count = 0;
};
inline bool operator<(const tree_cost& a, const tree_cost& b) noexcept {
    if (a.max_plain != b.max_plain) return a.max_plain < b.max_plain;
    if (a.max_checked != b.max_checked) return a.max_checked < b.max_checked;
    return a.sum < b.sum;
}
inline tree_cost join(const tree_cost& a, const tree_cost& b) noexcept {
    auto up = [](int x, int y) {
        int m = std::max(x, y);
        return m < 0 ? m : m + 1;
    };
    return {up(a.max_plain, b.max_plain), up(a.max_checked, b.max_checked),
            a.sum + b.sum + a.count + b.count, a.count + b.count};
}

/// The cost of `l` reached after `depth` comparisons.
inline tree_cost leaf_cost(const leaf& l, int depth) noexcept {
    int c = l.cost + depth;
    return l.checked ? tree_cost{-1, c, c, 1} : tree_cost{c, -1, c, 1};
}
inline tree_cost merge_cost(const tree_cost& a, const tree_cost& b) noexcept {
    return {std::max(a.max_plain, b.max_plain), std::max(a.max_checked, b.max_checked), a.sum + b.sum,
            a.count + b.count};
}

/// Number of JEQs when segs[i..j] is a chain: leaf Y at even offsets, single numbers at odd
/// offsets (`jeq x1 ? X1 : jeq x2 ? X2 : ... : Y`); 0 when it is not one.
inline std::size_t chain_length(const std::vector<segment>& segs, std::size_t i, std::size_t j) {
    std::size_t len = j - i + 1;
    if (len < 3 || len % 2 == 0 || len > 7) return 0;
    for (std::size_t k = i; k <= j; ++k) {
        if ((k - i) % 2 == 0) {
            if (segs[k].leaf != segs[i].leaf) return 0;
        } else if (segs[k].lo != segs[k].hi) {
            return 0;
        }
    }
    return len / 2;
}

/// Emits a binary search (JGE on range starts, or JEQ chains for isolated numbers) over
/// `segs` (sorted, contiguous, adjacent leaves different) into `b`; A must hold the word.
inline void emit_search(block& b, const std::vector<segment>& segs,
                        const std::vector<leaf>& leaves) {
    const std::size_t n = segs.size();
    auto leaf_of = [&](std::size_t i) -> const leaf& { return leaves[static_cast<std::size_t>(segs[i].leaf)]; };
    // split[i][j]: k so that [i..k] go left and [k+1..j] right; k == j marks a JEQ chain.
    std::vector<std::vector<std::uint16_t>> split;
    constexpr std::size_t dp_limit = 400;
    if (n > 1 && n <= dp_limit) {
        std::vector<std::vector<tree_cost>> best(n, std::vector<tree_cost>(n));
        split.assign(n, std::vector<std::uint16_t>(n, 0));
        for (std::size_t i = 0; i < n; ++i) best[i][i] = leaf_cost(leaf_of(i), 0);
        for (std::size_t len = 2; len <= n; ++len) {
            for (std::size_t i = 0; i + len <= n; ++i) {
                std::size_t j = i + len - 1;
                std::size_t mid = (i + j) / 2;
                tree_cost bc;
                std::size_t bk = i;
                bool have = false;
                for (std::size_t k = i; k < j; ++k) {
                    tree_cost c = join(best[i][k], best[k + 1][j]);
                    bool better = !have || c < bc ||
                                  (!(bc < c) &&
                                   (k > mid ? k - mid : mid - k) < (bk > mid ? bk - mid : mid - bk));
                    if (better) {
                        bc = c;
                        bk = k;
                        have = true;
                    }
                }
                if (std::size_t m = chain_length(segs, i, j)) {
                    tree_cost c = leaf_cost(leaf_of(i), static_cast<int>(m));
                    for (std::size_t q = 0; q < m; ++q)
                        c = merge_cost(c, leaf_cost(leaf_of(i + 1 + 2 * q), static_cast<int>(q + 1)));
                    if (c < bc) {
                        bc = c;
                        bk = j;
                    }
                }
                best[i][j] = bc;
                split[i][j] = static_cast<std::uint16_t>(bk);
            }
        }
    }
    auto choose = [&](std::size_t i, std::size_t j) -> std::size_t {
        if (!split.empty()) return split[i][j];
        return (i + j) / 2;
    };
    // Preorder emission with an explicit stack: (i, j, label to place or -1).
    struct item {
        std::size_t i, j;
        int label;
    };
    std::vector<item> stack{{0, n - 1, -1}};
    while (!stack.empty()) {
        item it = stack.back();
        stack.pop_back();
        if (it.label >= 0) b.place(it.label);
        if (it.i == it.j) {
            b.ja(leaf_of(it.i).label);
            continue;
        }
        std::size_t k = choose(it.i, it.j);
        if (k == it.j) {
            std::size_t m = chain_length(segs, it.i, it.j);
            for (std::size_t q = 0; q < m; ++q) {
                bool last = q + 1 == m;
                int next = last ? leaf_of(it.i).label : b.new_label();
                b.jump(BPF_JEQ, segs[it.i + 1 + 2 * q].lo, leaf_of(it.i + 1 + 2 * q).label, next);
                if (!last) b.place(next);
            }
            continue;
        }
        auto side = [&](std::size_t i, std::size_t j) {
            if (i == j) return leaf_of(i).label;
            return b.new_label();
        };
        int left = side(it.i, k);
        int right = side(k + 1, it.j);
        b.jump(BPF_JGE, segs[k + 1].lo, right, left);
        // Left is emitted first (pushed last).
        if (k + 1 != it.j) stack.push_back({k + 1, it.j, right});
        if (it.i != k) stack.push_back({it.i, k, left});
    }
}

/// Cuts [lo, hi] points into segments given a sorted list of (start, leaf) breakpoints that
/// starts at `lo`; merges equal neighbours.
inline std::vector<segment> merge_segments(const std::vector<std::pair<std::uint64_t, int>>& starts,
                                           std::uint64_t end) {
    std::vector<segment> out;
    for (std::size_t i = 0; i < starts.size(); ++i) {
        std::uint64_t s = starts[i].first;
        std::uint64_t e = i + 1 < starts.size() ? starts[i + 1].first - 1 : end;
        if (!out.empty() && out.back().leaf == starts[i].second) {
            out.back().hi = static_cast<std::uint32_t>(e);
        } else {
            out.push_back({static_cast<std::uint32_t>(s), static_cast<std::uint32_t>(e),
                           starts[i].second});
        }
    }
    return out;
}

/// Removes what cannot change the verdict: rules after an unconditional one, trailing rules
/// whose action is the fallback, conditions that always hold, rules that never match.
inline std::vector<rule> simplify(const std::vector<rule>& rules, action& fallback) {
    std::vector<rule> out;
    for (const rule& r : rules) {
        rule s{r.act, {}};
        bool never = false;
        for (const condition& c : r.all_of) {
            bool always = false;
            constexpr std::uint64_t max = ~std::uint64_t{0};
            switch (c.op) {
            case cmp::eq: case cmp::ne: break;
            case cmp::lt: never = never || c.value == 0; break;
            case cmp::le: always = c.value == max; break;
            case cmp::gt: never = never || c.value == max; break;
            case cmp::ge: always = c.value == 0; break;
            case cmp::masked_eq:
                if (c.value & ~c.mask) never = true;
                else if (c.mask == 0) always = true;
                break;
            }
            if (!always && std::find(s.all_of.begin(), s.all_of.end(), c) == s.all_of.end())
                s.all_of.push_back(c);
        }
        if (never) continue;
        bool uncond = s.all_of.empty();
        out.push_back(std::move(s));
        if (uncond) break;
    }
    // An unconditional last rule is the fallback.
    if (!out.empty() && out.back().all_of.empty()) {
        fallback = out.back().act;
        out.pop_back();
    }
    while (!out.empty() && out.back().act == fallback) out.pop_back();
    return out;
}

struct arg_block {
    std::vector<rule> rules;
    action fallback;
    block code;
    int label;
    int cost;
};

class compiler {
public:
    explicit compiler(const policy& p) : p_(p) {}

    result<program> run() {
        if (p_.arches.empty())
            return error(errc::invalid_argument, "seccomp: compile").note("policy has no architecture");
        // Sections by AUDIT_ARCH, in the order the policy names them.
        std::vector<std::uint32_t> audits;
        for (const auto& ap : p_.arches) {
            if (std::count_if(p_.arches.begin(), p_.arches.end(),
                              [&](const arch_policy& o) { return o.arch == ap.arch; }) > 1)
                return error(errc::already_exists, "seccomp: compile")
                    .subject(std::string(arch_name(ap.arch)))
                    .note("two policies for one architecture");
            if (std::find(audits.begin(), audits.end(), audit_arch(ap.arch)) == audits.end())
                audits.push_back(audit_arch(ap.arch));
        }
        block head(&labels_);
        head.load(off_arch);
        std::vector<int> section_labels;
        for (std::size_t i = 0; i < audits.size(); ++i) {
            int s = head.new_label();
            section_labels.push_back(s);
            int next = i + 1 < audits.size() ? head.new_label() : ret_label(p_.foreign_arch_action.raw());
            head.jump(BPF_JEQ, audits[i], s, next);
            if (i + 1 < audits.size()) head.place(next);
        }
        blocks_.push_back(std::move(head));
        for (std::size_t i = 0; i < audits.size(); ++i) {
            block sec(&labels_);
            sec.place(section_labels[i]);
            BULKHEAD_TRY(section(sec, audits[i]));
            blocks_.push_back(std::move(sec));
        }
        for (auto& ab : args_) blocks_.push_back(std::move(ab.code));
        block rets(&labels_);
        for (auto& [k, l] : rets_) {
            rets.place(l);
            rets.ret(k);
        }
        blocks_.push_back(std::move(rets));
        return assemble();
    }

private:
    int ret_label(std::uint32_t k) {
        auto it = rets_.find(k);
        if (it != rets_.end()) return it->second;
        int l = labels_++;
        rets_.emplace(k, l);
        return l;
    }
    int leaf_for_ret(std::vector<leaf>& leaves, std::map<std::int64_t, int>& idx, std::uint32_t k) {
        auto key = static_cast<std::int64_t>(k);
        auto it = idx.find(key);
        if (it != idx.end()) return it->second;
        leaves.push_back({ret_label(k), 1, false});
        int i = static_cast<int>(leaves.size() - 1);
        idx.emplace(key, i);
        return i;
    }

    result<void> section(block& b, std::uint32_t audit) {
        b.load(off_nr);
        std::vector<leaf> leaves;
        std::map<std::int64_t, int> leaf_idx; // ret value, or -(1 + arg block index)
        std::vector<std::pair<std::uint64_t, int>> starts;
        auto add_policy = [&](const arch_policy* ap, std::uint64_t base, std::uint64_t end) -> result<void> {
            if (!ap) {
                starts.push_back({base, leaf_for_ret(leaves, leaf_idx, p_.foreign_arch_action.raw())});
                return {};
            }
            std::uint32_t max = table(ap->arch).max_nr;
            int dflt = leaf_for_ret(leaves, leaf_idx, ap->default_action.raw());
            int above = ap->enosys_above_max
                            ? leaf_for_ret(leaves, leaf_idx, action::errno_ret(ENOSYS).raw())
                            : dflt;
            std::uint64_t next = base; // first number not yet covered
            for (const auto& [nr, rules] : ap->syscalls) {
                std::uint64_t at = base + nr;
                if (at > end) break;
                if (at > next) {
                    // gap [next, at-1]: default up to max, then above
                    std::uint64_t maxabs = base + max;
                    if (next <= maxabs) starts.push_back({next, dflt});
                    if (at - 1 > maxabs && std::max(next, maxabs + 1) <= at - 1)
                        starts.push_back({std::max(next, maxabs + 1), above});
                }
                BULKHEAD_TRY_ASSIGN(int l, leaf_for_rules(leaves, leaf_idx, rules, ap->default_action));
                starts.push_back({at, l});
                next = at + 1;
            }
            if (next <= end) {
                std::uint64_t maxabs = base + max;
                if (next <= maxabs) starts.push_back({next, dflt});
                if (end > maxabs) starts.push_back({std::max(next, maxabs + 1), above});
            }
            return {};
        };
        if (audit == audit_arch_x86_64) {
            const arch_policy* p64 = p_.find(arch::x86_64);
            BULKHEAD_TRY(add_policy(p64, 0, x32_syscall_bit - 1));
            BULKHEAD_TRY(add_policy(p_.find(arch::x32), x32_syscall_bit, 0xfffffffeu));
            // -1 (a tracer's skip) belongs to x86_64: above its table.
            action minus_one = !p64 ? p_.foreign_arch_action
                               : p64->enosys_above_max ? action::errno_ret(ENOSYS)
                                                       : p64->default_action;
            starts.push_back({0xffffffffu, leaf_for_ret(leaves, leaf_idx, minus_one.raw())});
        } else {
            const arch_policy* ap = nullptr;
            for (const auto& a : p_.arches)
                if (audit_arch(a.arch) == audit) ap = &a;
            BULKHEAD_TRY(add_policy(ap, 0, 0xffffffffu));
        }
        auto segs = merge_segments(starts, 0xffffffffu);
        if (segs.size() == 1 && !leaves[static_cast<std::size_t>(segs[0].leaf)].checked) {
            b.ja(leaves[static_cast<std::size_t>(segs[0].leaf)].label);
            return {};
        }
        emit_search(b, segs, leaves);
        return {};
    }

    result<int> leaf_for_rules(std::vector<leaf>& leaves, std::map<std::int64_t, int>& idx,
                               const std::vector<rule>& rules, action fallback) {
        auto simple = simplify(rules, fallback);
        if (simple.empty()) return leaf_for_ret(leaves, idx, fallback.raw());
        std::size_t bi = 0;
        for (; bi < args_.size(); ++bi)
            if (args_[bi].fallback == fallback && args_[bi].rules == simple) break;
        if (bi == args_.size()) {
            arg_block ab{simple, fallback, block(&labels_), labels_++, 0};
            ab.code.place(ab.label);
            gen_rules(ab.code, simple, fallback);
            ab.cost = ab.code.worst_path();
            args_.push_back(std::move(ab));
        }
        auto key = -static_cast<std::int64_t>(bi) - 1;
        auto it = idx.find(key);
        if (it != idx.end()) return it->second;
        leaves.push_back({args_[bi].label, args_[bi].cost, true});
        int i = static_cast<int>(leaves.size() - 1);
        idx.emplace(key, i);
        return i;
    }

    void gen_rules(block& b, const std::vector<rule>& rules, action fallback) {
        // One argument, interval-shaped conditions only: a range search over its value.
        bool one_arg = true;
        std::uint8_t argi = rules.front().all_of.front().arg;
        for (const auto& r : rules)
            for (const auto& c : r.all_of)
                if (c.arg != argi || c.op == cmp::masked_eq) one_arg = false;
        if (one_arg) return gen_intervals(b, rules, fallback, argi);
        for (std::size_t i = 0; i < rules.size(); ++i) {
            auto conds = rules[i].all_of;
            std::stable_sort(conds.begin(), conds.end(),
                             [](const condition& x, const condition& y) { return x.arg < y.arg; });
            int fail = i + 1 < rules.size() ? b.new_label() : ret_label(fallback.raw());
            for (std::size_t j = 0; j < conds.size(); ++j) {
                bool last = j + 1 == conds.size();
                int ok = last ? ret_label(rules[i].act.raw()) : b.new_label();
                gen_cond(b, conds[j], ok, fail);
                if (!last) b.place(ok);
            }
            if (i + 1 < rules.size()) b.place(fail);
        }
    }

    static std::uint32_t hi(std::uint64_t v) { return static_cast<std::uint32_t>(v >> 32); }
    static std::uint32_t lo(std::uint64_t v) { return static_cast<std::uint32_t>(v); }

    /// One 32-bit half of a MASKED_EQ: jumps to `t` when (word & m) == v, else `f`.
    void masked_word(block& b, std::uint32_t off, std::uint32_t m, std::uint32_t v, int t, int f) {
        if (m == 0) {
            b.ja(v == 0 ? t : f);
            return;
        }
        if (v & ~m) {
            b.ja(f);
            return;
        }
        b.load(off);
        if (m == 0xffffffffu) b.jump(BPF_JEQ, v, t, f);
        else if (v == 0) b.jump(BPF_JSET, m, f, t);
        else if ((m & (m - 1)) == 0) b.jump(BPF_JSET, m, t, f);
        else {
            b.alu_and(m);
            b.jump(BPF_JEQ, v, t, f);
        }
    }

    void gen_cond(block& b, const condition& c, int t, int f) {
        const std::uint32_t oh = off_arg_hi(c.arg), ol = off_arg_lo(c.arg);
        const std::uint32_t vh = hi(c.value), vl = lo(c.value);
        switch (c.op) {
        case cmp::eq:
        case cmp::ne: {
            int tt = c.op == cmp::eq ? t : f, ff = c.op == cmp::eq ? f : t;
            int j = b.new_label();
            b.load(oh);
            b.jump(BPF_JEQ, vh, j, ff);
            b.place(j);
            b.load(ol);
            b.jump(BPF_JEQ, vl, tt, ff);
            return;
        }
        case cmp::gt:
        case cmp::le:
        case cmp::ge:
        case cmp::lt: {
            // a > v (or a >= v): hi > vh, or hi == vh and lo > vl (lo >= vl).
            bool strict = c.op == cmp::gt || c.op == cmp::le;
            bool pos = c.op == cmp::gt || c.op == cmp::ge;
            int tt = pos ? t : f, ff = pos ? f : t;
            if (!strict && vl == 0) {
                b.load(oh);
                b.jump(BPF_JGE, vh, tt, ff);
                return;
            }
            b.load(oh);
            int eq = b.new_label();
            if (vh != 0xffffffffu) {
                int j = b.new_label();
                b.jump(BPF_JGT, vh, tt, j);
                b.place(j);
            }
            if (vh != 0) {
                b.jump(BPF_JEQ, vh, eq, ff);
            } else {
                b.ja(eq);
            }
            b.place(eq);
            b.load(ol);
            b.jump(strict ? BPF_JGT : BPF_JGE, vl, tt, ff);
            return;
        }
        case cmp::masked_eq: {
            if (hi(c.mask) == 0 && vh == 0) {
                masked_word(b, ol, lo(c.mask), vl, t, f);
                return;
            }
            int j = b.new_label();
            masked_word(b, oh, hi(c.mask), vh, j, f);
            b.place(j);
            masked_word(b, ol, lo(c.mask), vl, t, f);
            return;
        }
        }
    }

    /// Rules on one argument with interval conditions: cut the u64 line where any
    /// condition's truth changes, evaluate the rules on each piece, then search hi, then lo.
    void gen_intervals(block& b, const std::vector<rule>& rules, action fallback, std::uint8_t argi) {
        std::vector<std::uint64_t> cuts{0};
        auto cut = [&](std::uint64_t v) { cuts.push_back(v); };
        for (const auto& r : rules)
            for (const auto& c : r.all_of) {
                switch (c.op) {
                case cmp::eq: case cmp::ne:
                    cut(c.value);
                    if (c.value != ~std::uint64_t{0}) cut(c.value + 1);
                    break;
                case cmp::lt: case cmp::ge: cut(c.value); break;
                case cmp::le: case cmp::gt:
                    if (c.value != ~std::uint64_t{0}) cut(c.value + 1);
                    break;
                case cmp::masked_eq: break;
                }
            }
        std::sort(cuts.begin(), cuts.end());
        cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
        auto eval = [&](std::uint64_t v) {
            data d{};
            d.args[argi] = v;
            for (const auto& r : rules)
                if (r.matches(d)) return r.act.raw();
            return fallback.raw();
        };
        // u64 pieces: (start, ret)
        std::vector<std::pair<std::uint64_t, std::uint32_t>> pieces;
        for (auto c : cuts) {
            auto k = eval(c);
            if (pieces.empty() || pieces.back().second != k) pieces.push_back({c, k});
        }
        auto piece_end = [&](std::size_t i) {
            return i + 1 < pieces.size() ? pieces[i + 1].first - 1 : ~std::uint64_t{0};
        };
        // hi words where the value changes inside the word: they need a lo search.
        std::vector<std::uint32_t> hcuts{0};
        std::vector<std::uint32_t> mixed;
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            std::uint64_t s = pieces[i].first, e = piece_end(i);
            hcuts.push_back(hi(s));
            if (hi(s) != 0xffffffffu) hcuts.push_back(hi(s) + 1);
            hcuts.push_back(hi(e));
            if (hi(e) != 0xffffffffu) hcuts.push_back(hi(e) + 1);
            if (lo(s) != 0) mixed.push_back(hi(s));
            if (lo(e) != 0xffffffffu) mixed.push_back(hi(e));
        }
        std::sort(hcuts.begin(), hcuts.end());
        hcuts.erase(std::unique(hcuts.begin(), hcuts.end()), hcuts.end());
        std::sort(mixed.begin(), mixed.end());
        mixed.erase(std::unique(mixed.begin(), mixed.end()), mixed.end());

        std::vector<leaf> leaves;
        std::map<std::int64_t, int> idx;
        std::vector<block> lo_blocks;
        std::vector<std::pair<std::uint64_t, int>> hstarts;
        for (auto h : hcuts) {
            if (std::binary_search(mixed.begin(), mixed.end(), h)) {
                // lo search for this hi word
                std::vector<leaf> lleaves;
                std::map<std::int64_t, int> lidx;
                std::vector<std::pair<std::uint64_t, int>> lstarts;
                std::uint64_t base = std::uint64_t{h} << 32;
                for (std::size_t i = 0; i < pieces.size(); ++i) {
                    std::uint64_t s = pieces[i].first, e = piece_end(i);
                    if (e < base || s > (base | 0xffffffffu)) continue;
                    lstarts.push_back({s < base ? 0 : lo(s), leaf_for_ret(lleaves, lidx, pieces[i].second)});
                }
                auto lsegs = merge_segments(lstarts, 0xffffffffu);
                block lb(&labels_);
                int l = lb.new_label();
                lb.place(l);
                lb.load(off_arg_lo(argi));
                emit_search(lb, lsegs, lleaves);
                leaves.push_back({l, lb.worst_path(), true});
                hstarts.push_back({h, static_cast<int>(leaves.size() - 1)});
                lo_blocks.push_back(std::move(lb));
            } else {
                hstarts.push_back({h, leaf_for_ret(leaves, idx, eval(std::uint64_t{h} << 32))});
            }
        }
        auto hsegs = merge_segments(hstarts, 0xffffffffu);
        b.load(off_arg_hi(argi));
        if (hsegs.size() == 1) b.ja(leaves[static_cast<std::size_t>(hsegs[0].leaf)].label);
        else emit_search(b, hsegs, leaves);
        for (auto& lb : lo_blocks) {
            std::size_t base = b.code_.size();
            for (auto& [lab, pos] : lb.placed_) b.placed_.emplace_back(lab, base + pos);
            b.code_.insert(b.code_.end(), lb.code_.begin(), lb.code_.end());
        }
    }

    result<program> assemble() {
        // Flatten; then widen conditional jumps over 255 with JA trampolines until all fit.
        std::vector<ir> code;
        std::vector<std::int64_t> label_at(static_cast<std::size_t>(labels_), -1);
        for (auto& b : blocks_) {
            std::size_t base = code.size();
            for (auto& [l, p] : b.placed_) label_at[static_cast<std::size_t>(l)] = static_cast<std::int64_t>(base + p);
            code.insert(code.end(), b.code_.begin(), b.code_.end());
        }
        // tramp[i]: trampolines after insn i (0: none, bit0: jt, bit1: jf).
        std::vector<std::uint8_t> tramp(code.size(), 0);
        for (;;) {
            std::vector<std::size_t> pos(code.size() + 1);
            std::size_t p = 0;
            for (std::size_t i = 0; i < code.size(); ++i) {
                pos[i] = p;
                p += 1 + (tramp[i] & 1) + ((tramp[i] >> 1) & 1);
            }
            pos[code.size()] = p;
            if (p > max_insns)
                return error(errc::too_large, "seccomp: compile")
                    .subject(std::to_string(p) + " instructions")
                    .note("more than BPF_MAXINSNS (4096); split the policy or merge rules");
            auto at = [&](int label) -> std::size_t {
                auto v = label_at[static_cast<std::size_t>(label)];
                return pos[static_cast<std::size_t>(v)];
            };
            bool changed = false;
            for (std::size_t i = 0; i < code.size(); ++i) {
                const ir& x = code[i];
                if (BPF_CLASS(x.code) != BPF_JMP || BPF_OP(x.code) == BPF_JA) continue;
                if (!(tramp[i] & 1) && at(x.jt) - (pos[i] + 1) > 255) {
                    tramp[i] |= 1;
                    changed = true;
                }
                if (!(tramp[i] & 2) && at(x.jf) - (pos[i] + 1) > 255) {
                    tramp[i] |= 2;
                    changed = true;
                }
            }
            if (changed) continue;
            program out;
            out.reserve(p);
            for (std::size_t i = 0; i < code.size(); ++i) {
                const ir& x = code[i];
                for (int l : {x.jt, x.jf})
                    if (BPF_CLASS(x.code) == BPF_JMP && l >= 0 && label_at[static_cast<std::size_t>(l)] < 0)
                        return error(errc::state_error, "seccomp: compile").note("internal: unplaced label");
                if (BPF_CLASS(x.code) == BPF_JMP && BPF_OP(x.code) == BPF_JA) {
                    std::size_t t = at(x.jt);
                    if (t < pos[i] + 1)
                        return error(errc::state_error, "seccomp: compile").note("internal: backward jump");
                    out.push_back(BPF_STMT(static_cast<std::uint16_t>(BPF_JMP | BPF_JA),
                                           static_cast<std::uint32_t>(t - pos[i] - 1)));
                } else if (BPF_CLASS(x.code) == BPF_JMP) {
                    std::size_t me = pos[i];
                    std::size_t slot = me + 1;
                    std::size_t tt = at(x.jt), tf = at(x.jf);
                    if (tt < me + 1 || tf < me + 1)
                        return error(errc::state_error, "seccomp: compile").note("internal: backward jump");
                    std::size_t jt_to = tt, jf_to = tf;
                    std::vector<insn> extra;
                    if (tramp[i] & 1) {
                        jt_to = slot++;
                        extra.push_back(BPF_STMT(static_cast<std::uint16_t>(BPF_JMP | BPF_JA), 0));
                    }
                    if (tramp[i] & 2) {
                        jf_to = slot++;
                        extra.push_back(BPF_STMT(static_cast<std::uint16_t>(BPF_JMP | BPF_JA), 0));
                    }
                    // Trampoline targets relative to their own slot.
                    std::size_t s = me + 1;
                    for (auto& e : extra) {
                        std::size_t target = (&e == &extra.front() && (tramp[i] & 1)) ? tt : tf;
                        e.k = static_cast<std::uint32_t>(target - s - 1);
                        ++s;
                    }
                    out.push_back(BPF_JUMP(x.code, x.k, static_cast<std::uint8_t>(jt_to - me - 1),
                                           static_cast<std::uint8_t>(jf_to - me - 1)));
                    out.insert(out.end(), extra.begin(), extra.end());
                } else {
                    out.push_back(BPF_STMT(x.code, x.k));
                }
            }
            BULKHEAD_TRY(check(out));
            return out;
        }
    }

    const policy& p_;
    int labels_ = 0;
    std::vector<block> blocks_;
    std::vector<arg_block> args_;
    std::map<std::uint32_t, int> rets_;
};

} // namespace detail

/// Compiles `p` into a seccomp filter program (see the file comment for the layout).
[[nodiscard]] inline result<program> compile(const policy& p) {
    detail::compiler c(p);
    return c.run();
}

} // namespace seccomp
BULKHEAD_NAMESPACE_END
