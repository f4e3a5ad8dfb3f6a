#pragma once
/// \file sig/inflate.hpp
/// A DEFLATE decoder (RFC 1951) and gzip member reader (RFC 1952) of the project's own, used
/// to open ClamAV .cvd containers. Untrusted input: every read is bounds-checked, nothing
/// recurses, and the output is capped (`max_output`) so a decompression bomb fails with
/// errc::too_large instead of exhausting memory.

#include "bulkhead/config.hpp"
#include "bulkhead/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace sig {

/// Default cap for inflated output (1 GiB: the largest ClamAV main.cvd inflates to ~400 MB).
inline constexpr std::size_t default_inflate_limit = std::size_t(1) << 30;

namespace detail {

inline std::uint32_t crc32_update(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
    struct table_t {
        std::uint32_t t[256];
        constexpr table_t() : t() {
            for (std::uint32_t i = 0; i < 256; ++i) {
                std::uint32_t c = i;
                for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
                t[i] = c;
            }
        }
    };
    static constexpr table_t tab{};
    crc = ~crc;
    for (std::size_t i = 0; i < n; ++i) crc = tab.t[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/// Canonical Huffman decoding table: a 9-bit direct lookup plus a canonical slow path.
struct huffman {
    static constexpr int fast_bits = 9;
    std::uint16_t count[16]{};   // codes per length
    std::uint16_t symbol[320]{}; // symbols ordered by code
    std::uint16_t fast[1 << fast_bits]{}; // (len << 12) | sym, 0 = slow path
    /// Builds from code lengths; false when the set is over-subscribed. Incomplete sets are
    /// allowed (a single distance code is legal), and undecodable codes fail at decode time.
    bool build(const std::uint8_t* lens, int n) noexcept {
        std::memset(count, 0, sizeof count);
        for (int i = 0; i < n; ++i) count[lens[i]]++;
        count[0] = 0;
        int left = 1;
        for (int l = 1; l < 16; ++l) {
            left <<= 1;
            left -= count[l];
            if (left < 0) return false;
        }
        std::uint16_t offs[16];
        offs[1] = 0;
        for (int l = 1; l < 15; ++l) offs[l + 1] = static_cast<std::uint16_t>(offs[l] + count[l]);
        for (int i = 0; i < n; ++i)
            if (lens[i]) symbol[offs[lens[i]]++] = static_cast<std::uint16_t>(i);
        // Fast table: walk codes in canonical order.
        std::memset(fast, 0, sizeof fast);
        unsigned code = 0;
        int idx = 0;
        for (int l = 1; l <= fast_bits; ++l) {
            for (int k = 0; k < count[l]; ++k, ++idx, ++code) {
                // Deflate codes are read MSB-first from an LSB-first stream: reverse them.
                unsigned rev = 0;
                for (int b = 0; b < l; ++b) rev |= ((code >> b) & 1u) << (l - 1 - b);
                for (unsigned fill = rev; fill < (1u << fast_bits); fill += 1u << l)
                    fast[fill] = static_cast<std::uint16_t>((l << 12) | symbol[idx]);
            }
            code <<= 1;
        }
        return true;
    }
};

class inflater {
public:
    inflater(std::span<const unsigned char> in, std::vector<unsigned char>& out, std::size_t limit)
        : in_(in), out_(out), limit_(limit) {}

    /// Decodes one complete deflate stream; `consumed()` tells where it ended.
    result<void> run() {
        for (;;) {
            int final_block = bits(1);
            int type = bits(2);
            if (err_) return fail("truncated block header");
            if (type == 0) {
                BULKHEAD_TRY(stored());
            } else if (type == 1) {
                BULKHEAD_TRY(fixed());
            } else if (type == 2) {
                BULKHEAD_TRY(dynamic());
            } else {
                return fail("invalid block type 3");
            }
            if (final_block) break;
        }
        return ok();
    }
    /// Bytes of input used (bytes prefetched into the bit buffer are given back).
    [[nodiscard]] std::size_t consumed() const noexcept { return pos_ - static_cast<std::size_t>(cnt_ / 8); }

private:
    error fail(const char* why) const {
        errc code = err_ == 2 ? errc::too_large : (err_ == 1 ? errc::truncated : errc::parse_error);
        return error(code, "inflate").at_offset(pos_).note(why);
    }
    int bits(int need) noexcept {
        while (cnt_ < need) {
            if (pos_ >= in_.size()) {
                err_ = 1;
                return 0;
            }
            buf_ |= std::uint32_t(in_[pos_++]) << cnt_;
            cnt_ += 8;
        }
        int v = static_cast<int>(buf_ & ((1u << need) - 1));
        buf_ >>= need;
        cnt_ -= need;
        return v;
    }
    int decode(const huffman& h) noexcept {
        // Top the bit buffer up as far as input allows so the fast table can peek 9 bits.
        while (cnt_ <= 24 && pos_ < in_.size()) {
            buf_ |= std::uint32_t(in_[pos_++]) << cnt_;
            cnt_ += 8;
        }
        if (cnt_ >= huffman::fast_bits) {
            std::uint16_t e = h.fast[buf_ & ((1u << huffman::fast_bits) - 1)];
            if (e) {
                int l = e >> 12;
                buf_ >>= l;
                cnt_ -= l;
                return e & 0xfff;
            }
        }
        int code = 0, first = 0, index = 0;
        for (int l = 1; l < 16; ++l) {
            code |= bits(1);
            if (err_) return -1;
            int c = h.count[l];
            if (code - c < first) return h.symbol[index + (code - first)];
            index += c;
            first += c;
            first <<= 1;
            code <<= 1;
        }
        err_ = 3;
        return -1;
    }
    bool put(unsigned char c) {
        if (out_.size() >= limit_) {
            err_ = 2;
            return false;
        }
        out_.push_back(c);
        return true;
    }
    result<void> stored() {
        // Drop the bits up to the byte boundary and give prefetched whole bytes back.
        pos_ -= static_cast<std::size_t>(cnt_ / 8);
        buf_ = 0;
        cnt_ = 0;
        if (in_.size() - pos_ < 4) {
            err_ = 1;
            return fail("truncated stored block header");
        }
        unsigned len = in_[pos_] | unsigned(in_[pos_ + 1]) << 8;
        unsigned nlen = in_[pos_ + 2] | unsigned(in_[pos_ + 3]) << 8;
        pos_ += 4;
        if ((len ^ 0xffffu) != nlen) return fail("stored block length check failed");
        if (in_.size() - pos_ < len) {
            err_ = 1;
            return fail("truncated stored block");
        }
        if (limit_ - out_.size() < len) {
            err_ = 2;
            return fail("output over the limit");
        }
        out_.insert(out_.end(), in_.begin() + static_cast<std::ptrdiff_t>(pos_),
                    in_.begin() + static_cast<std::ptrdiff_t>(pos_ + len));
        pos_ += len;
        return ok();
    }
    result<void> fixed() {
        std::uint8_t l[288];
        int i = 0;
        for (; i < 144; ++i) l[i] = 8;
        for (; i < 256; ++i) l[i] = 9;
        for (; i < 280; ++i) l[i] = 7;
        for (; i < 288; ++i) l[i] = 8;
        std::uint8_t d[30];
        for (auto& x : d) x = 5;
        lit_.build(l, 288);
        dist_.build(d, 30);
        return codes();
    }
    result<void> dynamic() {
        int nlen = bits(5) + 257, ndist = bits(5) + 1, ncode = bits(4) + 4;
        if (err_) return fail("truncated dynamic header");
        if (nlen > 286 || ndist > 30) return fail("too many length or distance codes");
        static constexpr std::uint8_t order[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                                   11, 4,  12, 3, 13, 2, 14, 1, 15};
        std::uint8_t lens[320] = {};
        for (int i = 0; i < ncode; ++i) lens[order[i]] = static_cast<std::uint8_t>(bits(3));
        if (err_) return fail("truncated code length codes");
        huffman lc;
        if (!lc.build(lens, 19)) return fail("over-subscribed code length code");
        int idx = 0;
        std::memset(lens, 0, sizeof lens);
        while (idx < nlen + ndist) {
            int sym = decode(lc);
            if (sym < 0) return fail(err_ == 1 ? "truncated code lengths" : "bad code length code");
            if (sym < 16) {
                lens[idx++] = static_cast<std::uint8_t>(sym);
                continue;
            }
            int rep, val = 0;
            if (sym == 16) {
                if (idx == 0) return fail("repeat with no previous length");
                val = lens[idx - 1];
                rep = 3 + bits(2);
            } else if (sym == 17) {
                rep = 3 + bits(3);
            } else {
                rep = 11 + bits(7);
            }
            if (err_) return fail("truncated code lengths");
            if (idx + rep > nlen + ndist) return fail("code lengths overflow");
            while (rep--) lens[idx++] = static_cast<std::uint8_t>(val);
        }
        if (lens[256] == 0) return fail("no end-of-block code");
        if (!lit_.build(lens, nlen)) return fail("over-subscribed literal/length code");
        if (!dist_.build(lens + nlen, ndist)) return fail("over-subscribed distance code");
        return codes();
    }
    result<void> codes() {
        static constexpr std::uint16_t lbase[29] = {3,  4,  5,  6,  7,  8,  9,  10,  11,  13,
                                                    15, 17, 19, 23, 27, 31, 35, 43,  51,  59,
                                                    67, 83, 99, 115, 131, 163, 195, 227, 258};
        static constexpr std::uint8_t lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                  2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
        static constexpr std::uint16_t dbase[30] = {
            1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
            193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
        static constexpr std::uint8_t dext[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                                  6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
        for (;;) {
            int sym = decode(lit_);
            if (sym < 0) return fail(err_ == 1 ? "truncated data" : "invalid literal/length code");
            if (sym < 256) {
                if (!put(static_cast<unsigned char>(sym))) return fail("output over the limit");
                continue;
            }
            if (sym == 256) return ok();
            sym -= 257;
            if (sym >= 29) return fail("invalid length symbol");
            std::size_t len = lbase[sym] + static_cast<std::size_t>(bits(lext[sym]));
            int ds = decode(dist_);
            if (ds < 0) return fail(err_ == 1 ? "truncated data" : "invalid distance code");
            if (ds >= 30) return fail("invalid distance symbol");
            std::size_t dist = dbase[ds] + static_cast<std::size_t>(bits(dext[ds]));
            if (err_) return fail("truncated data");
            if (dist > out_.size()) return fail("distance too far back");
            if (limit_ - out_.size() < len) {
                err_ = 2;
                return fail("output over the limit");
            }
            std::size_t from = out_.size() - dist;
            for (std::size_t i = 0; i < len; ++i) out_.push_back(out_[from + i]);
        }
    }

    std::span<const unsigned char> in_;
    std::vector<unsigned char>& out_;
    std::size_t limit_;
    std::size_t pos_ = 0;
    std::uint32_t buf_ = 0;
    int cnt_ = 0;
    int err_ = 0; // 1 truncated, 2 limit, 3 bad code
    huffman lit_, dist_;
};
} // namespace detail

/// Inflates a raw deflate stream (RFC 1951), appending to `out`; at most `limit` bytes total.
[[nodiscard]] inline result<std::size_t> inflate_raw(std::span<const unsigned char> in,
                                                     std::vector<unsigned char>& out,
                                                     std::size_t limit = default_inflate_limit) {
    detail::inflater inf(in, out, limit);
    BULKHEAD_TRY(inf.run());
    return inf.consumed();
}

/// Decodes a gzip file (RFC 1952): every member, checking CRC-32 and ISIZE of each.
[[nodiscard]] inline result<std::vector<unsigned char>> gunzip(
    std::span<const unsigned char> in, std::size_t limit = default_inflate_limit) {
    std::vector<unsigned char> out;
    std::size_t p = 0;
    int members = 0;
    while (p < in.size()) {
        if (members > 0 && in.size() - p < 18) break; // trailing padding after a member
        auto need = [&](std::size_t n) { return in.size() - p >= n; };
        if (!need(10)) return error(errc::truncated, "gunzip").at_offset(p).note("short header");
        if (in[p] != 0x1f || in[p + 1] != 0x8b)
            return error(errc::parse_error, "gunzip").at_offset(p).note("bad magic");
        if (in[p + 2] != 8)
            return error(errc::unsupported, "gunzip").at_offset(p + 2).note("method is not deflate");
        unsigned flg = in[p + 3];
        if (flg & 0xe0) return error(errc::parse_error, "gunzip").at_offset(p + 3).note("reserved flags");
        std::size_t h = p + 10;
        if (flg & 4) { // FEXTRA
            if (in.size() - h < 2) return error(errc::truncated, "gunzip").at_offset(h).note("FEXTRA");
            std::size_t xlen = in[h] | std::size_t(in[h + 1]) << 8;
            h += 2;
            if (in.size() - h < xlen) return error(errc::truncated, "gunzip").at_offset(h).note("FEXTRA");
            h += xlen;
        }
        for (unsigned f : {8u, 16u}) { // FNAME, FCOMMENT: zero-terminated
            if (flg & f) {
                while (h < in.size() && in[h] != 0) ++h;
                if (h >= in.size())
                    return error(errc::truncated, "gunzip").at_offset(h).note("unterminated name/comment");
                ++h;
            }
        }
        if (flg & 2) h += 2; // FHCRC
        if (h > in.size()) return error(errc::truncated, "gunzip").at_offset(h).note("header CRC");
        std::size_t before = out.size();
        detail::inflater inf(in.subspan(h), out, limit);
        auto r = inf.run();
        if (!r) {
            auto e = std::move(r).error();
            return e.at_offset(h + e.offset());
        }
        h += inf.consumed();
        if (in.size() - h < 8) return error(errc::truncated, "gunzip").at_offset(h).note("missing trailer");
        std::uint32_t crc = in[h] | std::uint32_t(in[h + 1]) << 8 | std::uint32_t(in[h + 2]) << 16 |
                            std::uint32_t(in[h + 3]) << 24;
        std::uint32_t isize = in[h + 4] | std::uint32_t(in[h + 5]) << 8 |
                              std::uint32_t(in[h + 6]) << 16 | std::uint32_t(in[h + 7]) << 24;
        if (detail::crc32_update(0, out.data() + before, out.size() - before) != crc)
            return error(errc::mismatch, "gunzip").at_offset(h).note("CRC-32 mismatch");
        if (static_cast<std::uint32_t>(out.size() - before) != isize)
            return error(errc::mismatch, "gunzip").at_offset(h + 4).note("ISIZE mismatch");
        p = h + 8;
        ++members;
    }
    if (members == 0) return error(errc::truncated, "gunzip").note("empty input");
    return out;
}

} // namespace sig
BULKHEAD_NAMESPACE_END
