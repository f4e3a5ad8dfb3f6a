#pragma once
/// \file sig/pattern.hpp
/// ClamAV body-signature hex syntax and offsets, parsed into tokens. The grammar (from the
/// ClamAV manual, "Body-based Signature Content Format"):
///   aa       a byte            ??  any byte          a? / ?a  high / low nibble
///   *        any number of bytes                     {n} {-n} {n-} {n-m}  a counted gap
///   (aa|bb)  alternatives (bytes or byte strings)    !(aa|bb) anything but these
///   aa[x-y]HEXSIG / HEXSIG[x-y]aa  a short gap next to a single byte
/// Offsets: `*`, `n`, `EOF-n`, `EP+n`, `EP-n`, `Sx+n`, `SEx`, `SL+n`, each but `*` with an
/// optional `,maxshift`.

#include "bulkhead/config.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/detail/text.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace sig {

/// Gaps longer than this inside one fixed-distance part are refused (bounds verification).
inline constexpr std::uint32_t max_part_span = 65535;
/// An unbounded gap (`*`, `{n-}`).
inline constexpr std::uint32_t gap_unbounded = std::numeric_limits<std::uint32_t>::max();

/// Where a body signature may start.
struct offset_spec {
    enum kind_t : std::uint8_t {
        any,          ///< `*`
        absolute,     ///< `n`
        eof_minus,    ///< `EOF-n`
        entry_point,  ///< `EP+n` / `EP-n` (executables only)
        section_rel,  ///< `Sx+n`
        section_whole,///< `SEx`
        last_section, ///< `SL+n`
    };
    kind_t kind = any;
    bool negative = false;       ///< EP-n
    std::uint64_t n = 0;         ///< offset (or distance back from EOF)
    std::uint32_t section = 0;   ///< x of Sx / SEx
    std::uint32_t shift = 0;     ///< max shift of a floating offset (`n,m`)
    /// Only `*`, `n` and `EOF-n` can be evaluated without executable parsing.
    [[nodiscard]] bool supported() const noexcept {
        return kind == any || kind == absolute || kind == eof_minus;
    }
};

/// One element of a parsed hex signature.
struct token {
    enum kind_t : std::uint8_t {
        lit,   ///< byte `b`
        mask,  ///< (x & m) == b (nibbles)
        any,   ///< one byte, any value
        set,   ///< one byte in `bits` (single-byte alternatives and their negation)
        alt,   ///< one of `alts` (byte strings)
        nalt,  ///< `alts[0].size()` bytes equal to none of `alts`
        gap,   ///< between gmin and gmax bytes (gmax may be gap_unbounded)
    };
    kind_t kind = lit;
    std::uint8_t b = 0;
    std::uint8_t m = 0xff;
    std::uint32_t gmin = 0, gmax = 0;
    bool bracket = false; ///< gap written [x-y]
    std::array<std::uint64_t, 4> bits{};
    std::vector<std::string> alts;

    [[nodiscard]] bool set_has(unsigned c) const noexcept { return (bits[c >> 6] >> (c & 63)) & 1; }
    void set_add(unsigned c) noexcept { bits[c >> 6] |= std::uint64_t(1) << (c & 63); }
};

namespace detail {
[[nodiscard]] constexpr int hexval(char c) noexcept {
    return (c >= '0' && c <= '9') ? c - '0'
           : (c >= 'a' && c <= 'f') ? c - 'a' + 10
           : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                    : -1;
}

/// Decodes plain hex (no wildcards) into bytes; false on odd length or a non-hex digit.
[[nodiscard]] inline bool decode_hex(std::string_view h, std::string& out) {
    if (h.size() % 2) return false;
    out.clear();
    for (std::size_t i = 0; i < h.size(); i += 2) {
        int a = hexval(h[i]), b = hexval(h[i + 1]);
        if (a < 0 || b < 0) return false;
        out += static_cast<char>(a * 16 + b);
    }
    return true;
}
} // namespace detail

/// Parses a hex signature. Errors carry the 1-based column inside `hex` (line left 0: the
/// caller fills in the line of its file).
[[nodiscard]] inline result<std::vector<token>> parse_hex(std::string_view hex) {
    std::vector<token> out;
    auto err = [&](std::size_t i, const char* why) {
        return error(errc::parse_error, "hex signature")
            .at(0, static_cast<std::uint32_t>(i + 1))
            .note(why);
    };
    auto num = [](std::string_view s) -> std::optional<std::uint32_t> {
        auto v = bulkhead::detail::parse_int<std::uint32_t>(s);
        if (v && *v > max_part_span) return std::nullopt;
        return v;
    };
    std::size_t i = 0;
    while (i < hex.size()) {
        char c = hex[i];
        if (c == '*') {
            token t;
            t.kind = token::gap;
            t.gmin = 0;
            t.gmax = gap_unbounded;
            out.push_back(t);
            ++i;
        } else if (c == '{' || c == '[') {
            char close = c == '{' ? '}' : ']';
            auto e = hex.find(close, i);
            if (e == std::string_view::npos) return err(i, c == '{' ? "unterminated {" : "unterminated [");
            std::string_view body = hex.substr(i + 1, e - i - 1);
            token t;
            t.kind = token::gap;
            auto dash = body.find('-');
            if (dash == std::string_view::npos) {
                auto v = num(body);
                if (!v || c == '[') return err(i, "bad gap: expected {n}, {-n}, {n-}, {n-m} or [x-y]");
                t.gmin = t.gmax = *v;
            } else {
                std::string_view a = body.substr(0, dash), b = body.substr(dash + 1);
                if (a.empty() && b.empty()) return err(i, "empty gap range");
                std::optional<std::uint32_t> va = a.empty() ? std::optional<std::uint32_t>(0) : num(a);
                std::optional<std::uint32_t> vb = b.empty() ? std::optional<std::uint32_t>(gap_unbounded) : num(b);
                if (!va || !vb) return err(i, "bad gap number (decimal, at most 65535)");
                if (c == '[' && (a.empty() || b.empty())) return err(i, "[x-y] needs both bounds");
                if (*va > *vb) return err(i, "gap minimum above maximum");
                t.gmin = *va;
                t.gmax = *vb;
            }
            if (c == '[') {
                // aa[x-y]HEXSIG or HEXSIG[x-y]aa: one side is a single byte.
                if (t.gmax > 32) return err(i, "[x-y] allows at most 32 bytes");
                t.bracket = true;
            }
            out.push_back(t);
            i = e + 1;
        } else if (c == '(' || (c == '!' && i + 1 < hex.size() && hex[i + 1] == '(')) {
            bool neg = c == '!';
            std::size_t open = neg ? i + 1 : i;
            auto e = hex.find(')', open);
            if (e == std::string_view::npos) return err(i, "unterminated (");
            std::string_view body = hex.substr(open + 1, e - open - 1);
            if (body == "B" || body == "L" || body == "W")
                return error(errc::unsupported, "hex signature")
                    .at(0, static_cast<std::uint32_t>(i + 1))
                    .note("boundary anchors (B), (L), (W) are not supported");
            token t;
            auto parts = bulkhead::detail::split(body, '|');
            if (parts.size() < 2 && !neg) return err(i, "alternation needs at least two choices");
            bool all_single = true;
            for (auto p : parts) {
                std::string bytes;
                if (p.empty()) return err(i, "empty alternative");
                if (!detail::decode_hex(p, bytes))
                    return err(i, "alternatives must be whole hex bytes (no wildcards)");
                if (bytes.size() != 1) all_single = false;
                t.alts.push_back(std::move(bytes));
            }
            if (neg) {
                for (auto& a : t.alts)
                    if (a.size() != t.alts[0].size())
                        return err(i, "negated alternatives must all have the same length");
            }
            if (all_single) {
                t.kind = token::set;
                for (auto& a : t.alts) t.set_add(static_cast<unsigned char>(a[0]));
                if (neg)
                    for (auto& w : t.bits) w = ~w;
                t.alts.clear();
            } else {
                t.kind = neg ? token::nalt : token::alt;
            }
            out.push_back(std::move(t));
            i = e + 1;
        } else {
            if (i + 1 >= hex.size()) return err(i, "odd number of hex digits");
            char d = hex[i + 1];
            int a = detail::hexval(c), b = detail::hexval(d);
            token t;
            if (a >= 0 && b >= 0) {
                t.kind = token::lit;
                t.b = static_cast<std::uint8_t>(a * 16 + b);
            } else if (c == '?' && d == '?') {
                t.kind = token::any;
            } else if (a >= 0 && d == '?') {
                t.kind = token::mask;
                t.b = static_cast<std::uint8_t>(a << 4);
                t.m = 0xf0;
            } else if (c == '?' && b >= 0) {
                t.kind = token::mask;
                t.b = static_cast<std::uint8_t>(b);
                t.m = 0x0f;
            } else {
                return err(i, "expected a hex byte, ??, a?, ?a, *, {..}, [..] or (..)");
            }
            out.push_back(t);
            i += 2;
        }
    }
    if (out.empty()) return err(0, "empty signature");
    if (out.front().kind == token::gap || out.back().kind == token::gap)
        return err(out.front().kind == token::gap ? 0 : hex.size() - 1,
                   "a signature cannot begin or end with a gap");
    for (std::size_t k = 1; k < out.size(); ++k)
        if (out[k].kind == token::gap && out[k - 1].kind == token::gap)
            return err(0, "two gaps in a row");
    bool fixed = false;
    for (auto& t : out)
        if (t.kind == token::lit) fixed = true;
    if (!fixed) return err(0, "no fixed byte to anchor on");
    return out;
}

/// Parses an offset field.
[[nodiscard]] inline result<offset_spec> parse_offset(std::string_view s) {
    offset_spec o;
    auto err = [&](const char* why) {
        return error(errc::parse_error, "offset").value(s).note(why);
    };
    if (s == "*") return o;
    auto comma = s.find(',');
    std::string_view base = s.substr(0, comma);
    if (comma != std::string_view::npos) {
        auto sh = bulkhead::detail::parse_int<std::uint32_t>(s.substr(comma + 1));
        if (!sh) return err("bad max shift after ','");
        o.shift = *sh;
    }
    auto u64 = [](std::string_view v) { return bulkhead::detail::parse_int<std::uint64_t>(v); };
    if (bulkhead::detail::starts_with(base, "EOF-")) {
        auto v = u64(base.substr(4));
        if (!v) return err("bad number after EOF-");
        o.kind = offset_spec::eof_minus;
        o.n = *v;
    } else if (bulkhead::detail::starts_with(base, "EP+") || bulkhead::detail::starts_with(base, "EP-")) {
        auto v = u64(base.substr(3));
        if (!v) return err("bad number after EP+/EP-");
        o.kind = offset_spec::entry_point;
        o.negative = base[2] == '-';
        o.n = *v;
    } else if (bulkhead::detail::starts_with(base, "SL+")) {
        auto v = u64(base.substr(3));
        if (!v) return err("bad number after SL+");
        o.kind = offset_spec::last_section;
        o.n = *v;
    } else if (bulkhead::detail::starts_with(base, "SE")) {
        auto v = bulkhead::detail::parse_int<std::uint32_t>(base.substr(2));
        if (!v) return err("bad section number after SE");
        o.kind = offset_spec::section_whole;
        o.section = *v;
    } else if (!base.empty() && base[0] == 'S') {
        auto plus = base.find('+');
        if (plus == std::string_view::npos) return err("expected Sx+n");
        auto x = bulkhead::detail::parse_int<std::uint32_t>(base.substr(1, plus - 1));
        auto v = u64(base.substr(plus + 1));
        if (!x || !v) return err("bad Sx+n");
        o.kind = offset_spec::section_rel;
        o.section = *x;
        o.n = *v;
    } else {
        auto v = u64(base);
        if (!v) return err("expected *, n, EOF-n, EP+n, Sx+n, SEx or SL+n");
        o.kind = offset_spec::absolute;
        o.n = *v;
    }
    return o;
}

} // namespace sig
BULKHEAD_NAMESPACE_END
