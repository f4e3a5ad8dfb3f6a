#pragma once
/// \file detail/text.hpp
/// Small text helpers shared by the parsers of procfs/sysfs/cgroupfs files and config formats:
/// trimming, splitting, strict integer parsing (no sign surprises, no trailing junk).

#include "bulkhead/config.hpp"

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace detail {

[[nodiscard]] constexpr bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

[[nodiscard]] constexpr std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

/// Splits at every `sep`; empty fields are kept.
[[nodiscard]] inline std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    for (;;) {
        auto p = s.find(sep);
        out.push_back(s.substr(0, p));
        if (p == std::string_view::npos) return out;
        s.remove_prefix(p + 1);
    }
}

/// Splits at runs of whitespace; no empty fields.
[[nodiscard]] inline std::vector<std::string_view> split_ws(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_space(s[i])) ++i;
        std::size_t j = i;
        while (j < s.size() && !is_space(s[j])) ++j;
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

/// Calls `fn(line)` for each line (without the '\n'); a final line without '\n' counts.
template <class F>
void for_each_line(std::string_view s, F&& fn) {
    while (!s.empty()) {
        auto p = s.find('\n');
        fn(s.substr(0, p));
        if (p == std::string_view::npos) break;
        s.remove_prefix(p + 1);
    }
}

/// Parses the whole of `s` as an integer in `base`; nullopt on any junk, sign misuse or
/// overflow. A leading '+' is rejected, as is '-' for unsigned types.
template <class Int>
[[nodiscard]] constexpr std::optional<Int> parse_int(std::string_view s, int base = 10) noexcept {
    static_assert(std::is_integral_v<Int>);
    if (s.empty()) return std::nullopt;
    if constexpr (std::is_unsigned_v<Int>) {
        if (s.front() == '-') return std::nullopt;
    }
    Int v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

[[nodiscard]] constexpr bool starts_with(std::string_view s, std::string_view p) noexcept {
    return s.substr(0, p.size()) == p;
}

[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

} // namespace detail
BULKHEAD_NAMESPACE_END
