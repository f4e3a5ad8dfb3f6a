#pragma once
/// \file dns/wire.hpp
/// DNS wire format (RFC 1035, 3597, 6891, 8914): a zero-allocation view of a message whose
/// names, records and RDATA are validated once by `message_view::parse` and then read lazily,
/// owned names and records, and a message builder that compresses names.

#include "bulkhead/config.hpp"
#include "bulkhead/dns/rr_table.hpp"
#include "bulkhead/error.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace dns {

using bytes_view = std::span<const std::uint8_t>;

inline constexpr std::size_t max_name_length = 255; ///< wire octets, root label included
inline constexpr std::size_t max_label_length = 63;

namespace detail {
[[nodiscard]] constexpr std::uint8_t lower(std::uint8_t c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + 32) : c;
}
[[nodiscard]] inline std::uint16_t rd16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
[[nodiscard]] inline std::uint32_t rd32(const std::uint8_t* p) noexcept {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

/// The outcome of a name check without building an `error` (kept cheap for the hot path).
struct name_check {
    const char* op = nullptr; ///< null on success
    errc code = errc::ok;
    std::size_t offset = 0;
    [[nodiscard]] explicit operator bool() const noexcept { return op == nullptr; }
    [[nodiscard]] error to_error() const noexcept { return error(code, op).at_offset(offset); }
};

/// Validates the name at `off` of `msg`. Pointers must aim strictly before the start of the
/// run of labels that contains them, so every jump goes backwards and loops cannot exist.
/// On success `end` is the offset just past the name's in-place bytes and `wire_len` its
/// uncompressed length.
/// Offsets already proven to start a valid (suffix of a) name, with that suffix's length, so
/// that names compressed to the same suffix are not walked again while parsing one message.
struct name_cache {
    static constexpr std::size_t capacity = 16;
    std::uint16_t offset[capacity];
    std::uint16_t length[capacity];
    std::size_t n = 0;
    [[nodiscard]] std::size_t find(std::size_t off) const noexcept {
        for (std::size_t i = 0; i < n; ++i)
            if (offset[i] == off) return length[i];
        return 0;
    }
    void add(std::size_t off, std::size_t len) noexcept {
        if (n < capacity && off <= 0xFFFF) {
            offset[n] = static_cast<std::uint16_t>(off);
            length[n] = static_cast<std::uint16_t>(len);
            ++n;
        }
    }
};

inline name_check check_name_fast(bytes_view msg, std::size_t off, bool allow_pointers, std::size_t& end,
                                  std::size_t& wire_len, name_cache* cache = nullptr) noexcept {
    const std::uint8_t* d = msg.data();
    const std::size_t size = msg.size();
    std::size_t pos = off, run_start = off, total = 0;
    // The first label start (and its running total) of this name, to remember on success.
    const std::size_t first = off;
    end = 0;
    for (;;) {
        if (BULKHEAD_UNLIKELY(pos >= size)) return {"dns: name runs past the end", errc::truncated, pos};
        const std::uint8_t len = d[pos];
        if (len >= 0xC0) {
            if (!allow_pointers) return {"dns: compression pointer where none is allowed", errc::parse_error, pos};
            if (pos + 1 >= size) return {"dns: name pointer truncated", errc::truncated, pos};
            const std::size_t target = (std::size_t{len & 0x3Fu} << 8) | d[pos + 1];
            if (end == 0) end = pos + 2;
            if (target >= size) return {"dns: name pointer out of bounds", errc::parse_error, pos};
            if (target >= run_start) return {"dns: name pointer loop or forward pointer", errc::parse_error, pos};
            if (cache) {
                if (const std::size_t known = cache->find(target)) {
                    total += known;
                    if (total > max_name_length) return {"dns: name longer than 255 octets", errc::too_large, pos};
                    wire_len = total;
                    if (d[first] < 0xC0) cache->add(first, total);
                    return {};
                }
            }
            pos = run_start = target;
            continue;
        }
        if (BULKHEAD_UNLIKELY(len & 0xC0)) return {"dns: label length over 63 (reserved label type)", errc::parse_error, pos};
        total += std::size_t{len} + 1;
        if (BULKHEAD_UNLIKELY(total > max_name_length)) return {"dns: name longer than 255 octets", errc::too_large, pos};
        if (len == 0) {
            if (end == 0) end = pos + 1;
            wire_len = total;
            if (cache && d[first] < 0xC0) cache->add(first, total);
            return {};
        }
        if (BULKHEAD_UNLIKELY(pos + 1 + len > size)) return {"dns: label runs past the end", errc::truncated, pos};
        pos += std::size_t{len} + 1;
    }
}

/// `check_name_fast` with a `result` for callers that propagate errors.
inline result<void> check_name(bytes_view msg, std::size_t off, bool allow_pointers, std::size_t& end,
                               std::size_t& wire_len) noexcept {
    const auto c = check_name_fast(msg, off, allow_pointers, end, wire_len);
    if (!c) return c.to_error();
    return {};
}

/// Appends the presentation form of one label (RFC 1035 section 5.1 escapes).
inline void append_label_text(std::string& out, const std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t c = p[i];
        if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' || c == '@' ||
            c == '$' || c == ' ') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c > 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            out += '\\';
            out += static_cast<char>('0' + c / 100);
            out += static_cast<char>('0' + (c / 10) % 10);
            out += static_cast<char>('0' + c % 10);
        }
    }
}
} // namespace detail

class name;

/// A validated name inside a message buffer (possibly compressed). Cheap to copy; the buffer
/// must outlive it. Comparison and printing walk the labels on demand.
class name_view {
public:
    constexpr name_view() noexcept = default;
    /// Only for names already validated by `detail::check_name` over the same buffer.
    constexpr name_view(bytes_view msg, std::size_t off, std::size_t wire_len) noexcept
        : msg_(msg), off_(off), len_(wire_len) {}

    /// Validates and returns the name at `off` of `msg`.
    [[nodiscard]] static result<name_view> at(bytes_view msg, std::size_t off,
                                              bool allow_pointers = true) noexcept {
        std::size_t end = 0, len = 0;
        BULKHEAD_TRY(detail::check_name(msg, off, allow_pointers, end, len));
        return name_view(msg, off, len);
    }

    /// Uncompressed length in octets (computed on first use when the view was made lazily).
    [[nodiscard]] std::size_t wire_length() const noexcept {
        if (len_ == 0 && !msg_.empty()) {
            std::size_t p = off_, n = 0;
            for (;;) {
                const std::uint8_t l = msg_[p];
                if (l >= 0xC0) {
                    p = (std::size_t{l & 0x3Fu} << 8) | msg_[p + 1];
                    continue;
                }
                n += std::size_t{l} + 1;
                if (l == 0) break;
                p += std::size_t{l} + 1;
            }
            len_ = n;
        }
        return len_;
    }
    [[nodiscard]] constexpr std::size_t offset() const noexcept { return off_; }
    [[nodiscard]] bool is_root() const noexcept { return wire_length() == 1; }

    /// Calls fn(const uint8_t* label, size_t length) for each label, leftmost first.
    template <class F>
    void for_each_label(F&& fn) const {
        if (msg_.empty()) return;
        std::size_t p = off_;
        for (;;) {
            const std::uint8_t l = msg_[p];
            if (l >= 0xC0) {
                p = (std::size_t{l & 0x3Fu} << 8) | msg_[p + 1];
                continue;
            }
            if (l == 0) return;
            fn(msg_.data() + p + 1, std::size_t{l});
            p += std::size_t{l} + 1;
        }
    }
    [[nodiscard]] std::size_t label_count() const {
        std::size_t n = 0;
        for_each_label([&](const std::uint8_t*, std::size_t) { ++n; });
        return n;
    }

    /// Appends the uncompressed wire form to `out`.
    void append_wire(std::string& out) const {
        for_each_label([&](const std::uint8_t* p, std::size_t n) {
            out += static_cast<char>(n);
            out.append(reinterpret_cast<const char*>(p), n);
        });
        out += '\0';
    }

    /// Presentation form, absolute with the trailing dot ("example.com.", root ".").
    [[nodiscard]] std::string to_string() const {
        std::string s;
        for_each_label([&](const std::uint8_t* p, std::size_t n) {
            detail::append_label_text(s, p, n);
            s += '.';
        });
        if (s.empty()) s = ".";
        return s;
    }

    /// Case-insensitive equality of two names (ASCII case folding, RFC 4343).
    [[nodiscard]] bool equals(const name_view& o) const noexcept {
        if (len_ && o.len_ && len_ != o.len_) return false;
        std::size_t a = off_, b = o.off_;
        for (;;) {
            a = o_follow(msg_, a);
            b = o_follow(o.msg_, b);
            const std::uint8_t la = msg_[a], lb = o.msg_[b];
            if (la != lb) return false;
            if (la == 0) return true;
            for (std::size_t i = 1; i <= la; ++i)
                if (detail::lower(msg_[a + i]) != detail::lower(o.msg_[b + i])) return false;
            a += std::size_t{la} + 1;
            b += std::size_t{lb} + 1;
        }
    }
    [[nodiscard]] bool equals(const name& n) const noexcept;

private:
    static std::size_t o_follow(bytes_view m, std::size_t p) noexcept {
        while (m[p] >= 0xC0) p = (std::size_t{m[p] & 0x3Fu} << 8) | m[p + 1];
        return p;
    }
    bytes_view msg_{};
    std::size_t off_ = 0;
    mutable std::size_t len_ = 0; ///< 0: not computed yet
};

/// An owned, uncompressed domain name (wire form, case preserved).
class name {
public:
    /// The root name.
    name() : wire_(1, '\0') {}
    explicit name(const name_view& v) { v.append_wire(wire_); }

    /// Parses presentation text ("www.example.com", "sub", "@", "\\046" escapes). Relative
    /// names (no trailing dot) get `origin` appended; `@` is the origin itself.
    [[nodiscard]] static result<name> from_text(std::string_view s, const name& origin) {
        name n;
        n.wire_.clear();
        if (s == "@") return origin;
        if (s.empty()) return error(errc::parse_error, "dns: empty name");
        if (s == ".") return name();
        std::string label;
        bool absolute = false;
        for (std::size_t i = 0; i <= s.size(); ++i) {
            if (i == s.size() || s[i] == '.') {
                if (label.empty()) return error(errc::parse_error, "dns: empty label in name").value(s);
                if (label.size() > max_label_length)
                    return error(errc::too_large, "dns: label longer than 63 octets").value(s);
                n.wire_ += static_cast<char>(label.size());
                n.wire_ += label;
                label.clear();
                if (i + 1 == s.size()) {
                    absolute = true;
                    break;
                }
                continue;
            }
            char c = s[i];
            if (c == '\\') {
                if (i + 1 >= s.size()) return error(errc::parse_error, "dns: name ends in a backslash").value(s);
                if (s[i + 1] >= '0' && s[i + 1] <= '9') {
                    if (i + 3 >= s.size() || !(s[i + 2] >= '0' && s[i + 2] <= '9') ||
                        !(s[i + 3] >= '0' && s[i + 3] <= '9'))
                        return error(errc::parse_error, "dns: bad \\DDD escape in name").value(s);
                    const int v = (s[i + 1] - '0') * 100 + (s[i + 2] - '0') * 10 + (s[i + 3] - '0');
                    if (v > 255) return error(errc::out_of_range, "dns: \\DDD escape over 255").value(s);
                    c = static_cast<char>(v);
                    i += 3;
                } else {
                    c = s[++i];
                }
            }
            label += c;
        }
        if (!absolute) {
            n.wire_.append(origin.wire_);
        } else {
            n.wire_ += '\0';
        }
        if (n.wire_.size() > max_name_length)
            return error(errc::too_large, "dns: name longer than 255 octets").value(s);
        return n;
    }
    /// An absolute name from text; a missing trailing dot is implied.
    [[nodiscard]] static result<name> parse(std::string_view s) { return from_text(s, name()); }

    [[nodiscard]] const std::string& wire() const noexcept { return wire_; }
    [[nodiscard]] bytes_view wire_bytes() const noexcept {
        return {reinterpret_cast<const std::uint8_t*>(wire_.data()), wire_.size()};
    }
    [[nodiscard]] name_view view() const noexcept { return name_view(wire_bytes(), 0, wire_.size()); }
    [[nodiscard]] bool is_root() const noexcept { return wire_.size() == 1; }
    [[nodiscard]] std::size_t label_count() const noexcept {
        std::size_t n = 0;
        for (std::size_t p = 0; static_cast<std::uint8_t>(wire_[p]) != 0; p += static_cast<std::uint8_t>(wire_[p]) + 1u) ++n;
        return n;
    }
    /// The leftmost label (empty for the root).
    [[nodiscard]] std::string_view first_label() const noexcept {
        return std::string_view(wire_).substr(1, static_cast<std::uint8_t>(wire_[0]));
    }
    /// The name without its leftmost label (the root stays the root).
    [[nodiscard]] name parent() const {
        name p;
        if (is_root()) return p;
        p.wire_ = wire_.substr(static_cast<std::uint8_t>(wire_[0]) + 1u);
        return p;
    }
    /// `label` prepended (no validation beyond length).
    [[nodiscard]] result<name> child(std::string_view label) const {
        if (label.empty() || label.size() > max_label_length || wire_.size() + label.size() + 1 > max_name_length)
            return error(errc::invalid_argument, "dns: child label").value(label);
        name c;
        c.wire_.clear();
        c.wire_ += static_cast<char>(label.size());
        c.wire_ += label;
        c.wire_ += wire_;
        return c;
    }
    /// True when this name equals `o` or lies below it.
    [[nodiscard]] bool is_subdomain_of(const name& o) const noexcept {
        if (o.wire_.size() > wire_.size()) return false;
        std::size_t p = 0;
        while (wire_.size() - p > o.wire_.size()) p += static_cast<std::uint8_t>(wire_[p]) + 1u;
        if (wire_.size() - p != o.wire_.size()) return false;
        return iequal(std::string_view(wire_).substr(p), o.wire_);
    }

    /// Presentation form with the trailing dot.
    [[nodiscard]] std::string to_string() const { return view().to_string(); }
    /// Presentation form without the trailing dot ("." for the root), for people.
    [[nodiscard]] std::string to_display() const {
        std::string s = to_string();
        if (s.size() > 1) s.pop_back();
        return s;
    }

    friend bool operator==(const name& a, const name& b) noexcept { return iequal(a.wire_, b.wire_); }

private:
    static bool iequal(std::string_view a, std::string_view b) noexcept {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i)
            if (detail::lower(static_cast<std::uint8_t>(a[i])) != detail::lower(static_cast<std::uint8_t>(b[i])))
                return false;
        return true;
    }
    std::string wire_;
};

inline bool name_view::equals(const name& n) const noexcept { return equals(n.view()); }

/// Header flag bits (RFC 1035 4.1.1, RFC 4035).
namespace flag {
inline constexpr std::uint16_t qr = 0x8000;
inline constexpr std::uint16_t aa = 0x0400;
inline constexpr std::uint16_t tc = 0x0200;
inline constexpr std::uint16_t rd = 0x0100;
inline constexpr std::uint16_t ra = 0x0080;
inline constexpr std::uint16_t ad = 0x0020;
inline constexpr std::uint16_t cd = 0x0010;
} // namespace flag

struct header {
    std::uint16_t id = 0;
    std::uint16_t flags = 0;
    std::uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
    [[nodiscard]] bool has(std::uint16_t f) const noexcept { return (flags & f) != 0; }
    [[nodiscard]] std::uint8_t opcode() const noexcept { return static_cast<std::uint8_t>((flags >> 11) & 15); }
    [[nodiscard]] std::uint8_t rcode4() const noexcept { return static_cast<std::uint8_t>(flags & 15); }
};

enum class section : std::uint8_t { answer, authority, additional };

/// One resource record inside a validated message.
struct record_view {
    bytes_view msg{};
    name_view owner{};
    std::uint16_t type = 0;
    std::uint16_t cls = 0;
    std::uint32_t ttl = 0;
    std::size_t rdata_offset = 0;
    std::uint16_t rdata_length = 0;
    [[nodiscard]] bytes_view rdata() const noexcept { return msg.subspan(rdata_offset, rdata_length); }
};

struct question_view {
    name_view qname{};
    std::uint16_t qtype = 0;
    std::uint16_t qclass = 0;
};

/// An EDNS option (RFC 6891 6.1.2).
struct edns_option_view {
    std::uint16_t code = 0;
    bytes_view data{};
};

inline constexpr std::uint16_t edns_option_ede = 15;

/// An Extended DNS Error (RFC 8914): info-code and the optional UTF-8 extra text.
struct ede_view {
    std::uint16_t info_code = 0;
    std::string_view text{};
};

/// The OPT pseudo-record of a message (RFC 6891 6.1.3). Options were validated at parse time.
struct edns_view {
    std::uint16_t udp_size = 0;
    std::uint8_t extended_rcode = 0; ///< upper 8 bits of the 12-bit rcode
    std::uint8_t version = 0;
    bool do_bit = false;
    std::uint16_t z = 0;
    bytes_view options{};

    template <class F>
    void for_each_option(F&& fn) const {
        std::size_t p = 0;
        while (p + 4 <= options.size()) {
            const std::uint16_t code = detail::rd16(options.data() + p);
            const std::uint16_t len = detail::rd16(options.data() + p + 2);
            fn(edns_option_view{code, options.subspan(p + 4, len)});
            p += 4u + len;
        }
    }
    /// Calls fn(ede_view) for each well-formed EDE option (info-code present).
    template <class F>
    void for_each_ede(F&& fn) const {
        for_each_option([&](const edns_option_view& o) {
            if (o.code != edns_option_ede || o.data.size() < 2) return;
            std::string_view text(reinterpret_cast<const char*>(o.data.data()) + 2, o.data.size() - 2);
            // RFC 8914 2: the text SHOULD NOT be NUL-terminated, but some servers do so.
            while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
            fn(ede_view{detail::rd16(o.data.data()), text});
        });
    }
    [[nodiscard]] std::optional<ede_view> first_ede() const {
        std::optional<ede_view> r;
        for_each_ede([&](const ede_view& e) {
            if (!r) r = e;
        });
        return r;
    }
};

namespace detail {
/// Reads the fixed part of a record at `p` (name already validated up to `name_end`).
inline record_view read_record(bytes_view msg, std::size_t p) noexcept {
    // The name was validated; find its end without checks. Its length is computed lazily.
    const std::uint8_t* d = msg.data();
    std::size_t q = p;
    while (d[q] != 0 && d[q] < 0xC0) q += std::size_t{d[q]} + 1;
    const std::size_t name_end = d[q] == 0 ? q + 1 : q + 2;
    record_view r;
    r.msg = msg;
    r.owner = name_view(msg, p, 0);
    const std::uint8_t* f = d + name_end;
    r.type = rd16(f);
    r.cls = rd16(f + 2);
    r.ttl = rd32(f + 4);
    r.rdata_length = rd16(f + 8);
    r.rdata_offset = name_end + 10;
    return r;
}
} // namespace detail

/// A range over the records of one section.
class record_range {
public:
    class iterator {
    public:
        using value_type = record_view;
        using difference_type = std::ptrdiff_t;
        iterator() noexcept = default;
        iterator(bytes_view msg, std::size_t off, std::size_t left) noexcept : msg_(msg), off_(off), left_(left) {
            if (left_) cur_ = detail::read_record(msg_, off_);
        }
        const record_view& operator*() const noexcept { return cur_; }
        const record_view* operator->() const noexcept { return &cur_; }
        iterator& operator++() noexcept {
            off_ = cur_.rdata_offset + cur_.rdata_length;
            if (--left_) cur_ = detail::read_record(msg_, off_);
            return *this;
        }
        friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.left_ == b.left_; }
        friend bool operator!=(const iterator& a, const iterator& b) noexcept { return a.left_ != b.left_; }

    private:
        bytes_view msg_{};
        std::size_t off_ = 0;
        std::size_t left_ = 0;
        record_view cur_{};
    };
    record_range(bytes_view msg, std::size_t off, std::size_t count) noexcept : msg_(msg), off_(off), count_(count) {}
    [[nodiscard]] iterator begin() const noexcept { return iterator(msg_, off_, count_); }
    [[nodiscard]] iterator end() const noexcept { return iterator(); }
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }

private:
    bytes_view msg_;
    std::size_t off_;
    std::size_t count_;
};

/// A validated DNS message over a caller-owned buffer. `parse` checks every name (pointer
/// loops, forward and out-of-bounds pointers, labels over 63, names over 255), every record's
/// bounds and the OPT record; afterwards iteration cannot fail and never allocates.
class message_view {
public:
    message_view() noexcept = default;

    [[nodiscard]] static result<message_view> parse(bytes_view msg) noexcept {
        message_view m;
        m.msg_ = msg;
        if (msg.size() < 12) return error(errc::truncated, "dns: message shorter than its 12-byte header").at_offset(msg.size());
        const std::uint8_t* h = msg.data();
        m.hdr_.id = detail::rd16(h);
        m.hdr_.flags = detail::rd16(h + 2);
        m.hdr_.qdcount = detail::rd16(h + 4);
        m.hdr_.ancount = detail::rd16(h + 6);
        m.hdr_.nscount = detail::rd16(h + 8);
        m.hdr_.arcount = detail::rd16(h + 10);
        std::size_t p = 12, end = 0, len = 0;
        detail::name_cache cache;
        for (unsigned i = 0; i < m.hdr_.qdcount; ++i) {
            if (const auto c = detail::check_name_fast(msg, p, true, end, len, &cache); !c) return c.to_error();
            if (end + 4 > msg.size()) return error(errc::truncated, "dns: question truncated").at_offset(end);
            p = end + 4;
        }
        const unsigned counts[3] = {m.hdr_.ancount, m.hdr_.nscount, m.hdr_.arcount};
        for (int s = 0; s < 3; ++s) {
            m.sec_off_[s] = p;
            for (unsigned i = 0; i < counts[s]; ++i) {
                const std::size_t rec_start = p;
                if (const auto c = detail::check_name_fast(msg, p, true, end, len, &cache); !c) return c.to_error();
                if (end + 10 > msg.size()) return error(errc::truncated, "dns: record header truncated").at_offset(end);
                const std::uint16_t type = detail::rd16(msg.data() + end);
                const std::uint16_t rdlen = detail::rd16(msg.data() + end + 8);
                if (end + 10 + rdlen > msg.size())
                    return error(errc::truncated, "dns: RDATA runs past the end of the message").at_offset(end + 8);
                if (type == rr::opt) {
                    if (s != 2) return error(errc::parse_error, "dns: OPT record outside the additional section").at_offset(rec_start);
                    if (m.opt_off_) return error(errc::parse_error, "dns: more than one OPT record").at_offset(rec_start);
                    if (len != 1) return error(errc::parse_error, "dns: OPT owner is not the root").at_offset(rec_start);
                    std::size_t q = end + 10;
                    const std::size_t qe = q + rdlen;
                    while (q < qe) {
                        if (q + 4 > qe) return error(errc::truncated, "dns: EDNS option header truncated").at_offset(q);
                        const std::size_t olen = detail::rd16(msg.data() + q + 2);
                        if (q + 4 + olen > qe) return error(errc::truncated, "dns: EDNS option runs past OPT RDATA").at_offset(q);
                        q += 4 + olen;
                    }
                    m.opt_off_ = rec_start;
                }
                p = end + 10 + rdlen;
            }
        }
        m.end_ = p;
        return m;
    }

    [[nodiscard]] const header& hdr() const noexcept { return hdr_; }
    [[nodiscard]] bytes_view bytes() const noexcept { return msg_; }
    /// Offset just past the last record (trailing bytes, if any, are ignored).
    [[nodiscard]] std::size_t end_offset() const noexcept { return end_; }

    [[nodiscard]] std::optional<question_view> question() const noexcept {
        if (hdr_.qdcount == 0) return std::nullopt;
        std::size_t end = 0, len = 0;
        (void)detail::check_name_fast(msg_, 12, true, end, len);
        return question_view{name_view(msg_, 12, len), detail::rd16(msg_.data() + end),
                             detail::rd16(msg_.data() + end + 2)};
    }
    [[nodiscard]] record_range records(section s) const noexcept {
        const auto i = static_cast<int>(s);
        const std::size_t n = s == section::answer ? hdr_.ancount : s == section::authority ? hdr_.nscount : hdr_.arcount;
        return record_range(msg_, sec_off_[i], n);
    }
    [[nodiscard]] record_range answers() const noexcept { return records(section::answer); }
    [[nodiscard]] record_range authority() const noexcept { return records(section::authority); }
    [[nodiscard]] record_range additional() const noexcept { return records(section::additional); }

    [[nodiscard]] std::optional<edns_view> edns() const noexcept {
        if (!opt_off_) return std::nullopt;
        const record_view r = detail::read_record(msg_, opt_off_);
        edns_view e;
        e.udp_size = r.cls;
        e.extended_rcode = static_cast<std::uint8_t>(r.ttl >> 24);
        e.version = static_cast<std::uint8_t>(r.ttl >> 16);
        e.do_bit = (r.ttl & 0x8000u) != 0;
        e.z = static_cast<std::uint16_t>(r.ttl & 0x7FFFu);
        e.options = r.rdata();
        return e;
    }
    /// The full rcode: 4 header bits plus the OPT extension (RFC 6891 6.1.3).
    [[nodiscard]] std::uint16_t rcode() const noexcept {
        std::uint16_t rc = hdr_.rcode4();
        if (auto e = edns()) rc = static_cast<std::uint16_t>(rc | (e->extended_rcode << 4));
        return rc;
    }

private:
    bytes_view msg_{};
    header hdr_{};
    std::size_t sec_off_[3] = {0, 0, 0};
    std::size_t opt_off_ = 0;
    std::size_t end_ = 0;
};

// ---- typed RDATA -------------------------------------------------------------------------

namespace detail {
inline error rdata_error(const record_view& r, const char* op) noexcept {
    return error(errc::parse_error, op).at_offset(r.rdata_offset);
}
inline result<name_view> rdata_name(const record_view& r, std::size_t off, std::size_t& end) noexcept {
    // Names in RDATA must stay inside the RDATA, though pointers may aim anywhere earlier.
    std::size_t len = 0;
    const bytes_view upto = r.msg.first(r.rdata_offset + r.rdata_length);
    BULKHEAD_TRY(check_name(upto, off, rdata_names_compressible(r.type), end, len));
    return name_view(r.msg, off, len);
}
} // namespace detail

[[nodiscard]] inline result<std::array<std::uint8_t, 4>> as_a(const record_view& r) noexcept {
    if (r.rdata_length != 4) return detail::rdata_error(r, "dns: A RDATA is not 4 bytes");
    std::array<std::uint8_t, 4> a{};
    std::memcpy(a.data(), r.msg.data() + r.rdata_offset, 4);
    return a;
}
[[nodiscard]] inline result<std::array<std::uint8_t, 16>> as_aaaa(const record_view& r) noexcept {
    if (r.rdata_length != 16) return detail::rdata_error(r, "dns: AAAA RDATA is not 16 bytes");
    std::array<std::uint8_t, 16> a{};
    std::memcpy(a.data(), r.msg.data() + r.rdata_offset, 16);
    return a;
}
/// NS, CNAME, PTR: the single name that fills the RDATA.
[[nodiscard]] inline result<name_view> as_name(const record_view& r) noexcept {
    std::size_t end = 0;
    BULKHEAD_TRY_ASSIGN(name_view n, detail::rdata_name(r, r.rdata_offset, end));
    if (end != r.rdata_offset + r.rdata_length) return detail::rdata_error(r, "dns: trailing bytes after the RDATA name");
    return n;
}

struct mx_view {
    std::uint16_t preference = 0;
    name_view exchange{};
};
[[nodiscard]] inline result<mx_view> as_mx(const record_view& r) noexcept {
    if (r.rdata_length < 3) return detail::rdata_error(r, "dns: MX RDATA too short");
    mx_view m;
    m.preference = detail::rd16(r.msg.data() + r.rdata_offset);
    std::size_t end = 0;
    BULKHEAD_TRY_ASSIGN(m.exchange, detail::rdata_name(r, r.rdata_offset + 2, end));
    if (end != r.rdata_offset + r.rdata_length) return detail::rdata_error(r, "dns: trailing bytes after MX exchange");
    return m;
}

struct soa_view {
    name_view mname{}, rname{};
    std::uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;
};
[[nodiscard]] inline result<soa_view> as_soa(const record_view& r) noexcept {
    soa_view s;
    std::size_t end = 0;
    BULKHEAD_TRY_ASSIGN(s.mname, detail::rdata_name(r, r.rdata_offset, end));
    BULKHEAD_TRY_ASSIGN(s.rname, detail::rdata_name(r, end, end));
    if (end + 20 != r.rdata_offset + r.rdata_length) return detail::rdata_error(r, "dns: SOA counters are not 20 bytes");
    const std::uint8_t* p = r.msg.data() + end;
    s.serial = detail::rd32(p);
    s.refresh = detail::rd32(p + 4);
    s.retry = detail::rd32(p + 8);
    s.expire = detail::rd32(p + 12);
    s.minimum = detail::rd32(p + 16);
    return s;
}

/// Checks TXT RDATA (one or more <character-string>s filling it) and calls fn(string_view)
/// for each string.
template <class F>
[[nodiscard]] result<void> for_each_txt(const record_view& r, F&& fn) {
    const bytes_view d = r.rdata();
    if (d.empty()) return detail::rdata_error(r, "dns: TXT RDATA is empty");
    std::size_t p = 0;
    while (p < d.size()) {
        const std::size_t n = d[p];
        if (p + 1 + n > d.size()) return error(errc::truncated, "dns: TXT string runs past RDATA").at_offset(r.rdata_offset + p);
        fn(std::string_view(reinterpret_cast<const char*>(d.data()) + p + 1, n));
        p += 1 + n;
    }
    return {};
}

/// CAA RDATA (RFC 8659 4.1) as it is on the wire: the tag is not judged here (the caa
/// module decides what an empty or non-alphanumeric tag means), only the structure.
struct caa_view {
    std::uint8_t flags = 0;
    std::string_view tag{};
    std::string_view value{};
    [[nodiscard]] bool critical() const noexcept { return (flags & 0x80) != 0; }
};
[[nodiscard]] inline result<caa_view> parse_caa_rdata(bytes_view d, std::size_t base_offset = 0) noexcept {
    if (d.size() < 2) return error(errc::truncated, "dns: CAA RDATA shorter than 2 bytes").at_offset(base_offset);
    const std::size_t tl = d[1];
    if (2 + tl > d.size()) return error(errc::truncated, "dns: CAA tag runs past RDATA").at_offset(base_offset + 1);
    caa_view c;
    c.flags = d[0];
    c.tag = std::string_view(reinterpret_cast<const char*>(d.data()) + 2, tl);
    c.value = std::string_view(reinterpret_cast<const char*>(d.data()) + 2 + tl, d.size() - 2 - tl);
    return c;
}
[[nodiscard]] inline result<caa_view> as_caa(const record_view& r) noexcept {
    return parse_caa_rdata(r.rdata(), r.rdata_offset);
}

struct ds_view {
    std::uint16_t key_tag = 0;
    std::uint8_t algorithm = 0, digest_type = 0;
    bytes_view digest{};
};
[[nodiscard]] inline result<ds_view> parse_ds_rdata(bytes_view d) noexcept {
    if (d.size() < 5) return error(errc::truncated, "dns: DS RDATA too short");
    return ds_view{detail::rd16(d.data()), d[2], d[3], d.subspan(4)};
}
struct dnskey_view {
    std::uint16_t flags = 0;
    std::uint8_t protocol = 0, algorithm = 0;
    bytes_view key{};
};
[[nodiscard]] inline result<dnskey_view> parse_dnskey_rdata(bytes_view d) noexcept {
    if (d.size() < 5) return error(errc::truncated, "dns: DNSKEY RDATA too short");
    return dnskey_view{detail::rd16(d.data()), d[2], d[3], d.subspan(4)};
}
struct rrsig_view {
    std::uint16_t type_covered = 0;
    std::uint8_t algorithm = 0, labels = 0;
    std::uint32_t original_ttl = 0, expiration = 0, inception = 0;
    std::uint16_t key_tag = 0;
    name_view signer{};
    bytes_view signature{};
};
/// RRSIG RDATA (RFC 4034 3.1); the signer name must not be compressed.
[[nodiscard]] inline result<rrsig_view> parse_rrsig_rdata(bytes_view d) noexcept {
    if (d.size() < 19) return error(errc::truncated, "dns: RRSIG RDATA too short");
    rrsig_view s;
    s.type_covered = detail::rd16(d.data());
    s.algorithm = d[2];
    s.labels = d[3];
    s.original_ttl = detail::rd32(d.data() + 4);
    s.expiration = detail::rd32(d.data() + 8);
    s.inception = detail::rd32(d.data() + 12);
    s.key_tag = detail::rd16(d.data() + 16);
    std::size_t end = 0, len = 0;
    BULKHEAD_TRY(detail::check_name(d, 18, false, end, len));
    s.signer = name_view(d, 18, len);
    s.signature = d.subspan(end);
    return s;
}

/// Whether the message holds DNSSEC material of each kind (presence only; no validation).
struct dnssec_presence {
    bool ds = false, dnskey = false, rrsig = false;
};
[[nodiscard]] inline dnssec_presence dnssec_records(const message_view& m) noexcept {
    dnssec_presence p;
    for (auto s : {section::answer, section::authority, section::additional})
        for (const auto& r : m.records(s)) {
            p.ds |= r.type == rr::ds;
            p.dnskey |= r.type == rr::dnskey;
            p.rrsig |= r.type == rr::rrsig;
        }
    return p;
}

// ---- owned records and the builder ---------------------------------------------------------

/// An owned record with uncompressed RDATA.
struct record {
    name owner;
    std::uint16_t type = 0;
    std::uint16_t cls = class_in;
    std::uint32_t ttl = 0;
    std::vector<std::uint8_t> rdata;
};

/// Copies a record out of its message, expanding compressed names in RDATA of the types
/// that may hold them (NS, CNAME, PTR, MX, SOA).
[[nodiscard]] inline result<record> to_record(const record_view& v) {
    record r;
    r.owner = name(v.owner);
    r.type = v.type;
    r.cls = v.cls;
    r.ttl = v.ttl;
    std::string w;
    switch (v.type) {
    case rr::ns:
    case rr::cname:
    case rr::ptr: {
        BULKHEAD_TRY_ASSIGN(name_view n, as_name(v));
        n.append_wire(w);
        break;
    }
    case rr::mx: {
        BULKHEAD_TRY_ASSIGN(mx_view m, as_mx(v));
        w += static_cast<char>(m.preference >> 8);
        w += static_cast<char>(m.preference & 0xFF);
        m.exchange.append_wire(w);
        break;
    }
    case rr::soa: {
        BULKHEAD_TRY_ASSIGN(soa_view s, as_soa(v));
        s.mname.append_wire(w);
        s.rname.append_wire(w);
        const std::uint8_t* tail = v.msg.data() + v.rdata_offset + v.rdata_length - 20;
        w.append(reinterpret_cast<const char*>(tail), 20);
        break;
    }
    default: {
        const auto d = v.rdata();
        r.rdata.assign(d.begin(), d.end());
        return r;
    }
    }
    r.rdata.assign(w.begin(), w.end());
    return r;
}

/// Query options for `build_query`.
struct query_options {
    std::uint16_t id = 0;
    bool recursion_desired = true;
    bool checking_disabled = false;
    /// EDNS0 UDP payload size, clamped to 1232..4096; 0 sends no OPT record.
    std::uint16_t edns_udp_size = 1232;
    bool dnssec_ok = false;
};

/// Builds messages section by section, compressing owner names and the names in RDATA of
/// the RFC 1035 types. Keeps the first error and reports it from `build()`.
class message_builder {
public:
    explicit message_builder(std::uint16_t id = 0, std::uint16_t flags = 0) {
        buf_.resize(12, 0);
        put16at(0, id);
        put16at(2, flags);
    }
    message_builder& question(const name& qname, std::uint16_t qtype, std::uint16_t qclass = class_in) {
        if (stage_ > 0) return fail("dns builder: question after records");
        put_name(qname.view());
        put16(qtype);
        put16(qclass);
        bump(4);
        return *this;
    }
    message_builder& add(section s, const record& r) {
        const int st = static_cast<int>(s) + 1;
        if (st < stage_) return fail("dns builder: records out of section order");
        stage_ = st;
        put_name(r.owner.view());
        put16(r.type);
        put16(r.cls);
        put16(static_cast<std::uint16_t>(r.ttl >> 16));
        put16(static_cast<std::uint16_t>(r.ttl & 0xFFFF));
        const std::size_t len_at = buf_.size();
        put16(0);
        const bytes_view rd(r.rdata.data(), r.rdata.size());
        if (rdata_names_compressible(r.type) && !put_rdata_compressed(r.type, rd)) return *this;
        if (!rdata_names_compressible(r.type)) buf_.insert(buf_.end(), rd.begin(), rd.end());
        const std::size_t rdlen = buf_.size() - len_at - 2;
        if (rdlen > 0xFFFF) return fail("dns builder: RDATA over 65535 bytes");
        put16at(len_at, static_cast<std::uint16_t>(rdlen));
        bump(4 + 2 * static_cast<std::size_t>(st));
        return *this;
    }
    /// Appends an OPT record (additional section) with the given options.
    message_builder& edns(std::uint16_t udp_size, bool dnssec_ok, std::uint8_t ext_rcode = 0,
                          std::span<const std::pair<std::uint16_t, std::string>> options = {}) {
        record r;
        r.type = rr::opt;
        r.cls = udp_size;
        r.ttl = (std::uint32_t{ext_rcode} << 24) | (dnssec_ok ? 0x8000u : 0u);
        std::string opts;
        for (const auto& o : options) {
            const char hdr[4] = {static_cast<char>(o.first >> 8), static_cast<char>(o.first & 0xFF),
                                 static_cast<char>(o.second.size() >> 8), static_cast<char>(o.second.size() & 0xFF)};
            opts.append(hdr, 4);
            opts += o.second;
        }
        r.rdata.assign(opts.begin(), opts.end());
        return add(section::additional, r);
    }
    [[nodiscard]] result<std::vector<std::uint8_t>> build() && {
        if (err_) return error(errc::invalid_argument, err_);
        if (buf_.size() > 0xFFFF) return error(errc::too_large, "dns builder: message over 65535 bytes");
        return std::move(buf_);
    }

private:
    message_builder& fail(const char* why) {
        if (!err_) err_ = why;
        return *this;
    }
    void bump(std::size_t count_off) {
        const std::uint16_t v = detail::rd16(buf_.data() + count_off);
        if (v == 0xFFFF) {
            fail("dns builder: section count over 65535");
            return;
        }
        put16at(count_off, static_cast<std::uint16_t>(v + 1));
    }
    void put16(std::uint16_t v) {
        buf_.push_back(static_cast<std::uint8_t>(v >> 8));
        buf_.push_back(static_cast<std::uint8_t>(v & 0xFF));
    }
    void put16at(std::size_t at, std::uint16_t v) {
        buf_[at] = static_cast<std::uint8_t>(v >> 8);
        buf_[at + 1] = static_cast<std::uint8_t>(v & 0xFF);
    }
    // Does the name written at buffer offset `at` equal the uncompressed labels at `w`?
    bool same_suffix(std::size_t at, const std::uint8_t* w) const {
        for (;;) {
            while (buf_[at] >= 0xC0) at = (std::size_t{buf_[at] & 0x3Fu} << 8) | buf_[at + 1];
            if (buf_[at] != *w) return false;
            if (*w == 0) return true;
            for (std::size_t i = 1; i <= *w; ++i)
                if (detail::lower(buf_[at + i]) != detail::lower(w[i])) return false;
            at += std::size_t{*w} + 1;
            w += std::size_t{*w} + 1;
        }
    }
    void put_name(const name_view& n) {
        std::string w;
        n.append_wire(w);
        const auto* p = reinterpret_cast<const std::uint8_t*>(w.data());
        // Label starts of this name become targets only once the name is complete: a
        // half-written name must not be matched (it has no terminator yet).
        const std::size_t known = targets_.size();
        std::size_t fresh[128];
        std::size_t nfresh = 0;
        auto publish = [&] { targets_.insert(targets_.end(), fresh, fresh + nfresh); };
        while (*p != 0) {
            for (std::size_t i = 0; i < known; ++i) {
                if (same_suffix(targets_[i], p)) {
                    put16(static_cast<std::uint16_t>(0xC000u | targets_[i]));
                    publish();
                    return;
                }
            }
            if (buf_.size() < 0x4000 && nfresh < 128) fresh[nfresh++] = buf_.size();
            buf_.insert(buf_.end(), p, p + *p + 1);
            p += *p + 1;
        }
        buf_.push_back(0);
        publish();
    }
    bool put_rdata_compressed(std::uint16_t type, bytes_view rd) {
        // rd holds uncompressed names (owned record); validate them as such.
        std::size_t off = 0, end = 0, len = 0;
        auto one = [&]() -> bool {
            if (!detail::check_name(rd, off, false, end, len)) {
                fail("dns builder: malformed name in RDATA");
                return false;
            }
            put_name(name_view(rd, off, len));
            off = end;
            return true;
        };
        if (type == rr::mx) {
            if (rd.size() < 2) return fail("dns builder: MX RDATA too short"), false;
            buf_.insert(buf_.end(), rd.begin(), rd.begin() + 2);
            off = 2;
            if (!one()) return false;
        } else if (type == rr::soa) {
            if (!one() || !one()) return false;
            if (rd.size() - off != 20) return fail("dns builder: SOA RDATA malformed"), false;
            buf_.insert(buf_.end(), rd.begin() + static_cast<std::ptrdiff_t>(off), rd.end());
            off = rd.size();
        } else if (!one()) {
            return false;
        }
        if (off != rd.size()) return fail("dns builder: trailing bytes in RDATA"), false;
        return true;
    }

    std::vector<std::uint8_t> buf_;
    std::vector<std::size_t> targets_;
    const char* err_ = nullptr;
    int stage_ = 0;
};

/// A query for (qname, qtype, IN) with optional EDNS0 (RFC 6891) and the DO bit (RFC 3225).
[[nodiscard]] inline result<std::vector<std::uint8_t>> build_query(const name& qname, std::uint16_t qtype,
                                                                   const query_options& o = {}) {
    std::uint16_t flags = 0;
    if (o.recursion_desired) flags |= flag::rd;
    if (o.checking_disabled) flags |= flag::cd;
    message_builder b(o.id, flags);
    b.question(qname, qtype);
    if (o.edns_udp_size) {
        std::uint16_t sz = o.edns_udp_size;
        if (sz < 1232) sz = 1232;
        if (sz > 4096) sz = 4096;
        b.edns(sz, o.dnssec_ok);
    }
    return std::move(b).build();
}

} // namespace dns
BULKHEAD_NAMESPACE_END
