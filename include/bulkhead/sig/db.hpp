#pragma once
/// \file sig/db.hpp
/// ClamAV signature databases, parsed: .hdb/.hsb (hashes), .fp/.sfp (allow lists), .ign2
/// (ignore lists), .ndb (extended body signatures), .ldb (logical signatures) and the
/// .cvd/.cld containers (512-byte header, then a tar, gzip'd for .cvd). Every bad line is an
/// error naming file:line and the reason; valid signatures this engine cannot evaluate
/// (executable offsets, other target types, PCRE) are kept in `skipped` with the reason.

#include "bulkhead/config.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"
#include "bulkhead/detail/text.hpp"
#include "bulkhead/sig/inflate.hpp"
#include "bulkhead/sig/pattern.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace sig {

/// The functionality level this engine claims for MinFL/MaxFL filtering (ClamAV 1.x range).
inline constexpr unsigned engine_flevel = 200;

enum class hash_kind : std::uint8_t { md5 = 16, sha1 = 20, sha256 = 32 };

/// A hash signature: digest of the whole file, with its size or any size.
struct hash_sig {
    std::string name;
    hash_kind kind = hash_kind::md5;
    std::string digest; ///< raw bytes (16/20/32)
    bool any_size = false;
    std::uint64_t size = 0;
};

/// Subsignature modifiers (`::i`, `::w`, `::f`, `::a`).
enum modifier : std::uint8_t { mod_nocase = 1, mod_wide = 2, mod_fullword = 4, mod_ascii = 8 };

/// A body pattern with its offset: an .ndb signature or an .ldb subsignature.
struct body_sig {
    std::string name;
    unsigned target = 0;
    offset_spec offset;
    std::vector<token> tokens;
    std::uint8_t mods = 0;
    std::string source; ///< "file:line" for messages
};

/// Logical expression node (postfix program).
struct expr_op {
    enum kind_t : std::uint8_t { sub, op_and, op_or, cmp_eq, cmp_gt, cmp_lt };
    kind_t kind = sub;
    std::uint32_t x = 0;     ///< subsignature index, or the count to compare with
    std::uint32_t y = 0;     ///< minimum distinct subsignatures (0 = not given)
};

struct logical_sig {
    std::string name;
    unsigned target = 0;
    bool has_fsize = false;
    std::uint64_t fsize_min = 0, fsize_max = 0;
    std::vector<expr_op> expr;  ///< postfix
    std::vector<body_sig> subs;
    std::string source;
};

/// A valid signature that this engine does not evaluate, and why (never silently dropped).
struct skipped_sig {
    std::string name;
    std::string reason;
    std::string source;
};

/// Everything loaded from one or more database files.
struct database {
    std::vector<hash_sig> hashes;
    std::vector<hash_sig> allow;          ///< .fp / .sfp
    std::vector<body_sig> bodies;         ///< .ndb
    std::vector<logical_sig> logicals;    ///< .ldb
    std::set<std::string, std::less<>> ignored; ///< .ign2 names
    std::vector<skipped_sig> skipped;
    std::uint32_t version = 0;            ///< highest .cvd version seen (0 = plain files)
    std::size_t lines = 0;

    /// Signatures that will be evaluated.
    [[nodiscard]] std::size_t signature_count() const noexcept {
        return hashes.size() + bodies.size() + logicals.size();
    }
};

namespace detail {

inline error line_error(std::string_view file, std::size_t line, const char* why,
                        std::uint32_t col = 0) {
    return error(errc::parse_error, "signature database")
        .subject(std::string(file))
        .at(static_cast<std::uint32_t>(line), col)
        .note(why);
}

/// Re-anchors a column-carrying parse error at file:line, keeping its reason.
inline error relocate(const error& e, std::string_view file, std::size_t line,
                      std::uint32_t col_base) {
    error r(e.code(), "signature database");
    r.subject(std::string(file)).at(static_cast<std::uint32_t>(line), col_base + e.column());
    std::string note = e.op();
    if (!e.note_text().empty()) note += ": " + e.note_text();
    if (!e.subject_text().empty()) note += " " + e.subject_text();
    r.note(note);
    return r;
}

[[nodiscard]] inline bool flevel_ok(std::string_view minfl, std::string_view maxfl, bool& bad) {
    bad = false;
    if (!minfl.empty()) {
        auto v = bulkhead::detail::parse_int<unsigned>(minfl);
        if (!v) { bad = true; return false; }
        if (*v > engine_flevel) return false;
    }
    if (!maxfl.empty()) {
        auto v = bulkhead::detail::parse_int<unsigned>(maxfl);
        if (!v) { bad = true; return false; }
        if (*v < engine_flevel) return false;
    }
    return true;
}

inline result<void> parse_hash_line(std::string_view line, bool md5_first, bool allow,
                                    std::string_view file, std::size_t ln, database& db) {
    auto f = bulkhead::detail::split(line, ':');
    if (f.size() < 3) return line_error(file, ln, "expected HASH:SIZE:NAME");
    // .hdb: MD5:Size:Name ; .hsb: Hash:Size:Name[:MinFL[:MaxFL]] (the same order since 0.97)
    (void)md5_first;
    hash_sig h;
    if (!decode_hex(f[0], h.digest)) return line_error(file, ln, "hash is not hex", 1);
    if (h.digest.size() == 16) h.kind = hash_kind::md5;
    else if (h.digest.size() == 20) h.kind = hash_kind::sha1;
    else if (h.digest.size() == 32) h.kind = hash_kind::sha256;
    else return line_error(file, ln, "hash must be 32, 40 or 64 hex digits (MD5, SHA-1, SHA-256)", 1);
    if (f[1] == "*") {
        h.any_size = true;
    } else {
        auto sz = bulkhead::detail::parse_int<std::uint64_t>(f[1]);
        if (!sz) return line_error(file, ln, "size must be a decimal number or *",
                                   static_cast<std::uint32_t>(f[0].size() + 2));
        h.size = *sz;
    }
    if (f[2].empty()) return line_error(file, ln, "empty signature name");
    h.name = std::string(f[2]);
    bool bad = false;
    if (!flevel_ok(f.size() > 3 ? f[3] : "", f.size() > 4 ? f[4] : "", bad)) {
        if (bad) return line_error(file, ln, "bad functionality level");
        db.skipped.push_back({h.name, "functionality level out of range", std::string(file) + ":" + std::to_string(ln)});
        return ok();
    }
    (allow ? db.allow : db.hashes).push_back(std::move(h));
    return ok();
}

inline result<void> parse_ndb_line(std::string_view line, std::string_view file, std::size_t ln,
                                   database& db) {
    auto f = bulkhead::detail::split(line, ':');
    if (f.size() < 4 || f.size() > 6)
        return line_error(file, ln, "expected Name:Target:Offset:HexSig[:MinFL[:MaxFL]]");
    body_sig b;
    b.source = std::string(file) + ":" + std::to_string(ln);
    if (f[0].empty()) return line_error(file, ln, "empty signature name", 1);
    b.name = std::string(f[0]);
    std::uint32_t col = static_cast<std::uint32_t>(f[0].size() + 2);
    auto t = bulkhead::detail::parse_int<unsigned>(f[1]);
    if (f[1] == "*") t = 0;
    if (!t || *t > 14) return line_error(file, ln, "target type must be a number 0-14", col);
    b.target = *t;
    col += static_cast<std::uint32_t>(f[1].size() + 1);
    auto off = parse_offset(f[2]);
    if (!off) return relocate(off.error(), file, ln, col);
    b.offset = *off;
    col += static_cast<std::uint32_t>(f[2].size() + 1);
    auto toks = parse_hex(f[3]);
    if (!toks) {
        if (toks.error().code() == make_error_code(errc::unsupported)) {
            db.skipped.push_back({b.name, toks.error().note_text(), b.source});
            return ok();
        }
        return relocate(toks.error(), file, ln, col - 1);
    }
    b.tokens = std::move(*toks);
    bool bad = false;
    if (!flevel_ok(f.size() > 4 ? f[4] : "", f.size() > 5 ? f[5] : "", bad)) {
        if (bad) return line_error(file, ln, "bad functionality level");
        db.skipped.push_back({b.name, "functionality level out of range", b.source});
        return ok();
    }
    if (b.target != 0 && b.target != 7) {
        db.skipped.push_back({b.name, "target type " + std::to_string(b.target) + " not supported (only 0 and 7)", b.source});
        return ok();
    }
    if (!b.offset.supported()) {
        db.skipped.push_back({b.name, "entry-point/section offsets need executable parsing", b.source});
        return ok();
    }
    db.bodies.push_back(std::move(b));
    return ok();
}

/// Parses a logical expression into postfix form (iterative shunting; depth bounded).
inline result<std::vector<expr_op>> parse_expr(std::string_view s, std::size_t nsubs) {
    std::vector<expr_op> out;
    // Recursive descent with an explicit depth limit.
    struct parser {
        std::string_view s;
        std::size_t nsubs;
        std::size_t i = 0;
        std::vector<expr_op>& out;
        int depth = 0;
        const char* why = nullptr;
        std::optional<std::uint32_t> number() {
            std::size_t j = i;
            while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
            auto v = bulkhead::detail::parse_int<std::uint32_t>(s.substr(i, j - i));
            if (v) i = j;
            return v;
        }
        bool primary() {
            if (++depth > 64) { why = "expression nested too deeply"; return false; }
            if (i < s.size() && s[i] == '(') {
                ++i;
                if (!alternation()) return false;
                if (i >= s.size() || s[i] != ')') { why = "missing )"; return false; }
                ++i;
            } else {
                auto v = number();
                if (!v) { why = "expected a subsignature index or ("; return false; }
                if (*v >= nsubs) { why = "subsignature index out of range"; return false; }
                out.push_back({expr_op::sub, *v, 0});
            }
            // postfix comparisons
            while (i < s.size() && (s[i] == '=' || s[i] == '>' || s[i] == '<')) {
                char c = s[i++];
                auto x = number();
                if (!x) { why = "expected a count after =, > or <"; return false; }
                std::uint32_t y = 0;
                if (i < s.size() && s[i] == ',') {
                    ++i;
                    auto yy = number();
                    if (!yy) { why = "expected a number after ,"; return false; }
                    y = *yy;
                }
                out.push_back({c == '=' ? expr_op::cmp_eq : c == '>' ? expr_op::cmp_gt : expr_op::cmp_lt, *x, y});
            }
            --depth;
            return true;
        }
        bool alternation() {
            if (!primary()) return false;
            while (i < s.size() && (s[i] == '&' || s[i] == '|')) {
                char c = s[i++];
                if (!primary()) return false;
                out.push_back({c == '&' ? expr_op::op_and : expr_op::op_or, 0, 0});
            }
            return true;
        }
    } p{s, nsubs, 0, out};
    if (!p.alternation() || p.i != s.size())
        return error(errc::parse_error, "logical expression")
            .at(0, static_cast<std::uint32_t>(p.i + 1))
            .note(p.why ? p.why : "unexpected character");
    return out;
}

inline result<void> parse_ldb_line(std::string_view line, std::string_view file, std::size_t ln,
                                   database& db) {
    auto f = bulkhead::detail::split(line, ';');
    if (f.size() < 4) return line_error(file, ln, "expected Name;TargetDescription;Expression;Subsig0[;...]");
    logical_sig L;
    L.source = std::string(file) + ":" + std::to_string(ln);
    if (f[0].empty()) return line_error(file, ln, "empty signature name", 1);
    L.name = std::string(f[0]);
    std::string skip_reason;
    bool have_target = false;
    for (auto kv : bulkhead::detail::split(f[1], ',')) {
        auto c = kv.find(':');
        if (c == std::string_view::npos) return line_error(file, ln, "target description needs Key:Value pairs");
        std::string_view k = kv.substr(0, c), v = kv.substr(c + 1);
        auto range = [&](std::uint64_t& lo, std::uint64_t& hi) {
            auto d = v.find('-');
            auto a = bulkhead::detail::parse_int<std::uint64_t>(v.substr(0, d));
            auto b = d == std::string_view::npos ? a : bulkhead::detail::parse_int<std::uint64_t>(v.substr(d + 1));
            if (!a || !b) return false;
            lo = *a;
            hi = *b;
            return true;
        };
        if (k == "Target") {
            auto t = bulkhead::detail::parse_int<unsigned>(v);
            if (!t || *t > 14) return line_error(file, ln, "Target must be a number 0-14");
            L.target = *t;
            have_target = true;
        } else if (k == "Engine") {
            std::uint64_t lo, hi;
            if (!range(lo, hi)) return line_error(file, ln, "Engine must be X-Y");
            if (lo > engine_flevel || hi < engine_flevel) skip_reason = "functionality level out of range";
        } else if (k == "FileSize") {
            if (!range(L.fsize_min, L.fsize_max)) return line_error(file, ln, "FileSize must be X-Y");
            L.has_fsize = true;
        } else if (k == "EntryPoint" || k == "NumberOfSections" || k == "Container" ||
                   k == "Intermediates" || k == "IconGroup1" || k == "IconGroup2" ||
                   k == "HandlerType") {
            if (skip_reason.empty()) skip_reason = "target description key " + std::string(k) + " not supported";
        } else {
            return line_error(file, ln, "unknown target description key");
        }
    }
    if (!have_target) return line_error(file, ln, "target description lacks Target:");
    std::size_t nsubs = f.size() - 3;
    if (nsubs > 64) return line_error(file, ln, "more than 64 subsignatures");
    auto ex = parse_expr(f[2], nsubs);
    if (!ex) return relocate(ex.error(), file, ln, static_cast<std::uint32_t>(f[0].size() + f[1].size() + 2));
    L.expr = std::move(*ex);
    for (std::size_t k = 0; k < nsubs; ++k) {
        std::string_view ss = f[3 + k];
        body_sig b;
        b.name = L.name;
        b.target = L.target;
        b.source = L.source;
        if (ss.empty()) return line_error(file, ln, "empty subsignature");
        if (ss.find('/') != std::string_view::npos) {
            if (skip_reason.empty()) skip_reason = "PCRE subsignature " + std::to_string(k) + " not supported";
            continue;
        }
        if (ss.find('#') != std::string_view::npos || ss[0] == '$') {
            if (skip_reason.empty()) skip_reason = "byte-compare/macro subsignature " + std::to_string(k) + " not supported";
            continue;
        }
        auto mm = ss.find("::");
        if (mm != std::string_view::npos) {
            for (char c : ss.substr(mm + 2)) {
                if (c == 'i') b.mods |= mod_nocase;
                else if (c == 'w') b.mods |= mod_wide;
                else if (c == 'f') b.mods |= mod_fullword;
                else if (c == 'a') b.mods |= mod_ascii;
                else return line_error(file, ln, "unknown subsignature modifier (expected i, w, f, a)");
            }
            ss = ss.substr(0, mm);
        }
        auto colon = ss.find(':');
        if (colon != std::string_view::npos) {
            auto off = parse_offset(ss.substr(0, colon));
            if (!off) return relocate(off.error(), file, ln, 0);
            b.offset = *off;
            ss = ss.substr(colon + 1);
        }
        auto toks = parse_hex(ss);
        if (!toks) {
            if (toks.error().code() == make_error_code(errc::unsupported)) {
                if (skip_reason.empty()) skip_reason = toks.error().note_text();
                continue;
            }
            auto e = relocate(toks.error(), file, ln, 0);
            return e.note("subsignature " + std::to_string(k) + ": " + e.note_text());
        }
        if (!b.offset.supported() && skip_reason.empty())
            skip_reason = "entry-point/section offsets need executable parsing";
        b.tokens = std::move(*toks);
        L.subs.push_back(std::move(b));
    }
    if (skip_reason.empty() && L.target != 0 && L.target != 7)
        skip_reason = "target type " + std::to_string(L.target) + " not supported (only 0 and 7)";
    if (!skip_reason.empty()) {
        db.skipped.push_back({L.name, skip_reason, L.source});
        return ok();
    }
    db.logicals.push_back(std::move(L));
    return ok();
}

[[nodiscard]] inline std::string lower_ext(std::string_view name) {
    auto d = name.rfind('.');
    std::string e = d == std::string_view::npos ? std::string() : std::string(name.substr(d + 1));
    for (auto& c : e) c = bulkhead::detail::ascii_lower(c);
    return e;
}

} // namespace detail

/// Kinds of text database recognised by their extension.
[[nodiscard]] inline bool is_database_name(std::string_view name) {
    static constexpr std::string_view exts[] = {"hdb", "hsb", "fp", "sfp", "ign2", "ndb",
                                                "ldb", "cvd", "cld"};
    auto e = detail::lower_ext(name);
    return std::find(std::begin(exts), std::end(exts), e) != std::end(exts);
}

/// Parses the text of one database file; the kind comes from `name`'s extension.
/// Extensions this engine does not read (.mdb, .yar, ...) are recorded as skipped.
inline result<void> load_text(std::string_view name, std::string_view text, database& db) {
    auto ext = detail::lower_ext(name);
    std::size_t ln = 0;
    result<void> r;
    bulkhead::detail::for_each_line(text, [&](std::string_view line) {
        ++ln;
        if (!r) return;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line[0] == '#') return;
        ++db.lines;
        if (ext == "hdb" || ext == "hsb") r = detail::parse_hash_line(line, ext == "hdb", false, name, ln, db);
        else if (ext == "fp" || ext == "sfp") r = detail::parse_hash_line(line, ext == "fp", true, name, ln, db);
        else if (ext == "ndb") r = detail::parse_ndb_line(line, name, ln, db);
        else if (ext == "ldb") r = detail::parse_ldb_line(line, name, ln, db);
        else if (ext == "ign2" || ext == "ign") {
            auto n = line.substr(0, line.find(':'));
            db.ignored.insert(std::string(n));
        } else {
            if (ln == 1) db.skipped.push_back({std::string(name), "database kind ." + ext + " not supported", std::string(name)});
        }
    });
    return r;
}

/// Parses a .cvd/.cld container: header, then a tar (gzip'd or plain) of database files.
inline result<void> load_container(std::string_view name, std::span<const unsigned char> bytes,
                                   database& db, std::size_t inflate_limit = default_inflate_limit) {
    auto err = [&](errc c, const char* why, std::size_t off) {
        return error(c, "signature container").subject(std::string(name)).at_offset(off).note(why);
    };
    if (bytes.size() < 512) return err(errc::truncated, "shorter than the 512-byte header", 0);
    std::string_view hdr(reinterpret_cast<const char*>(bytes.data()), 512);
    if (!bulkhead::detail::starts_with(hdr, "ClamAV-VDB:"))
        return err(errc::parse_error, "header does not start with ClamAV-VDB:", 0);
    auto hf = bulkhead::detail::split(bulkhead::detail::trim(hdr.substr(0, hdr.find('\0'))), ':');
    if (hf.size() < 5) return err(errc::parse_error, "header has fewer than 5 fields", 0);
    auto ver = bulkhead::detail::parse_int<std::uint32_t>(hf[2]);
    if (!ver) return err(errc::parse_error, "header version is not a number", 0);
    db.version = std::max(db.version, *ver);
    auto body = bytes.subspan(512);
    std::vector<unsigned char> tar;
    if (body.size() >= 2 && body[0] == 0x1f && body[1] == 0x8b) {
        auto g = gunzip(body, inflate_limit);
        if (!g) {
            auto e = std::move(g).error();
            return err(e.code() == make_error_code(errc::too_large) ? errc::too_large : errc::parse_error,
                       "gzip stream is bad or over the size limit", 512 + e.offset())
                .note("gzip: " + e.note_text());
        }
        tar = std::move(*g);
    } else {
        tar.assign(body.begin(), body.end());
    }
    std::size_t p = 0;
    while (p + 512 <= tar.size()) {
        const unsigned char* h = tar.data() + p;
        if (std::all_of(h, h + 512, [](unsigned char c) { return c == 0; })) break;
        std::string fname(reinterpret_cast<const char*>(h), strnlen(reinterpret_cast<const char*>(h), 100));
        std::string_view szf(reinterpret_cast<const char*>(h + 124), 12);
        std::uint64_t sz = 0;
        bool digit = false;
        for (char c : szf) {
            if (c >= '0' && c <= '7') {
                digit = true;
                if (sz > (std::uint64_t(1) << 40)) return err(errc::parse_error, "tar size too large", 512 + p);
                sz = sz * 8 + static_cast<unsigned>(c - '0');
            } else if (c == ' ' || c == '\0') {
                if (digit) break;
            } else {
                return err(errc::parse_error, "tar header size field is not octal", 512 + p + 124);
            }
        }
        char type = static_cast<char>(h[156]);
        p += 512;
        if (sz > tar.size() - p) return err(errc::truncated, "tar member runs past the end", 512 + p);
        if ((type == '0' || type == '\0') && is_database_name(fname)) {
            auto ext = detail::lower_ext(fname);
            std::string member = std::string(name) + "/" + fname;
            std::string_view txt(reinterpret_cast<const char*>(tar.data() + p), sz);
            if (ext == "cvd" || ext == "cld")
                return err(errc::parse_error, "nested container", 512 + p);
            BULKHEAD_TRY(load_text(member, txt, db));
        } else if ((type == '0' || type == '\0') && fname != "COPYING" && !fname.empty()) {
            auto ext = detail::lower_ext(fname);
            if (ext != "info")
                db.skipped.push_back({fname, "database kind ." + ext + " not supported", std::string(name)});
        }
        p += (sz + 511) / 512 * 512;
    }
    return ok();
}

/// Loads a database file, or every database file of a directory (sorted by name).
inline result<void> load_path(const std::string& path, database& db,
                              std::size_t inflate_limit = default_inflate_limit) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        std::vector<std::string> names;
        // error_code overloads only: the library never throws across its API
        std::filesystem::directory_iterator it(path, ec), end;
        for (; !ec && it != end; it.increment(ec)) {
            std::error_code fec;
            if (it->is_regular_file(fec) && is_database_name(it->path().filename().string()))
                names.push_back(it->path().string());
        }
        if (ec) return error(ec, "read database directory").subject(path);
        std::sort(names.begin(), names.end());
        if (names.empty())
            return error(errc::not_found, "read database directory").subject(path).note("no database files in it");
        for (auto& n : names) BULKHEAD_TRY(load_path(n, db, inflate_limit));
        return ok();
    }
    auto data = read_file(path.c_str(), AT_FDCWD, std::size_t(2) << 30);
    if (!data) return std::move(data).error().subject(path);
    auto ext = detail::lower_ext(path);
    if (ext == "cvd" || ext == "cld")
        return load_container(path, {reinterpret_cast<const unsigned char*>(data->data()), data->size()}, db, inflate_limit);
    if (!is_database_name(path))
        return error(errc::unsupported, "load database").subject(path).note("unknown extension");
    return load_text(path, *data, db);
}

} // namespace sig
BULKHEAD_NAMESPACE_END
