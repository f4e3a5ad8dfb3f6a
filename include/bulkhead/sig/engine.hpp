#pragma once
/// \file sig/engine.hpp
/// The compiled matcher. All body signatures (.ndb and .ldb subsignatures) compile into one
/// read-only `compiled_db`:
///  - each signature splits at unbounded gaps (`*`, `{n-}`) into parts; each part gets an
///    anchor, its best fixed literal run (lowest expected prefilter cost), and two small
///    programs: the ops left of the anchor (run backwards) and from the anchor on;
///  - anchors go into prefilter tiers by length: 4-byte grams sampled every 8 / 4 / 1
///    positions (an anchor of length L >= 3+S is indexed by its S grams so one in S text
///    positions suffices), 2-byte and 1-byte grams; each tier is a bitmap over a hash of the
///    gram plus a bucketed table of (gram, part) entries; case-insensitive anchors get their own
///    folded tiers;
///  - a candidate (part, anchor position) is verified by running the programs over position
///    sets: work per candidate is at most (program ops) x (part span) steps, and the part span
///    is bounded by `max_part_span`, so no pattern makes verification unbounded;
///  - parts of one signature chain greedily in anchor order, keeping per part the smallest end
///    seen; this is exact because every part that can end before a candidate's start has its
///    anchor, hence its candidate, earlier;
///  - single-part signatures at fixed offsets (`n`, `EOF-n`, with a shift up to 4096) are
///    checked directly at those positions and never enter the prefilter.
/// The arrays are plain data, so `save()` writes them and `load()` maps them back.

#include "bulkhead/config.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"
#include "bulkhead/sig/db.hpp"
#include "bulkhead/sig/hash.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

BULKHEAD_NAMESPACE_BEGIN
namespace sig {

/// Which buffer a scan pass looks at.
enum pass_bits : std::uint8_t { pass_raw = 1, pass_normalized = 2 };

namespace detail {

inline constexpr std::uint32_t no_owner = 0xffffffffu;
inline constexpr std::uint64_t no_pos = std::numeric_limits<std::uint64_t>::max();

enum op : std::uint8_t { op_end = 0, op_lit, op_liti, op_mask, op_set, op_any, op_gap, op_alt, op_alti, op_nalt };

inline constexpr std::uint32_t no_ext = 0xffffffffu;
inline constexpr std::uint8_t entry_logical = 4; ///< entry_rec::flags: a logical subsignature

/// One body signature (or logical subsignature, or its `::w` form). What most of them lack
/// (an owner, a fixed offset) lives in entry_ext, so the common record stays 16 bytes.
struct entry_rec {
    std::uint32_t name;       ///< offset into strings
    std::uint32_t first_part;
    std::uint16_t nparts;
    std::uint8_t pass_mask;
    std::uint8_t flags;       ///< 1 fullword, 2 target 7, entry_logical
    std::uint32_t ext;        ///< index into the entry_ext array, or no_ext (offset `*`, not logical)
};
static_assert(sizeof(entry_rec) == 16);

struct entry_ext {
    std::uint32_t owner;      ///< logical signature index or no_owner
    std::uint32_t counter;    ///< subsignature counter (logical)
    std::uint64_t off_n;
    std::uint32_t off_shift;
    std::uint8_t off_kind;
    std::uint8_t pad[3];
};
static_assert(sizeof(entry_ext) == 24);

struct part_rec {
    std::uint32_t entry;
    std::uint32_t left;       ///< program offset (ops before the anchor, reversed)
    std::uint32_t right;      ///< program offset (anchor and after)
    std::uint32_t min_gap;    ///< minimum distance from the previous part's end
    std::uint16_t left_min, left_max, right_min, right_max;
    std::uint16_t gram_delta; ///< gram window start relative to the anchor
    std::uint16_t pad;
    /// `aa[x-y]` lead of a first part (program offset, or no_lead): ClamAV measures the
    /// signature's offset at the HEXSIG after it, so the lead runs after the offset check.
    std::uint32_t lead;
};
static_assert(sizeof(part_rec) == 32);
inline constexpr std::uint32_t no_lead = 0xffffffffu;

struct tier_rec {
    std::uint8_t gram, stride, fold;
    std::uint8_t reg; ///< 1: the bitmap is a register filter (see reg_filter_test), not a Bloom bitmap
    /// 1 (case-sensitive 4-byte grams at stride 4 or 2): the grams are also in the stride-8
    /// filter, whose probe at every multiple of 8 serves this tier there; its own filter is
    /// probed only at the positions in between.
    std::uint8_t at_start;
    std::uint8_t pad[3];
    /// 64-bit words of the bitmap. 1- and 2-byte grams index it directly; 4- and
    /// 8-byte tiers probe it with the 4-byte gram at the sampled position, three bits in one word
    /// (a blocked Bloom filter: one cache line per probe). An 8-byte tier shares the bitmap of
    /// the 4-byte tier of the same stride and folding, so one probe serves both.
    std::uint32_t bitmap_words, table_log2;
    std::uint32_t bitmap_off, bucket_off, entries_off, nentries;
};

/// One indexed gram: part << 8 | fingerprint << 3 | k. The bucket comes from the gram's key
/// (the gram itself for 1, 2 and 4 bytes, key8 for 8); the 5-bit fingerprint of the key skips
/// most other grams of the bucket, and the anchor comparison settles the rest.
struct gram_entry {
    std::uint32_t packed;
    [[nodiscard]] std::uint32_t part() const noexcept { return packed >> 8; }
    [[nodiscard]] unsigned k() const noexcept { return packed & 7; }
    [[nodiscard]] unsigned fp() const noexcept { return (packed >> 3) & 31; }
};
inline constexpr std::uint32_t max_parts = std::uint32_t(1) << 24;
[[nodiscard]] inline unsigned gram_fp(std::uint32_t key) noexcept { return (key * 0x165667b1u) >> 27; }

struct lsig_rec {
    std::uint32_t name, expr_off, expr_len, first_counter, nsubs;
    std::uint8_t target, has_fsize, true_at_zero, pad;
    std::uint64_t fsize_min, fsize_max;
};

struct expr_rec {
    std::uint32_t kind, x, y;
};

/// A hash signature (or allow-list entry) of a file of 4 GiB or more: the rare case, kept
/// apart so the common records stay small (see hash_n).
struct hash_rec {
    unsigned char digest[32];
    std::uint64_t size;   ///< no_pos = any
    std::uint32_t name;
    std::uint8_t kind;    ///< digest length
    std::uint8_t pad[3];
};

inline constexpr std::uint32_t hash_any_size = 0xffffffffu;
/// A hash signature whose file size fits 32 bits (or is `*`), stored with its digest's own
/// length: 24 bytes for MD5, 28 for SHA-1, 40 for SHA-256. A ClamAV database is mostly these.
template <unsigned N>
struct hash_n {
    unsigned char digest[N];
    std::uint32_t name;
    std::uint32_t size; ///< hash_any_size = any
};
using hash_md5 = hash_n<16>;
using hash_sha1 = hash_n<20>;
using hash_sha256 = hash_n<32>;
static_assert(sizeof(hash_md5) == 24 && sizeof(hash_sha1) == 28 && sizeof(hash_sha256) == 40);

/// The first record of a list sorted by digest whose digest is `d`, and the name of one whose
/// size is `size` or any; null when none is.
template <unsigned N>
[[nodiscard]] inline const hash_n<N>* find_hash(std::span<const hash_n<N>> list, const unsigned char* d,
                                                std::uint64_t size) noexcept {
    auto it = std::lower_bound(list.begin(), list.end(), d, [](const hash_n<N>& r, const unsigned char* k) {
        return std::memcmp(r.digest, k, N) < 0;
    });
    for (; it != list.end() && std::memcmp(it->digest, d, N) == 0; ++it)
        if (it->size == hash_any_size || it->size == size) return &*it;
    return nullptr;
}

/// One list of hash signatures (the signatures, or the allow list) split by digest length.
struct hash_lists {
    std::span<const hash_md5> md5;
    std::span<const hash_sha1> sha1;
    std::span<const hash_sha256> sha256;
    std::span<const hash_rec> big; ///< files of 4 GiB or more, any digest, sorted by (kind, digest)
    [[nodiscard]] bool empty() const noexcept { return md5.empty() && sha1.empty() && sha256.empty() && big.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return md5.size() + sha1.size() + sha256.size() + big.size(); }
    [[nodiscard]] std::size_t size_bytes() const noexcept {
        return md5.size_bytes() + sha1.size_bytes() + sha256.size_bytes() + big.size_bytes();
    }
    [[nodiscard]] bool has_kind(unsigned k) const noexcept {
        if ((k == 16 && !md5.empty()) || (k == 20 && !sha1.empty()) || (k == 32 && !sha256.empty())) return true;
        for (auto& h : big)
            if (h.kind == k) return true;
        return false;
    }
    /// The name offset of a record for this digest and file size, or -1.
    [[nodiscard]] std::int64_t find(std::span<const unsigned char> digest, std::uint64_t size) const noexcept {
        const std::uint64_t sz = size < hash_any_size ? size : std::uint64_t(hash_any_size) + 1; // never equal
        switch (digest.size()) {
        case 16: if (auto* r = find_hash<16>(md5, digest.data(), sz)) return r->name; break;
        case 20: if (auto* r = find_hash<20>(sha1, digest.data(), sz)) return r->name; break;
        case 32: if (auto* r = find_hash<32>(sha256, digest.data(), sz)) return r->name; break;
        default: return -1;
        }
        if (size < hash_any_size || big.empty()) return -1;
        hash_rec key{};
        std::memcpy(key.digest, digest.data(), digest.size());
        key.kind = static_cast<std::uint8_t>(digest.size());
        auto it = std::lower_bound(big.begin(), big.end(), key, hash_rec_less);
        for (; it != big.end() && it->kind == key.kind && std::memcmp(it->digest, key.digest, 32) == 0; ++it)
            if (it->size == size) return it->name;
        return -1;
    }
    static bool hash_rec_less(const hash_rec& a, const hash_rec& b) noexcept {
        if (a.kind != b.kind) return a.kind < b.kind;
        return std::memcmp(a.digest, b.digest, 32) < 0;
    }
};

inline constexpr unsigned char fold_table_init(unsigned c) {
    return static_cast<unsigned char>((c >= 'A' && c <= 'Z') ? c + 32 : c);
}
struct fold_tab {
    unsigned char t[256];
    constexpr fold_tab() : t() {
        for (unsigned i = 0; i < 256; ++i) t[i] = fold_table_init(i);
    }
};
inline constexpr fold_tab fold{};

[[nodiscard]] inline bool is_alnum(unsigned char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// Estimated byte frequency in the files a web host scans (text, scripts, executables):
/// English letter frequencies scaled for code, spaces and line ends, NULs and 0xff padding of
/// binaries. Used to pick anchors whose grams are rare; a general model, not a corpus count.
struct byte_freq_tab {
    float p[256];
    constexpr byte_freq_tab() : p() {
        for (auto& x : p) x = 0.0004f;
        const char* letters = "etaoinsrhldcumfpgwybvkxjqz";
        const float lf[26] = {0.090f, 0.065f, 0.060f, 0.060f, 0.055f, 0.055f, 0.050f, 0.050f, 0.040f,
                              0.035f, 0.030f, 0.025f, 0.022f, 0.020f, 0.018f, 0.016f, 0.015f, 0.014f,
                              0.013f, 0.011f, 0.008f, 0.006f, 0.0015f, 0.001f, 0.001f, 0.0007f};
        for (int i = 0; i < 26; ++i) {
            p[static_cast<unsigned char>(letters[i])] = lf[i];
            p[static_cast<unsigned char>(letters[i] - 32)] = lf[i] * 0.12f;
        }
        for (unsigned c = '0'; c <= '9'; ++c) p[c] = 0.004f;
        p[0x20] = 0.15f;
        p[0x0a] = 0.02f;
        p[0x09] = 0.01f;
        p[0x0d] = 0.005f;
        p[0x00] = 0.05f;
        p[0xff] = 0.01f;
        const char* punct = "()$;=.,'\"_->/<:[]{}*#!&+?|";
        for (const char* c = punct; *c; ++c) p[static_cast<unsigned char>(*c)] = 0.006f;
    }
};
inline constexpr byte_freq_tab byte_freq{};

/// Expected prefilter cost of indexing `win` (S grams of G bytes at consecutive offsets) at
/// stride S: one check per S text positions plus the expected exact gram hits.
[[nodiscard]] inline double window_cost(const unsigned char* win, unsigned gram, unsigned stride) noexcept {
    // 8-byte tiers probe with the first 4 bytes of each gram: that is the rate that costs.
    unsigned probe = gram == 8 ? 4 : gram;
    double hits = 0;
    for (unsigned k = 0; k < stride; ++k) {
        double pg = 1;
        for (unsigned i = 0; i < probe; ++i) pg *= byte_freq.p[win[k + i]];
        hits += pg;
    }
    return 1.0 / stride + 30.0 * hits;
}

[[nodiscard]] inline std::uint32_t hash32(std::uint32_t g, unsigned bits) noexcept {
    return bits >= 32 ? g : (g * 0x9e3779b1u) >> (32 - bits);
}
[[nodiscard]] inline std::uint32_t hash32c(std::uint32_t g, unsigned bits) noexcept {
    return (g * 0xc2b2ae35u) >> (32 - bits);
}
[[nodiscard]] inline std::uint32_t hash32b(std::uint32_t g, unsigned bits) noexcept {
    return (g * 0x85ebca77u + 0x27d4eb2fu) >> (32 - bits);
}

/// ASCII upper case to lower case in eight bytes at once (bytes >= 0x80 unchanged).
[[nodiscard]] inline std::uint64_t fold8(std::uint64_t v) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;
    std::uint64_t x = v & ~high;
    std::uint64_t upper = (x + ones * (0x80 - 'A')) & ~(x + ones * (0x80 - 'Z' - 1)) & ~v & high;
    return v | (upper >> 2);
}
[[nodiscard]] inline std::uint32_t fold4(std::uint32_t v) noexcept {
    return static_cast<std::uint32_t>(fold8(v));
}

/// The 32-bit key of an 8-byte gram (not injective: entries are confirmed by the anchor).
[[nodiscard]] inline std::uint32_t key8(std::uint64_t v) noexcept {
    return static_cast<std::uint32_t>((v * 0x9e3779b97f4a7c15ull) >> 32) ^ static_cast<std::uint32_t>(v >> 32);
}

/// The prefilter key of the gram at `p`: the bytes themselves for 1, 2 and 4 bytes.
[[nodiscard]] inline std::uint32_t load_gram(const unsigned char* p, unsigned gram, bool f) noexcept {
    if (gram == 8) {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        return key8(f ? fold8(v) : v);
    }
    if (gram == 4) {
        std::uint32_t v;
        std::memcpy(&v, p, 4);
        return f ? fold4(v) : v;
    }
    if (gram == 2) return f ? (fold.t[p[0]] | unsigned(fold.t[p[1]]) << 8) : (p[0] | unsigned(p[1]) << 8);
    return f ? fold.t[p[0]] : p[0];
}

/// Blocked Bloom probe of a 4-byte gram: one word, three bits in it, all taken from one 64-bit
/// product of the gram with an odd constant. Bitmaps are a power of two words: the product's
/// top log2(words) bits pick the word, the 18 bits below them the three bit positions. (The
/// SIMD paths form the same product from two 32x32-bit multiplies, or one vpmullq.)
struct bloom_probe {
    std::uint64_t word;
    std::uint64_t mask;
};
inline constexpr std::uint64_t bloom_mul = 0x9e3779b97f4a7c15ull;
/// The register filter's two 32-bit hashes.
inline constexpr std::uint32_t bloom_mul1 = 0x9e3779b1u, bloom_mul2 = 0x85ebca77u;
/// `lg`: log2 of the bitmap's words, 1..31.
[[nodiscard]] inline bloom_probe bloom_of(std::uint32_t g4, unsigned lg) noexcept {
    const std::uint64_t h = std::uint64_t(g4) * bloom_mul, r = h << lg;
    return {h >> (64 - lg), (std::uint64_t(1) << (r >> 58)) | (std::uint64_t(1) << ((r >> 52) & 63)) |
                                (std::uint64_t(1) << ((r >> 46) & 63))};
}

/// Small stride-4 and stride-2 tiers (at most `reg_filter_max_entries` grams) use a register
/// filter instead: four 1024-bit sets, one bit of each per gram. The SIMD probes keep the sets
/// in registers and look 16 positions up with permutes, without touching memory.
inline constexpr std::size_t reg_filter_max_entries = 256;
inline constexpr std::uint32_t reg_filter_words = 64;
[[nodiscard]] inline bool reg_filter_test(const std::uint64_t* bm, std::uint32_t g4) noexcept {
    // Scalar: the first two sets (one hash) without branches, the other two only when they
    // pass; one set alone passes too often for the branch to be predictable.
    std::uint32_t h1 = g4 * bloom_mul1;
    std::uint32_t b0 = h1 >> 22, b1 = (h1 >> 12) & 1023;
    if (!((bm[b0 >> 6] >> (b0 & 63)) & (bm[16 + (b1 >> 6)] >> (b1 & 63)) & 1)) return false;
    std::uint32_t h2 = g4 * bloom_mul2;
    std::uint32_t b2 = h2 >> 22, b3 = (h2 >> 12) & 1023;
    return (bm[32 + (b2 >> 6)] >> (b2 & 63)) & (bm[48 + (b3 >> 6)] >> (b3 & 63)) & 1;
}
inline void reg_filter_set(std::uint64_t* bm, std::uint32_t g4) noexcept {
    std::uint32_t h1 = g4 * bloom_mul1, h2 = g4 * bloom_mul2;
    const std::uint32_t b[4] = {h1 >> 22, (h1 >> 12) & 1023, h2 >> 22, (h2 >> 12) & 1023};
    for (unsigned k = 0; k < 4; ++k) bm[16 * k + (b[k] >> 6)] |= std::uint64_t(1) << (b[k] & 63);
}

/// Whether a 4-byte gram passes a Bloom bitmap of 2^lg words: bloom_of's three bits tested in
/// place, without forming the mask or a branch (the scan's probe; bloom_of builds the bitmap).
[[nodiscard]] inline bool bloom_test(const std::uint64_t* bm, unsigned lg, std::uint32_t g4) noexcept {
    const std::uint64_t h = std::uint64_t(g4) * bloom_mul, r = h << lg, word = bm[h >> (64 - lg)];
    return ((word >> (r >> 58)) & (word >> ((r >> 52) & 63)) & (word >> ((r >> 46) & 63)) & 1) != 0;
}

/// Whether a 4-byte gram passes a tier's filter (Bloom bitmap or register filter).
[[nodiscard]] inline bool tier_test(const std::uint64_t* bm, unsigned lg, bool reg, std::uint32_t g4) noexcept {
    return reg ? reg_filter_test(bm, g4) : bloom_test(bm, lg, g4);
}

/// The AVX2 block scan's filters: blocked Bloom filters of 32-bit words, so that one 32-bit
/// multiply hashes eight positions and one gather fetches their words (the 64-bit filters
/// above need two multiplies and four loads per four positions there). The word index is the
/// top lg bits of g4 * bloom_mul1, the three bit positions come from g4 * bloom_mul2.
[[nodiscard]] inline std::uint32_t bloom32_word(std::uint32_t g4, unsigned lg) noexcept {
    return (g4 * bloom_mul1) >> (32 - lg);
}
[[nodiscard]] inline std::uint32_t bloom32_mask(std::uint32_t g4) noexcept {
    const std::uint32_t h = g4 * bloom_mul2;
    return (1u << (h >> 27)) | (1u << ((h >> 22) & 31)) | (1u << ((h >> 17) & 31));
}
[[nodiscard]] inline bool bloom32_test(const std::uint32_t* w, unsigned lg, std::uint32_t g4) noexcept {
    const std::uint32_t m = bloom32_mask(g4);
    return (w[bloom32_word(g4, lg)] & m) == m;
}
inline void bloom32_set(std::uint32_t* w, unsigned lg, std::uint32_t g4) noexcept {
    w[bloom32_word(g4, lg)] |= bloom32_mask(g4);
}
/// Words per key of a 32-bit filter: at least one (32 to 64 bits per gram after rounding up
/// to a power of two), at least 2^10 words.
inline constexpr unsigned bloom32_min_lg = 10, bloom32_max_lg = 28;
/// The largest stride-8 filter (log2 of its 32-bit words) the AVX2 scan gathers from. Above
/// it no 32-bit filter is built and the scan keeps the 64-bit bitmaps (four loads per four
/// positions; no more memory). Measured on Zen 3 (medians of five runs): with the stride-8
/// probe gathering from 2^13 words (32 KiB, the 1k benchmark set) the scan was 1.10x as fast
/// as with the 64-bit probe, from 2^17 words (10k) 0.93x. Tests change it to take both
/// paths; compiled_db reads it when it derives its filters.
inline std::atomic<unsigned>& filters32_gather_max_lg() noexcept {
    static std::atomic<unsigned> v{14};
    return v;
}

/// The 32-bit filters of the block scan's three kinds of case-sensitive 4-byte probes:
/// [0] stride 8 (the 8- and 4-byte stride-8 tiers and the at_start tiers, as the shared
/// 64-bit bitmap), [1] an at_start stride-4 tier, [2] an at_start stride-2 tier. They are not
/// saved: compiled_db derives them from the gram entries when it is compiled or loaded, on
/// CPUs with AVX2 only, and only when [0] has at most 2^filters32_gather_max_lg words (so
/// every other filter is smaller). lg[k] 0: no filter of that kind.
struct filters32 {
    std::vector<std::uint32_t> words;
    std::size_t off[3] = {0, 0, 0};
    unsigned lg[3] = {0, 0, 0};
};

/// The first n bytes of gram entry `e` (n <= 8): its anchor literal at gram_delta + k. Null
/// when the entry does not point into a literal (a database the compiler did not write).
[[nodiscard]] inline const unsigned char* gram_bytes(const gram_entry& e, std::span<const part_rec> parts,
                                                     std::span<const unsigned char> prog, unsigned n) noexcept {
    if (e.part() >= parts.size()) return nullptr;
    const part_rec& P = parts[e.part()];
    const std::size_t r = P.right, at = std::size_t(P.gram_delta) + e.k();
    if (r + 2 > prog.size() || prog[r] != op_lit || at + n > prog[r + 1] || r + 2 + at + n > prog.size()) return nullptr;
    return prog.data() + r + 2 + at;
}
/// The probe key (first 4 bytes) of gram entry `e`; false where gram_bytes is null.
[[nodiscard]] inline bool gram_key(const gram_entry& e, std::span<const part_rec> parts, std::span<const unsigned char> prog,
                                   std::uint32_t& key) noexcept {
    const unsigned char* b = gram_bytes(e, parts, prog, 4);
    if (!b) return false;
    std::memcpy(&key, b, 4);
    return true;
}

/// Builds filters32 from the tiers the AVX2 block scan probes; empty when there is no
/// stride-8 tier, it is too large, or a key cannot be derived (the scan then probes the
/// 64-bit bitmaps).
[[nodiscard]] inline filters32 build_filters32(std::span<const tier_rec> tiers, std::span<const gram_entry> grams,
                                               std::span<const part_rec> parts, std::span<const unsigned char> prog) {
    // the kind of filter a tier's keys go to (the at_start ones go to [0] as well), or -1
    auto kind = [](const tier_rec& T) {
        if (T.fold || T.gram < 4) return -1;
        const int which = T.stride == 8 ? 0 : T.stride == 4 ? 1 : T.stride == 2 ? 2 : -1;
        return which > 0 && !T.at_start ? -1 : which;
    };
    std::size_t count[3] = {0, 0, 0};
    for (const auto& T : tiers) {
        const int which = kind(T);
        if (which < 0) continue;
        if (std::size_t(T.entries_off) + T.nentries > grams.size()) return {};
        count[which] += T.nentries;
        if (which > 0) count[0] += T.nentries;
    }
    filters32 f;
    if (count[0] == 0) return f;
    for (unsigned k = 0; k < 3; ++k) {
        if (count[k] == 0) continue;
        unsigned lg = bloom32_min_lg;
        while (lg < bloom32_max_lg && (std::size_t(1) << lg) < count[k]) ++lg;
        if (k == 0 && lg > filters32_gather_max_lg().load(std::memory_order_relaxed)) return {};
        f.lg[k] = lg;
        f.off[k] = f.words.size();
        f.words.resize(f.words.size() + (std::size_t(1) << lg), 0u);
    }
    auto set = [&](unsigned k, std::uint32_t key) { bloom32_set(f.words.data() + f.off[k], f.lg[k], key); };
    for (const auto& T : tiers) {
        const int which = kind(T);
        if (which < 0) continue;
        for (std::uint32_t j = 0; j < T.nentries; ++j) {
            std::uint32_t key = 0;
            if (!gram_key(grams[T.entries_off + j], parts, prog, key)) return {};
            set(static_cast<unsigned>(which), key);
            if (which > 0) set(0, key);
        }
    }
    return f;
}

/// Second-level filters of the case-sensitive stride-8 tiers ([0] 8-byte grams, [1] 4-byte
/// grams), keyed as their tables are (load_gram). The stride-8 probe is shared by both tiers
/// and by the at_start tiers, and it tests 4 bytes, so most of its passes belong to none or
/// to one tier only: words like "ther" that open an 8-byte gram pass it wherever they occur
/// in text. Before a pass costs a bucket walk in a tier, the tier's own filter is tested
/// (8 to 16 bits per gram, at least 2^walk_filter_min_lg words; at 8 bits about 4.5% of
/// other keys pass). Derived like filters32, on every CPU. lg[k] 0: none (every pass walks).
struct walk_filters {
    std::vector<std::uint32_t> words;
    std::size_t off[2] = {0, 0};
    unsigned lg[2] = {0, 0};
    [[nodiscard]] bool pass(unsigned k, std::uint32_t key) const noexcept {
        return lg[k] == 0 || bloom32_test(words.data() + off[k], lg[k], key);
    }
};
inline constexpr unsigned walk_filter_min_lg = 6;

[[nodiscard]] inline walk_filters build_walk_filters(std::span<const tier_rec> tiers, std::span<const gram_entry> grams,
                                                     std::span<const part_rec> parts, std::span<const unsigned char> prog) {
    walk_filters f;
    for (const auto& T : tiers) {
        if (T.fold || T.stride != 8 || (T.gram != 8 && T.gram != 4)) continue;
        const unsigned k = T.gram == 8 ? 0 : 1;
        if (f.lg[k] != 0 || std::size_t(T.entries_off) + T.nentries > grams.size()) continue;
        unsigned lg = walk_filter_min_lg;
        while (lg < bloom32_max_lg && (std::size_t(4) << lg) < T.nentries) ++lg; // 8 bits per gram
        const std::size_t off = f.words.size();
        f.words.resize(off + (std::size_t(1) << lg), 0u);
        bool ok = true;
        for (std::uint32_t j = 0; j < T.nentries && ok; ++j) {
            const unsigned char* b = gram_bytes(grams[T.entries_off + j], parts, prog, T.gram);
            if (!b) { ok = false; break; }
            bloom32_set(f.words.data() + off, lg, load_gram(b, T.gram, false));
        }
        if (!ok) {
            f.words.resize(off);
            continue;
        }
        f.off[k] = off;
        f.lg[k] = lg;
    }
    return f;
}

/// Whether the CPU has AVX2 (the only user of filters32).
[[nodiscard]] inline bool cpu_has_avx2() noexcept {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    static const bool v = __builtin_cpu_supports("avx2");
    return v;
#else
    return false;
#endif
}

} // namespace detail

/// Prefilter bitmap sizing for 4- and 8-byte grams: `prefilter_bits_per_entry` bits per
/// indexed gram (three bits set per gram, in one 64-bit word), rounded up to a power of two
/// words, at least 8 KiB per bitmap.
inline constexpr std::size_t prefilter_min_words = 1024;
inline constexpr std::size_t prefilter_bits_per_entry = 16;

/// Options for compiling.
struct compile_options {
    bool normalized_any = true; ///< target-0 signatures also match normalized text
};

/// A match: signature name and the offset where it starts (in the scanned buffer's coordinates).
struct match {
    std::string name;
    std::uint64_t offset = 0;
    std::uint8_t pass = pass_raw;
};

class scan_state;

/// The compiled, read-only database; share one between threads.
class compiled_db {
public:
    compiled_db() = default;
    compiled_db(const compiled_db&) = delete;
    compiled_db& operator=(const compiled_db&) = delete;
    compiled_db(compiled_db&& o) noexcept { *this = std::move(o); }
    compiled_db& operator=(compiled_db&& o) noexcept {
        if (this != &o) {
            unmap();
            own_ = std::move(o.own_);
            v_ = o.v_;
            map_ = o.map_;
            map_len_ = o.map_len_;
            stats_ = o.stats_;
            f32_ = std::move(o.f32_);
            wf_ = std::move(o.wf_);
            o.map_ = nullptr;
            o.map_len_ = 0;
            o.v_ = {};
            if (!map_) own_.bind(v_);
        }
        return *this;
    }
    ~compiled_db() { unmap(); }

    /// Compiles a parsed database. Body signatures this engine cannot bound (a part longer than
    /// max_part_span) are appended to `db.skipped`.
    static result<compiled_db> compile(database& db, const compile_options& opt = {});

    /// Writes the compiled arrays to `path` (atomically: temp file + rename).
    result<void> save(const std::string& path) const;
    /// Maps a saved database back (read-only, shared pages).
    static result<compiled_db> load(const std::string& path);

    struct stats_t {
        std::size_t body_sigs = 0, logical_sigs = 0, hash_sigs = 0, parts = 0, prefilter_entries = 0;
        /// Parts each scan_state keeps chain state for (16 bytes each, touched as they match):
        /// those of the signatures split at `*`.
        std::size_t chain_parts = 0;
        std::uint32_t version = 0;
    };
    [[nodiscard]] const stats_t& stats() const noexcept { return stats_; }
    [[nodiscard]] std::size_t signature_count() const noexcept {
        return stats_.body_sigs + stats_.logical_sigs + stats_.hash_sigs;
    }
    [[nodiscard]] std::uint32_t version() const noexcept { return stats_.version; }
    /// Bytes of the compiled arrays (what a loaded database maps).
    [[nodiscard]] std::size_t bytes() const noexcept;
    [[nodiscard]] bool needs_md5() const noexcept { return need_hash(16); }
    [[nodiscard]] bool needs_sha1() const noexcept { return need_hash(20); }
    [[nodiscard]] bool needs_sha256() const noexcept { return need_hash(32); }
    [[nodiscard]] bool has_hashes() const noexcept { return !v_.hashes.empty() || !v_.allow.empty(); }
    /// Whether any hash signature (or allow-list entry) of this digest length could match a
    /// file of `size` bytes: files of other sizes are never hashed.
    [[nodiscard]] bool hash_wanted(unsigned digest_len, std::uint64_t size) const noexcept {
        const std::uint64_t any = (std::uint64_t(1) << 56) - 1;
        if (size >= any) size = any - 1;
        std::uint64_t k = std::uint64_t(digest_len) << 56;
        return std::binary_search(v_.hash_sizes.begin(), v_.hash_sizes.end(), k | size) ||
               std::binary_search(v_.hash_sizes.begin(), v_.hash_sizes.end(), k | any);
    }
    [[nodiscard]] bool has_normalized() const noexcept { return (v_.pass_union & pass_normalized) != 0; }

    /// Looks a whole-file digest up; returns the signature name or null. `allow` selects the
    /// .fp/.sfp list.
    [[nodiscard]] const char* lookup_hash(std::span<const unsigned char> digest, std::uint64_t size,
                                          bool allow) const noexcept {
        const auto off = (allow ? v_.allow : v_.hashes).find(digest, size);
        return off < 0 ? nullptr : name(static_cast<std::uint32_t>(off));
    }

    [[nodiscard]] const char* name(std::uint32_t off) const noexcept { return v_.strings.data() + off; }

private:
    friend class scan_state;
    friend class stream;

    struct views {
        std::span<const detail::entry_rec> entries;
        std::span<const detail::entry_ext> ext;
        std::span<const detail::part_rec> parts;
        std::span<const unsigned char> prog;
        std::span<const char> strings;
        std::span<const detail::tier_rec> tiers;
        std::span<const std::uint64_t> bitmaps;
        std::span<const std::uint32_t> buckets;
        std::span<const detail::gram_entry> grams;
        std::span<const detail::lsig_rec> lsigs;
        std::span<const detail::expr_rec> expr;
        std::span<const std::uint32_t> direct_abs, direct_eof, zero_lsigs;
        detail::hash_lists hashes, allow;
        std::span<const std::uint64_t> hash_sizes; ///< (kind << 56) | size, sorted
        std::uint32_t ncounters = 0, max_left = 0, max_gd = 0, pass_union = 0;
        /// Parts [0, chain_parts) hold every part of the signatures split at `*`, the only ones
        /// that keep chain state in a scan_state (not saved: recomputed at load).
        std::uint32_t chain_parts = 0;
        std::uint64_t eof_keep = 0;
    };
    struct storage {
        std::vector<detail::entry_rec> entries;
        std::vector<detail::entry_ext> ext;
        std::vector<detail::part_rec> parts;
        std::vector<unsigned char> prog;
        std::vector<char> strings;
        std::vector<detail::tier_rec> tiers;
        std::vector<std::uint64_t> bitmaps;
        std::vector<std::uint32_t> buckets;
        std::vector<detail::gram_entry> grams;
        std::vector<detail::lsig_rec> lsigs;
        std::vector<detail::expr_rec> expr;
        std::vector<std::uint32_t> direct_abs, direct_eof, zero_lsigs;
        struct hash_store {
            std::vector<detail::hash_md5> md5;
            std::vector<detail::hash_sha1> sha1;
            std::vector<detail::hash_sha256> sha256;
            std::vector<detail::hash_rec> big;
            void bind(detail::hash_lists& l) const { l.md5 = md5; l.sha1 = sha1; l.sha256 = sha256; l.big = big; }
        } hashes, allow;
        std::vector<std::uint64_t> hash_sizes;
        void bind(views& v) const {
            v.entries = entries; v.ext = ext; v.parts = parts; v.prog = prog; v.strings = strings;
            v.tiers = tiers; v.bitmaps = bitmaps; v.buckets = buckets; v.grams = grams;
            v.lsigs = lsigs; v.expr = expr; v.direct_abs = direct_abs; v.direct_eof = direct_eof;
            v.zero_lsigs = zero_lsigs; v.hash_sizes = hash_sizes;
            hashes.bind(v.hashes);
            allow.bind(v.allow);
        }
    };
    [[nodiscard]] bool need_hash(unsigned k) const noexcept {
        return v_.hashes.has_kind(k) || v_.allow.has_kind(k);
    }
    void unmap() noexcept {
        if (map_) ::munmap(map_, map_len_);
        map_ = nullptr;
        map_len_ = 0;
    }

    /// The filters derived from the gram entries, not saved (detail::filters32 on AVX2 CPUs,
    /// detail::walk_filters everywhere).
    void derive_filters() {
        if (detail::cpu_has_avx2()) f32_ = detail::build_filters32(v_.tiers, v_.grams, v_.parts, v_.prog);
        wf_ = detail::build_walk_filters(v_.tiers, v_.grams, v_.parts, v_.prog);
    }

    storage own_;
    views v_;
    void* map_ = nullptr;
    std::size_t map_len_ = 0;
    stats_t stats_;
    detail::filters32 f32_;
    detail::walk_filters wf_; ///< the stride-8 tiers' second-level filters (not saved)
};

namespace detail {

/// Compiles one body pattern (already modifier-expanded) into parts.
struct part_builder {
    std::vector<unsigned char>& prog;
    bool nocase;

    static void emit_token(std::vector<unsigned char>& p, const token& t, bool nocase) {
        switch (t.kind) {
        case token::lit:
            p.push_back(nocase ? op_liti : op_lit);
            p.push_back(1);
            p.push_back(nocase ? fold.t[t.b] : t.b);
            break;
        case token::mask:
            p.push_back(op_mask);
            p.push_back(t.b);
            p.push_back(t.m);
            break;
        case token::any:
            p.push_back(op_any);
            p.push_back(1);
            p.push_back(0);
            break;
        case token::set: {
            p.push_back(op_set);
            token s = t;
            if (nocase)
                for (unsigned c = 'A'; c <= 'Z'; ++c)
                    if (s.set_has(c) || s.set_has(c + 32)) { s.set_add(c); s.set_add(c + 32); }
            for (auto w : s.bits)
                for (int i = 0; i < 8; ++i) p.push_back(static_cast<unsigned char>(w >> (8 * i)));
            break;
        }
        case token::alt:
        case token::nalt:
            p.push_back(t.kind == token::nalt ? op_nalt : (nocase ? op_alti : op_alt));
            p.push_back(static_cast<unsigned char>(t.alts.size()));
            for (auto& a : t.alts) {
                p.push_back(static_cast<unsigned char>(a.size()));
                for (unsigned char c : a) p.push_back(nocase ? fold.t[c] : c);
            }
            break;
        case token::gap:
            if (t.gmin == t.gmax) {
                p.push_back(op_any);
                p.push_back(static_cast<unsigned char>(t.gmin & 0xff));
                p.push_back(static_cast<unsigned char>(t.gmin >> 8));
            } else {
                p.push_back(op_gap);
                p.push_back(static_cast<unsigned char>(t.gmin & 0xff));
                p.push_back(static_cast<unsigned char>(t.gmin >> 8));
                p.push_back(static_cast<unsigned char>(t.gmax & 0xff));
                p.push_back(static_cast<unsigned char>(t.gmax >> 8));
            }
            break;
        }
    }
    static void span_of(const token& t, std::uint64_t& mn, std::uint64_t& mx) {
        switch (t.kind) {
        case token::gap: mn += t.gmin; mx += t.gmax; break;
        case token::alt: {
            std::size_t a = 1000000, b = 0;
            for (auto& s : t.alts) { a = std::min(a, s.size()); b = std::max(b, s.size()); }
            mn += a; mx += b;
            break;
        }
        case token::nalt: mn += t.alts[0].size(); mx += t.alts[0].size(); break;
        default: mn += 1; mx += 1;
        }
    }
};

/// Evaluates a logical expression (postfix) over subsignature match counts.
/// Each value is (truth, matches, distinct subsignatures matched).
[[nodiscard]] inline bool eval_expr(std::span<const expr_rec> ex, const std::uint32_t* counts) noexcept {
    struct val { bool t; std::uint64_t n; std::uint32_t d; };
    val st[130];
    int sp = 0;
    for (auto& o : ex) {
        switch (o.kind) {
        case expr_op::sub: {
            if (sp >= 130) return false;
            std::uint32_t c = counts[o.x];
            st[sp++] = {c > 0, c, c > 0 ? 1u : 0u};
            break;
        }
        case expr_op::op_and:
        case expr_op::op_or: {
            if (sp < 2) return false;
            val b = st[--sp], a = st[--sp];
            bool t = o.kind == expr_op::op_and ? (a.t && b.t) : (a.t || b.t);
            st[sp++] = {t, a.n + b.n, a.d + b.d};
            break;
        }
        default: {
            if (sp < 1) return false;
            val& a = st[sp - 1];
            bool t = o.kind == expr_op::cmp_eq ? a.n == o.x : o.kind == expr_op::cmp_gt ? a.n > o.x : a.n < o.x;
            if (o.y && a.d < o.y) t = false;
            a.t = t;
            break;
        }
        }
    }
    return sp == 1 && st[0].t;
}

} // namespace detail

namespace detail {

/// What a stream must keep behind its position, derived from the records: the longest reach
/// before an anchor (max_left), the farthest gram window (max_gd), and the bytes before the
/// end that EOF-anchored signatures need (eof_keep). compile() stores them; load() recomputes
/// them and refuses a file whose header disagrees.
/// The parts a scan_state keeps chain state for: up to the last part of any signature split
/// at `*` (compile numbers those parts first, so this is their count).
[[nodiscard]] inline std::uint32_t chain_parts_of(std::span<const entry_rec> entries) noexcept {
    std::uint64_t n = 0;
    for (const auto& e : entries)
        if (e.nparts > 1) n = std::max<std::uint64_t>(n, std::uint64_t(e.first_part) + e.nparts);
    return static_cast<std::uint32_t>(n);
}

struct scan_spans {
    std::uint32_t max_left = 0, max_gd = 0;
    std::uint64_t eof_keep = 0;
    friend bool operator==(const scan_spans&, const scan_spans&) = default;
};

/// The most bytes an `aa[x-y]` lead reaches before its HEXSIG (1 + 32), plus the byte before
/// it that `::f` looks at.
inline constexpr std::uint32_t lead_span_max = 34;

[[nodiscard]] inline scan_spans spans_of(std::span<const part_rec> parts, std::span<const entry_rec> entries,
                                         std::span<const entry_ext> ext, std::span<const std::uint32_t> direct_eof) {
    scan_spans r;
    for (const auto& p : parts) {
        r.max_left = std::max<std::uint32_t>(r.max_left, p.left_max + (p.lead != no_lead ? lead_span_max : 0u));
        r.max_gd = std::max<std::uint32_t>(r.max_gd, p.gram_delta + 8u + 4u);
    }
    for (auto id : direct_eof) {
        const auto& e = entries[id];
        const auto& p = parts[e.first_part];
        r.eof_keep = std::max<std::uint64_t>(r.eof_keep, ext[e.ext].off_n + p.left_max + p.right_max + 1);
    }
    return r;
}

/// The string table of a database being compiled: names appended NUL-terminated, each
/// distinct name stored once. An open-addressing table of (offset, hash) pairs into the table
/// itself, so interning a million names (a ClamAV hash database) allocates nothing per name.
class string_interner {
public:
    explicit string_interner(std::vector<char>& arena) : arena_(arena) {}

    /// Appends `s` without looking it up; returns its offset.
    std::uint32_t append(std::string_view s) {
        auto off = static_cast<std::uint32_t>(arena_.size());
        arena_.insert(arena_.end(), s.begin(), s.end());
        arena_.push_back('\0');
        return off;
    }
    /// The offset of `s`, appended first if it is not there yet.
    std::uint32_t intern(std::string_view s) {
        if ((count_ + 1) * 2 > slots_.size()) grow();
        const std::uint32_t h = hash(s);
        for (std::size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
            auto& sl = slots_[i];
            if (sl.off == empty) {
                sl = {append(s), h};
                ++count_;
                return sl.off;
            }
            if (sl.hash == h && equals(sl.off, s)) return sl.off;
        }
    }

private:
    struct slot { std::uint32_t off, hash; };
    static constexpr std::uint32_t empty = 0xffffffffu;
    static std::uint32_t hash(std::string_view s) noexcept {
        std::uint64_t h = 0xcbf29ce484222325ull; // FNV-1a, then folded
        for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
        return static_cast<std::uint32_t>(h ^ (h >> 32));
    }
    [[nodiscard]] bool equals(std::uint32_t off, std::string_view s) const noexcept {
        return off + s.size() < arena_.size() && std::memcmp(arena_.data() + off, s.data(), s.size()) == 0 &&
               arena_[off + s.size()] == '\0';
    }
    void grow() {
        std::vector<slot> old(std::max<std::size_t>(64, slots_.size() * 2), slot{empty, 0});
        old.swap(slots_);
        for (auto& sl : old)
            if (sl.off != empty)
                for (std::size_t i = sl.hash & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1))
                    if (slots_[i].off == empty) {
                        slots_[i] = sl;
                        break;
                    }
    }
    std::vector<char>& arena_;
    std::vector<slot> slots_;
    std::size_t count_ = 0;
};

} // namespace detail

inline result<compiled_db> compiled_db::compile(database& db, const compile_options& opt) {
    using namespace detail;
    compiled_db out;
    storage& S = out.own_;
    string_interner names(S.strings);
    auto name_id = [&](std::string_view n) { return names.intern(n); };
    // Anchors to index, per tier key.
    struct anchor_item { std::uint32_t part; std::string window; };
    struct tier_key { unsigned gram, stride; bool fold; };
    static constexpr tier_key keys[] = {{8, 8, false}, {4, 8, false}, {4, 4, false}, {4, 2, false}, {4, 1, false},
                                        {2, 1, false}, {1, 1, false},
                                        {8, 8, true},  {4, 8, true},  {4, 4, true},  {4, 2, true},  {4, 1, true},
                                        {2, 1, true},  {1, 1, true}};
    constexpr std::size_t folded_tiers = 7;
    std::vector<std::vector<anchor_item>> per_tier(std::size(keys));

    auto reverse_prog = [](const std::vector<const token*>& toks, bool nocase, std::vector<unsigned char>& prog) {
        for (auto it = toks.rbegin(); it != toks.rend(); ++it) part_builder::emit_token(prog, **it, nocase);
        prog.push_back(op_end);
    };

    // Adds one entry; returns false (with a reason) when it cannot be bounded.
    auto add_entry = [&](const std::vector<token>& toks, std::uint8_t mods, const offset_spec& off,
                         std::uint32_t name, std::uint32_t owner, std::uint32_t counter,
                         unsigned target, std::string& why) -> bool {
        bool nocase = mods & mod_nocase;
        // split at unbounded gaps
        std::vector<std::vector<const token*>> parts(1);
        std::vector<std::uint32_t> gaps{0};
        for (auto& t : toks) {
            if (t.kind == token::gap && t.gmax == gap_unbounded) {
                parts.emplace_back();
                gaps.push_back(t.gmin);
            } else {
                parts.back().push_back(&t);
            }
        }
        if (parts.size() > 4096) { why = "more than 4096 parts"; return false; }
        if (S.parts.size() + parts.size() > max_parts) { why = "the database holds 16M signature parts already"; return false; }
        entry_rec e{};
        e.name = name;
        e.ext = no_ext;
        e.first_part = static_cast<std::uint32_t>(S.parts.size());
        e.nparts = static_cast<std::uint16_t>(parts.size());
        e.pass_mask = static_cast<std::uint8_t>(
            target == 7 ? unsigned(pass_normalized)
                        : unsigned(pass_raw) | (opt.normalized_any ? unsigned(pass_normalized) : 0u));
        e.flags = static_cast<std::uint8_t>(((mods & mod_fullword) ? 1 : 0) | (target == 7 ? 2 : 0) |
                                            (owner != no_owner ? entry_logical : 0));
        entry_ext x{};
        x.owner = owner;
        x.counter = counter;
        x.off_kind = off.kind;
        x.off_shift = off.shift;
        x.off_n = off.n;
        const bool need_ext = owner != no_owner || off.kind != offset_spec::any;
        auto eid = static_cast<std::uint32_t>(S.entries.size());
        std::vector<part_rec> prs;
        std::vector<std::pair<std::size_t, std::string>> tier_items;
        for (std::size_t pi = 0; pi < parts.size(); ++pi) {
            auto& pt = parts[pi];
            if (pt.empty()) { why = "empty part between gaps"; return false; }
            // `aa[x-y]HEXSIG` at the very start: the lead byte and its gap stay out of the anchor
            std::size_t lead_n = (pi == 0 && pt.size() > 2 && pt[0]->kind == token::lit &&
                                  pt[1]->kind == token::gap && pt[1]->bracket)
                                     ? 2
                                     : 0;
            // best literal run: the lowest expected prefilter cost (stride and gram hits)
            auto tier_of = [](std::size_t L) -> std::size_t {
                return L >= 15 ? 0 : L >= 11 ? 1 : L >= 7 ? 2 : L >= 5 ? 3 : L >= 4 ? 4 : L >= 2 ? 5 : 6;
            };
            auto best_window = [&](const std::string& run, std::size_t& d_out) {
                std::size_t ti = tier_of(run.size());
                unsigned g = keys[ti].gram, st = keys[ti].stride;
                std::size_t win = g + st - 1;
                double best = 1e300;
                d_out = 0;
                for (std::size_t d = 0; d + win <= run.size(); ++d) {
                    double c = window_cost(reinterpret_cast<const unsigned char*>(run.data()) + d, g, st);
                    if (c < best) { best = c; d_out = d; }
                }
                return best;
            };
            std::size_t best_b = 0, best_len = 0;
            double best_cost = 1e300;
            for (std::size_t i = lead_n; i < pt.size();) {
                if (pt[i]->kind != token::lit) { ++i; continue; }
                std::size_t j = i;
                std::string r;
                while (j < pt.size() && pt[j]->kind == token::lit) {
                    r += static_cast<char>(nocase ? fold.t[pt[j]->b] : pt[j]->b);
                    ++j;
                }
                std::size_t dd;
                double c = best_window(r, dd);
                if (c < best_cost) { best_cost = c; best_b = i; best_len = j - i; }
                i = j;
            }
            if (best_len == 0) { why = "a part between '*' gaps has no fixed byte"; return false; }
            std::uint64_t lmin = 0, lmax = 0, rmin = 0, rmax = 0;
            std::vector<const token*> left(pt.begin() + static_cast<std::ptrdiff_t>(lead_n),
                                           pt.begin() + static_cast<std::ptrdiff_t>(best_b));
            for (auto* t : left) part_builder::span_of(*t, lmin, lmax);
            for (std::size_t i = best_b; i < pt.size(); ++i) part_builder::span_of(*pt[i], rmin, rmax);
            if (lmax + rmax > max_part_span) { why = "a part spans more than 65535 bytes"; return false; }
            part_rec pr{};
            pr.entry = eid;
            pr.min_gap = gaps[pi];
            pr.left_min = static_cast<std::uint16_t>(lmin);
            pr.left_max = static_cast<std::uint16_t>(lmax);
            pr.right_min = static_cast<std::uint16_t>(rmin);
            pr.right_max = static_cast<std::uint16_t>(rmax);
            pr.left = static_cast<std::uint32_t>(S.prog.size());
            reverse_prog(left, nocase, S.prog);
            pr.lead = no_lead;
            if (lead_n) {
                pr.lead = static_cast<std::uint32_t>(S.prog.size());
                reverse_prog(std::vector<const token*>(pt.begin(), pt.begin() + 2), nocase, S.prog);
            }
            pr.right = static_cast<std::uint32_t>(S.prog.size());
            // anchor literal as one op (runs merged), then the rest
            {
                std::size_t i = best_b;
                while (i < best_b + best_len) {
                    std::size_t n = std::min<std::size_t>(255, best_b + best_len - i);
                    S.prog.push_back(nocase ? op_liti : op_lit);
                    S.prog.push_back(static_cast<unsigned char>(n));
                    for (std::size_t k = 0; k < n; ++k)
                        S.prog.push_back(nocase ? fold.t[pt[i + k]->b] : pt[i + k]->b);
                    i += n;
                }
                for (std::size_t k = best_b + best_len; k < pt.size(); ++k)
                    part_builder::emit_token(S.prog, *pt[k], nocase);
                S.prog.push_back(op_end);
            }
            std::string run;
            for (std::size_t k = 0; k < best_len; ++k)
                run += static_cast<char>(nocase ? fold.t[pt[best_b + k]->b] : pt[best_b + k]->b);
            std::size_t ti = tier_of(run.size());
            std::size_t win = keys[ti].gram + keys[ti].stride - 1;
            std::size_t bd = 0;
            (void)best_window(run, bd);
            if (nocase) ti += folded_tiers;
            pr.gram_delta = static_cast<std::uint16_t>(bd);
            prs.push_back(pr);
            tier_items.push_back({ti, run.substr(bd, win)});
        }
        // Direct-checked: single part at a fixed offset.
        // (A huge max shift would make the direct check walk the whole window: such
        // signatures use the prefilter and the offset filter instead.)
        bool direct = parts.size() == 1 && off.kind != offset_spec::any && off.shift <= 4096;
        for (std::size_t pi = 0; pi < prs.size(); ++pi) {
            auto pid = static_cast<std::uint32_t>(S.parts.size());
            S.parts.push_back(prs[pi]);
            if (!direct) per_tier[tier_items[pi].first].push_back({pid, tier_items[pi].second});
        }
        if (need_ext) {
            e.ext = static_cast<std::uint32_t>(S.ext.size());
            S.ext.push_back(x);
        }
        S.entries.push_back(e);
        if (direct) (off.kind == offset_spec::absolute ? S.direct_abs : S.direct_eof).push_back(eid);
        return true;
    };

    auto widen = [](const std::vector<token>& in) {
        std::vector<token> o;
        token z;
        z.kind = token::lit;
        z.b = 0;
        for (auto& t : in) {
            if (t.kind == token::gap) { o.push_back(t); continue; }
            token c = t;
            if (c.kind == token::alt || c.kind == token::nalt) {
                for (auto& a : c.alts) {
                    std::string w;
                    for (char ch : a) { w += ch; w += '\0'; }
                    a = w;
                }
                o.push_back(c);
            } else {
                o.push_back(c);
                o.push_back(z);
            }
        }
        return o;
    };

    // .ndb
    for (auto& b : db.bodies) {
        if (db.ignored.count(b.name)) continue;
        std::string why;
        if (!add_entry(b.tokens, 0, b.offset, name_id(b.name), no_owner, 0, b.target, why)) {
            db.skipped.push_back({b.name, why, b.source});
            continue;
        }
        ++out.stats_.body_sigs;
    }
    // .ldb
    std::uint32_t counters = 0;
    for (auto& L : db.logicals) {
        if (db.ignored.count(L.name)) continue;
        auto lidx = static_cast<std::uint32_t>(S.lsigs.size());
        auto save_entries = S.entries.size(), save_ext = S.ext.size();
        auto save_parts = S.parts.size();
        auto save_prog = S.prog.size();
        auto save_abs = S.direct_abs.size(), save_eof = S.direct_eof.size();
        std::vector<std::size_t> save_tier;
        for (auto& t : per_tier) save_tier.push_back(t.size());
        std::string why;
        bool okk = true;
        for (std::size_t k = 0; k < L.subs.size() && okk; ++k) {
            auto& sb = L.subs[k];
            bool wide = sb.mods & mod_wide;
            bool ascii = (sb.mods & mod_ascii) || !wide;
            if (ascii) okk = add_entry(sb.tokens, sb.mods, sb.offset, name_id(L.name), lidx, counters + static_cast<std::uint32_t>(k), L.target, why);
            if (okk && wide) okk = add_entry(widen(sb.tokens), sb.mods, sb.offset, name_id(L.name), lidx, counters + static_cast<std::uint32_t>(k), L.target, why);
        }
        if (!okk) {
            S.entries.resize(save_entries);
            S.ext.resize(save_ext);
            S.parts.resize(save_parts);
            S.prog.resize(save_prog);
            S.direct_abs.resize(save_abs);
            S.direct_eof.resize(save_eof);
            for (std::size_t t = 0; t < per_tier.size(); ++t) per_tier[t].resize(save_tier[t]);
            db.skipped.push_back({L.name, why, L.source});
            continue;
        }
        lsig_rec r{};
        r.name = name_id(L.name);
        r.expr_off = static_cast<std::uint32_t>(S.expr.size());
        r.expr_len = static_cast<std::uint32_t>(L.expr.size());
        r.first_counter = counters;
        r.nsubs = static_cast<std::uint32_t>(L.subs.size());
        r.target = static_cast<std::uint8_t>(L.target);
        r.has_fsize = L.has_fsize;
        r.fsize_min = L.fsize_min;
        r.fsize_max = L.fsize_max;
        for (auto& x : L.expr) S.expr.push_back({x.kind, x.x, x.y});
        {
            std::vector<std::uint32_t> zeros(L.subs.size() + 1, 0);
            if (eval_expr(std::span<const expr_rec>(S.expr).subspan(r.expr_off), zeros.data())) {
                r.true_at_zero = 1;
                S.zero_lsigs.push_back(lidx);
            }
        }
        S.lsigs.push_back(r);
        counters += static_cast<std::uint32_t>(L.subs.size());
        ++out.stats_.logical_sigs;
    }
    // hashes
    const std::uint64_t any_key = (std::uint64_t(1) << 56) - 1; // hash_sizes: (kind << 56) | size
    auto add_hashes = [&](const std::vector<hash_sig>& in, storage::hash_store& outv) {
        auto put = [&](auto& vec, const hash_sig& h) {
            auto& r = vec.emplace_back();
            std::memcpy(r.digest, h.digest.data(), h.digest.size());
            r.name = name_id(h.name);
            r.size = h.any_size ? hash_any_size : static_cast<std::uint32_t>(h.size);
        };
        for (auto& h : in) {
            const auto kind = h.digest.size();
            if (db.ignored.count(h.name) || (kind != 16 && kind != 20 && kind != 32)) continue;
            S.hash_sizes.push_back(std::uint64_t(kind) << 56 | (h.any_size ? any_key : std::min(h.size, any_key - 1)));
            if (!h.any_size && h.size >= hash_any_size) {
                hash_rec r{};
                std::memcpy(r.digest, h.digest.data(), kind);
                r.kind = static_cast<std::uint8_t>(kind);
                r.size = h.size;
                r.name = name_id(h.name);
                outv.big.push_back(r);
            } else if (kind == 16) {
                put(outv.md5, h);
            } else if (kind == 20) {
                put(outv.sha1, h);
            } else {
                put(outv.sha256, h); // the parser gives 16, 20 or 32 bytes
            }
        }
        auto by_digest = [](auto& vec) {
            std::sort(vec.begin(), vec.end(), [](const auto& a, const auto& b) {
                return std::memcmp(a.digest, b.digest, sizeof a.digest) < 0;
            });
        };
        by_digest(outv.md5);
        by_digest(outv.sha1);
        by_digest(outv.sha256);
        std::sort(outv.big.begin(), outv.big.end(), hash_lists::hash_rec_less);
    };
    add_hashes(db.hashes, S.hashes);
    add_hashes(db.allow, S.allow);
    std::sort(S.hash_sizes.begin(), S.hash_sizes.end());
    S.hash_sizes.erase(std::unique(S.hash_sizes.begin(), S.hash_sizes.end()), S.hash_sizes.end());
    out.stats_.version = db.version;

    // Parts of the signatures split at `*` first: only they keep chain state in a scan_state
    // (an end and a start per part, in every scanning thread), which is then sized to them.
    {
        std::vector<std::uint32_t> perm(S.parts.size(), no_owner);
        std::uint32_t next = 0;
        for (int multi = 1; multi >= 0; --multi)
            for (const auto& e : S.entries)
                if ((e.nparts > 1) == (multi == 1))
                    for (std::uint32_t k = 0; k < e.nparts; ++k) perm[e.first_part + k] = next++;
        if (next == S.parts.size()) { // every part is in one entry's run, as add_entry makes them
            std::vector<part_rec> by_chain(S.parts.size());
            for (std::size_t i = 0; i < S.parts.size(); ++i) by_chain[perm[i]] = S.parts[i];
            S.parts.swap(by_chain);
            for (auto& e : S.entries) e.first_part = perm[e.first_part];
            for (auto& items : per_tier)
                for (auto& it : items) it.part = perm[it.part];
        }
    }

    // prefilter tiers
    // keys[2] and keys[3] (case-sensitive stride 4 and 2) put their grams into the stride-8
    // filter of keys[0] and keys[1] as well, when there is one (see tier_rec::at_start).
    const bool have_a = !per_tier[0].empty() || !per_tier[1].empty();
    const std::size_t start_probes = have_a ? per_tier[2].size() * 4 + per_tier[3].size() * 2 : 0;
    std::uint32_t a_off = 0, a_words = 0;
    std::uint32_t shared_off = 0, shared_words = 0;
    bool shared_open = false; // the previous (8-byte) tier's bitmap awaits the 4-byte tier
    for (std::size_t t = 0; t < std::size(keys); ++t) {
        auto& items = per_tier[t];
        if (items.empty()) { if (keys[t].gram == 4) shared_open = false; continue; }
        const bool tier_fold = keys[t].fold;
        tier_rec tr{};
        tr.gram = static_cast<std::uint8_t>(keys[t].gram);
        tr.stride = static_cast<std::uint8_t>(keys[t].stride);
        tr.fold = keys[t].fold;
        struct build_ent { std::uint32_t gram, part_k; };
        std::vector<build_ent> ents;
        std::vector<std::uint32_t> probes; // the 4-byte gram each entry sets in the bitmap
        for (auto& it : items)
            for (unsigned k = 0; k < tr.stride; ++k) {
                auto* win = reinterpret_cast<const unsigned char*>(it.window.data()) + k;
                ents.push_back({load_gram(win, tr.gram, tier_fold), it.part << 3 | k});
                if (tr.gram >= 4) probes.push_back(load_gram(win, 4, tier_fold));
            }
        // An 8-byte tier and the 4-byte tier after it (same stride, same folding) share one
        // bitmap sized for both.
        std::size_t nprobe = probes.size();
        if (tr.gram == 8 && t + 1 < std::size(keys)) nprobe += per_tier[t + 1].size() * keys[t + 1].stride;
        if (t == 0 || (t == 1 && per_tier[0].empty())) nprobe += start_probes;
        tr.at_start = have_a && (t == 2 || t == 3);
        std::size_t words = tr.gram == 1 ? 4 : tr.gram == 2 ? 1024
                          : std::bit_ceil(std::max(prefilter_min_words, (nprobe * prefilter_bits_per_entry + 63) / 64));
        unsigned tb = 4;
        while (tb < 24 && (std::size_t(4) << tb) < ents.size()) ++tb; // ~4 entries per bucket
        tr.table_log2 = tb;
        tr.reg = tr.gram == 4 && tr.stride < 8 && ents.size() <= reg_filter_max_entries;
        if (tr.reg) words = reg_filter_words;
        if (tr.gram == 4 && shared_open && keys[t - 1].stride == tr.stride && keys[t - 1].fold == tr.fold) {
            tr.reg = 0;
            tr.bitmap_off = shared_off;
            tr.bitmap_words = shared_words;
        } else {
            tr.bitmap_words = static_cast<std::uint32_t>(words);
            tr.bitmap_off = static_cast<std::uint32_t>(S.bitmaps.size());
            S.bitmaps.resize(S.bitmaps.size() + words, 0);
        }
        shared_open = tr.gram == 8;
        shared_off = tr.bitmap_off;
        shared_words = tr.bitmap_words;
        if (t == 0 || t == 1) {
            a_off = tr.bitmap_off;
            a_words = tr.bitmap_words;
        }
        for (std::size_t i = 0; i < ents.size(); ++i) {
            if (tr.gram <= 2) {
                S.bitmaps[tr.bitmap_off + ents[i].gram / 64] |= std::uint64_t(1) << (ents[i].gram % 64);
            } else if (tr.reg) {
                reg_filter_set(S.bitmaps.data() + tr.bitmap_off, probes[i]);
            } else {
                auto b = bloom_of(probes[i], static_cast<unsigned>(std::countr_zero(tr.bitmap_words)));
                S.bitmaps[tr.bitmap_off + b.word] |= b.mask;
            }
            if (tr.at_start) {
                auto b = bloom_of(probes[i], static_cast<unsigned>(std::countr_zero(a_words)));
                S.bitmaps[a_off + b.word] |= b.mask;
            }
        }
        std::sort(ents.begin(), ents.end(), [&](const build_ent& a, const build_ent& b) {
            auto ha = hash32b(a.gram, tb), hb = hash32b(b.gram, tb);
            return ha != hb ? ha < hb : a.part_k < b.part_k;
        });
        tr.bucket_off = static_cast<std::uint32_t>(S.buckets.size());
        tr.entries_off = static_cast<std::uint32_t>(S.grams.size());
        tr.nentries = static_cast<std::uint32_t>(ents.size());
        std::size_t nb = std::size_t(1) << tb;
        std::size_t j = 0;
        for (std::size_t b = 0; b <= nb; ++b) {
            while (j < ents.size() && hash32b(ents[j].gram, tb) < b) ++j;
            S.buckets.push_back(static_cast<std::uint32_t>(j));
        }
        for (auto& e : ents) S.grams.push_back({(e.part_k >> 3) << 8 | gram_fp(e.gram) << 3 | (e.part_k & 7)});
        out.stats_.prefilter_entries += ents.size();
        S.tiers.push_back(tr);
    }
    // direct lists
    std::sort(S.direct_abs.begin(), S.direct_abs.end(), [&](std::uint32_t a, std::uint32_t b) {
        return S.ext[S.entries[a].ext].off_n < S.ext[S.entries[b].ext].off_n;
    });
    out.stats_.parts = S.parts.size();
    // zero-true logical signatures, counters, spans
    out.own_.bind(out.v_);
    out.stats_.hash_sigs = out.v_.hashes.size();
    out.v_.ncounters = counters;
    std::uint32_t pu = 0;
    for (auto& e : S.entries) pu |= e.pass_mask;
    for (auto& l : S.lsigs)
        pu |= l.target == 7 ? unsigned(pass_normalized)
                            : unsigned(pass_raw) | (opt.normalized_any ? unsigned(pass_normalized) : 0u);
    out.v_.pass_union = pu;
    const auto spans = spans_of(S.parts, S.entries, S.ext, S.direct_eof);
    out.v_.max_left = spans.max_left;
    out.v_.max_gd = spans.max_gd;
    out.v_.eof_keep = spans.eof_keep;
    out.v_.chain_parts = chain_parts_of(S.entries);
    out.stats_.chain_parts = out.v_.chain_parts;
    out.derive_filters();
    return out;
}

inline std::size_t compiled_db::bytes() const noexcept {
    return v_.entries.size_bytes() + v_.ext.size_bytes() + v_.parts.size_bytes() + v_.prog.size_bytes() +
           v_.strings.size_bytes() + v_.tiers.size_bytes() + v_.bitmaps.size_bytes() +
           v_.buckets.size_bytes() + v_.grams.size_bytes() + v_.lsigs.size_bytes() +
           v_.expr.size_bytes() + v_.direct_abs.size_bytes() + v_.direct_eof.size_bytes() +
           v_.zero_lsigs.size_bytes() + v_.hashes.size_bytes() + v_.allow.size_bytes() +
           v_.hash_sizes.size_bytes();
}

namespace detail {
inline constexpr char db_magic[8] = {'B', 'H', 'S', 'I', 'G', 'D', 'B', '5'};
struct file_header {
    char magic[8];
    std::uint32_t endian = 0x01020304;
    std::uint32_t narrays = 23;
    std::uint64_t body_sigs, logical_sigs, hash_sigs, parts, prefilter_entries;
    std::uint32_t version, ncounters, max_left, max_gd, pass_union, pad;
    std::uint64_t eof_keep;
    /// Byte offset and element count of each array: the 17 of format 4 (the hash lists' records
    /// of 4 GiB files where format 4 had all of them), then MD5, SHA-1 and SHA-256 signatures,
    /// and the same for the allow list.
    std::uint64_t off[23], len[23];
};
} // namespace detail

inline result<void> compiled_db::save(const std::string& path) const {
    using namespace detail;
    file_header h{};
    std::memcpy(h.magic, db_magic, 8);
    h.endian = 0x01020304;
    h.narrays = 23;
    h.body_sigs = stats_.body_sigs; h.logical_sigs = stats_.logical_sigs; h.hash_sigs = stats_.hash_sigs;
    h.parts = stats_.parts; h.prefilter_entries = stats_.prefilter_entries; h.version = stats_.version;
    h.ncounters = v_.ncounters; h.max_left = v_.max_left; h.max_gd = v_.max_gd;
    h.pass_union = v_.pass_union; h.eof_keep = v_.eof_keep;
    std::string blob(sizeof h, '\0');
    std::size_t i = 0;
    auto put = [&](auto sp) {
        while (blob.size() % 64) blob.push_back('\0');
        h.off[i] = blob.size();
        h.len[i] = sp.size();
        blob.append(reinterpret_cast<const char*>(sp.data()), sp.size_bytes());
        ++i;
    };
    put(v_.entries); put(v_.parts); put(v_.prog); put(v_.strings); put(v_.tiers); put(v_.bitmaps);
    put(v_.buckets); put(v_.grams); put(v_.lsigs); put(v_.expr); put(v_.direct_abs);
    put(v_.direct_eof); put(v_.zero_lsigs); put(v_.hashes.big); put(v_.allow.big); put(v_.hash_sizes); put(v_.ext);
    for (auto* l : {&v_.hashes, &v_.allow}) {
        put(l->md5);
        put(l->sha1);
        put(l->sha256);
    }
    std::memcpy(blob.data(), &h, sizeof h);
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return error::from_errno("save compiled database").subject(tmp);
    unique_fd owner(fd);
    auto w = write_all(fd, std::string_view(blob));
    if (!w) {
        ::unlink(tmp.c_str());
        return std::move(w).error().subject(tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        auto e = error::from_errno("save compiled database").subject(path);
        ::unlink(tmp.c_str());
        return e;
    }
    return ok();
}

inline result<compiled_db> compiled_db::load(const std::string& path) {
    using namespace detail;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error::from_errno("load compiled database").subject(path);
    unique_fd owner(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) return error::from_errno("load compiled database").subject(path);
    auto size = static_cast<std::size_t>(st.st_size);
    auto bad = [&](const char* why) {
        return error(errc::parse_error, "load compiled database").subject(path).note(why);
    };
    if (size < sizeof(file_header)) return bad("shorter than its header");
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return error::from_errno("mmap compiled database").subject(path);
    compiled_db out;
    out.map_ = m;
    out.map_len_ = size;
    file_header h;
    std::memcpy(&h, m, sizeof h);
    if (std::memcmp(h.magic, db_magic, 7) == 0 && h.magic[7] != db_magic[7])
        return bad("compiled by another version of bulkhead (format changed): compile the signatures again");
    if (std::memcmp(h.magic, db_magic, 8) != 0) return bad("not a bulkhead compiled database (bad magic)");
    if (h.endian != 0x01020304 || h.narrays != 23) return bad("written by an incompatible build");
    auto* base = static_cast<const unsigned char*>(m);
    std::size_t i = 0;
    bool fail = false;
    auto get = [&](auto& sp) {
        using T = typename std::remove_reference_t<decltype(sp)>::element_type;
        std::uint64_t off = h.off[i], n = h.len[i];
        ++i;
        if (off % alignof(T) || off > size || n > (size - off) / sizeof(T)) {
            fail = true;
            return;
        }
        sp = std::span<T>(reinterpret_cast<T*>(base + off), n);
    };
    auto& v = out.v_;
    get(v.entries); get(v.parts); get(v.prog); get(v.strings); get(v.tiers); get(v.bitmaps);
    get(v.buckets); get(v.grams); get(v.lsigs); get(v.expr); get(v.direct_abs); get(v.direct_eof);
    get(v.zero_lsigs); get(v.hashes.big); get(v.allow.big); get(v.hash_sizes); get(v.ext);
    for (auto* l : {&v.hashes, &v.allow}) {
        get(l->md5);
        get(l->sha1);
        get(l->sha256);
    }
    if (fail) return bad("an array lies outside the file");
    // Cross-references are checked once here so scanning can trust them.
    if (v.strings.empty() && (!v.entries.empty() || !v.hashes.empty())) return bad("no string table");
    if (!v.strings.empty() && v.strings.back() != '\0') return bad("string table not terminated");
    if (v.prog.empty() && !v.parts.empty()) return bad("no programs");
    if (!v.prog.empty() && v.prog.back() != op_end) return bad("program table not terminated");
    for (auto& e : v.entries) {
        if (e.name >= v.strings.size() || e.first_part + std::uint64_t(e.nparts) > v.parts.size() ||
            (e.ext != no_ext && e.ext >= v.ext.size()) || ((e.flags & entry_logical) && e.ext == no_ext))
            return bad("entry out of range");
        if (e.ext == no_ext) continue;
        const auto& x = v.ext[e.ext];
        if (((e.flags & entry_logical) != 0) != (x.owner != no_owner) ||
            (x.owner != no_owner && (x.owner >= v.lsigs.size() || x.counter >= h.ncounters)) ||
            x.off_kind > offset_spec::eof_minus)
            return bad("entry out of range");
    }
    for (std::size_t pi = 0; pi < v.parts.size(); ++pi) {
        const auto& p = v.parts[pi];
        if (p.entry >= v.entries.size() || p.left >= v.prog.size() || p.right >= v.prog.size() ||
            (p.lead != no_lead && p.lead >= v.prog.size()))
            return bad("part out of range");
        // A part lies in its own entry's run of parts: the chain logic indexes its
        // neighbours by (part - first part) (found by fuzz_sig_db).
        const auto& e = v.entries[p.entry];
        if (pi < e.first_part || pi >= std::uint64_t(e.first_part) + e.nparts) return bad("part out of range");
    }
    // at_start tiers rely on the probe of one case-sensitive stride-8 Bloom bitmap
    const detail::tier_rec* a_tier = nullptr;
    bool a_ok = true;
    for (auto& t : v.tiers)
        if (t.stride == 8 && !t.fold && t.gram >= 4) {
            if (t.reg || (a_tier && a_tier->bitmap_off != t.bitmap_off)) a_ok = false;
            a_tier = &t;
        }
    for (auto& t : v.tiers) {
        bool direct = t.gram <= 2;
        if (t.at_start > 1 || (t.at_start && (!a_tier || !a_ok || t.gram != 4 || t.fold || (t.stride != 4 && t.stride != 2))))
            return bad("prefilter tier out of range");
        if ((direct && t.bitmap_words != (t.gram == 1 ? 4u : 1024u)) || t.bitmap_words == 0 || t.reg > 1 ||
            (t.reg && (t.gram != 4 || t.bitmap_words != reg_filter_words)) ||
            (!direct && !t.reg && (!std::has_single_bit(t.bitmap_words) || t.bitmap_words < 2)) ||
            t.table_log2 < 4 || t.table_log2 > 24 || // compile's range; hash32b shifts by 32 - log2
            t.bitmap_off + std::uint64_t(t.bitmap_words) > v.bitmaps.size() ||
            (t.gram == 8 && t.stride != 8) ||
            t.bucket_off + (std::size_t(1) << t.table_log2) + 1 > v.buckets.size() ||
            t.entries_off + std::uint64_t(t.nentries) > v.grams.size() || (t.gram != 1 && t.gram != 2 && t.gram != 4 && t.gram != 8) ||
            t.stride == 0 || t.stride > 8)
            return bad("prefilter tier out of range");
        for (std::size_t b = 0; b <= (std::size_t(1) << t.table_log2); ++b)
            if (v.buckets[t.bucket_off + b] > t.nentries) return bad("bucket out of range");
    }
    for (auto& g : v.grams)
        if (g.part() >= v.parts.size()) return bad("prefilter entry out of range");
    // Counters are handed out to the logical signatures in order, so their count is exact; a
    // larger header value would only make every scan_state allocate for nothing.
    std::uint64_t counters = 0;
    for (auto& l : v.lsigs) {
        if (l.name >= v.strings.size() || l.expr_off + std::uint64_t(l.expr_len) > v.expr.size() ||
            l.first_counter != counters)
            return bad("logical signature out of range");
        // The expression indexes this signature's counters: every subsignature it names must
        // be one of its own (found by fuzz_sig_db: an index past them read out of bounds).
        for (const auto& o : v.expr.subspan(l.expr_off, l.expr_len))
            if (o.kind > expr_op::cmp_lt || (o.kind == expr_op::sub && o.x >= l.nsubs))
                return bad("logical expression out of range");
        counters += l.nsubs;
    }
    if (counters != h.ncounters) return bad("counter count does not match the logical signatures");
    // Logical signatures true with no match at all, evaluated at the end of every scan.
    for (auto li : v.zero_lsigs)
        if (li >= v.lsigs.size() || !v.lsigs[li].true_at_zero) return bad("logical signature out of range");
    for (auto* d : {&v.direct_abs, &v.direct_eof})
        for (auto id : *d)
            if (id >= v.entries.size() || v.entries[id].ext == no_ext || v.entries[id].nparts == 0 ||
                v.ext[v.entries[id].ext].off_kind != (d == &v.direct_abs ? offset_spec::absolute : offset_spec::eof_minus))
                return bad("direct list out of range");
    for (auto* l : {&v.hashes, &v.allow}) {
        bool names_ok = true;
        auto check = [&](auto list) {
            for (auto& r : list) names_ok &= r.name < v.strings.size();
        };
        check(l->md5);
        check(l->sha1);
        check(l->sha256);
        check(l->big);
        if (!names_ok) return bad("hash name out of range");
    }
    // The stream keeps as much history as these say: they must be the records' own.
    if (spans_of(v.parts, v.entries, v.ext, v.direct_eof) != scan_spans{h.max_left, h.max_gd, h.eof_keep})
        return bad("scan spans do not match the records");
    v.ncounters = h.ncounters;
    v.max_left = h.max_left;
    v.max_gd = h.max_gd;
    v.pass_union = h.pass_union;
    v.eof_keep = h.eof_keep;
    v.chain_parts = chain_parts_of(v.entries); // the entries are checked against the parts above
    out.stats_.chain_parts = v.chain_parts;
    out.stats_.body_sigs = h.body_sigs;
    out.stats_.logical_sigs = h.logical_sigs;
    out.stats_.hash_sigs = h.hash_sigs;
    out.stats_.parts = h.parts;
    out.stats_.prefilter_entries = h.prefilter_entries;
    out.stats_.version = h.version;
    out.derive_filters();
    return out;
}

} // namespace sig
BULKHEAD_NAMESPACE_END
