#pragma once
/// \file seccomp/bpf.hpp
/// Classic BPF as seccomp uses it: a checker (the kernel's rules: in-bounds forward jumps,
/// aligned seccomp_data loads, ends in RET), an emulator that runs a program on a
/// seccomp_data and counts executed instructions, and a disassembler that names syscalls.

#include "bulkhead/config.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/seccomp/arch.hpp"
#include "bulkhead/seccomp/policy.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <linux/filter.h>

BULKHEAD_NAMESPACE_BEGIN
namespace seccomp {

using insn = ::sock_filter;
using program = std::vector<insn>;

/// The kernel's limit on one filter's length.
inline constexpr std::size_t max_insns = BPF_MAXINSNS;

inline constexpr std::uint32_t off_nr = 0;
inline constexpr std::uint32_t off_arch = 4;
inline constexpr std::uint32_t off_ip = 8;
[[nodiscard]] constexpr std::uint32_t off_arg_lo(unsigned i) noexcept { return 16 + 8 * i; }
[[nodiscard]] constexpr std::uint32_t off_arg_hi(unsigned i) noexcept { return 20 + 8 * i; }

/// Checks what the kernel's seccomp_check_filter / bpf_check_classic would: known opcodes,
/// jumps inside the program, loads of aligned words inside seccomp_data, scratch indexes < 16,
/// a RET last. The error names the instruction index.
[[nodiscard]] inline result<void> check(std::span<const insn> prog) {
    auto bad = [](std::size_t i, const char* why) {
        return error(errc::invalid_argument, "seccomp: bpf check")
            .subject("insn " + std::to_string(i))
            .note(why);
    };
    if (prog.empty()) return bad(0, "empty program");
    if (prog.size() > max_insns) return bad(prog.size(), "more than BPF_MAXINSNS instructions");
    for (std::size_t i = 0; i < prog.size(); ++i) {
        const insn& f = prog[i];
        std::size_t left = prog.size() - i - 1;
        switch (BPF_CLASS(f.code)) {
        case BPF_LD:
            if (f.code == (BPF_LD | BPF_W | BPF_ABS)) {
                if ((f.k & 3) || f.k >= sizeof(data)) return bad(i, "load outside seccomp_data");
            } else if (f.code == (BPF_LD | BPF_W | BPF_LEN) || f.code == (BPF_LD | BPF_IMM)) {
            } else if (f.code == (BPF_LD | BPF_MEM)) {
                if (f.k >= BPF_MEMWORDS) return bad(i, "scratch index out of range");
            } else {
                return bad(i, "load mode not allowed in seccomp");
            }
            break;
        case BPF_LDX:
            if (f.code == (BPF_LDX | BPF_W | BPF_LEN) || f.code == (BPF_LDX | BPF_IMM)) {
            } else if (f.code == (BPF_LDX | BPF_MEM)) {
                if (f.k >= BPF_MEMWORDS) return bad(i, "scratch index out of range");
            } else {
                return bad(i, "ldx mode not allowed in seccomp");
            }
            break;
        case BPF_ST:
        case BPF_STX:
            if (f.code != BPF_ST && f.code != BPF_STX) return bad(i, "bad store");
            if (f.k >= BPF_MEMWORDS) return bad(i, "scratch index out of range");
            break;
        case BPF_ALU:
            switch (BPF_OP(f.code)) {
            case BPF_ADD: case BPF_SUB: case BPF_MUL: case BPF_OR: case BPF_AND:
            case BPF_LSH: case BPF_RSH: case BPF_XOR: break;
            case BPF_DIV: case BPF_MOD:
                if (BPF_SRC(f.code) == BPF_K && f.k == 0) return bad(i, "division by zero");
                break;
            case BPF_NEG: break;
            default: return bad(i, "unknown alu op");
            }
            break;
        case BPF_JMP:
            if (BPF_OP(f.code) == BPF_JA) {
                if (f.k >= left) return bad(i, "jump out of program");
            } else {
                switch (BPF_OP(f.code)) {
                case BPF_JEQ: case BPF_JGT: case BPF_JGE: case BPF_JSET: break;
                default: return bad(i, "unknown jump op");
                }
                if (f.jt >= left || f.jf >= left) return bad(i, "jump out of program");
            }
            break;
        case BPF_RET:
            if (f.code != (BPF_RET | BPF_K) && f.code != (BPF_RET | BPF_A))
                return bad(i, "bad return");
            break;
        case BPF_MISC:
            if (f.code != (BPF_MISC | BPF_TAX) && f.code != (BPF_MISC | BPF_TXA))
                return bad(i, "bad misc op");
            break;
        default: return bad(i, "unknown instruction class");
        }
    }
    if (BPF_CLASS(prog.back().code) != BPF_RET) return bad(prog.size() - 1, "last insn is not RET");
    return {};
}

/// What one run of a program did.
struct run_result {
    std::uint32_t ret = 0;         ///< the value returned (SECCOMP_RET_*)
    std::uint32_t executed = 0;    ///< instructions executed, the RET included
    bool loaded_args = false;      ///< read args[] or instruction_pointer (defeats the cache)

    [[nodiscard]] action verdict() const noexcept { return action::from_raw(ret); }
};

/// Runs a program (that passed check()) on `d`, as the kernel's interpreter does.
[[nodiscard]] inline run_result run(std::span<const insn> prog, const data& d) noexcept {
    unsigned char bytes[sizeof(data)];
    std::memcpy(bytes, &d, sizeof d);
    std::uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = {};
    run_result r;
    for (std::size_t pc = 0; pc < prog.size(); ++pc) {
        const insn& f = prog[pc];
        ++r.executed;
        std::uint32_t src = BPF_SRC(f.code) == BPF_X ? X : f.k;
        switch (f.code) {
        case BPF_LD | BPF_W | BPF_ABS:
            if (f.k + 4 > sizeof bytes) return r.ret = 0, r;
            std::memcpy(&A, bytes + f.k, 4);
            if (f.k >= off_ip) r.loaded_args = true;
            continue;
        case BPF_LD | BPF_W | BPF_LEN: A = sizeof(data); continue;
        case BPF_LDX | BPF_W | BPF_LEN: X = sizeof(data); continue;
        case BPF_LD | BPF_IMM: A = f.k; continue;
        case BPF_LDX | BPF_IMM: X = f.k; continue;
        case BPF_LD | BPF_MEM: A = M[f.k & 15]; continue;
        case BPF_LDX | BPF_MEM: X = M[f.k & 15]; continue;
        case BPF_ST: M[f.k & 15] = A; continue;
        case BPF_STX: M[f.k & 15] = X; continue;
        case BPF_MISC | BPF_TAX: X = A; continue;
        case BPF_MISC | BPF_TXA: A = X; continue;
        case BPF_RET | BPF_K: r.ret = f.k; return r;
        case BPF_RET | BPF_A: r.ret = A; return r;
        case BPF_JMP | BPF_JA: pc += f.k; continue;
        default: break;
        }
        if (BPF_CLASS(f.code) == BPF_ALU) {
            switch (BPF_OP(f.code)) {
            case BPF_ADD: A += src; break;
            case BPF_SUB: A -= src; break;
            case BPF_MUL: A *= src; break;
            case BPF_DIV: if (src == 0) return r.ret = 0, r; A /= src; break;
            case BPF_MOD: if (src == 0) return r.ret = 0, r; A %= src; break;
            case BPF_OR: A |= src; break;
            case BPF_AND: A &= src; break;
            case BPF_XOR: A ^= src; break;
            case BPF_LSH: A = src >= 32 ? 0 : A << src; break;
            case BPF_RSH: A = src >= 32 ? 0 : A >> src; break;
            case BPF_NEG: A = 0u - A; break;
            default: return r.ret = 0, r;
            }
            continue;
        }
        if (BPF_CLASS(f.code) == BPF_JMP) {
            bool t = false;
            switch (BPF_OP(f.code)) {
            case BPF_JEQ: t = A == src; break;
            case BPF_JGT: t = A > src; break;
            case BPF_JGE: t = A >= src; break;
            case BPF_JSET: t = (A & src) != 0; break;
            default: return r.ret = 0, r;
            }
            pc += t ? f.jt : f.jf;
            continue;
        }
        return r.ret = 0, r;
    }
    r.ret = 0;
    return r;
}

/// A readable listing, one instruction a line:
///   `  12: jeq #0x27 (getpid)  jt 13  jf 40`. Syscall numbers compared right after a load of
/// seccomp_data.nr are named for `names` (the architecture the last arch check selected,
/// when it can be seen; else `names`).
[[nodiscard]] inline std::string disassemble(std::span<const insn> prog,
                                             std::optional<arch> names = native_arch()) {
    std::string out;
    char buf[160];
    enum class loaded { none, nr, arch, arg, other } a = loaded::none;
    std::optional<arch> cur = names;
    for (std::size_t i = 0; i < prog.size(); ++i) {
        const insn& f = prog[i];
        std::string text;
        auto cmpname = [&](const char* op) {
            std::snprintf(buf, sizeof buf, "%s #0x%x", op, f.k);
            text = buf;
            if (BPF_SRC(f.code) == BPF_X) text = std::string(op) + " x";
            else if (a == loaded::nr && cur) {
                std::uint32_t nr = f.k;
                arch ar = *cur;
                if ((*cur == arch::x86_64 || *cur == arch::x32) && (nr & x32_syscall_bit)) {
                    ar = arch::x32;
                    nr &= ~x32_syscall_bit;
                } else if (*cur == arch::x32) {
                    ar = arch::x86_64;
                }
                auto n = table(ar).name(nr);
                if (!n.empty()) text += " (" + std::string(n) + (ar == arch::x32 ? "@x32" : "") + ")";
            } else if (a == loaded::arch) {
                if (f.k == audit_arch_x86_64) text += " (AUDIT_ARCH_X86_64)";
                else if (f.k == audit_arch_i386) text += " (AUDIT_ARCH_I386)";
                else if (f.k == audit_arch_aarch64) text += " (AUDIT_ARCH_AARCH64)";
            }
            if (BPF_OP(f.code) == BPF_JEQ && a == loaded::arch) {
                if (f.k == audit_arch_x86_64) cur = arch::x86_64;
                else if (f.k == audit_arch_i386) cur = arch::i386;
                else if (f.k == audit_arch_aarch64) cur = arch::aarch64;
            }
            std::snprintf(buf, sizeof buf, "  jt %zu  jf %zu", i + 1 + f.jt, i + 1 + f.jf);
            text += buf;
        };
        switch (f.code) {
        case BPF_LD | BPF_W | BPF_ABS:
            if (f.k == off_nr) text = "ld [nr]", a = loaded::nr;
            else if (f.k == off_arch) text = "ld [arch]", a = loaded::arch;
            else if (f.k == off_ip) text = "ld [instruction_pointer]", a = loaded::other;
            else if (f.k == off_ip + 4) text = "ld [instruction_pointer+4]", a = loaded::other;
            else if (f.k >= 16 && f.k < sizeof(data)) {
                std::snprintf(buf, sizeof buf, "ld [args[%u].%s]", (f.k - 16) / 8,
                              ((f.k - 16) % 8) ? "hi" : "lo");
                text = buf;
                a = loaded::arg;
            } else {
                std::snprintf(buf, sizeof buf, "ld [%u]", f.k);
                text = buf;
                a = loaded::other;
            }
            break;
        case BPF_LD | BPF_W | BPF_LEN: text = "ld #len"; a = loaded::other; break;
        case BPF_LDX | BPF_W | BPF_LEN: text = "ldx #len"; break;
        case BPF_LD | BPF_IMM: std::snprintf(buf, sizeof buf, "ld #0x%x", f.k); text = buf; a = loaded::other; break;
        case BPF_LDX | BPF_IMM: std::snprintf(buf, sizeof buf, "ldx #0x%x", f.k); text = buf; break;
        case BPF_LD | BPF_MEM: std::snprintf(buf, sizeof buf, "ld M[%u]", f.k); text = buf; a = loaded::other; break;
        case BPF_LDX | BPF_MEM: std::snprintf(buf, sizeof buf, "ldx M[%u]", f.k); text = buf; break;
        case BPF_ST: std::snprintf(buf, sizeof buf, "st M[%u]", f.k); text = buf; break;
        case BPF_STX: std::snprintf(buf, sizeof buf, "stx M[%u]", f.k); text = buf; break;
        case BPF_MISC | BPF_TAX: text = "tax"; break;
        case BPF_MISC | BPF_TXA: text = "txa"; a = loaded::other; break;
        case BPF_RET | BPF_K: text = "ret " + action::from_raw(f.k).str(); break;
        case BPF_RET | BPF_A: text = "ret a"; break;
        case BPF_JMP | BPF_JA:
            std::snprintf(buf, sizeof buf, "ja %zu", i + 1 + f.k);
            text = buf;
            break;
        default:
            if (BPF_CLASS(f.code) == BPF_JMP) {
                switch (BPF_OP(f.code)) {
                case BPF_JEQ: cmpname("jeq"); break;
                case BPF_JGT: cmpname("jgt"); break;
                case BPF_JGE: cmpname("jge"); break;
                case BPF_JSET: cmpname("jset"); break;
                default: text = "jmp ?"; break;
                }
            } else if (BPF_CLASS(f.code) == BPF_ALU) {
                static const char* ops[16] = {"add", "sub", "mul", "div", "or", "and", "lsh", "rsh",
                                              "neg", "mod", "xor", "?", "?", "?", "?", "?"};
                const char* op = ops[BPF_OP(f.code) >> 4];
                if (BPF_OP(f.code) == BPF_NEG) text = "neg";
                else if (BPF_SRC(f.code) == BPF_X) text = std::string(op) + " x";
                else {
                    std::snprintf(buf, sizeof buf, "%s #0x%x", op, f.k);
                    text = buf;
                }
                a = loaded::other;
            } else {
                std::snprintf(buf, sizeof buf, ".insn code=0x%x k=0x%x", f.code, f.k);
                text = buf;
            }
        }
        std::snprintf(buf, sizeof buf, "%5zu: ", i);
        out += buf;
        out += text;
        out += '\n';
    }
    return out;
}

} // namespace seccomp
BULKHEAD_NAMESPACE_END
