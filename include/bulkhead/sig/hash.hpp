#pragma once
/// \file sig/hash.hpp
/// Streaming MD5 (RFC 1321), SHA-1 and SHA-256 (FIPS 180-4), written for the signature
/// module: hash databases key files by these digests. Plain portable code; no allocation.

#include "bulkhead/config.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

BULKHEAD_NAMESPACE_BEGIN
namespace sig {

namespace detail {
[[nodiscard]] inline std::uint32_t load_le32(const unsigned char* p) noexcept {
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
           std::uint32_t(p[3]) << 24;
}
[[nodiscard]] inline std::uint32_t load_be32(const unsigned char* p) noexcept {
    return std::uint32_t(p[3]) | std::uint32_t(p[2]) << 8 | std::uint32_t(p[1]) << 16 |
           std::uint32_t(p[0]) << 24;
}
inline void store_le32(unsigned char* p, std::uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline void store_be32(unsigned char* p, std::uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (24 - 8 * i));
}

/// The block-buffering shared by the three Merkle-Damgard hashes (64-byte blocks).
template <class Derived>
class md_hash {
public:
    void update(const void* data, std::size_t n) noexcept {
        auto p = static_cast<const unsigned char*>(data);
        total_ += n;
        if (fill_) {
            std::size_t take = 64 - fill_ < n ? 64 - fill_ : n;
            std::memcpy(buf_ + fill_, p, take);
            fill_ += take;
            p += take;
            n -= take;
            if (fill_ < 64) return;
            static_cast<Derived*>(this)->block(buf_);
            fill_ = 0;
        }
        while (n >= 64) {
            static_cast<Derived*>(this)->block(p);
            p += 64;
            n -= 64;
        }
        if (n) {
            std::memcpy(buf_, p, n);
            fill_ = n;
        }
    }
    void update(std::string_view s) noexcept { update(s.data(), s.size()); }
    void update(std::span<const unsigned char> s) noexcept { update(s.data(), s.size()); }

protected:
    /// Appends the padding and the bit length (little or big endian).
    void pad(bool big_endian) noexcept {
        std::uint64_t bits = total_ * 8;
        unsigned char tail[72] = {0x80};
        std::size_t padlen = (fill_ < 56) ? 56 - fill_ : 120 - fill_;
        unsigned char len[8];
        for (int i = 0; i < 8; ++i)
            len[i] = static_cast<unsigned char>(big_endian ? bits >> (56 - 8 * i) : bits >> (8 * i));
        std::uint64_t saved = total_;
        update(tail, padlen);
        update(len, 8);
        total_ = saved;
    }
    unsigned char buf_[64]{};
    std::size_t fill_ = 0;
    std::uint64_t total_ = 0;
};
} // namespace detail

/// MD5 (RFC 1321). Only for matching ClamAV hash databases; not a security primitive.
class md5 : public detail::md_hash<md5> {
public:
    static constexpr std::size_t digest_size = 16;
    using digest = std::array<unsigned char, 16>;
    [[nodiscard]] digest finish() noexcept {
        pad(false);
        digest d;
        for (int i = 0; i < 4; ++i) detail::store_le32(d.data() + 4 * i, h_[i]);
        return d;
    }
    void block(const unsigned char* p) noexcept {
        static constexpr std::uint32_t k[64] = {
            0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
            0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
            0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
            0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
            0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
            0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
            0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
            0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
            0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
            0xeb86d391};
        static constexpr int r[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                      5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                      4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                      6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
        std::uint32_t m[16];
        for (int i = 0; i < 16; ++i) m[i] = detail::load_le32(p + 4 * i);
        std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3];
        for (int i = 0; i < 64; ++i) {
            std::uint32_t f;
            int g;
            if (i < 16) { f = (b & c) | (~b & d); g = i; }
            else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
            else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) & 15; }
            else { f = c ^ (b | ~d); g = (7 * i) & 15; }
            std::uint32_t t = d;
            d = c;
            c = b;
            b = b + std::rotl(a + f + k[i] + m[g], r[i]);
            a = t;
        }
        h_[0] += a; h_[1] += b; h_[2] += c; h_[3] += d;
    }

private:
    std::uint32_t h_[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
};

/// SHA-1 (FIPS 180-4). Only for matching ClamAV hash databases.
class sha1 : public detail::md_hash<sha1> {
public:
    static constexpr std::size_t digest_size = 20;
    using digest = std::array<unsigned char, 20>;
    [[nodiscard]] digest finish() noexcept {
        pad(true);
        digest d;
        for (int i = 0; i < 5; ++i) detail::store_be32(d.data() + 4 * i, h_[i]);
        return d;
    }
    void block(const unsigned char* p) noexcept {
        std::uint32_t w[80];
        for (int i = 0; i < 16; ++i) w[i] = detail::load_be32(p + 4 * i);
        for (int i = 16; i < 80; ++i) w[i] = std::rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
        for (int i = 0; i < 80; ++i) {
            std::uint32_t f, k;
            if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
            else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
            else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
            else { f = b ^ c ^ d; k = 0xca62c1d6; }
            std::uint32_t t = std::rotl(a, 5) + f + e + k + w[i];
            e = d; d = c; c = std::rotl(b, 30); b = a; a = t;
        }
        h_[0] += a; h_[1] += b; h_[2] += c; h_[3] += d; h_[4] += e;
    }

private:
    std::uint32_t h_[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
};

/// SHA-256 (FIPS 180-4).
class sha256 : public detail::md_hash<sha256> {
public:
    static constexpr std::size_t digest_size = 32;
    using digest = std::array<unsigned char, 32>;
    [[nodiscard]] digest finish() noexcept {
        pad(true);
        digest d;
        for (int i = 0; i < 8; ++i) detail::store_be32(d.data() + 4 * i, h_[i]);
        return d;
    }
    void block(const unsigned char* p) noexcept {
        static constexpr std::uint32_t k[64] = {
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
            0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
            0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
            0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
            0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
            0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
            0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
            0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
            0xc67178f2};
        std::uint32_t w[64];
        for (int i = 0; i < 16; ++i) w[i] = detail::load_be32(p + 4 * i);
        for (int i = 16; i < 64; ++i) {
            std::uint32_t s0 = std::rotr(w[i - 15], 7) ^ std::rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            std::uint32_t s1 = std::rotr(w[i - 2], 17) ^ std::rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6],
                      h = h_[7];
        for (int i = 0; i < 64; ++i) {
            std::uint32_t S1 = std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25);
            std::uint32_t ch = (e & f) ^ (~e & g);
            std::uint32_t t1 = h + S1 + ch + k[i] + w[i];
            std::uint32_t S0 = std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22);
            std::uint32_t mj = (a & b) ^ (a & c) ^ (b & c);
            std::uint32_t t2 = S0 + mj;
            h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        h_[0] += a; h_[1] += b; h_[2] += c; h_[3] += d;
        h_[4] += e; h_[5] += f; h_[6] += g; h_[7] += h;
    }

private:
    std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                           0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
};

/// Lower-case hex of a digest.
template <std::size_t N>
[[nodiscard]] inline std::string to_hex(const std::array<unsigned char, N>& d) {
    static constexpr char hx[] = "0123456789abcdef";
    std::string s;
    s.reserve(2 * N);
    for (unsigned char c : d) {
        s += hx[c >> 4];
        s += hx[c & 15];
    }
    return s;
}

/// One-shot helpers.
template <class H>
[[nodiscard]] inline typename H::digest hash_of(const void* data, std::size_t n) noexcept {
    H h;
    h.update(data, n);
    return h.finish();
}

} // namespace sig
BULKHEAD_NAMESPACE_END
