#pragma once
// sitehost's sites file: JSON read with the project's strict reader, validated as a whole
// before anything starts. Every error names the file, line:column, the key path and why:
//   sites.json at line 12:18: sites[1].webroot: must be an absolute path without ".."

#include <bulkhead/detail/json.hpp>
#include <bulkhead/detail/text.hpp>
#include <bulkhead/error.hpp>
#include <bulkhead/fd.hpp>
#include <bulkhead/ns.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sitehost {

namespace json = bulkhead::detail::json;

/// A contiguous id range (uids and gids alike) owned by one site: inside ids 0..count-1 map
/// to base..base+count-1 outside, so root inside is an unprivileged id outside.
struct id_range {
    std::uint32_t base = 0;
    std::uint32_t count = 0;
    [[nodiscard]] bool overlaps(const id_range& o) const noexcept {
        return base < o.base + std::uint64_t{o.count} && o.base < base + std::uint64_t{count};
    }
};

/// cgroup limits as written in the sites file; values are kept in the kernel's own syntax
/// (validated here, written by the cgroup module).
struct limits {
    std::optional<std::string> cpu_max;     ///< "QUOTA PERIOD" or "max PERIOD" (microseconds)
    std::optional<std::uint32_t> cpu_weight; ///< 1..10000
    std::optional<std::uint64_t> memory_max; ///< bytes
    std::optional<std::uint64_t> memory_high;
    std::optional<std::uint64_t> pids_max;
    struct io {
        std::string device; ///< a block device path or MAJ:MIN
        std::optional<std::uint64_t> rbps, wbps, riops, wiops;
    };
    std::vector<io> io_max;
};

struct site {
    std::string name;
    std::vector<std::string> domains;
    std::string webroot;
    std::optional<id_range> ids; ///< explicit, or allotted by allot()
    std::string ipv4;            ///< the site's own address (allotted when empty)
    std::string ipv6;            ///< optional
    struct limits limits;
    bool php = true;
    std::string seccomp = "web"; ///< "web", "docker-default", "none" or a profile path
    std::vector<std::string> ro_binds;
    /// A default route via the host side. Off by default: the site then reaches only its own
    /// /30 (the host side address), so packets to other sites or the world have no route. With
    /// it, forwarding and filtering are the operator's (sitehost enables neither).
    bool egress = false;
    json::location where{};      ///< where the site was declared, for later errors
};

/// CAA preflight: which CA the host orders certificates from, and where to ask DNS.
struct caa_settings {
    std::string ca = "letsencrypt.org";
    std::vector<std::string> servers; ///< "IP[:PORT]"; empty: /etc/resolv.conf
    std::optional<std::string> account_uri;       ///< RFC 8657 accounturi of the host's account
    std::optional<std::string> validation_method; ///< e.g. "http-01"
    bool on_up = true;                            ///< `up` checks every domain and logs it
};

/// A PSI trigger: an event when tasks of a site stalled on `resource` for more than `stall_ms`
/// within `window_ms` (the kernel's pressure trigger; window 500..10000 ms).
struct pressure_trigger {
    std::string resource; ///< "cpu", "memory" or "io"
    std::uint32_t stall_ms = 0;
    std::uint32_t window_ms = 1000;
    bool full = false;    ///< "full" (all tasks stalled) instead of "some"
};

/// Upload scanning with ClamAV-format signature databases.
struct scan_settings {
    std::vector<std::string> databases;    ///< files or directories (.ndb .ldb .hdb .cvd ...); empty: off
    std::string quarantine_dir = "/var/lib/bulkhead-sitehost/quarantine";
    bool freeze_on_detection = false;      ///< freeze the site when malware arrives
    std::uint64_t max_file_size = 64u << 20;
    std::uint32_t schedule_s = 0;          ///< full scan of every site every N seconds; 0: off
    std::uint32_t threads = 0;             ///< full-scan workers; 0: every core
};

/// The servers every site runs (Debian 12's packages).
inline constexpr const char* nginx_path = "/usr/sbin/nginx";
inline constexpr const char* php_fpm_path = "/usr/sbin/php-fpm8.2";

struct config {
    std::string path; ///< the file it was read from, for messages
    std::string cgroup = "bulkhead-sitehost"; ///< the top group under the cgroup2 mount
    caa_settings caa;
    scan_settings scan;
    std::vector<pressure_trigger> pressure;
    std::string state_dir = "/run/bulkhead-sitehost";
    std::string ipv4_pool = "10.88.0.0/16"; ///< /30 per site: .1 host side, .2 the site
    id_range id_pool{200000, 65536u * 64};  ///< ranges are allotted from here
    std::uint32_t ids_per_site = 65536;
    std::vector<site> sites;
    /// Read the servers' code once before any site starts, so its page cache is charged to
    /// the supervisor's cgroup and no site's memory limit can evict it (prewarm.hpp).
    bool prewarm = true;
};

namespace detail {

/// Builds "file at line L:C: PATH: why" errors.
class checker {
public:
    explicit checker(const std::string& file) : file_(file) {}

    bulkhead::error fail(const json::value& at, const std::string& path, std::string_view why) const {
        auto e = bulkhead::error(bulkhead::errc::invalid_argument, "sites file");
        e.subject(file_).at(at.where().line, at.where().column).note(path + ": " + std::string(why));
        return e;
    }

private:
    std::string file_;
};

inline bool valid_site_name(std::string_view s) {
    if (s.empty() || s.size() > 32 || s.front() == '-' || s.back() == '-') return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

/// A host name of LDH labels (RFC 1123), optionally starting with "*." for a wildcard.
inline bool valid_domain(std::string_view d) {
    if (d.substr(0, 2) == "*.") d.remove_prefix(2);
    if (!d.empty() && d.back() == '.') d.remove_suffix(1);
    if (d.empty() || d.size() > 253) return false;
    for (auto label : bulkhead::detail::split(d, '.')) {
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (char c : label)
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
                return false;
    }
    return true;
}

inline bool clean_absolute_path(std::string_view p) {
    if (p.empty() || p.front() != '/' || p.find('\0') != std::string_view::npos) return false;
    for (auto part : bulkhead::detail::split(p, '/'))
        if (part == ".." || part == ".") return false;
    return true;
}

/// True when `inner` is `outer` or lies below it.
inline bool path_within(std::string_view inner, std::string_view outer) {
    while (outer.size() > 1 && outer.back() == '/') outer.remove_suffix(1);
    while (inner.size() > 1 && inner.back() == '/') inner.remove_suffix(1);
    if (inner == outer) return true;
    return inner.size() > outer.size() && inner.substr(0, outer.size()) == outer &&
           (outer == "/" || inner[outer.size()] == '/');
}

/// "256M", "1G", "1048576", "max" (max -> nullopt through `is_max`). Binary multiples, as
/// the kernel's memparse.
inline std::optional<std::uint64_t> parse_size(std::string_view s, bool& is_max) {
    is_max = s == "max";
    if (is_max) return std::nullopt;
    std::uint64_t mult = 1;
    if (!s.empty()) {
        switch (s.back()) {
        case 'K': case 'k': mult = 1ull << 10; break;
        case 'M': case 'm': mult = 1ull << 20; break;
        case 'G': case 'g': mult = 1ull << 30; break;
        case 'T': case 't': mult = 1ull << 40; break;
        default: break;
        }
        if (mult != 1) s.remove_suffix(1);
    }
    auto v = bulkhead::detail::parse_int<std::uint64_t>(s);
    if (!v || *v > UINT64_MAX / mult) return std::nullopt;
    return *v * mult;
}

inline bool parse_ipv4(std::string_view s, std::uint32_t& out) {
    std::string z(s);
    in_addr a{};
    if (::inet_pton(AF_INET, z.c_str(), &a) != 1) return false;
    out = ntohl(a.s_addr);
    return true;
}

inline std::string format_ipv4(std::uint32_t v) {
    in_addr a{htonl(v)};
    char buf[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

struct reader {
    const checker& ck;

    bulkhead::result<std::string> string(const json::value& v, const std::string& path) const {
        if (!v.is_string()) return ck.fail(v, path, std::string("expected a string, found ") + json::kind_name(v.type()));
        return v.as_string();
    }
    bulkhead::result<std::uint64_t> uint(const json::value& v, const std::string& path,
                                         std::uint64_t lo, std::uint64_t hi) const {
        auto n = v.as_uint64();
        if (!n) return ck.fail(v, path, "expected a non-negative integer");
        if (*n < lo || *n > hi)
            return ck.fail(v, path, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        return *n;
    }
    /// A size as a number of bytes or a string with K/M/G/T; "max" gives nullopt.
    bulkhead::result<std::optional<std::uint64_t>> size(const json::value& v, const std::string& path) const {
        if (v.is_number()) {
            auto n = v.as_uint64();
            if (!n) return ck.fail(v, path, "expected a byte count");
            return std::optional<std::uint64_t>(*n);
        }
        bool is_max = false;
        if (v.is_string()) {
            auto n = parse_size(v.as_string(), is_max);
            if (n || is_max) return n;
        }
        return ck.fail(v, path, "expected a size such as 268435456, \"256M\", \"1G\" or \"max\"");
    }
    bulkhead::result<void> known_keys(const json::value& obj, const std::string& path,
                                      std::initializer_list<std::string_view> keys) const {
        for (const auto& m : obj.members()) {
            if (std::find(keys.begin(), keys.end(), m.first) == keys.end())
                return ck.fail(m.second, path + "." + m.first, "unknown key");
        }
        return {};
    }
};

inline bulkhead::result<struct limits> read_limits(const reader& r, const json::value& v,
                                                   const std::string& path) {
    struct limits l;
    if (!v.is_object()) return r.ck.fail(v, path, "expected an object");
    BULKHEAD_TRY(r.known_keys(v, path, {"cpu_max", "cpu_weight", "memory_max", "memory_high",
                                        "pids_max", "io_max"}));
    if (const auto* c = v.find("cpu_max")) {
        BULKHEAD_TRY_ASSIGN(std::string s, r.string(*c, path + ".cpu_max"));
        auto f = bulkhead::detail::split_ws(s);
        bool ok = f.size() == 2 && (f[0] == "max" || bulkhead::detail::parse_int<std::uint64_t>(f[0])) &&
                  bulkhead::detail::parse_int<std::uint64_t>(f[1]);
        if (ok) {
            auto period = *bulkhead::detail::parse_int<std::uint64_t>(f[1]);
            ok = period >= 1000 && period <= 1000000;
            if (ok && f[0] != "max") ok = *bulkhead::detail::parse_int<std::uint64_t>(f[0]) >= 1000;
        }
        if (!ok)
            return r.ck.fail(*c, path + ".cpu_max",
                             "expected \"QUOTA PERIOD\" in microseconds (quota >= 1000 or max, "
                             "period 1000..1000000), e.g. \"50000 100000\" for half a CPU");
        l.cpu_max = s;
    }
    if (const auto* c = v.find("cpu_weight")) {
        BULKHEAD_TRY_ASSIGN(auto w, r.uint(*c, path + ".cpu_weight", 1, 10000));
        l.cpu_weight = static_cast<std::uint32_t>(w);
    }
    if (const auto* c = v.find("memory_max")) {
        BULKHEAD_TRY_ASSIGN(l.memory_max, r.size(*c, path + ".memory_max"));
    }
    if (const auto* c = v.find("memory_high")) {
        BULKHEAD_TRY_ASSIGN(l.memory_high, r.size(*c, path + ".memory_high"));
    }
    if (const auto* c = v.find("pids_max")) {
        if (c->is_string() && c->as_string() == "max") {
            l.pids_max.reset();
        } else {
            BULKHEAD_TRY_ASSIGN(auto p, r.uint(*c, path + ".pids_max", 1, 4194304));
            l.pids_max = p;
        }
    }
    if (const auto* c = v.find("io_max")) {
        if (!c->is_array()) return r.ck.fail(*c, path + ".io_max", "expected an array");
        for (std::size_t i = 0; i < c->items().size(); ++i) {
            const auto& e = c->items()[i];
            std::string p = path + ".io_max[" + std::to_string(i) + "]";
            if (!e.is_object()) return r.ck.fail(e, p, "expected an object");
            BULKHEAD_TRY(r.known_keys(e, p, {"device", "rbps", "wbps", "riops", "wiops"}));
            limits::io io;
            const auto* dev = e.find("device");
            if (!dev) return r.ck.fail(e, p, "missing \"device\" (a block device path or MAJ:MIN)");
            BULKHEAD_TRY_ASSIGN(io.device, r.string(*dev, p + ".device"));
            if (io.device.empty()) return r.ck.fail(*dev, p + ".device", "must not be empty");
            auto get = [&](const char* k, std::optional<std::uint64_t>& out) -> bulkhead::result<void> {
                if (const auto* x = e.find(k)) {
                    BULKHEAD_TRY_ASSIGN(out, r.size(*x, p + "." + k));
                }
                return {};
            };
            BULKHEAD_TRY(get("rbps", io.rbps));
            BULKHEAD_TRY(get("wbps", io.wbps));
            BULKHEAD_TRY(get("riops", io.riops));
            BULKHEAD_TRY(get("wiops", io.wiops));
            l.io_max.push_back(std::move(io));
        }
    }
    if (l.memory_high && l.memory_max && *l.memory_high > *l.memory_max)
        return r.ck.fail(*v.find("memory_high"), path + ".memory_high", "must not exceed memory_max");
    return l;
}

inline bulkhead::result<site> read_site(const reader& r, const json::value& v, const std::string& path) {
    site s;
    s.where = v.where();
    if (!v.is_object()) return r.ck.fail(v, path, "expected an object");
    BULKHEAD_TRY(r.known_keys(v, path, {"name", "domains", "webroot", "ids", "ipv4", "ipv6",
                                        "limits", "php", "seccomp", "ro_binds", "egress"}));
    const auto* name = v.find("name");
    if (!name) return r.ck.fail(v, path, "missing \"name\"");
    BULKHEAD_TRY_ASSIGN(s.name, r.string(*name, path + ".name"));
    if (!valid_site_name(s.name))
        return r.ck.fail(*name, path + ".name", "use 1-32 of a-z, 0-9 and '-', not at either end");
    if (const auto* d = v.find("domains")) {
        if (!d->is_array()) return r.ck.fail(*d, path + ".domains", "expected an array of names");
        for (std::size_t i = 0; i < d->items().size(); ++i) {
            std::string p = path + ".domains[" + std::to_string(i) + "]";
            BULKHEAD_TRY_ASSIGN(std::string dom, r.string(d->items()[i], p));
            if (!valid_domain(dom)) return r.ck.fail(d->items()[i], p, "not a valid host name");
            s.domains.push_back(std::move(dom));
        }
    }
    const auto* root = v.find("webroot");
    if (!root) return r.ck.fail(v, path, "missing \"webroot\"");
    BULKHEAD_TRY_ASSIGN(s.webroot, r.string(*root, path + ".webroot"));
    if (!clean_absolute_path(s.webroot) || s.webroot == "/")
        return r.ck.fail(*root, path + ".webroot", "must be an absolute path without \"..\", not /");
    if (const auto* ids = v.find("ids")) {
        if (!ids->is_object()) return r.ck.fail(*ids, path + ".ids", "expected {\"base\": N, \"count\": N}");
        BULKHEAD_TRY(r.known_keys(*ids, path + ".ids", {"base", "count"}));
        const auto* b = ids->find("base");
        const auto* c = ids->find("count");
        if (!b || !c) return r.ck.fail(*ids, path + ".ids", "needs both \"base\" and \"count\"");
        BULKHEAD_TRY_ASSIGN(auto base, r.uint(*b, path + ".ids.base", 1000, 4294967294u));
        BULKHEAD_TRY_ASSIGN(auto count, r.uint(*c, path + ".ids.count", 1024, 1u << 30));
        if (base + count > 4294967295ull)
            return r.ck.fail(*c, path + ".ids.count", "range runs past the largest id");
        s.ids = id_range{static_cast<std::uint32_t>(base), static_cast<std::uint32_t>(count)};
    }
    if (const auto* a = v.find("ipv4")) {
        BULKHEAD_TRY_ASSIGN(s.ipv4, r.string(*a, path + ".ipv4"));
        std::uint32_t ip = 0;
        if (!parse_ipv4(s.ipv4, ip)) return r.ck.fail(*a, path + ".ipv4", "not an IPv4 address");
    }
    if (const auto* a = v.find("ipv6")) {
        BULKHEAD_TRY_ASSIGN(s.ipv6, r.string(*a, path + ".ipv6"));
        in6_addr x{};
        if (::inet_pton(AF_INET6, s.ipv6.c_str(), &x) != 1)
            return r.ck.fail(*a, path + ".ipv6", "not an IPv6 address");
    }
    if (const auto* l = v.find("limits")) {
        BULKHEAD_TRY_ASSIGN(s.limits, read_limits(r, *l, path + ".limits"));
    }
    if (const auto* p = v.find("php")) {
        if (!p->is_bool()) return r.ck.fail(*p, path + ".php", "expected true or false");
        s.php = p->as_bool();
    }
    if (const auto* p = v.find("egress")) {
        if (!p->is_bool()) return r.ck.fail(*p, path + ".egress", "expected true or false");
        s.egress = p->as_bool();
    }
    if (const auto* p = v.find("seccomp")) {
        BULKHEAD_TRY_ASSIGN(s.seccomp, r.string(*p, path + ".seccomp"));
        if (s.seccomp != "web" && s.seccomp != "docker-default" && s.seccomp != "none" &&
            !clean_absolute_path(s.seccomp))
            return r.ck.fail(*p, path + ".seccomp",
                             "expected \"web\", \"docker-default\", \"none\" or an absolute profile path");
    }
    if (const auto* b = v.find("ro_binds")) {
        if (!b->is_array()) return r.ck.fail(*b, path + ".ro_binds", "expected an array of paths");
        for (std::size_t i = 0; i < b->items().size(); ++i) {
            std::string p = path + ".ro_binds[" + std::to_string(i) + "]";
            BULKHEAD_TRY_ASSIGN(std::string bind, r.string(b->items()[i], p));
            if (!clean_absolute_path(bind) || bind == "/")
                return r.ck.fail(b->items()[i], p, "must be an absolute path without \"..\", not /");
            s.ro_binds.push_back(std::move(bind));
        }
    }
    return s;
}

} // namespace detail

/// Gives every site without explicit ids a range from the pool and every site without an
/// address its own /30, skipping what explicit entries already use. Checks that nothing
/// overlaps. Errors name the site.
inline bulkhead::result<void> allot(config& c) {
    auto fail = [&](const site& s, const std::string& why) {
        return bulkhead::error(bulkhead::errc::invalid_argument, "sites file")
            .subject(c.path)
            .at(s.where.line, s.where.column)
            .note("site \"" + s.name + "\": " + why);
    };
    std::uint32_t pool_base = 0;
    std::string pool = c.ipv4_pool;
    auto slash = pool.find('/');
    auto prefix = slash == std::string::npos ? std::nullopt
                                             : bulkhead::detail::parse_int<unsigned>(std::string_view(pool).substr(slash + 1));
    if (!prefix || *prefix > 28 || !detail::parse_ipv4(std::string_view(pool).substr(0, slash), pool_base))
        return bulkhead::error(bulkhead::errc::invalid_argument, "sites file").subject(c.path)
            .note("ipv4_pool: expected A.B.C.D/N with N <= 28");
    std::uint32_t pool_size = 1u << (32 - *prefix);
    pool_base &= ~(pool_size - 1);

    std::vector<id_range> used_ids;
    std::vector<std::uint32_t> used_nets; // /30 network addresses
    for (const auto& s : c.sites) {
        if (s.ids) used_ids.push_back(*s.ids);
        if (!s.ipv4.empty()) {
            std::uint32_t ip = 0;
            detail::parse_ipv4(s.ipv4, ip);
            used_nets.push_back(ip & ~3u);
        }
    }
    std::uint32_t next_id = c.id_pool.base;
    std::uint32_t next_net = pool_base + 4; // skip the pool's network address block
    for (auto& s : c.sites) {
        if (!s.ids) {
            id_range cand{next_id, c.ids_per_site};
            while (std::any_of(used_ids.begin(), used_ids.end(), [&](const id_range& u) { return u.overlaps(cand); }))
                cand.base += c.ids_per_site;
            if (std::uint64_t{cand.base} + cand.count > std::uint64_t{c.id_pool.base} + c.id_pool.count)
                return fail(s, "no free id range left in the pool");
            s.ids = cand;
            used_ids.push_back(cand);
            next_id = cand.base + cand.count;
        }
        if (s.ipv4.empty()) {
            while (std::find(used_nets.begin(), used_nets.end(), next_net) != used_nets.end()) next_net += 4;
            if (next_net + 4 > pool_base + pool_size) return fail(s, "no free /30 left in ipv4_pool");
            s.ipv4 = detail::format_ipv4(next_net + 2);
            used_nets.push_back(next_net);
            next_net += 4;
        }
    }
    // Pairwise checks, with explicit values included.
    for (std::size_t i = 0; i < c.sites.size(); ++i)
        for (std::size_t j = i + 1; j < c.sites.size(); ++j) {
            const auto& a = c.sites[i];
            const auto& b = c.sites[j];
            if (a.ids->overlaps(*b.ids)) return fail(b, "id range overlaps site \"" + a.name + "\"");
            std::uint32_t x = 0, y = 0;
            detail::parse_ipv4(a.ipv4, x);
            detail::parse_ipv4(b.ipv4, y);
            if ((x & ~3u) == (y & ~3u)) return fail(b, "ipv4 " + b.ipv4 + " shares a /30 with site \"" + a.name + "\"");
            if (!a.ipv6.empty() && !b.ipv6.empty()) {
                in6_addr p{}, q{};
                ::inet_pton(AF_INET6, a.ipv6.c_str(), &p);
                ::inet_pton(AF_INET6, b.ipv6.c_str(), &q);
                if (std::memcmp(p.s6_addr, q.s6_addr, 15) == 0 && (p.s6_addr[15] & ~3u) == (q.s6_addr[15] & ~3u))
                    return fail(b, "ipv6 " + b.ipv6 + " shares a /126 with site \"" + a.name + "\"");
            }
        }
    return {};
}

/// The host side of a site's /30 (the site's address with the last two bits 01).
inline std::string host_side_ipv4(const site& s) {
    std::uint32_t ip = 0;
    detail::parse_ipv4(s.ipv4, ip);
    return detail::format_ipv4((ip & ~3u) | 1u);
}

/// The host side of a site's IPv6 /126: the address with its last two bits 01 (10 when the
/// site itself is ...01).
inline std::string host_side_ipv6(const site& s) {
    in6_addr a{};
    ::inet_pton(AF_INET6, s.ipv6.c_str(), &a);
    std::uint8_t last = a.s6_addr[15];
    a.s6_addr[15] = static_cast<std::uint8_t>((last & ~3u) | ((last & 3u) == 1 ? 2u : 1u));
    char buf[INET6_ADDRSTRLEN];
    ::inet_ntop(AF_INET6, &a, buf, sizeof buf);
    return buf;
}

/// Parses and validates a sites file's text; `file` names it in errors.
inline bulkhead::result<config> parse_config(std::string_view text, const std::string& file) {
    auto doc = json::parse(text);
    if (!doc) {
        auto e = std::move(doc).error();
        return std::move(e.subject(file));
    }
    detail::checker ck(file);
    detail::reader r{ck};
    const json::value& v = *doc;
    if (!v.is_object()) return ck.fail(v, "(top level)", "expected an object");
    BULKHEAD_TRY(r.known_keys(v, "(top level)", {"state_dir", "cgroup", "ipv4_pool", "id_pool", "ids_per_site", "sites", "caa", "pressure", "scan", "prewarm"}));
    config c;
    c.path = file;
    if (const auto* pw = v.find("prewarm")) {
        if (!pw->is_bool()) return ck.fail(*pw, "prewarm", "expected true or false");
        c.prewarm = pw->as_bool();
    }
    if (const auto* sc = v.find("scan")) {
        if (!sc->is_object()) return ck.fail(*sc, "scan", "expected an object");
        BULKHEAD_TRY(r.known_keys(*sc, "scan", {"databases", "quarantine_dir", "freeze_on_detection", "max_file_size",
                                                "schedule_s", "threads"}));
        if (const auto* d = sc->find("databases")) {
            if (!d->is_array()) return ck.fail(*d, "scan.databases", "expected an array of paths");
            for (std::size_t i = 0; i < d->items().size(); ++i) {
                std::string p = "scan.databases[" + std::to_string(i) + "]";
                BULKHEAD_TRY_ASSIGN(std::string db, r.string(d->items()[i], p));
                if (!detail::clean_absolute_path(db)) return ck.fail(d->items()[i], p, "must be an absolute path");
                c.scan.databases.push_back(std::move(db));
            }
        }
        if (const auto* q = sc->find("quarantine_dir")) {
            BULKHEAD_TRY_ASSIGN(c.scan.quarantine_dir, r.string(*q, "scan.quarantine_dir"));
            if (!detail::clean_absolute_path(c.scan.quarantine_dir) || c.scan.quarantine_dir == "/")
                return ck.fail(*q, "scan.quarantine_dir", "must be an absolute path, not /");
        }
        if (const auto* f = sc->find("freeze_on_detection")) {
            if (!f->is_bool()) return ck.fail(*f, "scan.freeze_on_detection", "expected true or false");
            c.scan.freeze_on_detection = f->as_bool();
        }
        if (const auto* m = sc->find("max_file_size")) {
            BULKHEAD_TRY_ASSIGN(auto sz, r.size(*m, "scan.max_file_size"));
            c.scan.max_file_size = sz.value_or(0);
        }
        if (const auto* t = sc->find("schedule_s")) {
            BULKHEAD_TRY_ASSIGN(auto n, r.uint(*t, "scan.schedule_s", 0, 7 * 86400));
            c.scan.schedule_s = static_cast<std::uint32_t>(n);
        }
        if (const auto* t = sc->find("threads")) {
            BULKHEAD_TRY_ASSIGN(auto n, r.uint(*t, "scan.threads", 0, 1024));
            c.scan.threads = static_cast<std::uint32_t>(n);
        }
    }
    if (const auto* p = v.find("pressure")) {
        if (!p->is_array()) return ck.fail(*p, "pressure", "expected an array of triggers");
        for (std::size_t i = 0; i < p->items().size(); ++i) {
            const auto& t = p->items()[i];
            std::string path = "pressure[" + std::to_string(i) + "]";
            if (!t.is_object()) return ck.fail(t, path, "expected {\"resource\": ..., \"stall_ms\": N, \"window_ms\": N}");
            BULKHEAD_TRY(r.known_keys(t, path, {"resource", "stall_ms", "window_ms", "full"}));
            pressure_trigger pt;
            const auto* res = t.find("resource");
            if (!res) return ck.fail(t, path, "missing \"resource\"");
            BULKHEAD_TRY_ASSIGN(pt.resource, r.string(*res, path + ".resource"));
            if (pt.resource != "cpu" && pt.resource != "memory" && pt.resource != "io")
                return ck.fail(*res, path + ".resource", "expected \"cpu\", \"memory\" or \"io\"");
            if (const auto* w = t.find("window_ms")) {
                BULKHEAD_TRY_ASSIGN(auto n, r.uint(*w, path + ".window_ms", 500, 10000));
                pt.window_ms = static_cast<std::uint32_t>(n);
            }
            const auto* st = t.find("stall_ms");
            if (!st) return ck.fail(t, path, "missing \"stall_ms\"");
            BULKHEAD_TRY_ASSIGN(auto n, r.uint(*st, path + ".stall_ms", 1, pt.window_ms));
            pt.stall_ms = static_cast<std::uint32_t>(n);
            if (const auto* f = t.find("full")) {
                if (!f->is_bool()) return ck.fail(*f, path + ".full", "expected true or false");
                pt.full = f->as_bool();
            }
            c.pressure.push_back(pt);
        }
    }
    if (const auto* a = v.find("caa")) {
        if (!a->is_object()) return ck.fail(*a, "caa", "expected an object");
        BULKHEAD_TRY(r.known_keys(*a, "caa", {"ca", "servers", "account_uri", "validation_method", "on_up"}));
        if (const auto* x = a->find("ca")) {
            BULKHEAD_TRY_ASSIGN(c.caa.ca, r.string(*x, "caa.ca"));
            if (!detail::valid_domain(c.caa.ca)) return ck.fail(*x, "caa.ca", "not a valid issuer domain name");
        }
        if (const auto* x = a->find("servers")) {
            if (!x->is_array()) return ck.fail(*x, "caa.servers", "expected an array of \"IP[:PORT]\"");
            for (std::size_t i = 0; i < x->items().size(); ++i) {
                BULKHEAD_TRY_ASSIGN(std::string sv, r.string(x->items()[i], "caa.servers[" + std::to_string(i) + "]"));
                c.caa.servers.push_back(std::move(sv));
            }
        }
        if (const auto* x = a->find("account_uri")) {
            BULKHEAD_TRY_ASSIGN(c.caa.account_uri, r.string(*x, "caa.account_uri"));
        }
        if (const auto* x = a->find("validation_method")) {
            BULKHEAD_TRY_ASSIGN(c.caa.validation_method, r.string(*x, "caa.validation_method"));
        }
        if (const auto* x = a->find("on_up")) {
            if (!x->is_bool()) return ck.fail(*x, "caa.on_up", "expected true or false");
            c.caa.on_up = x->as_bool();
        }
    }
    if (const auto* s = v.find("state_dir")) {
        BULKHEAD_TRY_ASSIGN(c.state_dir, r.string(*s, "state_dir"));
        if (!detail::clean_absolute_path(c.state_dir)) return ck.fail(*s, "state_dir", "must be an absolute path");
    }
    if (const auto* s = v.find("cgroup")) {
        BULKHEAD_TRY_ASSIGN(c.cgroup, r.string(*s, "cgroup"));
        bool ok = !c.cgroup.empty() && c.cgroup.size() <= 64 && c.cgroup != "." && c.cgroup != "..";
        for (char ch : c.cgroup)
            ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                        ch == '-' || ch == '_' || ch == '.');
        if (!ok) return ck.fail(*s, "cgroup", "one directory name of letters, digits, '-', '_' or '.'");
    }
    if (const auto* s = v.find("ipv4_pool")) {
        BULKHEAD_TRY_ASSIGN(c.ipv4_pool, r.string(*s, "ipv4_pool"));
    }
    if (const auto* s = v.find("id_pool"); s && s->is_object() && s->find("subuid")) {
        // The pool from /etc/subuid-style files: the owner's range, the same in subuid and
        // subgid (sites use one range for uids and gids).
        BULKHEAD_TRY(r.known_keys(*s, "id_pool", {"subuid", "subgid", "owner"}));
        BULKHEAD_TRY_ASSIGN(std::string uidf, r.string(*s->find("subuid"), "id_pool.subuid"));
        std::string gidf = "/etc/subgid";
        if (const auto* g = s->find("subgid")) {
            BULKHEAD_TRY_ASSIGN(gidf, r.string(*g, "id_pool.subgid"));
        }
        const auto* o = s->find("owner");
        if (!o) return ck.fail(*s, "id_pool", "missing \"owner\" (the user the ranges belong to)");
        BULKHEAD_TRY_ASSIGN(std::string owner, r.string(*o, "id_pool.owner"));
        BULKHEAD_TRY_ASSIGN(auto uids, bulkhead::ns::load_subid(uidf));
        BULKHEAD_TRY_ASSIGN(auto gids, bulkhead::ns::load_subid(gidf));
        const bulkhead::ns::subid_entry* pick = nullptr;
        for (const auto& u : uids) {
            if (u.owner != owner) continue;
            for (const auto& g : gids)
                if (g.owner == owner && g.start == u.start && g.count == u.count) pick = &u;
            if (pick) break;
        }
        if (!pick)
            return ck.fail(*s, "id_pool", "no range of \"" + owner + "\" is in both " + uidf + " and " + gidf);
        c.id_pool = {pick->start, pick->count};
    } else if (const auto* s = v.find("id_pool")) {
        if (!s->is_object() || !s->find("base") || !s->find("count"))
            return ck.fail(*s, "id_pool", "expected {\"base\": N, \"count\": N} or {\"subuid\": FILE, \"owner\": NAME}");
        BULKHEAD_TRY_ASSIGN(auto b, r.uint(*s->find("base"), "id_pool.base", 1000, 4294967294u));
        BULKHEAD_TRY_ASSIGN(auto n, r.uint(*s->find("count"), "id_pool.count", 1024, 4294967295u - b));
        c.id_pool = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(n)};
    }
    if (const auto* s = v.find("ids_per_site")) {
        BULKHEAD_TRY_ASSIGN(auto n, r.uint(*s, "ids_per_site", 1024, 1u << 30));
        c.ids_per_site = static_cast<std::uint32_t>(n);
    }
    const auto* sites = v.find("sites");
    if (!sites || !sites->is_array() || sites->items().empty())
        return ck.fail(sites ? *sites : v, "sites", "expected a non-empty array of sites");
    for (std::size_t i = 0; i < sites->items().size(); ++i) {
        std::string p = "sites[" + std::to_string(i) + "]";
        BULKHEAD_TRY_ASSIGN(site s, detail::read_site(r, sites->items()[i], p));
        for (const auto& o : c.sites) {
            const auto& at = sites->items()[i];
            if (o.name == s.name) return ck.fail(*at.find("name"), p + ".name", "\"" + s.name + "\" is used twice");
            if (detail::path_within(s.webroot, o.webroot) || detail::path_within(o.webroot, s.webroot))
                return ck.fail(*at.find("webroot"), p + ".webroot",
                               "overlaps the webroot of site \"" + o.name + "\"");
            for (const auto& d : s.domains)
                if (std::find(o.domains.begin(), o.domains.end(), d) != o.domains.end())
                    return ck.fail(*at.find("domains"), p + ".domains",
                                   "\"" + d + "\" also belongs to site \"" + o.name + "\"");
        }
        c.sites.push_back(std::move(s));
    }
    if (!c.scan.databases.empty())
        for (std::size_t i = 0; i < c.sites.size(); ++i)
            if (detail::path_within(c.scan.quarantine_dir, c.sites[i].webroot) ||
                detail::path_within(c.sites[i].webroot, c.scan.quarantine_dir))
                return ck.fail(*v.find("scan"), "scan.quarantine_dir",
                               "overlaps the webroot of site \"" + c.sites[i].name + "\": quarantine must be outside every site");
    BULKHEAD_TRY(allot(c));
    return c;
}

inline bulkhead::result<config> load_config(const std::string& file) {
    auto text = bulkhead::read_file(file.c_str(), AT_FDCWD, 4u << 20);
    if (!text) return std::move(text).error();
    return parse_config(*text, file);
}

} // namespace sitehost
