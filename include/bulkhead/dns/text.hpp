#pragma once
/// \file dns/text.hpp
/// Presentation format (RFC 1035 section 5, RFC 3597 generic RDATA, RFC 8659 CAA): printing
/// records and a zone-file reader ($ORIGIN, $TTL, relative names, @, parentheses, comments)
/// whose errors carry line:column.

#include "bulkhead/config.hpp"
#include "bulkhead/dns/rr_table.hpp"
#include "bulkhead/dns/wire.hpp"
#include "bulkhead/detail/text.hpp"
#include "bulkhead/error.hpp"

#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace dns {

namespace detail {
inline constexpr char hex_digits[] = "0123456789ABCDEF";
inline constexpr char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

inline void append_hex(std::string& out, bytes_view d) {
    for (auto c : d) {
        out += hex_digits[c >> 4];
        out += hex_digits[c & 15];
    }
}
inline void append_base64(std::string& out, bytes_view d) {
    std::size_t i = 0;
    for (; i + 3 <= d.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{d[i]} << 16) | (std::uint32_t{d[i + 1]} << 8) | d[i + 2];
        for (int k = 18; k >= 0; k -= 6) out += b64_alphabet[(v >> k) & 63];
    }
    if (d.size() - i == 1) {
        const std::uint32_t v = std::uint32_t{d[i]} << 16;
        out += b64_alphabet[(v >> 18) & 63];
        out += b64_alphabet[(v >> 12) & 63];
        out += "==";
    } else if (d.size() - i == 2) {
        const std::uint32_t v = (std::uint32_t{d[i]} << 16) | (std::uint32_t{d[i + 1]} << 8);
        out += b64_alphabet[(v >> 18) & 63];
        out += b64_alphabet[(v >> 12) & 63];
        out += b64_alphabet[(v >> 6) & 63];
        out += '=';
    }
}
inline int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
inline int b64_value(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}
/// A <character-string> in quotes with `"` and `\` escaped and other bytes outside
/// printable ASCII as \DDD.
inline void append_quoted(std::string& out, std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            out += '\\';
            out += static_cast<char>('0' + c / 100);
            out += static_cast<char>('0' + (c / 10) % 10);
            out += static_cast<char>('0' + c % 10);
        }
    }
    out += '"';
}
inline bool is_alnum(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
inline void append_generic(std::string& out, bytes_view d) {
    out += "\\# ";
    out += std::to_string(d.size());
    if (!d.empty()) {
        out += ' ';
        append_hex(out, d);
    }
}
inline void append_name_at(std::string& out, bytes_view d, std::size_t& off, bool& ok) {
    std::size_t end = 0, len = 0;
    if (!ok || !check_name(d, off, false, end, len)) {
        ok = false;
        return;
    }
    out += name_view(d, off, len).to_string();
    off = end;
}
} // namespace detail

/// "A", "CAA", or the RFC 3597 form "TYPE65280".
[[nodiscard]] inline std::string type_to_text(std::uint16_t t) {
    const auto n = type_name(t);
    if (!n.empty()) return std::string(n);
    return "TYPE" + std::to_string(t);
}
[[nodiscard]] inline std::string class_to_text(std::uint16_t c) {
    if (c == class_in) return "IN";
    return "CLASS" + std::to_string(c);
}

/// The presentation form of uncompressed RDATA: the type's own form when the type is one the
/// reader understands and the RDATA is well formed, else RFC 3597 `\# len hex`.
[[nodiscard]] inline std::string rdata_to_text(std::uint16_t type, bytes_view d) {
    std::string out;
    bool ok = true;
    switch (type) {
    case rr::a:
        if (d.size() != 4) break;
        for (int i = 0; i < 4; ++i) {
            if (i) out += '.';
            out += std::to_string(d[static_cast<std::size_t>(i)]);
        }
        return out;
    case rr::aaaa: {
        if (d.size() != 16) break;
        char buf[INET6_ADDRSTRLEN] = {};
        if (!::inet_ntop(AF_INET6, d.data(), buf, sizeof buf)) break;
        return buf;
    }
    case rr::ns:
    case rr::cname:
    case rr::ptr: {
        std::size_t off = 0;
        detail::append_name_at(out, d, off, ok);
        if (ok && off == d.size()) return out;
        break;
    }
    case rr::mx: {
        if (d.size() < 3) break;
        out = std::to_string(detail::rd16(d.data())) + ' ';
        std::size_t off = 2;
        detail::append_name_at(out, d, off, ok);
        if (ok && off == d.size()) return out;
        break;
    }
    case rr::soa: {
        std::size_t off = 0;
        detail::append_name_at(out, d, off, ok);
        out += ' ';
        detail::append_name_at(out, d, off, ok);
        if (!ok || d.size() - off != 20) break;
        for (int i = 0; i < 5; ++i) {
            out += ' ';
            out += std::to_string(detail::rd32(d.data() + off + 4 * static_cast<std::size_t>(i)));
        }
        return out;
    }
    case rr::txt: {
        if (d.empty()) break;
        std::size_t p = 0;
        while (p < d.size() && p + 1 + d[p] <= d.size()) {
            if (p) out += ' ';
            detail::append_quoted(out, std::string_view(reinterpret_cast<const char*>(d.data()) + p + 1, d[p]));
            p += 1u + d[p];
        }
        if (p == d.size()) return out;
        break;
    }
    case rr::caa: {
        auto c = parse_caa_rdata(d);
        if (!c || c->tag.empty()) break;
        bool alnum = true;
        for (char ch : c->tag) alnum &= detail::is_alnum(ch);
        if (!alnum) break;
        out = std::to_string(c->flags) + ' ' + std::string(c->tag) + ' ';
        detail::append_quoted(out, c->value);
        return out;
    }
    case rr::ds: {
        auto v = parse_ds_rdata(d);
        if (!v) break;
        out = std::to_string(v->key_tag) + ' ' + std::to_string(v->algorithm) + ' ' +
              std::to_string(v->digest_type) + ' ';
        detail::append_hex(out, v->digest);
        return out;
    }
    case rr::dnskey: {
        auto v = parse_dnskey_rdata(d);
        if (!v) break;
        out = std::to_string(v->flags) + ' ' + std::to_string(v->protocol) + ' ' + std::to_string(v->algorithm) + ' ';
        detail::append_base64(out, v->key);
        return out;
    }
    default: break;
    }
    out.clear();
    detail::append_generic(out, d);
    return out;
}

/// One record in presentation form: `owner TTL CLASS TYPE RDATA`.
[[nodiscard]] inline std::string to_text(const record& r) {
    std::string s = r.owner.to_string();
    s += ' ';
    s += std::to_string(r.ttl);
    s += ' ';
    s += class_to_text(r.cls);
    s += ' ';
    s += type_to_text(r.type);
    s += ' ';
    s += rdata_to_text(r.type, bytes_view(r.rdata.data(), r.rdata.size()));
    return s;
}

// ---- the reader --------------------------------------------------------------------------

namespace detail {
struct zone_token {
    std::string text; ///< raw: escapes kept (quoted strings without their quotes)
    bool quoted = false;
    std::uint32_t line = 0, col = 0;
};
struct zone_line {
    std::vector<zone_token> tokens;
    bool blank_owner = false;
    std::uint32_t line = 0;
};

/// Splits zone text into logical lines (parentheses join physical lines; `;` comments).
class zone_lexer {
public:
    explicit zone_lexer(std::string_view t) : t_(t) {}
    /// The next logical line with at least one token; false at the end.
    result<bool> next(zone_line& out) {
        out = zone_line{};
        int depth = 0;
        bool at_line_start = true;
        std::uint32_t paren_line = 0, paren_col = 0;
        while (pos_ < t_.size()) {
            const char c = t_[pos_];
            if (c == '\n') {
                advance();
                if (depth == 0) {
                    if (!out.tokens.empty()) return true;
                    at_line_start = true;
                    out.blank_owner = false;
                }
                continue;
            }
            if (c == ' ' || c == '\t' || c == '\r') {
                if (at_line_start && out.tokens.empty() && depth == 0) out.blank_owner = true;
                advance();
                continue;
            }
            at_line_start = false;
            if (c == ';') {
                while (pos_ < t_.size() && t_[pos_] != '\n') advance();
                continue;
            }
            if (c == '(') {
                if (depth) return error(errc::parse_error, "zone: nested parenthesis").at(line_, col_);
                depth = 1;
                paren_line = line_;
                paren_col = col_;
                advance();
                continue;
            }
            if (c == ')') {
                if (!depth) return error(errc::parse_error, "zone: ')' without '('").at(line_, col_);
                depth = 0;
                advance();
                continue;
            }
            zone_token tok;
            tok.line = line_;
            tok.col = col_;
            if (out.tokens.empty()) out.line = line_;
            if (c == '"') {
                tok.quoted = true;
                advance();
                bool closed = false;
                while (pos_ < t_.size()) {
                    const char d = t_[pos_];
                    if (d == '\\' && pos_ + 1 < t_.size()) {
                        tok.text += d;
                        advance();
                        tok.text += t_[pos_];
                        advance();
                        continue;
                    }
                    if (d == '"') {
                        closed = true;
                        advance();
                        break;
                    }
                    if (d == '\n') break;
                    tok.text += d;
                    advance();
                }
                if (!closed) return error(errc::parse_error, "zone: unterminated quoted string").at(tok.line, tok.col);
            } else {
                while (pos_ < t_.size()) {
                    const char d = t_[pos_];
                    if (d == ' ' || d == '\t' || d == '\r' || d == '\n' || d == ';' || d == '(' || d == ')' || d == '"') break;
                    if (d == '\\' && pos_ + 1 < t_.size() && t_[pos_ + 1] != '\n') {
                        tok.text += d;
                        advance();
                    }
                    tok.text += t_[pos_];
                    advance();
                }
            }
            out.tokens.push_back(std::move(tok));
        }
        if (depth) return error(errc::parse_error, "zone: '(' never closed").at(paren_line, paren_col);
        return !out.tokens.empty();
    }

private:
    void advance() {
        if (t_[pos_] == '\n') {
            ++line_;
            col_ = 1;
        } else {
            ++col_;
        }
        ++pos_;
    }
    std::string_view t_;
    std::size_t pos_ = 0;
    std::uint32_t line_ = 1, col_ = 1;
};

inline error tok_error(const zone_token& t, const char* op) {
    return error(errc::parse_error, op).value(t.text).at(t.line, t.col);
}

/// Decodes `\X` and `\DDD` in a character string.
inline result<std::string> decode_charstring(const zone_token& t) {
    std::string out;
    const std::string& s = t.text;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        if (i + 1 >= s.size()) return tok_error(t, "zone: string ends in a backslash");
        if (s[i + 1] >= '0' && s[i + 1] <= '9') {
            if (i + 3 >= s.size() || !(s[i + 2] >= '0' && s[i + 2] <= '9') || !(s[i + 3] >= '0' && s[i + 3] <= '9'))
                return tok_error(t, "zone: bad \\DDD escape");
            const int v = (s[i + 1] - '0') * 100 + (s[i + 2] - '0') * 10 + (s[i + 3] - '0');
            if (v > 255) return tok_error(t, "zone: \\DDD escape over 255");
            out += static_cast<char>(v);
            i += 3;
        } else {
            out += s[++i];
        }
    }
    return out;
}

/// TTL: seconds, or BIND units (1w2d3h4m5s).
inline std::optional<std::uint32_t> parse_ttl(std::string_view s) {
    if (s.empty()) return std::nullopt;
    std::uint64_t total = 0, cur = 0;
    bool digits = false, unit_seen = false;
    for (char c : s) {
        if (c >= '0' && c <= '9') {
            cur = cur * 10 + static_cast<unsigned>(c - '0');
            if (cur > 0xFFFFFFFFu) return std::nullopt;
            digits = true;
            continue;
        }
        if (!digits) return std::nullopt;
        std::uint64_t m = 0;
        switch (c | 0x20) {
        case 's': m = 1; break;
        case 'm': m = 60; break;
        case 'h': m = 3600; break;
        case 'd': m = 86400; break;
        case 'w': m = 604800; break;
        default: return std::nullopt;
        }
        total += cur * m;
        cur = 0;
        digits = false;
        unit_seen = true;
    }
    if (digits) {
        if (unit_seen) return std::nullopt;
        total += cur;
    }
    if (total > 0xFFFFFFFFu) return std::nullopt;
    return static_cast<std::uint32_t>(total);
}

template <class Int>
inline result<Int> tok_int(const zone_token& t, const char* op) {
    std::uint64_t v = 0;
    if (t.text.empty() || t.quoted) return tok_error(t, op);
    for (char c : t.text) {
        if (c < '0' || c > '9') return tok_error(t, op);
        v = v * 10 + static_cast<unsigned>(c - '0');
        if (v > static_cast<std::uint64_t>(static_cast<Int>(~Int{0}))) return tok_error(t, op);
    }
    return static_cast<Int>(v);
}
inline void put16(std::vector<std::uint8_t>& o, std::uint16_t v) {
    o.push_back(static_cast<std::uint8_t>(v >> 8));
    o.push_back(static_cast<std::uint8_t>(v & 0xFF));
}
inline void put32(std::vector<std::uint8_t>& o, std::uint32_t v) {
    put16(o, static_cast<std::uint16_t>(v >> 16));
    put16(o, static_cast<std::uint16_t>(v & 0xFFFF));
}
} // namespace detail

/// Options for `parse_zone`.
struct zone_options {
    name origin{};            ///< initial $ORIGIN (root when not set)
    std::uint32_t default_ttl = 3600; ///< used until a $TTL line
};

/// Reads zone-file text into records. Understands $ORIGIN, $TTL, relative names, `@`, a blank
/// owner (the previous one), class IN or CLASSnnn, TYPEnnn, parentheses and comments, the
/// types A AAAA NS CNAME PTR SOA MX TXT CAA DS DNSKEY, and `\# len hex` for any type.
/// Errors name the line and column.
[[nodiscard]] inline result<std::vector<record>> parse_zone(std::string_view text, const zone_options& opt = {}) {
    using detail::tok_error;
    std::vector<record> out;
    detail::zone_lexer lex(text);
    detail::zone_line ln;
    name origin = opt.origin;
    std::uint32_t default_ttl = opt.default_ttl;
    std::optional<name> last_owner;
    for (;;) {
        BULKHEAD_TRY_ASSIGN(bool more, lex.next(ln));
        if (!more) break;
        auto& tk = ln.tokens;
        std::size_t i = 0;
        if (!ln.blank_owner && !tk[0].quoted && !tk[0].text.empty() && tk[0].text[0] == '$') {
            if (tk[0].text == "$ORIGIN") {
                if (tk.size() != 2) return tok_error(tk[0], "zone: $ORIGIN takes one name");
                auto n = name::from_text(tk[1].text, origin);
                if (!n) return std::move(n.error()).at(tk[1].line, tk[1].col);
                origin = std::move(*n);
                continue;
            }
            if (tk[0].text == "$TTL") {
                if (tk.size() != 2) return tok_error(tk[0], "zone: $TTL takes one value");
                auto t = detail::parse_ttl(tk[1].text);
                if (!t) return tok_error(tk[1], "zone: bad $TTL value");
                default_ttl = *t;
                continue;
            }
            return tok_error(tk[0], "zone: unsupported directive");
        }
        record r;
        if (ln.blank_owner) {
            if (!last_owner) return error(errc::parse_error, "zone: record without an owner and no previous owner").at(tk[0].line, 1);
            r.owner = *last_owner;
        } else {
            auto n = name::from_text(tk[0].text, origin);
            if (!n) return std::move(n.error()).at(tk[0].line, tk[0].col);
            r.owner = std::move(*n);
            i = 1;
        }
        last_owner = r.owner;
        bool have_ttl = false, have_class = false;
        r.ttl = default_ttl;
        std::uint16_t type = 0;
        bool have_type = false;
        for (; i < tk.size(); ++i) {
            const auto& t = tk[i];
            if (t.quoted) return tok_error(t, "zone: expected TTL, class or type");
            if (!have_ttl && !t.text.empty() && t.text[0] >= '0' && t.text[0] <= '9') {
                auto v = detail::parse_ttl(t.text);
                if (!v) return tok_error(t, "zone: bad TTL");
                r.ttl = *v;
                have_ttl = true;
                continue;
            }
            if (!have_class && bulkhead::detail::iequals(t.text, "IN")) {
                have_class = true;
                continue;
            }
            if (!have_class && t.text.size() > 5 && bulkhead::detail::iequals(t.text.substr(0, 5), "CLASS")) {
                auto v = detail::tok_int<std::uint16_t>(detail::zone_token{t.text.substr(5), false, t.line, t.col}, "zone: bad CLASSnnn");
                if (!v) return tok_error(t, "zone: bad CLASSnnn");
                r.cls = *v;
                have_class = true;
                continue;
            }
            type = type_from_name(t.text);
            if (!type && t.text.size() > 4 && bulkhead::detail::iequals(t.text.substr(0, 4), "TYPE")) {
                auto v = detail::tok_int<std::uint16_t>(detail::zone_token{t.text.substr(4), false, t.line, t.col}, "zone: bad TYPEnnn");
                if (!v) return tok_error(t, "zone: bad TYPEnnn");
                type = *v;
                have_type = true;
            }
            if (!type && !have_type) return tok_error(t, "zone: unknown type");
            have_type = true;
            ++i;
            break;
        }
        if (!have_type) return error(errc::parse_error, "zone: record has no type").at(ln.line, tk.back().col);
        r.type = type;
        const std::size_t first = i;
        const std::size_t nargs = tk.size() - first;
        auto need = [&](std::size_t n) -> result<void> {
            if (nargs < n) return error(errc::parse_error, "zone: too few RDATA fields").value(type_to_text(type)).at(tk.back().line, tk.back().col);
            if (nargs > n) return tok_error(tk[first + n], "zone: unexpected extra RDATA field");
            return {};
        };
        auto& o = r.rdata;
        auto put_name = [&](const detail::zone_token& t) -> result<void> {
            auto n = name::from_text(t.text, origin);
            if (!n) return std::move(n.error()).at(t.line, t.col);
            o.insert(o.end(), n->wire().begin(), n->wire().end());
            return {};
        };
        if (nargs >= 1 && !tk[first].quoted && tk[first].text == "\\#") {
            if (nargs < 2) return tok_error(tk[first], "zone: \\# needs a length");
            BULKHEAD_TRY_ASSIGN(std::uint16_t len, detail::tok_int<std::uint16_t>(tk[first + 1], "zone: bad \\# length"));
            std::string hex;
            for (std::size_t k = first + 2; k < tk.size(); ++k) hex += tk[k].text;
            if (hex.size() % 2) return tok_error(tk.back(), "zone: odd number of hex digits");
            for (std::size_t k = 0; k < hex.size(); k += 2) {
                const int a = detail::hex_value(hex[k]), b = detail::hex_value(hex[k + 1]);
                if (a < 0 || b < 0) return tok_error(tk.back(), "zone: bad hex digit in \\# RDATA");
                o.push_back(static_cast<std::uint8_t>(a * 16 + b));
            }
            if (o.size() != len)
                return tok_error(tk[first + 1], "zone: \\# length does not match the hex data");
        } else {
            switch (type) {
            case rr::a: {
                BULKHEAD_TRY(need(1));
                std::uint8_t b[4];
                if (tk[first].quoted || ::inet_pton(AF_INET, tk[first].text.c_str(), b) != 1)
                    return tok_error(tk[first], "zone: bad IPv4 address");
                o.assign(b, b + 4);
                break;
            }
            case rr::aaaa: {
                BULKHEAD_TRY(need(1));
                std::uint8_t b[16];
                if (tk[first].quoted || ::inet_pton(AF_INET6, tk[first].text.c_str(), b) != 1)
                    return tok_error(tk[first], "zone: bad IPv6 address");
                o.assign(b, b + 16);
                break;
            }
            case rr::ns:
            case rr::cname:
            case rr::ptr:
                BULKHEAD_TRY(need(1));
                BULKHEAD_TRY(put_name(tk[first]));
                break;
            case rr::mx: {
                BULKHEAD_TRY(need(2));
                BULKHEAD_TRY_ASSIGN(std::uint16_t pref, detail::tok_int<std::uint16_t>(tk[first], "zone: bad MX preference"));
                detail::put16(o, pref);
                BULKHEAD_TRY(put_name(tk[first + 1]));
                break;
            }
            case rr::soa: {
                BULKHEAD_TRY(need(7));
                BULKHEAD_TRY(put_name(tk[first]));
                BULKHEAD_TRY(put_name(tk[first + 1]));
                for (std::size_t k = 2; k < 7; ++k) {
                    auto v = detail::parse_ttl(tk[first + k].text);
                    if (!v || tk[first + k].quoted) return tok_error(tk[first + k], "zone: bad SOA number");
                    detail::put32(o, *v);
                }
                break;
            }
            case rr::txt: {
                if (nargs == 0) return error(errc::parse_error, "zone: TXT needs at least one string").at(tk.back().line, tk.back().col);
                for (std::size_t k = first; k < tk.size(); ++k) {
                    BULKHEAD_TRY_ASSIGN(std::string s, detail::decode_charstring(tk[k]));
                    if (s.size() > 255) return tok_error(tk[k], "zone: character string over 255 bytes");
                    o.push_back(static_cast<std::uint8_t>(s.size()));
                    o.insert(o.end(), s.begin(), s.end());
                }
                break;
            }
            case rr::caa: {
                BULKHEAD_TRY(need(3));
                BULKHEAD_TRY_ASSIGN(std::uint8_t flags, detail::tok_int<std::uint8_t>(tk[first], "zone: bad CAA flags"));
                const auto& tag = tk[first + 1];
                if (tag.quoted || tag.text.empty() || tag.text.size() > 255) return tok_error(tag, "zone: bad CAA tag");
                for (char c : tag.text)
                    if (!detail::is_alnum(c)) return tok_error(tag, "zone: CAA tag is not alphanumeric");
                BULKHEAD_TRY_ASSIGN(std::string val, detail::decode_charstring(tk[first + 2]));
                o.push_back(flags);
                o.push_back(static_cast<std::uint8_t>(tag.text.size()));
                o.insert(o.end(), tag.text.begin(), tag.text.end());
                o.insert(o.end(), val.begin(), val.end());
                break;
            }
            case rr::ds: {
                if (nargs < 4) return error(errc::parse_error, "zone: DS needs key tag, algorithm, digest type, digest").at(tk.back().line, tk.back().col);
                BULKHEAD_TRY_ASSIGN(std::uint16_t kt, detail::tok_int<std::uint16_t>(tk[first], "zone: bad DS key tag"));
                BULKHEAD_TRY_ASSIGN(std::uint8_t alg, detail::tok_int<std::uint8_t>(tk[first + 1], "zone: bad DS algorithm"));
                BULKHEAD_TRY_ASSIGN(std::uint8_t dt, detail::tok_int<std::uint8_t>(tk[first + 2], "zone: bad DS digest type"));
                detail::put16(o, kt);
                o.push_back(alg);
                o.push_back(dt);
                std::string hex;
                for (std::size_t k = first + 3; k < tk.size(); ++k) hex += tk[k].text;
                if (hex.size() % 2) return tok_error(tk.back(), "zone: odd number of hex digits");
                for (std::size_t k = 0; k < hex.size(); k += 2) {
                    const int a = detail::hex_value(hex[k]), b = detail::hex_value(hex[k + 1]);
                    if (a < 0 || b < 0) return tok_error(tk.back(), "zone: bad hex digit in DS digest");
                    o.push_back(static_cast<std::uint8_t>(a * 16 + b));
                }
                break;
            }
            case rr::dnskey: {
                if (nargs < 4) return error(errc::parse_error, "zone: DNSKEY needs flags, protocol, algorithm, key").at(tk.back().line, tk.back().col);
                BULKHEAD_TRY_ASSIGN(std::uint16_t fl, detail::tok_int<std::uint16_t>(tk[first], "zone: bad DNSKEY flags"));
                BULKHEAD_TRY_ASSIGN(std::uint8_t pr, detail::tok_int<std::uint8_t>(tk[first + 1], "zone: bad DNSKEY protocol"));
                BULKHEAD_TRY_ASSIGN(std::uint8_t alg, detail::tok_int<std::uint8_t>(tk[first + 2], "zone: bad DNSKEY algorithm"));
                detail::put16(o, fl);
                o.push_back(pr);
                o.push_back(alg);
                std::string b64;
                for (std::size_t k = first + 3; k < tk.size(); ++k) b64 += tk[k].text;
                std::uint32_t acc = 0;
                int bits = 0;
                std::size_t pad = 0;
                for (char c : b64) {
                    if (c == '=') {
                        ++pad;
                        continue;
                    }
                    const int v = detail::b64_value(c);
                    if (v < 0 || pad) return tok_error(tk.back(), "zone: bad base64 in DNSKEY");
                    acc = (acc << 6) | static_cast<std::uint32_t>(v);
                    bits += 6;
                    if (bits >= 8) {
                        bits -= 8;
                        o.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
                    }
                }
                if (o.size() == 4) return tok_error(tk.back(), "zone: empty DNSKEY key");
                break;
            }
            default:
                return tok_error(tk[first > 0 ? first - 1 : 0], "zone: this type needs the generic \\# form");
            }
        }
        if (o.size() > 0xFFFF) return error(errc::too_large, "zone: RDATA over 65535 bytes").at(ln.line, 1);
        out.push_back(std::move(r));
    }
    return out;
}

} // namespace dns
BULKHEAD_NAMESPACE_END
