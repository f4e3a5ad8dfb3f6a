#pragma once
/// \file ns/idmap.hpp
/// User-namespace id maps: ranges, validation, the /proc/<pid>/{uid,gid}_map text, the
/// "IN:OUT:COUNT[,IN:OUT:COUNT...]" command-line form, /etc/subuid and /etc/subgid parsing
/// (errors name path and line:column), and allocation of disjoint per-site ranges.

#include "bulkhead/config.hpp"
#include "bulkhead/detail/text.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

BULKHEAD_NAMESPACE_BEGIN
namespace ns {

/// One line of an id map: ids [inside, inside+count) map to [outside, outside+count).
struct id_range {
    std::uint32_t inside = 0;
    std::uint32_t outside = 0;
    std::uint32_t count = 0;
    friend bool operator==(const id_range&, const id_range&) = default;
};

/// The kernel accepts at most 340 lines per map (Linux >= 4.15).
inline constexpr std::size_t max_id_map_lines = 340;

/// A uid or gid map of one or more ranges.
class id_map {
public:
    id_map() = default;
    id_map(std::initializer_list<id_range> r) : ranges_(r) {}

    /// Maps `inside` to `outside` for a single id.
    [[nodiscard]] static id_map single(std::uint32_t inside, std::uint32_t outside) {
        return id_map{{inside, outside, 1}};
    }

    id_map& add(id_range r) {
        ranges_.push_back(r);
        return *this;
    }
    [[nodiscard]] const std::vector<id_range>& ranges() const noexcept { return ranges_; }
    [[nodiscard]] bool empty() const noexcept { return ranges_.empty(); }

    /// Checks what the kernel would refuse: empty ranges, 32-bit overflow, overlaps on either
    /// side, more than 340 lines.
    [[nodiscard]] result<void> validate() const {
        if (ranges_.size() > max_id_map_lines)
            return error(errc::too_large, "id map").note("more than 340 ranges");
        for (std::size_t i = 0; i < ranges_.size(); ++i) {
            const auto& r = ranges_[i];
            std::string where = "range " + std::to_string(i + 1);
            if (r.count == 0) return error(errc::invalid_argument, "id map").subject(where).note("count is 0");
            if (std::uint64_t{r.inside} + r.count > 0x100000000ULL ||
                std::uint64_t{r.outside} + r.count > 0x100000000ULL)
                return error(errc::out_of_range, "id map").subject(where).note("ids past 2^32");
            for (std::size_t j = 0; j < i; ++j) {
                const auto& o = ranges_[j];
                if (overlaps(r.inside, r.count, o.inside, o.count))
                    return error(errc::invalid_argument, "id map").subject(where).note("inside ids overlap an earlier range");
                if (overlaps(r.outside, r.count, o.outside, o.count))
                    return error(errc::invalid_argument, "id map").subject(where).note("outside ids overlap an earlier range");
            }
        }
        return {};
    }

    /// The text written to /proc/<pid>/uid_map: "inside outside count\n" per range.
    [[nodiscard]] std::string to_proc_text() const {
        std::string s;
        for (const auto& r : ranges_) {
            s += std::to_string(r.inside);
            s += ' ';
            s += std::to_string(r.outside);
            s += ' ';
            s += std::to_string(r.count);
            s += '\n';
        }
        return s;
    }

    /// The outside id of `inside`, or nullopt when unmapped.
    [[nodiscard]] std::optional<std::uint32_t> to_outside(std::uint32_t inside) const noexcept {
        for (const auto& r : ranges_)
            if (inside >= r.inside && inside - r.inside < r.count) return r.outside + (inside - r.inside);
        return std::nullopt;
    }

    /// Parses "IN:OUT:COUNT" ranges separated by ',' (the bulkhead-run flag form); the error
    /// names the range and field.
    [[nodiscard]] static result<id_map> parse_spec(std::string_view s) {
        id_map m;
        std::size_t off = 0;
        for (auto part : bulkhead::detail::split(s, ',')) {
            auto f = bulkhead::detail::split(part, ':');
            if (f.size() != 3)
                return error(errc::parse_error, "id map").value(part).at_offset(off).note("expected IN:OUT:COUNT");
            id_range r;
            std::uint32_t* dst[3] = {&r.inside, &r.outside, &r.count};
            std::size_t foff = off;
            for (int i = 0; i < 3; ++i) {
                auto v = bulkhead::detail::parse_int<std::uint32_t>(f[static_cast<std::size_t>(i)]);
                if (!v)
                    return error(errc::parse_error, "id map").value(f[static_cast<std::size_t>(i)]).at_offset(foff).note("not a 32-bit unsigned number");
                *dst[i] = *v;
                foff += f[static_cast<std::size_t>(i)].size() + 1;
            }
            m.add(r);
            off += part.size() + 1;
        }
        BULKHEAD_TRY(m.validate());
        return m;
    }

    /// Writes the map for process `pid` (`which` is "uid_map" or "gid_map").
    [[nodiscard]] result<void> write_for(pid_t pid, const char* which) const {
        BULKHEAD_TRY(validate());
        std::string path = "/proc/" + std::to_string(pid) + "/" + which;
        auto r = write_file(path.c_str(), to_proc_text());
        if (!r) return std::move(r.error());
        return {};
    }

private:
    static bool overlaps(std::uint64_t a, std::uint64_t an, std::uint64_t b, std::uint64_t bn) noexcept {
        return a < b + bn && b < a + an;
    }
    std::vector<id_range> ranges_;
};

/// Writes "deny" to /proc/<pid>/setgroups (required before an unprivileged gid_map).
[[nodiscard]] inline result<void> deny_setgroups(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/setgroups";
    auto r = write_file(path.c_str(), "deny");
    if (!r) return std::move(r.error());
    return {};
}

/// One entry of /etc/subuid or /etc/subgid: `owner:start:count`.
struct subid_entry {
    std::string owner; ///< a user name or a numeric uid, as written
    std::uint32_t start = 0;
    std::uint32_t count = 0;
    std::uint32_t line = 0;
};

/// Parses the text of /etc/subuid or /etc/subgid. Blank lines and '#' comments are skipped.
/// Errors carry `path` as subject and line:column of the offending field.
[[nodiscard]] inline result<std::vector<subid_entry>> parse_subid(std::string_view text,
                                                                 std::string_view path = "subid") {
    std::vector<subid_entry> out;
    std::uint32_t lineno = 0;
    std::optional<error> err;
    bulkhead::detail::for_each_line(text, [&](std::string_view line) {
        ++lineno;
        if (err) return;
        std::string_view t = bulkhead::detail::trim(line);
        if (t.empty() || t.front() == '#') return;
        std::uint32_t lead = static_cast<std::uint32_t>(line.find(t.front()));
        std::size_t c1 = t.find(':');
        std::size_t c2 = c1 == std::string_view::npos ? c1 : t.find(':', c1 + 1);
        if (c2 == std::string_view::npos || t.find(':', c2 + 1) != std::string_view::npos) {
            err = std::move(error(errc::parse_error, "subordinate ids").subject(path).at(lineno, lead + 1).note("expected owner:start:count"));
            return;
        }
        std::string_view owner = t.substr(0, c1), start = t.substr(c1 + 1, c2 - c1 - 1),
                         count = t.substr(c2 + 1);
        if (owner.empty()) {
            err = std::move(error(errc::parse_error, "subordinate ids").subject(path).at(lineno, lead + 1).note("empty owner"));
            return;
        }
        auto s = bulkhead::detail::parse_int<std::uint32_t>(start);
        if (!s) {
            err = std::move(error(errc::parse_error, "subordinate ids").subject(path).at(lineno, lead + static_cast<std::uint32_t>(c1) + 2).note("start is not a 32-bit unsigned number"));
            return;
        }
        auto n = bulkhead::detail::parse_int<std::uint32_t>(count);
        if (!n || *n == 0 || std::uint64_t{*s} + *n > 0x100000000ULL) {
            err = std::move(error(errc::parse_error, "subordinate ids").subject(path).at(lineno, lead + static_cast<std::uint32_t>(c2) + 2).note("count is not a positive number that fits after start"));
            return;
        }
        out.push_back(subid_entry{std::string(owner), *s, *n, lineno});
    });
    if (err) return std::move(*err);
    return out;
}

/// Reads and parses a subuid/subgid file.
[[nodiscard]] inline result<std::vector<subid_entry>> load_subid(const std::string& path) {
    BULKHEAD_TRY_ASSIGN(auto text, read_file(path.c_str(), AT_FDCWD, 16u << 20));
    return parse_subid(text, path);
}

/// Hands out disjoint blocks of subordinate ids (one per site) from the ranges an owner has
/// in /etc/subuid; already used blocks can be reserved first.
class subid_allocator {
public:
    subid_allocator() = default;

    /// Uses every entry of `entries` whose owner is `owner` (name or numeric id).
    subid_allocator(const std::vector<subid_entry>& entries, std::string_view owner,
                    std::string_view owner_alt = {}) {
        for (const auto& e : entries)
            if (e.owner == owner || (!owner_alt.empty() && e.owner == owner_alt))
                pool_.push_back({e.start, e.count});
        std::sort(pool_.begin(), pool_.end(), [](auto& a, auto& b) { return a.start < b.start; });
    }
    void add_pool(std::uint32_t start, std::uint32_t count) {
        pool_.push_back({start, count});
        std::sort(pool_.begin(), pool_.end(), [](auto& a, auto& b) { return a.start < b.start; });
    }

    /// Marks [start, start+count) as used (a site that already exists).
    [[nodiscard]] result<void> reserve(std::uint32_t start, std::uint32_t count) {
        if (count == 0) return error(errc::invalid_argument, "reserve subordinate ids").note("count is 0");
        for (const auto& u : used_)
            if (std::uint64_t{start} < std::uint64_t{u.start} + u.count &&
                std::uint64_t{u.start} < std::uint64_t{start} + count)
                return error(errc::already_exists, "reserve subordinate ids")
                    .subject(std::to_string(start) + "+" + std::to_string(count))
                    .note("overlaps a reserved block");
        used_.push_back({start, count});
        return {};
    }

    /// The lowest free block of `count` ids inside the pool; errc::not_available when full.
    [[nodiscard]] result<std::uint32_t> allocate(std::uint32_t count) {
        if (count == 0) return error(errc::invalid_argument, "allocate subordinate ids").note("count is 0");
        std::sort(used_.begin(), used_.end(), [](auto& a, auto& b) { return a.start < b.start; });
        for (const auto& p : pool_) {
            std::uint64_t cand = p.start, end = std::uint64_t{p.start} + p.count;
            for (const auto& u : used_) {
                std::uint64_t us = u.start, ue = std::uint64_t{u.start} + u.count;
                if (ue <= cand) continue;
                if (us >= cand + count) break;
                cand = ue; // skip past this used block
            }
            if (cand + count <= end) {
                used_.push_back({static_cast<std::uint32_t>(cand), count});
                return static_cast<std::uint32_t>(cand);
            }
        }
        return error(errc::not_available, "allocate subordinate ids")
            .subject(std::to_string(count))
            .note("no free block of that size left in the owner's ranges");
    }

    /// A one-range id map for a block from `allocate`: inside 0..count-1 -> start...
    [[nodiscard]] static id_map map_for(std::uint32_t start, std::uint32_t count) {
        return id_map{{0, start, count}};
    }

private:
    struct block {
        std::uint32_t start;
        std::uint32_t count;
    };
    std::vector<block> pool_;
    std::vector<block> used_;
};

} // namespace ns
BULKHEAD_NAMESPACE_END
