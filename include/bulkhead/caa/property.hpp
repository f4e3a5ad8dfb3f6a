#pragma once
/// \file caa/property.hpp
/// CAA properties (RFC 8659 section 4): flags with the critical bit, tags, the issue /
/// issuewild value grammar with parameters, and the RFC 8657 parameters `accounturi` and
/// `validationmethods`.

#include "bulkhead/config.hpp"
#include "bulkhead/dns/wire.hpp"
#include "bulkhead/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace caa {

inline constexpr std::uint8_t flag_critical = 128;

/// What a property tag means to a CA that implements RFC 8659 and RFC 8657.
enum class tag_kind : std::uint8_t {
    issue,
    issuewild,
    iodef,
    unknown,     ///< well-formed but not understood (e.g. "contactemail", "tbs")
    invalid,     ///< not 1-15 ASCII letters and digits (RFC 8659 4.1): never understood
};

namespace detail {
[[nodiscard]] constexpr bool alnum(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
[[nodiscard]] constexpr bool alpha_digit(char c) noexcept { return alnum(c); }
[[nodiscard]] constexpr bool ieq(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
        if (x != y) return false;
    }
    return true;
}
} // namespace detail

/// Checks a tag: 1 to 15 ASCII letters and digits (RFC 8659 4.1).
[[nodiscard]] inline result<void> check_tag(std::string_view tag) {
    if (tag.empty()) return error(errc::parse_error, "caa: empty property tag");
    if (tag.size() > 15) return error(errc::too_large, "caa: property tag longer than 15 characters").value(tag);
    for (std::size_t i = 0; i < tag.size(); ++i)
        if (!detail::alnum(tag[i]))
            return error(errc::parse_error, "caa: property tag is not alphanumeric").value(tag).at_offset(i);
    return {};
}

/// The kind of a tag, matched case-insensitively.
[[nodiscard]] inline tag_kind classify_tag(std::string_view tag) noexcept {
    if (tag.empty() || tag.size() > 15) return tag_kind::invalid;
    for (char c : tag)
        if (!detail::alnum(c)) return tag_kind::invalid;
    if (detail::ieq(tag, "issue")) return tag_kind::issue;
    if (detail::ieq(tag, "issuewild")) return tag_kind::issuewild;
    if (detail::ieq(tag, "iodef")) return tag_kind::iodef;
    return tag_kind::unknown;
}

/// An owned CAA property.
struct property {
    std::uint8_t flags = 0;
    std::string tag;
    std::string value;
    [[nodiscard]] bool critical() const noexcept { return (flags & flag_critical) != 0; }
    [[nodiscard]] tag_kind kind() const noexcept { return classify_tag(tag); }
    /// `0 issue "letsencrypt.org"` (value quoted with `"` and `\` escaped, other bytes \DDD).
    [[nodiscard]] std::string to_text() const {
        std::string s = std::to_string(flags) + ' ';
        s += tag.empty() ? std::string("\"\"") : tag;
        s += " \"";
        for (unsigned char c : value) {
            if (c == '"' || c == '\\') {
                s += '\\';
                s += static_cast<char>(c);
            } else if (c >= 0x20 && c < 0x7f) {
                s += static_cast<char>(c);
            } else {
                s += '\\';
                s += static_cast<char>('0' + c / 100);
                s += static_cast<char>('0' + (c / 10) % 10);
                s += static_cast<char>('0' + c % 10);
            }
        }
        s += '"';
        return s;
    }
};

/// A property from CAA RDATA. Structure only: a tag that breaks the tag grammar still yields
/// a property (kind `invalid`) because RFC 8659 gives it a meaning (an unknown property,
/// which forbids issuance when flagged critical); only RDATA shorter than its own tag
/// length field is an error.
[[nodiscard]] inline result<property> parse_property(dns::bytes_view rdata) {
    BULKHEAD_TRY_ASSIGN(auto v, dns::parse_caa_rdata(rdata));
    return property{v.flags, std::string(v.tag), std::string(v.value)};
}

/// A parameter of an issue / issuewild value.
struct parameter {
    std::string tag;
    std::string value;
};

/// A parsed issue / issuewild value (RFC 8659 4.2):
/// `*WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]`.
struct issue_value {
    std::string issuer;              ///< empty: authorizes no CA (`""` or `";"`)
    std::vector<parameter> parameters;
    [[nodiscard]] const parameter* find(std::string_view tag) const noexcept {
        for (const auto& p : parameters)
            if (detail::ieq(p.tag, tag)) return &p;
        return nullptr;
    }
};

namespace detail {
inline bool wsp(char c) noexcept { return c == ' ' || c == '\t'; }
/// label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT)); returns the end or npos.
inline std::size_t scan_label(std::string_view s, std::size_t p) noexcept {
    if (p >= s.size() || !alpha_digit(s[p])) return std::string_view::npos;
    ++p;
    for (;;) {
        std::size_t q = p;
        while (q < s.size() && s[q] == '-') ++q;
        if (q < s.size() && alpha_digit(s[q])) {
            p = q + 1;
            continue;
        }
        return p;
    }
}
} // namespace detail

/// Parses an issue / issuewild value. Errors carry the offset inside the value.
[[nodiscard]] inline result<issue_value> parse_issue_value(std::string_view s) {
    issue_value v;
    std::size_t p = 0;
    while (p < s.size() && detail::wsp(s[p])) ++p;
    if (p < s.size() && s[p] != ';') {
        const std::size_t start = p;
        for (;;) {
            const std::size_t e = detail::scan_label(s, p);
            if (e == std::string_view::npos)
                return error(errc::parse_error, "caa: bad issuer domain name").value(s).at_offset(p);
            p = e;
            if (p < s.size() && s[p] == '.') {
                ++p;
                continue;
            }
            break;
        }
        v.issuer = std::string(s.substr(start, p - start));
        while (p < s.size() && detail::wsp(s[p])) ++p;
    }
    if (p == s.size()) return v;
    if (s[p] != ';') return error(errc::parse_error, "caa: expected ';' after the issuer domain name").value(s).at_offset(p);
    ++p;
    while (p < s.size() && detail::wsp(s[p])) ++p;
    while (p < s.size()) {
        const std::size_t tstart = p;
        const std::size_t te = detail::scan_label(s, p);
        if (te == std::string_view::npos) return error(errc::parse_error, "caa: bad parameter tag").value(s).at_offset(p);
        parameter par;
        par.tag = std::string(s.substr(tstart, te - tstart));
        p = te;
        while (p < s.size() && detail::wsp(s[p])) ++p;
        if (p >= s.size() || s[p] != '=') return error(errc::parse_error, "caa: expected '=' after parameter tag").value(s).at_offset(p);
        ++p;
        while (p < s.size() && detail::wsp(s[p])) ++p;
        const std::size_t vstart = p;
        // value = *(%x21-3A / %x3C-7E): printable, no space, no ';'
        while (p < s.size() && static_cast<unsigned char>(s[p]) >= 0x21 && static_cast<unsigned char>(s[p]) <= 0x7E && s[p] != ';') ++p;
        par.value = std::string(s.substr(vstart, p - vstart));
        v.parameters.push_back(std::move(par));
        while (p < s.size() && detail::wsp(s[p])) ++p;
        if (p == s.size()) break;
        if (s[p] != ';') return error(errc::parse_error, "caa: bad character in parameter value").value(s).at_offset(p);
        ++p;
        while (p < s.size() && detail::wsp(s[p])) ++p;
        if (p == s.size())
            return error(errc::parse_error, "caa: ';' must be followed by a parameter").value(s).at_offset(p);
    }
    return v;
}

/// RFC 8657 section 4: `validationmethods` = label *("," label), label = 1*(ALPHA / DIGIT / "-").
[[nodiscard]] inline result<std::vector<std::string>> parse_validation_methods(std::string_view s) {
    std::vector<std::string> out;
    std::size_t p = 0;
    for (;;) {
        const std::size_t start = p;
        while (p < s.size() && (detail::alnum(s[p]) || s[p] == '-')) ++p;
        if (p == start) return error(errc::parse_error, "caa: empty validation method").value(s).at_offset(p);
        out.emplace_back(s.substr(start, p - start));
        if (p == s.size()) return out;
        if (s[p] != ',') return error(errc::parse_error, "caa: bad character in validationmethods").value(s).at_offset(p);
        ++p;
    }
}

} // namespace caa
BULKHEAD_NAMESPACE_END
