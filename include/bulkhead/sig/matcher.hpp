#pragma once
/// \file sig/matcher.hpp
/// Running a compiled_db over bytes: `scan_state` (per-thread scratch, reused across files)
/// and `stream` (one pass over one buffer, fed whole or in chunks). Matches across chunk
/// boundaries are found: the stream keeps the tail its pending candidates, fixed-offset
/// signatures and EOF-relative signatures still need, and nothing more.

#include "bulkhead/config.hpp"
#include "bulkhead/sig/engine.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define BULKHEAD_SIG_X86_SIMD 1
#include <immintrin.h>
#else
#define BULKHEAD_SIG_X86_SIMD 0
#endif

BULKHEAD_NAMESPACE_BEGIN
namespace sig {

/// Per-pass switches.
struct match_options {
    bool all_matches = false;   ///< keep scanning after the first detection
    bool normalized_any = true; ///< in the normalized pass, also run target-0 signatures
};

namespace detail {

/// A zero-filled array from calloc: large ones arrive as untouched zero pages, so per-signature
/// scratch that a scan never reaches costs no resident memory.
template <class T>
class zero_pages {
public:
    explicit zero_pages(std::size_t n) : p_(static_cast<T*>(std::calloc(n ? n : 1, sizeof(T)))) {
        if (!p_) {
#if BULKHEAD_HAS_EXCEPTIONS
            throw std::bad_alloc();
#else
            std::abort();
#endif
        }
    }
    T& operator[](std::size_t i) noexcept { return p_.get()[i]; }
    const T& operator[](std::size_t i) const noexcept { return p_.get()[i]; }
    T* data() noexcept { return p_.get(); }

private:
    struct freer {
        void operator()(T* p) const noexcept { std::free(p); }
    };
    std::unique_ptr<T, freer> p_;
};

/// A stream position whose all-zero bytes mean no_pos (so zero_pages start out "unset").
struct pos_slot {
    std::uint64_t enc;
    operator std::uint64_t() const noexcept { return enc - 1; }
    pos_slot& operator=(std::uint64_t v) noexcept {
        enc = v + 1;
        return *this;
    }
};

} // namespace detail

/// Scratch for one thread; construct once per thread per database and reuse.
class scan_state {
public:
    explicit scan_state(const compiled_db& db)
        : db_(&db),
          best_end_(db.v_.chain_parts),
          chain_start_(db.v_.chain_parts),
          counts_(db.v_.ncounters + 1),
          done_(db.v_.entries.size()) {}

    [[nodiscard]] const compiled_db& db() const noexcept { return *db_; }

private:
    friend class stream;
    void reset() noexcept {
        for (auto p : touched_parts_) best_end_[p] = chain_start_[p] = detail::no_pos;
        touched_parts_.clear();
        for (auto c : touched_counts_) counts_[c] = 0;
        touched_counts_.clear();
        for (auto e : touched_done_) done_[e] = 0;
        touched_done_.clear();
    }
    const compiled_db* db_;
    detail::zero_pages<detail::pos_slot> best_end_, chain_start_;
    std::vector<std::uint32_t> touched_parts_;
    detail::zero_pages<std::uint32_t> counts_;
    std::vector<std::uint32_t> touched_counts_;
    detail::zero_pages<std::uint8_t> done_;
    std::vector<std::uint32_t> touched_done_;
    std::vector<std::uint32_t> s1_, s2_, e1_, e2_;
};

namespace detail {

/// Runs one part program over a set of positions (sorted, unique, relative to `w`).
/// Forward programs consume bytes at [p, p+n); backward ones the bytes at [p-n, p).
/// Returns false when no position survives or the program is malformed.
inline bool run_prog(std::span<const unsigned char> prog, std::size_t pc, const unsigned char* w,
                     std::uint32_t wlen, std::vector<std::uint32_t>& cur,
                     std::vector<std::uint32_t>& tmp, bool fwd) {
    auto need = [&](std::size_t k) { return prog.size() - pc >= k; };
    auto sort_unique = [&]() {
        std::sort(tmp.begin(), tmp.end());
        tmp.erase(std::unique(tmp.begin(), tmp.end()), tmp.end());
        cur.swap(tmp);
    };
    for (;;) {
        if (!need(1)) return false;
        unsigned char o = prog[pc++];
        std::size_t out = 0;
        switch (o) {
        case op_end: return !cur.empty();
        case op_lit:
        case op_liti: {
            if (!need(1)) return false;
            unsigned n = prog[pc];
            if (!need(1 + std::size_t(n))) return false;
            const unsigned char* b = prog.data() + pc + 1;
            pc += 1 + n;
            for (auto p : cur) {
                if (fwd ? (wlen - p < n) : (p < n)) continue;
                const unsigned char* d = w + (fwd ? p : p - n);
                bool eq = true;
                if (o == op_lit) eq = std::memcmp(d, b, n) == 0;
                else
                    for (unsigned k = 0; k < n && eq; ++k) eq = fold.t[d[k]] == b[k];
                if (eq) cur[out++] = fwd ? p + n : p - n;
            }
            cur.resize(out);
            break;
        }
        case op_mask:
        case op_set: {
            std::size_t len = o == op_mask ? 2 : 32;
            if (!need(len)) return false;
            const unsigned char* a = prog.data() + pc;
            pc += len;
            for (auto p : cur) {
                if (fwd ? (wlen - p < 1) : (p < 1)) continue;
                unsigned char c = w[fwd ? p : p - 1];
                bool okc = o == op_mask ? (c & a[1]) == a[0] : ((a[c >> 3] >> (c & 7)) & 1) != 0;
                if (okc) cur[out++] = fwd ? p + 1 : p - 1;
            }
            cur.resize(out);
            break;
        }
        case op_any: {
            if (!need(2)) return false;
            unsigned n = prog[pc] | unsigned(prog[pc + 1]) << 8;
            pc += 2;
            for (auto p : cur) {
                if (fwd ? (wlen - p < n) : (p < n)) continue;
                cur[out++] = fwd ? p + n : p - n;
            }
            cur.resize(out);
            break;
        }
        case op_gap: {
            if (!need(4)) return false;
            std::uint32_t mn = prog[pc] | unsigned(prog[pc + 1]) << 8;
            std::uint32_t mx = prog[pc + 2] | unsigned(prog[pc + 3]) << 8;
            pc += 4;
            tmp.clear();
            if (fwd) {
                // Sorted input: merge the windows [p+mn, p+mx] without duplicates.
                std::uint64_t next = 0;
                for (auto p : cur) {
                    std::uint64_t lo = std::uint64_t(p) + mn, hi = std::min<std::uint64_t>(std::uint64_t(p) + mx, wlen);
                    if (lo < next) lo = next;
                    for (std::uint64_t q = lo; q <= hi; ++q) tmp.push_back(static_cast<std::uint32_t>(q));
                    if (hi + 1 > next) next = hi + 1;
                }
                cur.swap(tmp);
            } else {
                for (auto p : cur) {
                    if (p < mn) continue;
                    std::uint32_t hi = p - mn, lo = p >= mx ? p - mx : 0;
                    for (std::uint32_t q = lo; q <= hi; ++q) tmp.push_back(q);
                }
                sort_unique();
            }
            break;
        }
        case op_alt:
        case op_alti:
        case op_nalt: {
            if (!need(1)) return false;
            unsigned cnt = prog[pc++];
            std::size_t start = pc;
            // validate the alternatives' extent first
            for (unsigned k = 0; k < cnt; ++k) {
                if (!need(1)) return false;
                unsigned l = prog[pc];
                if (!need(1 + std::size_t(l))) return false;
                pc += 1 + l;
            }
            tmp.clear();
            for (auto p : cur) {
                std::size_t q = start;
                bool any_eq = false;
                unsigned nl = 0;
                for (unsigned k = 0; k < cnt; ++k) {
                    unsigned l = prog[q];
                    const unsigned char* b = prog.data() + q + 1;
                    q += 1 + l;
                    nl = l;
                    if (fwd ? (wlen - p < l) : (p < l)) continue;
                    const unsigned char* d = w + (fwd ? p : p - l);
                    bool eq = true;
                    if (o == op_alti)
                        for (unsigned z = 0; z < l && eq; ++z) eq = fold.t[d[z]] == b[z];
                    else
                        eq = std::memcmp(d, b, l) == 0;
                    if (o == op_nalt) {
                        if (eq) any_eq = true;
                    } else if (eq) {
                        tmp.push_back(fwd ? p + l : p - l);
                    }
                }
                if (o == op_nalt && !any_eq && cnt && !(fwd ? (wlen - p < nl) : (p < nl)))
                    tmp.push_back(fwd ? p + nl : p - nl);
            }
            sort_unique();
            break;
        }
        default: return false;
        }
        if (cur.empty()) return false;
    }
}

struct candidate {
    std::uint64_t anchor;
    std::uint32_t part;
    bool operator<(const candidate& o) const noexcept {
        return anchor != o.anchor ? anchor < o.anchor : part < o.part;
    }
};

/// The tiers the one-pass block scan covers (-1: absent) and their bitmaps: A = stride 8
/// (the 8- and 4-byte tiers share one bitmap), B = stride 4, C = stride 2.
struct fast_tables {
    const std::uint64_t* bm[3] = {nullptr, nullptr, nullptr};
    unsigned lg[3] = {0, 0, 0}; ///< log2 of a Bloom bitmap's words
    bool has[3] = {false, false, false};
    bool reg[3] = {false, false, false}; ///< register filter instead of a Bloom bitmap
    bool at_start[3] = {false, false, false}; ///< tier_rec::at_start: not probed at block starts
    /// AVX2, a tiny at_start stride-2 tier (at most nibble_max_grams grams): nibble tables
    /// instead of a filter probe. Rows 0-3: per byte j of the gram, the buckets whose grams
    /// have that low nibble at j; rows 4-7 the same for high nibbles. A position passes when
    /// some bucket has all eight nibbles.
    bool nibble2 = false;
    alignas(16) unsigned char nib[8][16] = {};
    /// AVX2: the 32-bit filters (filters32) of the three kinds, lg32 their log2 words.
    const std::uint32_t* w32[3] = {nullptr, nullptr, nullptr};
    unsigned lg32[3] = {0, 0, 0};
};
/// Up to 3 grams per bucket of 8: a position of uniform random bytes passes about once in 10^5.
inline constexpr std::uint32_t nibble_max_grams = 24;
struct fast_plan {
    int a8 = -1, a4 = -1, b = -1, c = -1;
    int sb = -1, sc = -1; ///< the stride-4/2 tiers a passing block-start probe also serves
    bool any = false;
    int isa = 0; ///< 0 scalar, 1 AVX2, 2 AVX-512
    fast_tables tab;
    [[nodiscard]] bool covers(std::size_t t) const noexcept {
        int i = static_cast<int>(t);
        return i == a8 || i == a4 || i == b || i == c;
    }
};

/// Upper bound on the prefilter's instruction set: 2 (default) lets it use AVX-512 where the
/// CPU has it, 1 at most AVX2, 0 the portable scalar loop. Tests lower it to check that every
/// path finds the same matches; streams read it when they are constructed.
inline std::atomic<int>& prefilter_isa_limit() noexcept {
    static std::atomic<int> v{2};
    return v;
}

[[nodiscard]] inline int prefilter_isa() noexcept {
    int hw = 0;
#if BULKHEAD_SIG_X86_SIMD
    static const int cpu = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
    hw = cpu;
#endif
    return std::min(hw, prefilter_isa_limit().load(std::memory_order_relaxed));
}

/// The nibble tables of a tiny case-sensitive 4-byte tier (see fast_tables::nib): each
/// gram entry's bytes are its anchor literal at gram_delta + k. False when an anchor is not
/// the literal op the compiler writes (then the tier keeps its filter).
[[nodiscard]] inline bool build_nibbles(const tier_rec& T, std::span<const gram_entry> grams, std::span<const part_rec> parts,
                                        std::span<const unsigned char> prog, unsigned char (&nib)[8][16]) noexcept {
    for (auto& row : nib) std::fill(std::begin(row), std::end(row), static_cast<unsigned char>(0));
    for (std::uint32_t j = 0; j < T.nentries; ++j) {
        std::uint32_t key = 0;
        if (!gram_key(grams[T.entries_off + j], parts, prog, key)) return false;
        unsigned char g[4];
        std::memcpy(g, &key, 4);
        const auto bit = static_cast<unsigned char>(1u << (j % 8));
        for (unsigned b = 0; b < 4; ++b) {
            nib[b][g[b] & 15] |= bit;
            nib[4 + b][g[b] >> 4] |= bit;
        }
    }
    return true;
}

[[nodiscard]] inline fast_plan plan_fast(std::span<const tier_rec> tiers, std::span<const std::uint64_t> bitmaps,
                                         std::span<const gram_entry> grams, std::span<const part_rec> parts,
                                         std::span<const unsigned char> prog, const filters32& f32) {
    fast_plan f;
    for (std::size_t t = 0; t < tiers.size(); ++t) {
        const auto& T = tiers[t];
        if (T.fold || T.gram < 4) continue;
        int which = T.stride == 8 ? 0 : T.stride == 4 ? 1 : T.stride == 2 ? 2 : -1;
        if (which < 0) continue;
        int i = static_cast<int>(t);
        if (T.stride == 8) (T.gram == 8 ? f.a8 : f.a4) = i;
        else (which == 1 ? f.b : f.c) = i;
        if (which == 0 && f.tab.has[0] && f.tab.bm[0] != bitmaps.data() + T.bitmap_off) {
            // two stride-8 tiers with separate bitmaps: not a layout compile() writes
            f.a8 = f.a4 = -1;
            f.tab.has[0] = false;
            continue;
        }
        f.tab.bm[which] = bitmaps.data() + T.bitmap_off;
        f.tab.lg[which] = static_cast<unsigned>(std::countr_zero(T.bitmap_words));
        f.tab.reg[which] = T.reg != 0;
        f.tab.has[which] = true;
        f.tab.at_start[which] = T.at_start != 0;
        if (T.at_start) (which == 1 ? f.sb : f.sc) = i;
    }
    f.isa = prefilter_isa();
    // AVX2 probes the 32-bit filters compiled_db derived when it has them all, else the 64-bit
    // bitmaps (see scan_groups32_avx2 and scan_groups_avx2)
    if (f.isa == 1 && f.tab.has[0] && f32.lg[0] != 0 && (!f.tab.has[1] || !f.tab.at_start[1] || f32.lg[1] != 0) &&
        (!f.tab.has[2] || !f.tab.at_start[2] || f32.lg[2] != 0))
        for (int k = 0; k < 3; ++k)
            if (f32.lg[k] != 0) {
                f.tab.w32[k] = f32.words.data() + f32.off[k];
                f.tab.lg32[k] = f32.lg[k];
            }
    // Below AVX-512 the stride-8 tiers keep the shared probe, so a block costs one filter
    // lookup for both (and for the at_start tiers there); an at_start stride-4 tier is probed
    // at p+4 in the same pass. So is an at_start stride-2 tier on AVX2, at p+2, p+4 and p+6
    // (8 blocks per probe; in its own strided loop it cost a third of the scan at 10k
    // signatures); the scalar path keeps that loop.
    if (f.isa < 2 && (f.isa == 0 || !f.tab.at_start[2] || !f.tab.has[0])) {
        f.c = -1;
        f.tab.has[2] = false;
    }
    if (f.isa == 1 && f.c >= 0 && !grams.empty()) {
        const auto& T = tiers[static_cast<std::size_t>(f.c)];
        if (T.gram == 4 && T.nentries <= nibble_max_grams && T.entries_off + std::size_t(T.nentries) <= grams.size())
            f.tab.nibble2 = build_nibbles(T, grams, parts, prog, f.tab.nib);
    }
    if (f.isa < 2) {
        if (!f.tab.at_start[1] || !f.tab.has[0]) {
            f.b = -1;
            f.tab.has[1] = false;
        }
    }
    f.any = f.a8 >= 0 || f.a4 >= 0 || f.b >= 0 || f.c >= 0;
    return f;
}

/// Per lane (block i of a group of 16, or 8 on AVX2): which probes passed, in confirm_block's
/// order.
struct fast_masks {
    unsigned m[7];
};

/// The group loops' exit test: whether any probe of the group passed; if so, its masks go
/// to `out` (the at_start layout leaves the stride-4/2 probes at block starts to stride 8).
inline bool group_passed(fast_masks& out, unsigned m0, unsigned m3, unsigned m4, unsigned m5, unsigned m6) noexcept {
    if (!(m0 | m3 | m4 | m5 | m6)) return false;
    out.m[0] = m0;
    out.m[1] = out.m[2] = 0;
    out.m[3] = m3;
    out.m[4] = m4;
    out.m[5] = m5;
    out.m[6] = m6;
    return true;
}

/// How far ahead of the block scan the group loops prefetch the input (bytes; best of 512 to
/// 4096 on the 1k and 10k benchmark sets).
inline constexpr std::size_t input_prefetch = 2048;

/// Prefetches input_prefetch bytes past `p`. The address is computed as an integer: near the
/// end of the buffer it lies past it, and prefetching never faults, but forming such a
/// pointer by pointer arithmetic would be undefined.
inline void prefetch_input(const unsigned char* p) noexcept {
    __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(p) + input_prefetch));
}

/// B@p+4 of the 8 blocks of 64 bytes at x, for an at_start stride-4 tier (filter kind Reg).
template <bool Reg>
[[nodiscard]] inline unsigned probe_b4_scalar(const unsigned char* x, const fast_tables& t) noexcept {
    unsigned m = 0;
    for (unsigned k = 0; k < 8; ++k) {
        std::uint32_t g4;
        std::memcpy(&g4, x + 8 * k + 4, 4);
        bool pass;
        if constexpr (Reg) {
            pass = reg_filter_test(t.bm[1], g4);
        } else {
            pass = bloom_test(t.bm[1], t.lg[1], g4);
        }
        m |= unsigned(pass) << k;
    }
    return m;
}

/// The portable block scan over groups of 8 blocks (64 bytes at x + 64 i, reading 66): the
/// stride-8 probe at each block start and, when planned, the at_start stride-4 tier at p+4.
/// Returns the first group where a probe passed (masks in `out`), or n.
template <int K1>
inline std::size_t scan_groups_scalar(const unsigned char* x, std::size_t i, std::size_t n, const fast_tables& t,
                                      fast_masks& out) noexcept {
    const std::uint64_t* bm = t.bm[0];
    const unsigned lg = t.lg[0];
    for (; i < n; ++i) {
        const unsigned char* g = x + 64 * i;
        prefetch_input(g);
        unsigned m0 = 0;
        for (unsigned k = 0; k < 8; ++k) {
            std::uint32_t g4;
            std::memcpy(&g4, g + 8 * k, 4);
            m0 |= unsigned(bloom_test(bm, lg, g4)) << k;
        }
        unsigned m4 = 0;
        if constexpr (K1 == 1) m4 = probe_b4_scalar<true>(g, t);
        if constexpr (K1 == 2) m4 = probe_b4_scalar<false>(g, t);
        if (m0 | m4) {
            out.m[0] = m0;
            out.m[1] = out.m[2] = out.m[3] = out.m[5] = out.m[6] = 0;
            out.m[4] = m4;
            return i;
        }
    }
    return n;
}
inline std::size_t next_group_scalar(const unsigned char* x, std::size_t i, std::size_t n, const fast_tables& t,
                                     fast_masks& out) noexcept {
    if (!t.has[1]) return scan_groups_scalar<0>(x, i, n, t, out);
    return t.reg[1] ? scan_groups_scalar<1>(x, i, n, t, out) : scan_groups_scalar<2>(x, i, n, t, out);
}

#if BULKHEAD_SIG_X86_SIMD
// g++ 12 warns about the deliberately undefined pass-through operand of its own AVX-512
// intrinsics (_mm512_undefined_epi32) once they are inlined at -O2.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
/// Bloom probes of the 8 grams in the low dwords of x's lanes (see bloom_of).
__attribute__((target("avx512f"), always_inline)) inline unsigned probe8_avx512(__m512i x, const std::uint64_t* bm, unsigned lg) {
    const __m512i six = _mm512_set1_epi64(63), one = _mm512_set1_epi64(1);
    // gram * bloom_mul mod 2^64 = gram * lo + (gram * hi) << 32
    const __m512i h = _mm512_add_epi64(
        _mm512_mul_epu32(x, _mm512_set1_epi64(static_cast<long long>(bloom_mul & 0xffffffffu))),
        _mm512_slli_epi64(_mm512_mul_epu32(x, _mm512_set1_epi64(static_cast<long long>(bloom_mul >> 32))), 32));
    const __m512i idx = _mm512_srl_epi64(h, _mm_cvtsi32_si128(static_cast<int>(64 - lg)));
    const __m512i r = _mm512_sll_epi64(h, _mm_cvtsi32_si128(static_cast<int>(lg)));
    alignas(64) std::uint64_t ix[8], wv[8];
    _mm512_store_si512(ix, idx);
    for (int i = 0; i < 8; ++i) wv[i] = bm[ix[i]];
    const __m512i word = _mm512_load_si512(wv);
    const __m512i m = _mm512_or_si512(
        _mm512_sllv_epi64(one, _mm512_srli_epi64(r, 58)),
        _mm512_or_si512(_mm512_sllv_epi64(one, _mm512_and_si512(_mm512_srli_epi64(r, 52), six)),
                        _mm512_sllv_epi64(one, _mm512_and_si512(_mm512_srli_epi64(r, 46), six))));
    return _mm512_cmpeq_epi64_mask(_mm512_and_si512(word, m), m);
}

/// A register filter's four 1024-bit sets, two registers each.
struct reg_sets {
    __m512i v[8];
};
__attribute__((target("avx512f"), always_inline)) inline reg_sets load_reg_sets(const std::uint64_t* bm) {
    reg_sets r;
    for (int k = 0; k < 8; ++k) r.v[k] = _mm512_loadu_si512(bm + 8 * k);
    return r;
}

/// Register-filter probe of 16 grams (dword lanes), the sets already in registers.
__attribute__((target("avx512f"), always_inline)) inline unsigned probe16_reg_avx512(__m512i x, const reg_sets& r) {
    const __m512i h1 = _mm512_mullo_epi32(x, _mm512_set1_epi32(static_cast<int>(bloom_mul1)));
    const __m512i h2 = _mm512_mullo_epi32(x, _mm512_set1_epi32(static_cast<int>(bloom_mul2)));
    const __m512i m1023 = _mm512_set1_epi32(1023), m31 = _mm512_set1_epi32(31);
    const __m512i b[4] = {_mm512_srli_epi32(h1, 22), _mm512_and_si512(_mm512_srli_epi32(h1, 12), m1023),
                          _mm512_srli_epi32(h2, 22), _mm512_and_si512(_mm512_srli_epi32(h2, 12), m1023)};
    __m512i acc = _mm512_set1_epi32(1);
    for (int k = 0; k < 4; ++k) {
        const __m512i d = _mm512_permutex2var_epi32(r.v[2 * k], _mm512_srli_epi32(b[k], 5), r.v[2 * k + 1]);
        acc = _mm512_and_si512(acc, _mm512_srlv_epi32(d, _mm512_and_si512(b[k], m31)));
    }
    return _mm512_test_epi32_mask(acc, acc);
}

/// Register-filter probe of the 16 grams at x, x+4, ..., x+60 (dword lanes).
__attribute__((target("avx512f"))) inline unsigned probe16_reg_avx512(__m512i x, const std::uint64_t* bm) {
    const __m512i h1 = _mm512_mullo_epi32(x, _mm512_set1_epi32(static_cast<int>(bloom_mul1)));
    const __m512i h2 = _mm512_mullo_epi32(x, _mm512_set1_epi32(static_cast<int>(bloom_mul2)));
    const __m512i m1023 = _mm512_set1_epi32(1023), m31 = _mm512_set1_epi32(31);
    const __m512i b[4] = {_mm512_srli_epi32(h1, 22), _mm512_and_si512(_mm512_srli_epi32(h1, 12), m1023),
                          _mm512_srli_epi32(h2, 22), _mm512_and_si512(_mm512_srli_epi32(h2, 12), m1023)};
    __m512i acc = _mm512_set1_epi32(1);
    for (int k = 0; k < 4; ++k) {
        const __m512i lo = _mm512_loadu_si512(bm + 16 * k), hi = _mm512_loadu_si512(bm + 16 * k + 8);
        const __m512i d = _mm512_permutex2var_epi32(lo, _mm512_srli_epi32(b[k], 5), hi);
        acc = _mm512_and_si512(acc, _mm512_srlv_epi32(d, _mm512_and_si512(b[k], m31)));
    }
    return _mm512_test_epi32_mask(acc, acc);
}

/// Bloom probes of 16 grams (dword lanes).
__attribute__((target("avx512f"), always_inline)) inline unsigned bloom16_avx512(__m512i g, const std::uint64_t* bm, unsigned lg) {
    return probe8_avx512(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(g)), bm, lg) |
           probe8_avx512(_mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(g, 1)), bm, lg) << 8;
}

/// Filter probes of 16 grams (dword lanes) for one tier of the block scan.
__attribute__((target("avx512f"), always_inline)) inline unsigned probe16_avx512(__m512i g, const fast_tables& t, int k) {
    return t.reg[k] ? probe16_reg_avx512(g, t.bm[k]) : bloom16_avx512(g, t.bm[k], t.lg[k]);
}

/// Probes the 16 blocks of 128 bytes at x (reads x[0, 130)).
__attribute__((target("avx512f"), always_inline)) inline void probe_group_avx512(const unsigned char* x, const fast_tables& t, fast_masks& out) {
    const __m512i x0 = _mm512_loadu_si512(x), x1 = _mm512_loadu_si512(x + 64);
    // the grams at block starts (even dwords) and at block starts + 4 (odd dwords)
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    out.m[0] = t.has[0] ? probe8_avx512(x0, t.bm[0], t.lg[0]) | probe8_avx512(x1, t.bm[0], t.lg[0]) << 8 : 0;
    out.m[1] = out.m[4] = out.m[2] = out.m[3] = out.m[5] = out.m[6] = 0;
    if (!t.has[1] && !t.has[2]) return;
    const __m512i g0 = _mm512_permutex2var_epi32(x0, even, x1), g4 = _mm512_permutex2var_epi32(x0, odd, x1);
    if (t.has[1]) {
        if (!t.at_start[1]) out.m[1] = probe16_avx512(g0, t, 1);
        out.m[4] = probe16_avx512(g4, t, 1);
    }
    if (t.has[2]) {
        const __m512i y0 = _mm512_loadu_si512(x + 2), y1 = _mm512_loadu_si512(x + 66);
        if (!t.at_start[2]) out.m[2] = probe16_avx512(g0, t, 2);
        out.m[3] = probe16_avx512(_mm512_permutex2var_epi32(y0, even, y1), t, 2);
        out.m[5] = probe16_avx512(g4, t, 2);
        out.m[6] = probe16_avx512(_mm512_permutex2var_epi32(y0, odd, y1), t, 2);
    }
}

/// The block scan of the layout compile() writes (a stride-8 filter; stride-4 and stride-2
/// tiers at_start), specialized on the stride-4 and stride-2 filter kinds K1, K2 (0 absent,
/// 1 register filter, 2 Bloom): no per-group branches, register filters held in registers.
template <int K1, int K2>
__attribute__((target("avx512f"))) inline std::size_t scan_groups_avx512(const unsigned char* x, std::size_t i, std::size_t n,
                                                                      const fast_tables& t, fast_masks& out) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const std::uint64_t *bm0 = t.bm[0], *bm1 = t.bm[1], *bm2 = t.bm[2];
    const unsigned lg0 = t.lg[0], lg1 = t.lg[1], lg2 = t.lg[2];
    reg_sets r1{}, r2{};
    if constexpr (K1 == 1) r1 = load_reg_sets(bm1);
    if constexpr (K2 == 1) r2 = load_reg_sets(bm2);
    for (; i < n; ++i) {
        const unsigned char* g = x + 128 * i;
        // the hardware prefetcher alone falls behind at this rate (a third slower at 1k)
        prefetch_input(g);
        prefetch_input(g + 64);
        const __m512i x0 = _mm512_loadu_si512(g), x1 = _mm512_loadu_si512(g + 64);
        const unsigned m0 = probe8_avx512(x0, bm0, lg0) | probe8_avx512(x1, bm0, lg0) << 8;
        unsigned m3 = 0, m4 = 0, m5 = 0, m6 = 0;
        if constexpr (K1 != 0 || K2 != 0) {
            const __m512i g4 = _mm512_permutex2var_epi32(x0, odd, x1);
            if constexpr (K1 == 1) m4 = probe16_reg_avx512(g4, r1);
            if constexpr (K1 == 2) m4 = bloom16_avx512(g4, bm1, lg1);
            if constexpr (K2 != 0) {
                const __m512i y0 = _mm512_loadu_si512(g + 2), y1 = _mm512_loadu_si512(g + 66);
                const __m512i g2 = _mm512_permutex2var_epi32(y0, even, y1), g6 = _mm512_permutex2var_epi32(y0, odd, y1);
                if constexpr (K2 == 1) {
                    m3 = probe16_reg_avx512(g2, r2);
                    m5 = probe16_reg_avx512(g4, r2);
                    m6 = probe16_reg_avx512(g6, r2);
                } else {
                    m3 = bloom16_avx512(g2, bm2, lg2);
                    m5 = bloom16_avx512(g4, bm2, lg2);
                    m6 = bloom16_avx512(g6, bm2, lg2);
                }
            }
        }
        if (group_passed(out, m0, m3, m4, m5, m6)) return i;
    }
    return n;
}

/// Probes the groups x + 128 i for i in [i, n) and stops at the first one where some probe
/// passed (returns its index, masks in `out`), or returns n. The whole loop runs in AVX-512
/// code so nothing is spilled or called per group.
__attribute__((target("avx512f"))) inline std::size_t next_group_avx512(const unsigned char* x, std::size_t i, std::size_t n,
                                                                     const fast_tables& tab, fast_masks& out) {
    const fast_tables t = tab;
    if (t.has[0] && t.at_start[1] == t.has[1] && t.at_start[2] == t.has[2]) {
        const int k1 = t.has[1] ? (t.reg[1] ? 1 : 2) : 0, k2 = t.has[2] ? (t.reg[2] ? 1 : 2) : 0;
        switch (k1 * 3 + k2) {
        case 0: return scan_groups_avx512<0, 0>(x, i, n, t, out);
        case 1: return scan_groups_avx512<0, 1>(x, i, n, t, out);
        case 2: return scan_groups_avx512<0, 2>(x, i, n, t, out);
        case 3: return scan_groups_avx512<1, 0>(x, i, n, t, out);
        case 4: return scan_groups_avx512<1, 1>(x, i, n, t, out);
        case 5: return scan_groups_avx512<1, 2>(x, i, n, t, out);
        case 6: return scan_groups_avx512<2, 0>(x, i, n, t, out);
        case 7: return scan_groups_avx512<2, 1>(x, i, n, t, out);
        default: return scan_groups_avx512<2, 2>(x, i, n, t, out);
        }
    }
    for (; i < n; ++i) {
        probe_group_avx512(x + 128 * i, t, out);
        if (out.m[0] | out.m[1] | out.m[2] | out.m[3] | out.m[4] | out.m[5] | out.m[6]) return i;
    }
    return n;
}

__attribute__((target("avx2"), always_inline)) inline unsigned probe4_avx2(__m256i x, const std::uint64_t* bm, unsigned lg) {
    const __m256i six = _mm256_set1_epi64x(63), one = _mm256_set1_epi64x(1);
    const __m256i h = _mm256_add_epi64(
        _mm256_mul_epu32(x, _mm256_set1_epi64x(static_cast<long long>(bloom_mul & 0xffffffffu))),
        _mm256_slli_epi64(_mm256_mul_epu32(x, _mm256_set1_epi64x(static_cast<long long>(bloom_mul >> 32))), 32));
    const __m256i idx = _mm256_srl_epi64(h, _mm_cvtsi32_si128(static_cast<int>(64 - lg)));
    const __m256i r = _mm256_sll_epi64(h, _mm_cvtsi32_si128(static_cast<int>(lg)));
    // four scalar loads, not vpgatherqq: 10-12% faster at 10k signatures on Zen 3
    alignas(32) std::uint64_t ix[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(ix), idx);
    const __m256i word = _mm256_set_epi64x(static_cast<long long>(bm[ix[3]]), static_cast<long long>(bm[ix[2]]),
                                           static_cast<long long>(bm[ix[1]]), static_cast<long long>(bm[ix[0]]));
    const __m256i m = _mm256_or_si256(
        _mm256_sllv_epi64(one, _mm256_srli_epi64(r, 58)),
        _mm256_or_si256(_mm256_sllv_epi64(one, _mm256_and_si256(_mm256_srli_epi64(r, 52), six)),
                        _mm256_sllv_epi64(one, _mm256_and_si256(_mm256_srli_epi64(r, 46), six))));
    const __m256i eq = _mm256_cmpeq_epi64(_mm256_and_si256(word, m), m);
    return static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(eq)));
}

/// The 64-bit bitmap's probe (bloom_test) of the grams at x + 8 b, b < 8 (reads x[0, 64)).
__attribute__((target("avx2"), always_inline)) inline unsigned probe8_avx2(const unsigned char* x, const std::uint64_t* bm, unsigned lg) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32));
    return probe4_avx2(lo, bm, lg) | probe4_avx2(hi, bm, lg) << 4;
}

/// The register-filter test of the grams at x + 8 b for the lanes b set in `cand` (the lanes
/// whose gram passed the stride-8 filter, which holds this at_start tier's grams too).
inline unsigned reg_confirm(const unsigned char* x, unsigned cand, const std::uint64_t* bm) noexcept {
    unsigned m = 0;
    while (cand) {
        const unsigned b = static_cast<unsigned>(__builtin_ctz(cand));
        cand &= cand - 1;
        std::uint32_t g4;
        std::memcpy(&g4, x + 8 * b, 4);
        if (reg_filter_test(bm, g4)) m |= 1u << b;
    }
    return m;
}

/// The 32-bit filter test (see filters32) of the grams at x + 8 b, b < 8 (reads x[0, 64)):
/// bit b set where it passed. One multiply per hash and one gather for the eight words.
__attribute__((target("avx2"), always_inline)) inline unsigned probe32_avx2(const unsigned char* x, const std::uint32_t* w,
                                                                          unsigned lg) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32));
    // the low dword of each 8-byte block: [0 1 4 5 | 2 3 6 7], then blocks 0-7 in order
    const __m256i g = _mm256_permute4x64_epi64(
        _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(lo), _mm256_castsi256_ps(hi), 0x88)), 0xD8);
    const __m256i idx = _mm256_srl_epi32(_mm256_mullo_epi32(g, _mm256_set1_epi32(static_cast<int>(bloom_mul1))),
                                         _mm_cvtsi32_si128(static_cast<int>(32 - lg)));
    const __m256i h = _mm256_mullo_epi32(g, _mm256_set1_epi32(static_cast<int>(bloom_mul2)));
    const __m256i one = _mm256_set1_epi32(1), low5 = _mm256_set1_epi32(31);
    const __m256i m = _mm256_or_si256(
        _mm256_sllv_epi32(one, _mm256_srli_epi32(h, 27)),
        _mm256_or_si256(_mm256_sllv_epi32(one, _mm256_and_si256(_mm256_srli_epi32(h, 22), low5)),
                        _mm256_sllv_epi32(one, _mm256_and_si256(_mm256_srli_epi32(h, 17), low5))));
    const __m256i word = _mm256_i32gather_epi32(reinterpret_cast<const int*>(w), idx, 4);
    const __m256i eq = _mm256_cmpeq_epi32(_mm256_and_si256(word, m), m);
    return static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(eq)));
}

/// fast_tables::nib in registers.
struct nibble_regs {
    __m256i lo[4], hi[4];
};
__attribute__((target("avx2"), always_inline)) inline nibble_regs load_nibbles(const fast_tables& t) {
    nibble_regs r;
    for (int j = 0; j < 4; ++j) {
        r.lo[j] = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(t.nib[j])));
        r.hi[j] = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(t.nib[4 + j])));
    }
    return r;
}
/// The nibble-table test of the grams at c + i (i < 32; reads c[0, 35)), kept at positions
/// 2, 4 and 6 of each 8-byte block: bit i set where some bucket passed.
__attribute__((target("avx2"), always_inline)) inline std::uint32_t nibble32_avx2(const unsigned char* c, const nibble_regs& r) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256i acc = _mm256_set1_epi64x(0x00ff00ff00ff0000LL); // bytes 2, 4, 6 of each block
    for (int j = 0; j < 4; ++j) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + j));
        const __m256i l = _mm256_shuffle_epi8(r.lo[j], _mm256_and_si256(v, low4));
        const __m256i h = _mm256_shuffle_epi8(r.hi[j], _mm256_and_si256(_mm256_srli_epi16(v, 4), low4));
        acc = _mm256_and_si256(acc, _mm256_and_si256(l, h));
    }
    return ~static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(acc, _mm256_setzero_si256())));
}

/// The nibble-table test of the 8 blocks at g, as the group loops' masks: bit b of m3, m5,
/// m6 set where the gram at g + 8 b + 2, + 4, + 6 passed.
__attribute__((target("avx2"), always_inline)) inline void nibble_group_avx2(const unsigned char* g, const nibble_regs& nr,
                                                                           unsigned& m3, unsigned& m5, unsigned& m6) {
    std::uint64_t c = nibble32_avx2(g, nr) | std::uint64_t(nibble32_avx2(g + 32, nr)) << 32;
    while (c) {
        const auto pos = static_cast<unsigned>(std::countr_zero(c));
        c &= c - 1;
        const unsigned bit = 1u << (pos >> 3), o = pos & 7;
        (o == 2 ? m3 : o == 4 ? m5 : m6) |= bit;
    }
}

/// The block scan of the layout compile() writes on AVX2, over groups of 8 blocks (64 bytes at
/// x + 64 i, reading 72): the stride-8 probe at each block start, B@p+4 of an at_start
/// stride-4 tier and C@p+2, C@p+4, C@p+6 of an at_start stride-2 tier, specialised on their
/// filter kinds K1, K2 (0 absent, 1 register filter, 2 Bloom; K2 3: nibble tables). A Bloom
/// tier is probed with its own bitmap; a register-filtered one (at most 256 grams, which are
/// in the stride-8 filter too) with the stride-8 bitmap, vector-wide, and its own filter only
/// where that passed: AVX2 has no 32-dword permute to test a register filter in registers, and
/// its scalar test (or a gather) costs more per block than the Bloom probe. A stride-2 tier of
/// at most nibble_max_grams grams is tested with nibble tables held in registers instead (no
/// memory access: through the stride-8 bitmap its three probes per block cost 40% of the
/// scan at 10k signatures).
template <int K1, int K2>
__attribute__((target("avx2"))) inline std::size_t scan_groups_avx2(const unsigned char* x, std::size_t i, std::size_t n,
                                                                  const fast_tables& t, fast_masks& out) {
    const std::uint64_t *bm0 = t.bm[0], *bm1 = t.bm[1], *bm2 = t.bm[2];
    const unsigned lg0 = t.lg[0], lg1 = t.lg[1], lg2 = t.lg[2];
    nibble_regs nr{};
    if constexpr (K2 == 3) nr = load_nibbles(t);
    for (; i < n; ++i) {
        const unsigned char* g = x + 64 * i;
        prefetch_input(g);
        const unsigned m0 = probe8_avx2(g, bm0, lg0);
        unsigned m3 = 0, m4 = 0, m5 = 0, m6 = 0, a4 = 0;
        if constexpr (K1 == 1 || K2 == 1) a4 = probe8_avx2(g + 4, bm0, lg0);
        if constexpr (K1 == 1) m4 = a4 ? reg_confirm(g + 4, a4, bm1) : 0;
        if constexpr (K1 == 2) m4 = probe8_avx2(g + 4, bm1, lg1);
        if constexpr (K2 == 1) {
            const unsigned a2 = probe8_avx2(g + 2, bm0, lg0), a6 = probe8_avx2(g + 6, bm0, lg0);
            if (a2 | a4 | a6) {
                m3 = reg_confirm(g + 2, a2, bm2);
                m5 = reg_confirm(g + 4, a4, bm2);
                m6 = reg_confirm(g + 6, a6, bm2);
            }
        }
        if constexpr (K2 == 3) nibble_group_avx2(g, nr, m3, m5, m6);
        if constexpr (K2 == 2) {
            m3 = probe8_avx2(g + 2, bm2, lg2);
            m5 = probe8_avx2(g + 4, bm2, lg2);
            m6 = probe8_avx2(g + 6, bm2, lg2);
        }
        if (group_passed(out, m0, m3, m4, m5, m6)) return i;
    }
    return n;
}

/// scan_groups_avx2 with the 32-bit filters (filters32, derived where the stride-8 one is
/// small enough to gather from fast): the stride-8 probe at each block start, B@p+4 of an
/// at_start stride-4 tier (K1 1) and C@p+2, C@p+4, C@p+6 of an at_start stride-2 tier (K2 1:
/// its 32-bit filter; K2 2: the nibble tables of a tiny one), each filter probe one
/// probe32_avx2.
template <int K1, int K2>
__attribute__((target("avx2"))) inline std::size_t scan_groups32_avx2(const unsigned char* x, std::size_t i, std::size_t n,
                                                                  const fast_tables& t, fast_masks& out) {
    const std::uint32_t *w0 = t.w32[0], *w1 = t.w32[1], *w2 = t.w32[2];
    const unsigned lg0 = t.lg32[0], lg1 = t.lg32[1], lg2 = t.lg32[2];
    nibble_regs nr{};
    if constexpr (K2 == 2) nr = load_nibbles(t);
    for (; i < n; ++i) {
        const unsigned char* g = x + 64 * i;
        prefetch_input(g);
        const unsigned m0 = probe32_avx2(g, w0, lg0);
        unsigned m3 = 0, m4 = 0, m5 = 0, m6 = 0;
        if constexpr (K1 == 1) m4 = probe32_avx2(g + 4, w1, lg1);
        if constexpr (K2 == 1) {
            m3 = probe32_avx2(g + 2, w2, lg2);
            m5 = probe32_avx2(g + 4, w2, lg2);
            m6 = probe32_avx2(g + 6, w2, lg2);
        }
        if constexpr (K2 == 2) nibble_group_avx2(g, nr, m3, m5, m6);
        if (group_passed(out, m0, m3, m4, m5, m6)) return i;
    }
    return n;
}

/// Probes the groups x + 64 i for i in [i, n) and stops at the first one where some probe
/// passed (returns its index, masks in `out`), or returns n. plan_fast() gives AVX2 only the
/// layout compile() writes: a stride-8 filter, and stride-4/2 tiers only when at_start, each
/// with its filters32 array.
__attribute__((target("avx2"))) inline std::size_t next_group_avx2(const unsigned char* x, std::size_t i, std::size_t n,
                                                                 const fast_tables& tab, fast_masks& out) {
    const fast_tables t = tab;
    if (t.w32[0]) {
        const int k1 = t.has[1] ? 1 : 0, k2 = t.has[2] ? (t.nibble2 ? 2 : 1) : 0;
        switch (k1 * 3 + k2) {
        case 0: return scan_groups32_avx2<0, 0>(x, i, n, t, out);
        case 1: return scan_groups32_avx2<0, 1>(x, i, n, t, out);
        case 2: return scan_groups32_avx2<0, 2>(x, i, n, t, out);
        case 3: return scan_groups32_avx2<1, 0>(x, i, n, t, out);
        case 4: return scan_groups32_avx2<1, 1>(x, i, n, t, out);
        default: return scan_groups32_avx2<1, 2>(x, i, n, t, out);
        }
    }
    const int k1 = t.has[1] ? (t.reg[1] ? 1 : 2) : 0, k2 = t.has[2] ? (t.nibble2 ? 3 : t.reg[2] ? 1 : 2) : 0;
    switch (k1 * 4 + k2) {
    case 0: return scan_groups_avx2<0, 0>(x, i, n, t, out);
    case 1: return scan_groups_avx2<0, 1>(x, i, n, t, out);
    case 2: return scan_groups_avx2<0, 2>(x, i, n, t, out);
    case 3: return scan_groups_avx2<0, 3>(x, i, n, t, out);
    case 4: return scan_groups_avx2<1, 0>(x, i, n, t, out);
    case 5: return scan_groups_avx2<1, 1>(x, i, n, t, out);
    case 6: return scan_groups_avx2<1, 2>(x, i, n, t, out);
    case 7: return scan_groups_avx2<1, 3>(x, i, n, t, out);
    case 8: return scan_groups_avx2<2, 0>(x, i, n, t, out);
    case 9: return scan_groups_avx2<2, 1>(x, i, n, t, out);
    case 10: return scan_groups_avx2<2, 2>(x, i, n, t, out);
    default: return scan_groups_avx2<2, 3>(x, i, n, t, out);
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

} // namespace detail

/// One pass over one buffer. Feed it whole (`scan`) or in chunks (`feed` ... `finish`).
class stream {
public:
    /// `total_size`: the buffer's full size when known up front (needed in streaming mode for
    /// multi-part signatures with EOF-relative offsets); `file_size` feeds .ldb FileSize.
    stream(scan_state& st, std::uint8_t pass, const match_options& opt = {},
           std::optional<std::uint64_t> total_size = std::nullopt,
           std::optional<std::uint64_t> file_size = std::nullopt)
        : st_(st), db_(*st.db_), v_(db_.v_), pass_(pass), opt_(opt), size_(total_size),
          file_size_(file_size), next_p_(v_.tiers.size(), 0), fast_(detail::plan_fast(v_.tiers, v_.bitmaps, v_.grams, v_.parts, v_.prog, db_.f32_)) {
        st_.reset();
    }

    /// Scans a complete buffer in place (no copy).
    void scan(std::span<const unsigned char> all) {
        size_ = all.size();
        process(all.data(), all.size(), 0, true);
        end_pass(all.size());
    }
    /// Feeds the next chunk.
    void feed(std::span<const unsigned char> chunk) {
        if (stop_ || finished_) return;
        buf_.insert(buf_.end(), chunk.begin(), chunk.end());
        process(buf_.data(), buf_.size(), base_, false);
        trim();
    }
    /// Ends the stream: EOF-relative signatures and logical signatures are decided here.
    void finish() {
        if (finished_) return;
        std::uint64_t total = base_ + buf_.size();
        if (!size_) size_ = total;
        if (!stop_) process(buf_.data(), buf_.size(), base_, true);
        end_pass(total);
    }

    [[nodiscard]] const std::vector<match>& matches() const noexcept { return matches_; }
    [[nodiscard]] std::vector<match>& matches() noexcept { return matches_; }
    /// Signatures that could not be decided (EOF-relative while streaming without a size, or
    /// an EOF window larger than the kept tail).
    [[nodiscard]] std::size_t undecided() const noexcept { return undecided_; }
    [[nodiscard]] bool stopped() const noexcept { return stop_; }
    /// Bytes held back between chunks (for tests of the bound).
    [[nodiscard]] std::size_t buffered() const noexcept { return buf_.size(); }

private:
    using part_rec = detail::part_rec;
    using entry_rec = detail::entry_rec;

    [[nodiscard]] bool entry_active(const entry_rec& e) const noexcept {
        if (!(e.pass_mask & pass_)) return false;
        if (pass_ == pass_normalized && !(e.flags & 2) && !opt_.normalized_any) return false;
        return true;
    }

    void fire(std::uint32_t eid, std::uint64_t off) {
        const auto& e = v_.entries[eid];
        if (!(e.flags & detail::entry_logical)) {
            if (st_.done_[eid]) return;
            st_.done_[eid] = 1;
            st_.touched_done_.push_back(eid);
            matches_.push_back({db_.name(e.name), off, pass_});
            if (!opt_.all_matches) stop_ = true;
        } else {
            const std::uint32_t counter = v_.ext[e.ext].counter;
            if (st_.counts_[counter]++ == 0) st_.touched_counts_.push_back(counter);
        }
    }

    /// Verifies a candidate; the window holds absolute bytes [wbase, wbase+wlen).
    void verify(const detail::candidate& c, const unsigned char* w, std::size_t wlen, std::uint64_t wbase, bool final) {
        const part_rec& P = v_.parts[c.part];
        const entry_rec& E = v_.entries[P.entry];
        if (!entry_active(E)) return;
        if (!(E.flags & detail::entry_logical) && st_.done_[P.entry]) return;
        std::uint32_t pidx = c.part - E.first_part;
        if (pidx > 0 && st_.best_end_[c.part - 1] == detail::no_pos) return;
        // A chain part can only matter if it could end before the best end seen so far: every
        // end of this candidate is >= its anchor. This keeps frequent anchors of '*'-joined
        // parts from being re-verified once the chain has moved on.
        if (pidx + 1u < E.nparts && c.anchor >= st_.best_end_[c.part]) return;
        if (c.anchor < wbase || c.anchor > wbase + wlen) return;
        auto wl = static_cast<std::uint32_t>(wlen);
        auto a = static_cast<std::uint32_t>(c.anchor - wbase);
        auto& ends = st_.e1_;
        ends.assign(1, a);
        if (!detail::run_prog(v_.prog, P.right, w, wl, ends, st_.e2_, true)) return;
        auto& starts = st_.s1_;
        starts.assign(1, a);
        if (!detail::run_prog(v_.prog, P.left, w, wl, starts, st_.s2_, false)) return;
        bool full = E.flags & 1;
        bool last = pidx + 1u == E.nparts;
        // filter starts
        std::uint64_t lo = 0, hi = detail::no_pos;
        if (pidx == 0) {
            const auto* X = E.ext != detail::no_ext ? &v_.ext[E.ext] : nullptr;
            if (X && X->off_kind == offset_spec::absolute) {
                lo = X->off_n;
                hi = X->off_n + X->off_shift;
            } else if (X && X->off_kind == offset_spec::eof_minus) {
                if (!size_) { ++undecided_; return; }
                if (X->off_n > *size_) return;
                lo = *size_ - X->off_n;
                hi = lo + X->off_shift;
            }
        } else {
            lo = st_.best_end_[c.part - 1] + P.min_gap;
        }
        std::uint64_t smin = detail::no_pos;
        if (P.lead != detail::no_lead) {
            // offsets apply to the HEXSIG after `aa[x-y]`; then the lead must match before it
            std::size_t k = 0;
            for (auto s : starts)
                if (wbase + s >= lo && wbase + s <= hi) starts[k++] = s;
            starts.resize(k);
            if (starts.empty() || !detail::run_prog(v_.prog, P.lead, w, wl, starts, st_.s2_, false)) return;
            lo = 0;
            hi = detail::no_pos;
        }
        for (auto s : starts) {
            std::uint64_t abs = wbase + s;
            if (abs < lo || abs > hi) continue;
            if (full && pidx == 0 && s > 0 && detail::is_alnum(w[s - 1])) continue;
            smin = abs;
            break;
        }
        if (smin == detail::no_pos) return;
        std::uint64_t emin = detail::no_pos;
        for (auto e : ends) {
            if (full && last) {
                if (e < wl && detail::is_alnum(w[e])) continue;
                if (e == wl && !final) continue;
            }
            emin = wbase + e;
            break;
        }
        if (emin == detail::no_pos) return;
        if (!last) {
            if (st_.best_end_[c.part] == detail::no_pos) st_.touched_parts_.push_back(c.part);
            if (emin < st_.best_end_[c.part]) st_.best_end_[c.part] = emin;
            if (pidx == 0 && st_.chain_start_[c.part] == detail::no_pos) st_.chain_start_[c.part] = smin;
            return;
        }
        fire(P.entry, pidx == 0 ? smin : st_.chain_start_[E.first_part]);
    }

    /// Candidates of tier T for the gram key `g` found at text position q.
    void hit(const detail::tier_rec& T, std::uint64_t q, std::uint32_t g, const unsigned char* w,
             std::uint64_t wbase, std::uint64_t end) {
        const std::uint32_t* bk = v_.buckets.data() + T.bucket_off;
        std::uint32_t hb = detail::hash32b(g, T.table_log2);
        walk(T, q, g, bk[hb], bk[hb + 1], w, wbase, end);
    }

    /// The block scan's probe passes wait in a short queue, so the bucket and entry loads of
    /// several of them are in flight at once (each is likely a cache miss on a large table).
    void queue_hit(const detail::tier_rec& T, std::uint64_t q, std::uint32_t g, const unsigned char* w,
                   std::uint64_t wbase, std::uint64_t end) {
        std::uint32_t hb = detail::hash32b(g, T.table_log2);
        __builtin_prefetch(v_.buckets.data() + T.bucket_off + hb);
        hq_[hq_n_++] = {&T, q, g, hb, 0};
        if (hq_n_ == hq_.size()) flush_hits(w, wbase, end);
    }
    void flush_hits(const unsigned char* w, std::uint64_t wbase, std::uint64_t end) {
        for (unsigned i = 0; i < hq_n_; ++i) {
            auto& h = hq_[i];
            const std::uint32_t* bk = v_.buckets.data() + h.T->bucket_off;
            const std::uint32_t j0 = bk[h.j0], j1 = bk[h.j0 + 1];
            h.j0 = j0;
            h.j1 = j1;
            if (j0 < j1) __builtin_prefetch(v_.grams.data() + h.T->entries_off + j0);
        }
        for (unsigned i = 0; i < hq_n_; ++i) walk(*hq_[i].T, hq_[i].q, hq_[i].g, hq_[i].j0, hq_[i].j1, w, wbase, end);
        hq_n_ = 0;
    }

    /// Candidates of tier T for the gram key `g` at text position q: entries [j0, j1) of its table.
    void walk(const detail::tier_rec& T, std::uint64_t q, std::uint32_t g, std::uint32_t j0, std::uint32_t j1,
              const unsigned char* w, std::uint64_t wbase, std::uint64_t end) {
        const detail::gram_entry* ge = v_.grams.data() + T.entries_off;
        const unsigned char* prog = v_.prog.data();
        const unsigned fp = detail::gram_fp(g);
        for (std::uint32_t j = j0; j < j1; ++j) {
            if (ge[j].fp() != fp) continue;
            std::uint32_t part = ge[j].part(), k = ge[j].k();
            const auto& P = v_.parts[part];
            std::uint64_t back = k + P.gram_delta;
            if (q < back) continue;
            std::uint64_t a = q - back;
            // Cheap reject: the anchor literal (the right program's first op) in place.
            const unsigned char* rp = prog + P.right;
            if (a >= wbase && (rp[0] == detail::op_lit || rp[0] == detail::op_liti) && a + rp[1] <= end) {
                const unsigned char* d = w + (a - wbase);
                if (rp[0] == detail::op_lit) {
                    if (std::memcmp(d, rp + 2, rp[1]) != 0) continue;
                } else {
                    bool eq = true;
                    for (unsigned z = 0; z < rp[1] && eq; ++z) eq = detail::fold.t[d[z]] == rp[2 + z];
                    if (!eq) continue;
                }
            }
            if (v_.entries[P.entry].nparts == 1) single_.push_back({a, part});
            else cands_.push_back({a, part});
        }
    }

    /// One tier on its own: every stride-th position in [next, blk_end).
    void scan_tier(std::size_t t, const unsigned char* w, std::uint64_t wbase, std::uint64_t end,
                   std::uint64_t blk_end) {
        const auto& T = v_.tiers[t];
        std::uint64_t p = next_p_[t];
        if (end < T.gram) return;
        std::uint64_t lim = std::min<std::uint64_t>(blk_end, end - T.gram + 1);
        const std::uint64_t* bm = v_.bitmaps.data() + T.bitmap_off;
        const unsigned G = T.gram;
        unsigned S = T.stride;
        // at_start tiers: the block scan's stride-8 probe serves the multiples of 8
        const bool skip8 = T.at_start;
        if (skip8 && S == 4) {
            if ((p & 7) == 0) p += 4;
            S = 8;
        }
        const auto lg = static_cast<unsigned>(std::countr_zero(T.bitmap_words));
        const bool f = T.fold;
        if (G >= 4) {
            // one loop per (filter kind, folding): no per-position branches on either
            auto run = [&](auto reg, auto fold) {
                for (; p < lim; p += S) {
                    if (skip8 && (p & 7) == 0) continue;
                    const unsigned char* x = w + (p - wbase);
                    std::uint32_t g4;
                    std::memcpy(&g4, x, 4);
                    if constexpr (decltype(fold)::value) g4 = detail::fold4(g4);
                    bool pass;
                    if constexpr (decltype(reg)::value) {
                        pass = detail::reg_filter_test(bm, g4);
                    } else {
                        pass = detail::bloom_test(bm, lg, g4);
                    }
                    if (pass) hit(T, p, G == 8 ? detail::load_gram(x, 8, f) : g4, w, wbase, end);
                }
            };
            using yes = std::true_type;
            using no = std::false_type;
            if (T.reg) f ? run(yes{}, yes{}) : run(yes{}, no{});
            else f ? run(no{}, yes{}) : run(no{}, no{});
        } else {
            for (; p < lim; p += S) {
                std::uint32_t g = detail::load_gram(w + (p - wbase), G, f);
                if ((bm[g >> 6] >> (g & 63)) & 1) hit(T, p, g, w, wbase, end);
            }
        }
        next_p_[t] = p;
    }

    /// The case-sensitive 4- and 8-byte tiers of strides 8, 4 and 2 in one pass over 8-byte
    /// blocks. `bits` says which probes of the block at p passed their Bloom filter, in the
    /// order this confirms them: A@p B@p C@p C@p+2 B@p+4 C@p+4 C@p+6. A@p also serves the
    /// at_start tiers at p (whatever the instruction set: their own loops skip p).
    void confirm_block(std::uint64_t p, unsigned bits, const unsigned char* w, std::uint64_t wbase,
                       std::uint64_t end) {
        const unsigned char* x = w + (p - wbase);
        if (bits & 1) {
            const std::uint32_t g4 = detail::load_gram(x, 4, false);
            // each stride-8 tier's own filter first: the shared probe passes for either
            const auto& wf = db_.wf_;
            if (fast_.a8 >= 0 && p + 8 <= end) {
                const std::uint32_t g8 = detail::load_gram(x, 8, false);
                if (wf.pass(0, g8)) queue_hit(v_.tiers[fast_.a8], p, g8, w, wbase, end);
            }
            if (fast_.a4 >= 0 && wf.pass(1, g4)) queue_hit(v_.tiers[fast_.a4], p, g4, w, wbase, end);
            // the at_start tiers' own filters hold their grams too: most passes here are the
            // stride-8 tiers', so a probe spares a bucket walk
            const auto& ft = fast_.tab;
            if (fast_.sb >= 0 && detail::tier_test(ft.bm[1], ft.lg[1], ft.reg[1], g4)) queue_hit(v_.tiers[fast_.sb], p, g4, w, wbase, end);
            if (fast_.sc >= 0 && detail::tier_test(ft.bm[2], ft.lg[2], ft.reg[2], g4)) queue_hit(v_.tiers[fast_.sc], p, g4, w, wbase, end);
        }
        static constexpr unsigned char off[7] = {0, 0, 0, 2, 4, 4, 6};
        for (unsigned i = 1; i < 7; ++i)
            if (bits >> i & 1) {
                int t = (i == 1 || i == 4) ? fast_.b : fast_.c;
                queue_hit(v_.tiers[static_cast<std::size_t>(t)], p + off[i], detail::load_gram(x + off[i], 4, false), w, wbase, end);
            }
    }

    void scan_fast(const unsigned char* w, std::uint64_t wbase, std::uint64_t end, std::uint64_t blk_end, bool final) {
        std::uint64_t p = fast_next_;
        const detail::fast_tables& ft = fast_.tab;
        // groups of 16 blocks (8 below AVX-512) while all their bytes (and the 2 after) are here
        const unsigned gs = fast_.isa == 2 ? 128 : 64;
        if (ft.has[0] && p < blk_end && p + gs + 8 <= end) {
            std::size_t n = std::min<std::uint64_t>((blk_end - p + gs - 1) / gs, (end - p - 8) / gs);
            const unsigned char* x = w + (p - wbase);
            detail::fast_masks m;
            for (std::size_t i = 0;; ++i) {
#if BULKHEAD_SIG_X86_SIMD
                i = fast_.isa == 2 ? detail::next_group_avx512(x, i, n, ft, m)
                  : fast_.isa == 1 ? detail::next_group_avx2(x, i, n, ft, m)
                                   : detail::next_group_scalar(x, i, n, ft, m);
#else
                i = detail::next_group_scalar(x, i, n, ft, m);
#endif
                if (i >= n) break;
                unsigned any = m.m[0] | m.m[1] | m.m[2] | m.m[3] | m.m[4] | m.m[5] | m.m[6];
                while (any) {
                    unsigned b = static_cast<unsigned>(__builtin_ctz(any));
                    any &= any - 1;
                    unsigned bits = 0;
                    for (unsigned k = 0; k < 7; ++k) bits |= ((m.m[k] >> b) & 1u) << k;
                    confirm_block(p + gs * i + 8 * b, bits, w, wbase, end);
                }
            }
            p += gs * n;
        }
        if (!ft.has[1] && !ft.has[2] && ft.has[0]) {
            // only the stride-8 probe (below AVX-512): a tight loop, one lookup per block
            const std::uint64_t* bm = ft.bm[0];
            const unsigned lg = ft.lg[0];
            std::uint64_t lim = std::min(blk_end, end);
            if (!final) lim = std::min(lim, end >= 10 ? end - 9 : 0);
            for (; p < lim; p += 8) {
                if (p + 4 > end) continue;
                std::uint32_t g4;
                std::memcpy(&g4, w + (p - wbase), 4);
                if (detail::bloom_test(bm, lg, g4)) confirm_block(p, 1, w, wbase, end);
            }
        }
        for (; p < blk_end && p < end; p += 8) {
            if (!final && p + 10 > end) break; // wait for the whole block
            const unsigned char* x = w + (p - wbase);
            unsigned bits = 0;
            auto probe = [&](unsigned k, unsigned o) {
                unsigned which = k == 0 ? 0 : (k == 1 || k == 4) ? 1 : 2;
                if (!ft.has[which] || p + o + 4 > end || (o == 0 && ft.at_start[which])) return;
                std::uint32_t g4;
                std::memcpy(&g4, x + o, 4);
                if (detail::tier_test(ft.bm[which], ft.lg[which], ft.reg[which], g4)) bits |= 1u << k;
            };
            probe(0, 0); probe(1, 0); probe(2, 0); probe(3, 2); probe(4, 4); probe(5, 4); probe(6, 6);
            if (bits) confirm_block(p, bits, w, wbase, end);
        }
        flush_hits(w, wbase, end);
        fast_next_ = p;
        for (int t : {fast_.a8, fast_.a4, fast_.b, fast_.c})
            if (t >= 0) next_p_[static_cast<std::size_t>(t)] = p;
    }

    [[nodiscard]] bool verifiable(const detail::candidate& c, std::uint64_t end, bool final) const noexcept {
        if (final) return true;
        return c.anchor + v_.parts[c.part].right_max + 1 <= end;
    }

    void drain(const unsigned char* w, std::size_t wlen, std::uint64_t wbase, bool final) {
        std::uint64_t end = wbase + wlen;
        while (pend_head_ < pending_.size() && !stop_) {
            auto& c = pending_[pend_head_];
            if (!verifiable(c, end, final)) break;
            verify(c, w, wlen, wbase, final);
            ++pend_head_;
        }
        if (pend_head_ == pending_.size()) {
            pending_.clear();
            pend_head_ = 0;
        }
    }

    void release(std::uint64_t limit) {
        if (cands_.empty()) return;
        std::sort(cands_.begin(), cands_.end());
        std::size_t n = 0;
        while (n < cands_.size() && cands_[n].anchor < limit) ++n;
        pending_.insert(pending_.end(), cands_.begin(), cands_.begin() + static_cast<std::ptrdiff_t>(n));
        cands_.erase(cands_.begin(), cands_.begin() + static_cast<std::ptrdiff_t>(n));
    }

    void check_direct(std::uint32_t eid, const unsigned char* w, std::size_t wlen, std::uint64_t wbase, bool final) {
        const auto& E = v_.entries[eid];
        const bool logical = E.flags & detail::entry_logical;
        if (!entry_active(E) || (!logical && st_.done_[eid])) return;
        const auto& P = v_.parts[E.first_part];
        const auto& X = v_.ext[E.ext]; // load() checked that direct entries have one
        std::uint64_t s0;
        if (X.off_kind == offset_spec::absolute) {
            s0 = X.off_n;
        } else {
            if (!size_ || X.off_n > *size_) return;
            s0 = *size_ - X.off_n;
        }
        std::uint64_t a0 = s0 + P.left_min, a1 = s0 + X.off_shift + P.left_max;
        std::uint64_t end = wbase + wlen;
        // one byte before, for ::f; an `aa[x-y]` lead reaches further back than s0
        const std::uint64_t back = P.lead != detail::no_lead ? detail::lead_span_max : 1;
        std::uint64_t need_from = s0 > back ? s0 - back : 0;
        if (need_from < wbase) { ++undecided_; return; }
        for (std::uint64_t a = a0; a <= a1 && a <= end && !stop_; ++a) {
            if (!logical && st_.done_[eid]) return;
            verify({a, E.first_part}, w, wlen, wbase, final);
        }
    }

    void process(const unsigned char* w, std::size_t wlen, std::uint64_t wbase, bool final) {
        std::uint64_t end = wbase + wlen;
        drain(w, wlen, wbase, final);
        if (!v_.tiers.empty()) {
            std::uint64_t cur = *std::min_element(next_p_.begin(), next_p_.end());
            while (!stop_) {
                std::uint64_t blk_end = std::min<std::uint64_t>(cur + 65536, end);
                if (fast_.any) scan_fast(w, wbase, end, blk_end, final);
                for (std::size_t t = 0; t < v_.tiers.size(); ++t)
                    if (!fast_.covers(t)) scan_tier(t, w, wbase, end, blk_end);
                bool last = blk_end >= end;
                release(final && last ? detail::no_pos : (blk_end > v_.max_gd ? blk_end - v_.max_gd : 0));
                drain(w, wlen, wbase, final);
                // Single-part candidates need no ordering: verify now, or hold until their
                // bytes have arrived.
                std::size_t keep_n = 0;
                for (auto& c : single_) {
                    if (stop_) break;
                    if (verifiable(c, end, final)) verify(c, w, wlen, wbase, final);
                    else single_[keep_n++] = c;
                }
                single_.resize(stop_ ? 0 : keep_n);
                if (last) break;
                cur = blk_end;
            }
        }
        // Fixed absolute offsets, in offset order, once their bytes are here.
        while (next_direct_ < v_.direct_abs.size() && !stop_) {
            auto eid = v_.direct_abs[next_direct_];
            const auto& E = v_.entries[eid];
            const auto& P = v_.parts[E.first_part];
            const auto& X = v_.ext[E.ext];
            if (!final && X.off_n + X.off_shift + P.left_max + P.right_max + 1 > end) break;
            check_direct(eid, w, wlen, wbase, final);
            ++next_direct_;
        }
        if (final) {
            for (auto eid : v_.direct_eof) {
                if (stop_) break;
                check_direct(eid, w, wlen, wbase, true);
            }
        }
    }

    void trim() {
        std::uint64_t end = base_ + buf_.size();
        std::uint64_t keep = end;
        for (auto p : next_p_) keep = std::min(keep, p);
        keep = keep > v_.max_gd + v_.max_left + 1 ? keep - v_.max_gd - v_.max_left - 1 : 0;
        if (pend_head_ < pending_.size()) {
            std::uint64_t a = pending_[pend_head_].anchor;
            keep = std::min(keep, a > v_.max_left + 1 ? a - v_.max_left - 1 : 0);
        }
        for (auto* cv : {&cands_, &single_})
            for (auto& c : *cv) keep = std::min(keep, c.anchor > v_.max_left + 1 ? c.anchor - v_.max_left - 1 : 0);
        if (next_direct_ < v_.direct_abs.size()) {
            // check_direct's need_from: up to lead_span_max bytes before the offset
            std::uint64_t n = v_.ext[v_.entries[v_.direct_abs[next_direct_]].ext].off_n;
            keep = std::min(keep, n > detail::lead_span_max ? n - detail::lead_span_max : 0);
        }
        if (!v_.direct_eof.empty()) {
            // eof_keep does not count a lead before the HEXSIG: keep lead_span_max more
            std::uint64_t k = std::min<std::uint64_t>(v_.eof_keep + detail::lead_span_max, std::uint64_t(64) << 20);
            keep = std::min(keep, end > k ? end - k : 0);
        }
        if (keep > base_) {
            buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(keep - base_));
            base_ = keep;
        }
    }

    void end_pass(std::uint64_t total) {
        finished_ = true;
        if (stop_ && !opt_.all_matches) return;
        // Logical signatures: those with a counted subsignature, and those true at zero.
        std::vector<std::uint32_t> ls;
        for (auto c : st_.touched_counts_) {
            // counters are laid out per lsig; find the owner by binary search on first_counter
            auto it = std::upper_bound(v_.lsigs.begin(), v_.lsigs.end(), c,
                                       [](std::uint32_t x, const detail::lsig_rec& l) { return x < l.first_counter; });
            if (it != v_.lsigs.begin()) ls.push_back(static_cast<std::uint32_t>(it - v_.lsigs.begin() - 1));
        }
        ls.insert(ls.end(), v_.zero_lsigs.begin(), v_.zero_lsigs.end());
        std::sort(ls.begin(), ls.end());
        ls.erase(std::unique(ls.begin(), ls.end()), ls.end());
        std::uint64_t fsz = file_size_ ? *file_size_ : total;
        for (auto li : ls) {
            const auto& L = v_.lsigs[li];
            bool t7 = L.target == 7;
            if (pass_ == pass_raw && t7) continue;
            if (pass_ == pass_normalized && !t7 && !opt_.normalized_any) continue;
            if (L.has_fsize && (fsz < L.fsize_min || fsz > L.fsize_max)) continue;
            if (detail::eval_expr(v_.expr.subspan(L.expr_off, L.expr_len), st_.counts_.data() + L.first_counter)) {
                matches_.push_back({db_.name(L.name), 0, pass_});
                if (!opt_.all_matches) return;
            }
        }
    }

    scan_state& st_;
    const compiled_db& db_;
    const compiled_db::views& v_;
    std::uint8_t pass_;
    match_options opt_;
    std::optional<std::uint64_t> size_, file_size_;
    std::vector<std::uint64_t> next_p_;
    detail::fast_plan fast_;
    std::uint64_t fast_next_ = 0;
    struct queued_hit {
        const detail::tier_rec* T;
        std::uint64_t q;
        std::uint32_t g;
        std::uint32_t j0, j1; ///< the bucket index, then the bucket's entry range
    };
    std::array<queued_hit, 16> hq_{};
    unsigned hq_n_ = 0;
    std::vector<detail::candidate> cands_, pending_, single_;
    std::size_t pend_head_ = 0;
    std::size_t next_direct_ = 0;
    std::vector<unsigned char> buf_;
    std::uint64_t base_ = 0;
    std::vector<match> matches_;
    std::size_t undecided_ = 0;
    bool stop_ = false;
    bool finished_ = false;
};

} // namespace sig
BULKHEAD_NAMESPACE_END
