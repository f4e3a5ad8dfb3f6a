#pragma once
/// \file detail/json.hpp
/// A small strict JSON (RFC 8259) reader and a writer, for seccomp profiles, example configs
/// and `--json` output. The reader rejects what the RFC rejects (trailing commas, comments,
/// leading zeros, control characters and invalid UTF-8 in strings, lone surrogates), rejects
/// duplicate keys, bounds nesting depth and input size, and reports line:column. Every value
/// remembers where it started, so schema errors found later can point at it too.

#include "bulkhead/config.hpp"
#include "bulkhead/error.hpp"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace detail::json {

enum class kind : std::uint8_t { null, boolean, number, string, array, object };

[[nodiscard]] constexpr const char* kind_name(kind k) noexcept {
    switch (k) {
    case kind::null: return "null";
    case kind::boolean: return "boolean";
    case kind::number: return "number";
    case kind::string: return "string";
    case kind::array: return "array";
    case kind::object: return "object";
    }
    return "?";
}

/// 1-based position of a value's first character.
struct location {
    std::uint32_t line = 0;
    std::uint32_t column = 0;
};

class value;
using member = std::pair<std::string, value>;

/// One JSON value. Objects keep their members in document order.
class value {
public:
    value() noexcept = default;

    [[nodiscard]] kind type() const noexcept { return kind_; }
    [[nodiscard]] bool is_null() const noexcept { return kind_ == kind::null; }
    [[nodiscard]] bool is_bool() const noexcept { return kind_ == kind::boolean; }
    [[nodiscard]] bool is_number() const noexcept { return kind_ == kind::number; }
    [[nodiscard]] bool is_string() const noexcept { return kind_ == kind::string; }
    [[nodiscard]] bool is_array() const noexcept { return kind_ == kind::array; }
    [[nodiscard]] bool is_object() const noexcept { return kind_ == kind::object; }
    [[nodiscard]] location where() const noexcept { return loc_; }

    [[nodiscard]] bool as_bool() const noexcept { return b_; }
    /// The string's decoded text, or a number's source text.
    [[nodiscard]] const std::string& text() const noexcept { return str_; }
    [[nodiscard]] const std::string& as_string() const noexcept { return str_; }
    [[nodiscard]] double as_double() const noexcept { return num_; }
    /// The number as an exact integer: nullopt for fractions, exponents and overflow.
    [[nodiscard]] std::optional<std::int64_t> as_int64() const noexcept {
        return exact<std::int64_t>();
    }
    [[nodiscard]] std::optional<std::uint64_t> as_uint64() const noexcept {
        return exact<std::uint64_t>();
    }
    [[nodiscard]] const std::vector<value>& items() const noexcept { return arr_; }
    [[nodiscard]] const std::vector<member>& members() const noexcept { return obj_; }
    /// The member named `key`, or nullptr (also when this is not an object).
    [[nodiscard]] const value* find(std::string_view key) const noexcept {
        for (const auto& m : obj_)
            if (m.first == key) return &m.second;
        return nullptr;
    }
    [[nodiscard]] std::size_t size() const noexcept {
        return kind_ == kind::array ? arr_.size() : kind_ == kind::object ? obj_.size() : 0;
    }

private:
    friend class parser;
    template <class Int>
    [[nodiscard]] std::optional<Int> exact() const noexcept {
        if (kind_ != kind::number) return std::nullopt;
        Int v{};
        auto [p, ec] = std::from_chars(str_.data(), str_.data() + str_.size(), v);
        if (ec != std::errc{} || p != str_.data() + str_.size()) return std::nullopt;
        return v;
    }

    kind kind_ = kind::null;
    bool b_ = false;
    double num_ = 0;
    location loc_{};
    std::string str_;
    std::vector<value> arr_;
    std::vector<member> obj_;
};

struct parse_options {
    std::size_t max_depth = 128;        ///< arrays/objects nested deeper are an error
    std::size_t max_size = 64u << 20;   ///< input bytes
    bool allow_duplicate_keys = false;  ///< RFC 8259 leaves them undefined; we reject them
};

/// The recursive-descent reader. Recursion is bounded by `max_depth`.
class parser {
public:
    parser(std::string_view text, parse_options opt) noexcept : s_(text), opt_(opt) {}

    result<value> run() {
        if (s_.size() > opt_.max_size)
            return std::move(error(errc::too_large, "json").note("document larger than limit"));
        value v;
        ws();
        if (!parse_value(v, 0)) return std::move(err_);
        ws();
        if (i_ != s_.size()) {
            fail("unexpected content after the document");
            return std::move(err_);
        }
        return v;
    }

private:
    bool fail(const char* why, errc code = errc::parse_error) {
        return fail_at(here(), why, code);
    }
    bool fail_at(location loc, const char* why, errc code = errc::parse_error) {
        if (!failed_) {
            failed_ = true;
            err_ = error(code, "json");
            err_.at(loc.line, loc.column).note(why);
        }
        return false;
    }
    std::uint32_t col() const noexcept { return static_cast<std::uint32_t>(i_ - line_start_ + 1); }
    location here() const noexcept { return {line_, col()}; }

    void ws() noexcept {
        while (i_ < s_.size()) {
            char c = s_[i_];
            if (c == '\n') {
                ++i_;
                ++line_;
                line_start_ = i_;
            } else if (c == ' ' || c == '\t' || c == '\r') {
                ++i_;
            } else {
                break;
            }
        }
    }

    bool literal(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) return fail("invalid literal");
        i_ += word.size();
        return true;
    }

    bool parse_value(value& v, std::size_t depth) {
        if (i_ >= s_.size()) return fail("unexpected end of input, expected a value");
        v.loc_ = here();
        switch (s_[i_]) {
        case '{': return parse_object(v, depth + 1);
        case '[': return parse_array(v, depth + 1);
        case '"': v.kind_ = kind::string; return parse_string(v.str_);
        case 't': v.kind_ = kind::boolean; v.b_ = true; return literal("true");
        case 'f': v.kind_ = kind::boolean; v.b_ = false; return literal("false");
        case 'n': v.kind_ = kind::null; return literal("null");
        default:
            if (s_[i_] == '-' || (s_[i_] >= '0' && s_[i_] <= '9')) return parse_number(v);
            return fail("unexpected character, expected a value");
        }
    }

    bool parse_object(value& v, std::size_t depth) {
        if (depth > opt_.max_depth) return fail("nesting too deep", errc::too_large);
        v.kind_ = kind::object;
        ++i_;
        ws();
        if (i_ < s_.size() && s_[i_] == '}') {
            ++i_;
            return true;
        }
        for (;;) {
            ws();
            if (i_ >= s_.size() || s_[i_] != '"') return fail("expected a string key");
            location key_loc = here();
            std::string key;
            if (!parse_string(key)) return false;
            if (!opt_.allow_duplicate_keys) {
                for (const auto& m : v.obj_)
                    if (m.first == key) return fail_at(key_loc, "duplicate key");
            }
            ws();
            if (i_ >= s_.size() || s_[i_] != ':') return fail("expected ':' after key");
            ++i_;
            ws();
            v.obj_.emplace_back(std::move(key), value{});
            if (!parse_value(v.obj_.back().second, depth)) return false;
            ws();
            if (i_ >= s_.size()) return fail("unexpected end of input in object");
            if (s_[i_] == ',') {
                ++i_;
                continue;
            }
            if (s_[i_] == '}') {
                ++i_;
                return true;
            }
            return fail("expected ',' or '}' in object");
        }
    }

    bool parse_array(value& v, std::size_t depth) {
        if (depth > opt_.max_depth) return fail("nesting too deep", errc::too_large);
        v.kind_ = kind::array;
        ++i_;
        ws();
        if (i_ < s_.size() && s_[i_] == ']') {
            ++i_;
            return true;
        }
        for (;;) {
            ws();
            v.arr_.emplace_back();
            if (!parse_value(v.arr_.back(), depth)) return false;
            ws();
            if (i_ >= s_.size()) return fail("unexpected end of input in array");
            if (s_[i_] == ',') {
                ++i_;
                continue;
            }
            if (s_[i_] == ']') {
                ++i_;
                return true;
            }
            return fail("expected ',' or ']' in array");
        }
    }

    bool parse_number(value& v) {
        v.kind_ = kind::number;
        std::size_t start = i_;
        if (s_[i_] == '-') ++i_;
        if (i_ >= s_.size()) return fail("truncated number");
        if (s_[i_] == '0') {
            ++i_;
        } else if (s_[i_] >= '1' && s_[i_] <= '9') {
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
        } else {
            return fail("invalid number");
        }
        if (i_ < s_.size() && s_[i_] == '.') {
            ++i_;
            if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9')
                return fail("expected digits after '.'");
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
        }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
            if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9')
                return fail("expected digits in exponent");
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
        }
        if (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') return fail("leading zero");
        v.str_.assign(s_.substr(start, i_ - start));
        auto [p, ec] = std::from_chars(v.str_.data(), v.str_.data() + v.str_.size(), v.num_);
        (void)p;
        if (ec == std::errc::result_out_of_range) {
            double mag = overflows(v.str_) ? HUGE_VAL : 0.0;
            v.num_ = v.str_[0] == '-' ? -mag : mag;
        }
        return true;
    }

    /// For a grammatical number that does not fit a double: true when it is too large (so it
    /// becomes +-inf), false when too small (so it becomes +-0).
    static bool overflows(std::string_view t) noexcept {
        std::size_t i = t[0] == '-' ? 1 : 0;
        long digits_before_point = 0, first_nonzero = -1, ndigits = 0;
        bool after_point = false;
        for (; i < t.size() && t[i] != 'e' && t[i] != 'E'; ++i) {
            if (t[i] == '.') {
                after_point = true;
                continue;
            }
            if (!after_point) ++digits_before_point;
            if (first_nonzero < 0 && t[i] != '0') first_nonzero = ndigits;
            ++ndigits;
        }
        if (first_nonzero < 0) return false; // all zeros
        long exp = 0;
        if (i < t.size()) {
            ++i;
            bool neg = false;
            if (t[i] == '+' || t[i] == '-') neg = t[i++] == '-';
            for (; i < t.size(); ++i)
                exp = exp > 100000000 ? exp : exp * 10 + (t[i] - '0'); // saturates
            if (neg) exp = -exp;
        }
        // The value is about 10^(digits_before_point - first_nonzero - 1 + exp).
        return digits_before_point - first_nonzero - 1 + exp > 0;
    }

    static bool hex4(std::string_view s, std::size_t at, unsigned& out) noexcept {
        if (at + 4 > s.size()) return false;
        out = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            char c = s[at + k];
            unsigned d;
            if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
            else return false;
            out = out * 16 + d;
        }
        return true;
    }

    static void put_utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    /// Length of the valid UTF-8 sequence at `at`, or 0 when invalid (overlong, surrogate,
    /// beyond U+10FFFF, truncated).
    static std::size_t utf8_len(std::string_view s, std::size_t at) noexcept {
        auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[at + k]); };
        unsigned char c = b(0);
        std::size_t n;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
        else return 0;
        if (at + n > s.size()) return 0;
        for (std::size_t k = 1; k < n; ++k) {
            if ((b(k) & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (b(k) & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        return n;
    }

    bool parse_string(std::string& out) {
        ++i_; // opening quote
        for (;;) {
            if (i_ >= s_.size()) return fail("unterminated string");
            unsigned char c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') {
                ++i_;
                return true;
            }
            if (c < 0x20) return fail("control character in string");
            if (c == '\\') {
                if (i_ + 1 >= s_.size()) return fail("unterminated escape");
                char e = s_[i_ + 1];
                switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned cp;
                    if (!hex4(s_, i_ + 2, cp)) return fail("invalid \\u escape");
                    std::size_t used = 6;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        unsigned lo;
                        if (i_ + 7 >= s_.size() || s_[i_ + 6] != '\\' || s_[i_ + 7] != 'u' ||
                            !hex4(s_, i_ + 8, lo) || lo < 0xDC00 || lo > 0xDFFF)
                            return fail("lone high surrogate in \\u escape");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        used = 12;
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return fail("lone low surrogate in \\u escape");
                    }
                    put_utf8(out, cp);
                    i_ += used;
                    continue;
                }
                default: return fail("invalid escape");
                }
                i_ += 2;
                continue;
            }
            if (c < 0x80) {
                out += static_cast<char>(c);
                ++i_;
                continue;
            }
            std::size_t n = utf8_len(s_, i_);
            if (n == 0) return fail("invalid UTF-8 in string");
            out.append(s_.substr(i_, n));
            i_ += n;
        }
    }

    std::string_view s_;
    parse_options opt_;
    std::size_t i_ = 0;
    std::size_t line_start_ = 0;
    std::uint32_t line_ = 1;
    bool failed_ = false;
    error err_;
};

/// Parses one JSON document. Errors: errc::parse_error / errc::too_large, op "json", with
/// line:column and a note saying what was expected.
[[nodiscard]] inline result<value> parse(std::string_view text, parse_options opt = {}) {
    return parser(text, opt).run();
}

/// Appends `s` as a JSON string literal (quotes included) to `out`.
inline void escape_to(std::string& out, std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += '"';
}

/// A streaming writer producing compact JSON; commas are managed for the caller.
/// Bytes that are not valid UTF-8 pass through unchanged: callers own their encoding.
class writer {
public:
    writer& begin_object() { sep(); out_ += '{'; first_.push_back(true); return *this; }
    writer& end_object() { out_ += '}'; first_.pop_back(); return *this; }
    writer& begin_array() { sep(); out_ += '['; first_.push_back(true); return *this; }
    writer& end_array() { out_ += ']'; first_.pop_back(); return *this; }
    writer& key(std::string_view k) {
        sep();
        escape_to(out_, k);
        out_ += ':';
        after_key_ = true;
        return *this;
    }
    writer& string(std::string_view s) { sep(); escape_to(out_, s); return *this; }
    writer& boolean(bool b) { sep(); out_ += b ? "true" : "false"; return *this; }
    writer& null() { sep(); out_ += "null"; return *this; }
    writer& number(std::int64_t v) { sep(); out_ += std::to_string(v); return *this; }
    writer& number(std::uint64_t v) { sep(); out_ += std::to_string(v); return *this; }
    writer& number(int v) { return number(static_cast<std::int64_t>(v)); }
    writer& number(unsigned v) { return number(static_cast<std::uint64_t>(v)); }
    /// A number token written verbatim (e.g. a parsed number's text()); the caller vouches
    /// for its grammar.
    writer& raw_number(std::string_view token) {
        sep();
        out_ += token;
        return *this;
    }
    writer& number(double v) {
        sep();
        if (!std::isfinite(v)) {
            out_ += "null";
        } else {
            char buf[32];
            auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
            (void)ec;
            out_.append(buf, p);
        }
        return *this;
    }
    /// key + string value.
    writer& field(std::string_view k, std::string_view v) { return key(k).string(v); }
    writer& field(std::string_view k, const char* v) { return key(k).string(v); }
    writer& field(std::string_view k, bool v) { return key(k).boolean(v); }
    template <class N, std::enable_if_t<std::is_arithmetic_v<N> && !std::is_same_v<N, bool>, int> = 0>
    writer& field(std::string_view k, N v) {
        key(k);
        if constexpr (std::is_floating_point_v<N>) return number(static_cast<double>(v));
        else if constexpr (std::is_signed_v<N>) return number(static_cast<std::int64_t>(v));
        else return number(static_cast<std::uint64_t>(v));
    }

    [[nodiscard]] const std::string& str() const& noexcept { return out_; }
    [[nodiscard]] std::string str() && noexcept { return std::move(out_); }

private:
    void sep() {
        if (after_key_) {
            after_key_ = false;
            return;
        }
        if (!first_.empty()) {
            if (!first_.back()) out_ += ',';
            first_.back() = false;
        }
    }
    std::string out_;
    std::vector<bool> first_;
    bool after_key_ = false;
};

} // namespace detail::json
BULKHEAD_NAMESPACE_END
