#pragma once
/// \file dns/rr_table.hpp
/// Resource record types and classes the library names (IANA "DNS Parameters" registry).

#include "bulkhead/config.hpp"

#include <cstdint>
#include <string_view>

BULKHEAD_NAMESPACE_BEGIN
namespace dns {

/// RR type codes used by name in the library (others stay numeric: RFC 3597 `TYPEnnn`).
namespace rr {
inline constexpr std::uint16_t a = 1;
inline constexpr std::uint16_t ns = 2;
inline constexpr std::uint16_t cname = 5;
inline constexpr std::uint16_t soa = 6;
inline constexpr std::uint16_t ptr = 12;
inline constexpr std::uint16_t mx = 15;
inline constexpr std::uint16_t txt = 16;
inline constexpr std::uint16_t aaaa = 28;
inline constexpr std::uint16_t opt = 41;
inline constexpr std::uint16_t ds = 43;
inline constexpr std::uint16_t rrsig = 46;
inline constexpr std::uint16_t nsec = 47;
inline constexpr std::uint16_t dnskey = 48;
inline constexpr std::uint16_t nsec3 = 50;
inline constexpr std::uint16_t any = 255;
inline constexpr std::uint16_t caa = 257;
} // namespace rr

inline constexpr std::uint16_t class_in = 1;

namespace detail {
struct rr_name {
    std::uint16_t code;
    std::string_view name;
    /// RFC 3597 section 4: only the RFC 1035 types may carry compressed names in RDATA.
    bool compressible_rdata;
};

inline constexpr rr_name rr_table[] = {
    {1, "A", false},         {2, "NS", true},       {5, "CNAME", true},
    {6, "SOA", true},        {12, "PTR", true},     {15, "MX", true},
    {16, "TXT", false},      {28, "AAAA", false},   {41, "OPT", false},
    {43, "DS", false},       {46, "RRSIG", false},  {47, "NSEC", false},
    {48, "DNSKEY", false},   {50, "NSEC3", false},  {255, "ANY", false},
    {257, "CAA", false},
};
} // namespace detail

/// The mnemonic of `type`, or an empty view when the table does not name it.
[[nodiscard]] constexpr std::string_view type_name(std::uint16_t type) noexcept {
    for (const auto& e : detail::rr_table)
        if (e.code == type) return e.name;
    return {};
}

/// The type code for a mnemonic (case-insensitive), 0 when unknown.
[[nodiscard]] constexpr std::uint16_t type_from_name(std::string_view s) noexcept {
    for (const auto& e : detail::rr_table) {
        if (e.name.size() != s.size()) continue;
        bool eq = true;
        for (std::size_t i = 0; i < s.size() && eq; ++i) {
            char c = s[i];
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
            eq = c == e.name[i];
        }
        if (eq) return e.code;
    }
    return 0;
}

/// Whether names inside RDATA of `type` may be compressed (RFC 3597 section 4).
[[nodiscard]] constexpr bool rdata_names_compressible(std::uint16_t type) noexcept {
    for (const auto& e : detail::rr_table)
        if (e.code == type) return e.compressible_rdata;
    return false;
}

/// Response codes (RFC 1035, 6891 extended).
namespace rcode {
inline constexpr std::uint16_t noerror = 0;
inline constexpr std::uint16_t formerr = 1;
inline constexpr std::uint16_t servfail = 2;
inline constexpr std::uint16_t nxdomain = 3;
inline constexpr std::uint16_t notimp = 4;
inline constexpr std::uint16_t refused = 5;
inline constexpr std::uint16_t badvers = 16;
} // namespace rcode

/// The mnemonic of an rcode ("SERVFAIL"), or "RCODEn" style empty view when unknown.
[[nodiscard]] constexpr std::string_view rcode_name(std::uint16_t rc) noexcept {
    switch (rc) {
    case 0: return "NOERROR";
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    case 6: return "YXDOMAIN";
    case 7: return "YXRRSET";
    case 8: return "NXRRSET";
    case 9: return "NOTAUTH";
    case 10: return "NOTZONE";
    case 16: return "BADVERS";
    default: return {};
    }
}

/// Extended DNS Error info-code names (RFC 8914 section 4).
[[nodiscard]] constexpr std::string_view ede_name(std::uint16_t code) noexcept {
    switch (code) {
    case 0: return "Other Error";
    case 1: return "Unsupported DNSKEY Algorithm";
    case 2: return "Unsupported DS Digest Type";
    case 3: return "Stale Answer";
    case 4: return "Forged Answer";
    case 5: return "DNSSEC Indeterminate";
    case 6: return "DNSSEC Bogus";
    case 7: return "Signature Expired";
    case 8: return "Signature Not Yet Valid";
    case 9: return "DNSKEY Missing";
    case 10: return "RRSIGs Missing";
    case 11: return "No Zone Key Bit Set";
    case 12: return "NSEC Missing";
    case 13: return "Cached Error";
    case 14: return "Not Ready";
    case 15: return "Blocked";
    case 16: return "Censored";
    case 17: return "Filtered";
    case 18: return "Prohibited";
    case 19: return "Stale NXDOMAIN Answer";
    case 20: return "Not Authoritative";
    case 21: return "Not Supported";
    case 22: return "No Reachable Authority";
    case 23: return "Network Error";
    case 24: return "Invalid Data";
    default: return {};
    }
}

} // namespace dns
BULKHEAD_NAMESPACE_END
