#include <catch2/catch.hpp>

#include "bulkhead/sig.hpp"
#include "sig_test_util.hpp"

#include <cstddef>
#include <cstring>
#include <random>
#include <set>

using namespace bulkhead::sig;

namespace {

/// The prefilter instruction sets this CPU has (0 scalar, 1 AVX2, 2 AVX-512), found here
/// independently of the library's own detection: the tests run every path up to it.
int hardware_isa() {
#if BULKHEAD_SIG_X86_SIMD
    return __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

/// Compiles `db` with filters32_gather_max_lg set to `lg` (0: no 32-bit filters, so AVX2
/// probes the 64-bit bitmaps), then restores the setting.
bulkhead::result<compiled_db> compile_with_gather_lg(database& db, unsigned lg) {
    auto& g = detail::filters32_gather_max_lg();
    const unsigned saved = g;
    g = lg;
    auto c = compiled_db::compile(db);
    g = saved;
    return c;
}

/// The names `st` finds in `data` (all matches), sorted.
std::vector<std::string> sorted_names(scan_state& st, const std::string& data, bool normalize = true) {
    scan_options o;
    o.all_matches = true;
    o.normalize = normalize;
    std::vector<std::string> names;
    for (auto& m : scan_memory(st, sigtest::bytes(data), o).matches) names.push_back(m.name);
    std::sort(names.begin(), names.end());
    return names;
}

struct engine {
    database db;
    std::optional<compiled_db> c;
    std::optional<scan_state> st;
    explicit engine(const std::string& ndb, const std::string& ldb = "") {
        if (!ndb.empty()) REQUIRE(load_text("t.ndb", ndb, db));
        if (!ldb.empty()) REQUIRE(load_text("t.ldb", ldb, db));
        auto r = compiled_db::compile(db);
        REQUIRE(r);
        c.emplace(std::move(*r));
        st.emplace(*c);
    }
    std::vector<std::string> scan(const std::string& data, bool normalize = true) {
        return sorted_names(*st, data, normalize);
    }
    bool hit(const std::string& data) { return !scan(data, false).empty(); }
    /// Streams `data` in chunks of `chunk` bytes (raw pass only).
    std::vector<std::string> stream_scan(const std::string& data, std::size_t chunk, bool size_known = true) {
        match_options mo;
        mo.all_matches = true;
        stream s(*st, pass_raw, mo, size_known ? std::optional<std::uint64_t>(data.size()) : std::nullopt);
        for (std::size_t i = 0; i < data.size(); i += chunk)
            s.feed(sigtest::bytes(data.substr(i, chunk)));
        s.finish();
        std::vector<std::string> names;
        for (auto& m : s.matches()) names.push_back(m.name);
        std::sort(names.begin(), names.end());
        return names;
    }
};

std::string hex(const std::string& s) {
    static const char* h = "0123456789abcdef";
    std::string o;
    for (unsigned char c : s) { o += h[c >> 4]; o += h[c & 15]; }
    return o;
}

} // namespace

TEST_CASE("each hex element matches and rejects", "[unit]") {
    struct c { const char* sig; const char* yes; const char* no; };
    for (auto x : {
             c{"41424344", "xxABCDxx", "xxABCExx"},
             c{"4142??4344", "ABzCD", "ABCD"},
             c{"41424?4344", "AB\x4f" "CD", "AB\x5f" "CD"},
             c{"4142?34344", "AB\x73" "CD", "AB\x74" "CD"},
             c{"41424344*45464748", "ABCD..lots..EFGH", "EFGH ABCD"},
             c{"41424344{2}45464748", "ABCDxyEFGH", "ABCDxEFGH"},
             c{"41424344{-2}45464748", "ABCDxEFGH", "ABCDxyzEFGH"},
             c{"41424344{2-}45464748", "ABCDxyzzzEFGH", "ABCDxEFGH"},
             c{"41424344{1-3}45464748", "ABCDxyzEFGH", "ABCDwxyzEFGH"},
             c{"41424344(58|59)45464748", "ABCDYEFGH", "ABCDZEFGH"},
             c{"41424344!(58|59)45464748", "ABCDZEFGH", "ABCDXEFGH"},
             c{"41424344(5858|59)45464748", "ABCDXXEFGH", "ABCDXEFGH"},
             c{"41424344!(5858|5959)45464748", "ABCDXYEFGH", "ABCDYYEFGH"},
             c{"41[1-3]4243444546", "AxxBCDEF", "AxxxxBCDEF"},
             c{"4243444546[1-2]47", "BCDEFxG", "BCDEFxxxG"},
         }) {
        engine e(std::string("S:0:*:") + x.sig + "\n");
        INFO(x.sig);
        CHECK(e.hit(x.yes));
        CHECK(!e.hit(x.no));
    }
}

TEST_CASE("offset kinds: n, n,m, EOF-n, EOF-n,m, *", "[unit]") {
    engine e("Abs:0:4:41424344\nFl:0:2,3:45464748\nEof:0:EOF-6:494a4b4c\nEofF:0:EOF-9,2:4d4e4f50\nMulti:0:1:5152*5354\n");
    CHECK(e.scan("....ABCD") == std::vector<std::string>{"Abs"});
    CHECK(e.scan("...ABCD").empty());
    CHECK(e.scan("..EFGH") == std::vector<std::string>{"Fl"});
    CHECK(e.scan(".....EFGH") == std::vector<std::string>{"Fl"});
    CHECK(e.scan("......EFGH").empty());
    CHECK(e.scan("xxIJKLyy") == std::vector<std::string>{"Eof"});
    CHECK(e.scan("xxIJKLy").empty());
    CHECK(e.scan("MNOPxxxxx") == std::vector<std::string>{"EofF"});
    CHECK(e.scan("xxMNOPxxx") == std::vector<std::string>{"EofF"});
    CHECK(e.scan("xxxMNOPxxx").empty() == false); // 10 bytes: start 3 is within EOF-9..EOF-7
    CHECK(e.scan("xxxxMNOPxx").empty());
    CHECK(e.scan(".QR....ST") == std::vector<std::string>{"Multi"});
    CHECK(e.scan("..QR....ST").empty());
}

TEST_CASE("a huge floating offset uses the prefilter, not a walk over every start", "[unit]") {
    engine e("Wide:0:5,4000000000:" + hex("needle!") + "\nNear:0:EOF-9000000000,4000000000:" + hex("pin!") + "\n");
    CHECK(e.scan(std::string(100000, '.') + "needle!", false) == std::vector<std::string>{"Wide"});
    CHECK(e.scan("....needle!", false).empty());
    CHECK(e.scan("pin!", false).empty());
}

TEST_CASE("target 7 matches only normalized text; target 0 both (switchable)", "[unit]") {
    engine e("T7:7:*:" + hex("eval(base64") + "\nT0:0:*:" + hex("hello world") + "\n");
    CHECK(e.scan("<?php EVAL(Base64_decode") == std::vector<std::string>{"T7"});
    CHECK(e.scan("<?php EVAL(Base64", false).empty());
    CHECK(e.scan("say HELLO   \t\n World!") == std::vector<std::string>{"T0"});
    CHECK(e.scan("say hello world") == std::vector<std::string>{"T0"});
    // binary files are not normalized
    CHECK(e.scan(std::string("\x01\x02\xff") + "HELLO WORLD").empty());
    // dropped bytes do not break a whitespace run; controls vanish
    std::vector<unsigned char> out;
    text_normalizer tn;
    std::string in = "A \x01 B\x7f\x80" "Cd\t\r\nE";
    tn.feed(sigtest::bytes(in), out);
    CHECK(std::string(out.begin(), out.end()) == "a bcd e");
    CHECK(is_text(sigtest::bytes("plain text\r\n\t\x1b")));
    CHECK(!is_text(sigtest::bytes(std::string("bin\0ary", 7))));
    // switch off target-0 on normalized text
    scan_options o;
    o.normalized_any = false;
    CHECK(scan_memory(*e.st, sigtest::bytes("say HELLO   World"), o).matches.empty());
}

TEST_CASE("logical signatures: & | counts and modifiers", "[unit]") {
    engine e("",
             "And;Target:0;0&1;" + hex("alpha") + ";" + hex("beta") + "\n"
             "Or;Target:0;0|1;" + hex("gamma") + ";" + hex("delta") + "\n"
             "Eq2;Target:0;0=2;" + hex("twice") + "\n"
             "Gt2;Target:0;0>2;" + hex("thrice") + "\n"
             "Lt2;Target:0;0<2&1;" + hex("once") + ";" + hex("marker") + "\n"
             "Distinct;Target:0;(0|1|2)>1,2;" + hex("redx") + ";" + hex("green") + ";" + hex("blue") + "\n"
             "Nocase;Target:0;0;" + hex("shell_exec") + "::i\n"
             "Wide;Target:0;0;" + hex("WIDE") + "::w\n"
             "WideAscii;Target:0;0;" + hex("BOTH") + "::wa\n"
             "Full;Target:0;0;" + hex("cmd") + "::f\n"
             "Neg;Target:0;0&1=0;" + hex("keepme") + ";" + hex("butnotme") + "\n"
             "Size;Target:0,FileSize:5-10;0;" + hex("sized") + "\n");
    auto has = [&](const std::string& data, const std::string& name) {
        auto v = e.scan(data, false);
        return std::find(v.begin(), v.end(), name) != v.end();
    };
    CHECK(has("alpha ... beta", "And"));
    CHECK(!has("alpha only", "And"));
    CHECK(has("delta", "Or"));
    CHECK(has("twice twice", "Eq2"));
    CHECK(!has("twice twice twice", "Eq2"));
    CHECK(has("thrice thrice thrice", "Gt2"));
    CHECK(!has("thrice thrice", "Gt2"));
    CHECK(has("once marker", "Lt2"));
    CHECK(!has("once once marker", "Lt2"));
    CHECK(has("redx redx green", "Distinct"));
    CHECK(!has("redx redx redx", "Distinct"));
    CHECK(has("SHELL_Exec(", "Nocase"));
    CHECK(has(std::string("W\0I\0D\0E\0", 8), "Wide"));
    CHECK(!has("WIDE", "Wide"));
    CHECK(has("BOTH", "WideAscii"));
    CHECK(has(std::string("B\0O\0T\0H\0", 8), "WideAscii"));
    CHECK(has("run cmd now", "Full"));
    CHECK(has("cmd", "Full"));
    CHECK(!has("runcmd now", "Full"));
    CHECK(!has("run cmdx", "Full"));
    CHECK(has("keepme", "Neg"));
    CHECK(!has("keepme butnotme", "Neg"));
    CHECK(has("sized", "Size"));
    CHECK(!has("sized and more than ten", "Size"));
}

TEST_CASE("ignore lists drop signatures by name", "[unit]") {
    database db;
    REQUIRE(load_text("a.ndb", "Keep:0:*:41424344\nDrop:0:*:45464748\n", db));
    REQUIRE(load_text("a.ign2", "Drop\n", db));
    auto c = compiled_db::compile(db);
    REQUIRE(c);
    scan_state st(*c);
    CHECK(scan_memory(st, sigtest::bytes("EFGH")).matches.empty());
    CHECK(!scan_memory(st, sigtest::bytes("ABCD")).matches.empty());
}

TEST_CASE("hash signatures and allow lists", "[unit]") {
    database db;
    REQUIRE(load_text("a.hdb", "900150983cd24fb0d6963f7d28e17f72:3:Abc.MD5\n", db));
    REQUIRE(load_text("a.hsb", "a9993e364706816aba3e25717850c26c9cd0d89d:*:Abc.SHA1\n"
                               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1:56:Long.SHA256\n", db));
    REQUIRE(load_text("a.ndb", "Body:0:*:6c6f6e67657374\n", db));
    auto c = compiled_db::compile(db);
    REQUIRE(c);
    scan_state st(*c);
    scan_options o;
    o.all_matches = true;
    auto r = scan_memory(st, sigtest::bytes("abc"), o);
    REQUIRE(r.matches.size() == 2);
    CHECK(scan_memory(st, sigtest::bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).matches.at(0).name == "Long.SHA256");
    // the allow list wins over both hash and body matches
    REQUIRE(load_text("a.fp", to_hex(hash_of<md5>("longest", 7)) + ":7:longest.ok\n", db));
    auto c2 = compiled_db::compile(db);
    REQUIRE(c2);
    scan_state st2(*c2);
    CHECK(!scan_memory(st2, sigtest::bytes("longest")).infected());
    CHECK(scan_memory(st2, sigtest::bytes("longest!")).infected());
}

TEST_CASE("hash records of every digest length and of 4 GiB files map back and are found", "[unit]") {
    sigtest::temp_dir td;
    const auto m = hash_of<md5>("abc", 3), m2 = hash_of<md5>("abcd", 4);
    const auto s1 = hash_of<sha1>("abc", 3);
    const auto s2 = hash_of<sha256>("abc", 3);
    database db;
    // Each length; one digest twice with two sizes; a file of exactly 4 GiB - 1 and of 5 GB
    // (kept apart from the 32-bit records); `*`; and an allow-list entry of each kind.
    REQUIRE(load_text("h.hdb", to_hex(m) + ":3:Abc.MD5\n" + to_hex(m) + ":7:Abc.MD5.Seven\n" +
                                   to_hex(m2) + ":4294967295:Big.Edge\n" + to_hex(m2) + ":5000000000:Big.MD5\n",
                      db));
    REQUIRE(load_text("h.hsb", to_hex(s1) + ":*:Abc.SHA1\n" + to_hex(s2) + ":3:Abc.SHA256\n" + to_hex(s2) +
                                   ":6000000000:Big.SHA256\n",
                      db));
    REQUIRE(load_text("h.fp", to_hex(m2) + ":4:Ok.MD5\n", db));
    REQUIRE(load_text("h.sfp", to_hex(s2) + ":*:Ok.SHA256\n" + to_hex(s1) + ":8000000000:Ok.Big.SHA1\n", db));
    auto c = compiled_db::compile(db);
    REQUIRE(c);
    CHECK(c->stats().hash_sigs == 7);
    const std::string p = td / "h.bhdb";
    REQUIRE(c->save(p));
    auto l = compiled_db::load(p);
    REQUIRE(l);
    for (const compiled_db* d : {&*c, &*l}) {
        auto name = [&](auto digest, std::uint64_t size, bool allow) {
            const char* n = d->lookup_hash(digest, size, allow);
            return std::string(n ? n : "-");
        };
        CHECK(name(m, 3, false) == "Abc.MD5");
        CHECK(name(m, 7, false) == "Abc.MD5.Seven");
        CHECK(name(m, 8, false) == "-");
        CHECK(name(m2, 4294967295ull, false) == "Big.Edge");
        CHECK(name(m2, 5000000000ull, false) == "Big.MD5");
        CHECK(name(m2, 5000000000ull - 4294967296ull, false) == "-"); // not the size modulo 2^32
        CHECK(name(m2, 4, false) == "-");
        CHECK(name(s1, 3, false) == "Abc.SHA1");
        CHECK(name(s1, 9000000000ull, false) == "Abc.SHA1"); // `*` holds for any size
        CHECK(name(s2, 3, false) == "Abc.SHA256");
        CHECK(name(s2, 6000000000ull, false) == "Big.SHA256");
        CHECK(name(m2, 4, true) == "Ok.MD5");
        CHECK(name(s2, 12345, true) == "Ok.SHA256");
        CHECK(name(s1, 8000000000ull, true) == "Ok.Big.SHA1");
        CHECK(name(s1, 3, true) == "-");
        CHECK(d->needs_md5());
        CHECK(d->needs_sha1());
        CHECK(d->needs_sha256());
        CHECK(d->hash_wanted(16, 5000000000ull));
        CHECK(!d->hash_wanted(16, 5));
    }
    // A hash record naming a string past the table is refused (the MD5 list, array 17).
    auto blob = sigtest::slurp(p);
    detail::file_header h{};
    std::memcpy(&h, blob.data(), sizeof h);
    REQUIRE(h.len[17] == 2);
    detail::hash_md5 r{};
    std::memcpy(&r, blob.data() + h.off[17], sizeof r);
    r.name = 0x7fffffffu;
    std::memcpy(blob.data() + h.off[17], &r, sizeof r);
    sigtest::write(td / "bad.bhdb", blob);
    auto bad = compiled_db::load(td / "bad.bhdb");
    REQUIRE(!bad);
    CHECK(bad.error().message().find("hash name out of range") != std::string::npos);
}

TEST_CASE("the string table stores each distinct name once", "[unit]") {
    std::vector<char> arena;
    detail::string_interner in(arena);
    // Prefixes of one another, an empty name, and enough names to grow the table many times.
    const auto ab = in.intern("ab"), a = in.intern("a"), abc = in.intern("abc"), e = in.intern("");
    CHECK(std::string(arena.data() + ab) == "ab");
    CHECK(std::string(arena.data() + a) == "a");
    CHECK(std::string(arena.data() + abc) == "abc");
    CHECK(arena[e] == '\0');
    std::set<std::uint32_t> offs{ab, a, abc, e};
    CHECK(offs.size() == 4);
    std::vector<std::uint32_t> first;
    for (int i = 0; i < 5000; ++i) first.push_back(in.intern("Win.Trojan.Agent-" + std::to_string(i) + "-0"));
    const auto size_after = arena.size();
    for (int i = 0; i < 5000; ++i) {
        auto off = in.intern("Win.Trojan.Agent-" + std::to_string(i) + "-0");
        CHECK(off == first[static_cast<std::size_t>(i)]);
        CHECK(std::string(arena.data() + off) == "Win.Trojan.Agent-" + std::to_string(i) + "-0");
    }
    CHECK(arena.size() == size_after); // nothing appended the second time
    CHECK(in.intern("a") == a);
    CHECK(in.intern("ab") == ab);
    // append() never looks up: the same name twice gets two offsets
    CHECK(in.append("dup") != in.append("dup"));

    // Through compile: a hash signature and a body signature of the same name, and another
    // hash signature, each report their own name.
    database db;
    REQUIRE(load_text("n.hdb", "900150983cd24fb0d6963f7d28e17f72:3:Same.Name\n"
                               "e2fc714c4727ee9395f324cd2e7f331f:4:Other.Name\n", db));
    REQUIRE(load_text("n.ndb", "Same.Name:0:*:6c6f6e67657374\n", db));
    auto c = compiled_db::compile(db);
    REQUIRE(c);
    scan_state st(*c);
    scan_options o;
    o.all_matches = true;
    auto r1 = scan_memory(st, sigtest::bytes("abc"), o);
    REQUIRE(r1.matches.size() == 1);
    CHECK(std::string(r1.matches[0].name) == "Same.Name");
    auto r2 = scan_memory(st, sigtest::bytes("abcd"), o);
    REQUIRE(r2.matches.size() == 1);
    CHECK(std::string(r2.matches[0].name) == "Other.Name");
    auto r3 = scan_memory(st, sigtest::bytes("the longest"), o);
    REQUIRE(r3.matches.size() == 1);
    CHECK(std::string(r3.matches[0].name) == "Same.Name");
}

TEST_CASE("streaming finds matches across every chunk boundary", "[unit]") {
    engine e("A:0:*:" + hex("0123456789abcdef") + "\n"
             "B:0:*:" + hex("xy") + "{3-6}" + hex("zw") + "*" + hex("tail!") + "\n"
             "C:0:EOF-8:" + hex("EOFMARK!") + "\n"
             "D:0:20:" + hex("at-twenty") + "\n"
             "E:0:*:" + hex("qq") + "\n"
             "F:0:EOF-33:" + hex("farend") + "*" + hex("last") + "\n");
    std::string data = std::string(20, '.') + "at-twenty....0123456789abcdef..xy...zw...."
                       + std::string(300, '-') + "farend..tail!...qq...lastEOFMARK!";
    auto whole = e.scan(data, false);
    CHECK(whole == std::vector<std::string>{"A", "B", "C", "D", "E", "F"});
    for (std::size_t chunk : {1, 2, 3, 5, 7, 16, 64, 1000})
        CHECK(e.stream_scan(data, chunk) == whole);
    // without the size up front, single-part EOF signatures are decided at finish; multi-part
    // EOF-relative ones need it and are not reported (counted as undecided instead)
    auto nosize = e.stream_scan(data, 7, false);
    CHECK(std::find(nosize.begin(), nosize.end(), "C") != nosize.end());
}

TEST_CASE("streaming keeps the bytes a bracketed lead needs before a fixed offset", "[unit]") {
    // ClamAV measures the offset at the HEXSIG after `aa[x-y]`, so the lead's byte lies before
    // the offset: a stream must not have dropped it (found by fuzz_sig_match)
    // (each signature alone: another one's pending bytes would keep the lead's byte anyway)
    std::string data = "AxBCD..A";
    data.append(32, '-').append("NO").append(60, '.').append("A").append(31, '=').append("XY").append(20, '.');
    REQUIRE(data.substr(40, 2) == "NO");
    REQUIRE(data.size() - data.rfind("XY") == 22);
    for (const char* line : {"L:0:2,302:41[1-2]424344", "M:0:40:41[30-32]4e4f", "N:0:EOF-22:41[30-32]5859"}) {
        engine e(std::string(line) + "\n");
        const std::vector<std::string> want{std::string(1, line[0])};
        INFO(line);
        CHECK(e.scan(data, false) == want);
        for (std::size_t chunk : {1, 2, 3, 5, 7, 16, 64})
            CHECK(e.stream_scan(data, chunk) == want);
    }
}

TEST_CASE("the stream keeps a bounded tail", "[unit]") {
    engine e("A:0:*:" + hex("needle") + "{0-100}" + hex("pin") + "\n");
    match_options mo;
    stream s(*e.st, pass_raw, mo);
    std::string junk(4096, 'j');
    for (int i = 0; i < 1000; ++i) {
        s.feed(sigtest::bytes(junk));
        REQUIRE(s.buffered() < 4096 + 512);
    }
    s.feed(sigtest::bytes("needle..pin"));
    s.finish();
    CHECK(s.matches().size() == 1);
}

TEST_CASE("a loaded database finds what the compiled one finds on every prefilter path", "[unit]") {
    // load() derives the filters save() does not write (the AVX2 32-bit filters, the stride-8
    // tiers' walk filters): anchors of every case-sensitive stride-8/4/2 tier, planted in text
    std::mt19937 rng(7);
    auto word = [&](int len) {
        std::string w;
        for (int i = 0; i < len; ++i) w += static_cast<char>('a' + rng() % 26);
        return w;
    };
    std::string ndb, data;
    std::set<std::string> all;
    const int lens[4][3] = {{40, 16, 24}, {20, 11, 14}, {10, 7, 10}, {6, 5, 6}}; // count, min, max
    int id = 0;
    for (auto& [count, lo, hi] : lens)
        for (int i = 0; i < count; ++i, ++id) {
            std::string name = "W";
            name += std::to_string(id);
            const std::string lit = word(lo + static_cast<int>(rng() % unsigned(hi - lo + 1)));
            ndb += name + ":0:*:" + hex(lit) + "\n";
            all.insert(name);
            data += std::string(1 + rng() % 40, ' ') + lit;
        }
    data += std::string(64, ' ');
    engine e(ndb);
    sigtest::temp_dir td;
    REQUIRE(e.c->save(td / "w.bhdb"));
    auto l = compiled_db::load(td / "w.bhdb");
    REQUIRE(l);
    auto& limit = detail::prefilter_isa_limit();
    for (int isa = 0; isa <= hardware_isa(); ++isa) {
        limit = isa;
        for (const compiled_db* db : {&*e.c, &*l}) {
            scan_state st(*db);
            scan_options so;
            so.all_matches = true;
            so.normalize = false;
            std::set<std::string> got;
            for (auto& m : scan_memory(st, sigtest::bytes(data), so).matches) got.insert(m.name);
            INFO("isa " << isa << (db == &*l ? " loaded" : " compiled"));
            CHECK(got == all);
        }
    }
    limit = 2;
}

TEST_CASE("compiled database saves and maps back", "[unit]") {
    sigtest::temp_dir td;
    // fixed offsets (C, D match; E is one byte off) live in the entry_ext array: they must map back too
    engine e("A:0:*:" + hex("abcdef") + "\nB:0:*:" + hex("12") + "*" + hex("34") + "\nC:0:2:" + hex("abcdef") +
                 "\nD:0:EOF-3:" + hex("BAR") + "\nE:0:3:" + hex("abcdef") + "\n",
             "L;Target:0;0&1;" + hex("foo") + ";" + hex("bar") + "::i\n");
    std::string p = td / "db.bhdb";
    REQUIRE(e.c->save(p));
    auto l = compiled_db::load(p);
    REQUIRE(l);
    CHECK(l->signature_count() == e.c->signature_count());
    scan_state st(*l);
    scan_options o;
    o.all_matches = true;
    auto r = scan_memory(st, sigtest::bytes("xxabcdef 12..34 foo BAR"), o);
    CHECK(r.matches.size() == 5);
    std::set<std::string> names;
    for (auto& m : r.matches) names.insert(m.name);
    CHECK(names == std::set<std::string>{"A", "B", "C", "D", "L"});
    // corrupt files are refused, not trusted
    auto blob = sigtest::slurp(p);
    sigtest::write(td / "bad1.bhdb", blob.substr(0, 100));
    CHECK(!compiled_db::load(td / "bad1.bhdb"));
    std::string b2 = blob;
    b2[0] = 'X';
    sigtest::write(td / "bad2.bhdb", b2);
    CHECK(!compiled_db::load(td / "bad2.bhdb"));
    std::string b3 = blob;
    for (std::size_t i = sizeof(std::uint64_t) * 4; i < 600 && i < b3.size(); i += 37) b3[i] = '\xff';
    sigtest::write(td / "bad3.bhdb", b3);
    CHECK(!compiled_db::load(td / "bad3.bhdb"));
    // header figures the loader can check against the records must agree with them: a huge
    // counter count would make every scan_state allocate gigabytes (found by fuzz_sig_db), a
    // wrong span would make streams keep too little history
    auto patched = [&](std::size_t off, std::uint32_t v, const char* file) {
        std::string b = blob;
        std::memcpy(b.data() + off, &v, sizeof v);
        sigtest::write(td / file, b);
        auto r = compiled_db::load(td / file);
        REQUIRE(!r);
        return r.error().message();
    };
    CHECK(patched(offsetof(detail::file_header, ncounters), 0x7fffffffu, "counters.bhdb").find("counter count") != std::string::npos);
    CHECK(patched(offsetof(detail::file_header, ncounters), 0u, "counters0.bhdb").find("out of range") != std::string::npos);
    CHECK(patched(offsetof(detail::file_header, max_left), 1u, "left.bhdb").find("scan spans") != std::string::npos);
    CHECK(patched(offsetof(detail::file_header, eof_keep), 0u, "eof.bhdb").find("scan spans") != std::string::npos);
    {
        // an expression naming a subsignature the logical signature does not have (array 9)
        detail::file_header h{};
        std::memcpy(&h, blob.data(), sizeof h);
        std::string b = blob;
        detail::expr_rec x{};
        std::memcpy(&x, b.data() + h.off[9], sizeof x);
        REQUIRE(x.kind == expr_op::sub);
        x.x = 2; // L has subsignatures 0 and 1
        std::memcpy(b.data() + h.off[9], &x, sizeof x);
        sigtest::write(td / "expr.bhdb", b);
        auto r = compiled_db::load(td / "expr.bhdb");
        REQUIRE(!r);
        CHECK(r.error().message().find("logical expression out of range") != std::string::npos);
    }
    {
        // a part claimed by an entry whose run of parts does not hold it (array 1: parts)
        detail::file_header h{};
        std::memcpy(&h, blob.data(), sizeof h);
        REQUIRE(h.len[1] >= 2);
        std::string b = blob;
        std::uint32_t other = 0;
        std::memcpy(&other, b.data() + h.off[1], sizeof other); // part 0's entry
        std::uint32_t mine = 0;
        std::memcpy(&mine, b.data() + h.off[1] + sizeof(detail::part_rec), sizeof mine);
        if (mine == other) other = mine + 1; // some other entry
        std::memcpy(b.data() + h.off[1] + sizeof(detail::part_rec), &other, sizeof other);
        sigtest::write(td / "part.bhdb", b);
        auto r = compiled_db::load(td / "part.bhdb");
        REQUIRE(!r);
        CHECK(r.error().message().find("part out of range") != std::string::npos);
    }
    // a database written by an older layout is refused and says so
    std::string b4 = blob;
    b4[7] = '3'; // version 3: the Bloom probe used three multiplies
    sigtest::write(td / "old.bhdb", b4);
    auto old = compiled_db::load(td / "old.bhdb");
    REQUIRE(!old);
    CHECK(old.error().message().find("compile the signatures again") != std::string::npos);
}

TEST_CASE("only the parts of signatures split at a star keep chain state", "[unit]") {
    sigtest::temp_dir td;
    // Single-part signatures around the split ones, so the split ones' parts are not first
    // in the order they were written.
    engine e("S1:0:*:" + hex("single one") + "\nM1:0:*:" + hex("alpha") + "*" + hex("beta") + "*" + hex("gamma") +
                 "\nS2:0:*:" + hex("single two") + "\nM2:0:*:" + hex("delta") + "*" + hex("epsilon") +
                 "\nS3:0:10:" + hex("fixed") + "\n",
             "L;Target:0;0&1;" + hex("left") + "*" + hex("right") + ";" + hex("plain") + "\n");
    CHECK(e.c->stats().parts == 11);
    CHECK(e.c->stats().chain_parts == 7); // 3 + 2 + 2
    const std::string text = "0123456789fixed alpha..beta..gamma single one delta epsilon left right plain single two";
    const std::vector<std::string> all{"L", "M1", "M2", "S1", "S2", "S3"};
    CHECK(e.scan(text, false) == all);
    // the chain needs its order: parts out of order do not match
    CHECK(e.scan("gamma beta alpha epsilon delta right left plain", false).empty());
    for (std::size_t chunk : {1u, 3u, 7u, 64u}) CHECK(e.stream_scan(text, chunk) == all);
    const std::string p = td / "c.bhdb";
    REQUIRE(e.c->save(p));
    auto l = compiled_db::load(p);
    REQUIRE(l);
    CHECK(l->stats().chain_parts == 7);
    scan_state st(*l);
    CHECK(sorted_names(st, text, false) == all);
}

TEST_CASE("adversarial patterns stay bounded", "[unit]") {
    // Many alternations and short anchors with wide gaps on a hostile input.
    std::string ndb;
    for (int i = 0; i < 50; ++i)
        ndb += "Adv" + std::to_string(i) + ":0:*:61{0-200}(61|62|63){0-200}61*61{0-300}" + hex("zz" + std::to_string(i)) + "\n";
    engine e(ndb);
    std::string data(200000, 'a');
    auto t0 = std::chrono::steady_clock::now();
    CHECK(e.scan(data, false).empty());
    // No timing assertion (tests never assert speed); the bound is documented in docs/signatures.md.
    (void)t0;
}

TEST_CASE("differential: engine vs naive reference on random patterns", "[unit]") {
    std::mt19937 rng(12345);
    auto rnd = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    const char alpha[] = "abcd";
    auto hexb = [](unsigned char c) { static const char* h = "0123456789abcdef"; return std::string{h[c >> 4], h[c & 15]}; };
    int checked = 0, positives = 0;
    for (int iter = 0; iter < 1500; ++iter) {
        std::string sig;
        int nparts = 1 + rnd(3);
        for (int p = 0; p < nparts; ++p) {
            if (p) sig += rnd(2) ? "*" : "{" + std::to_string(rnd(3)) + "-}";
            int nt = 1 + rnd(5);
            sig += hexb(static_cast<unsigned char>(alpha[rnd(4)]));
            for (int t = 0; t < nt; ++t) {
                switch (rnd(9)) {
                case 0: sig += "??"; break;
                case 1: sig += "6?"; break;
                case 2: sig += "(" + hexb(static_cast<unsigned char>(alpha[rnd(4)])) + "|" + hexb(static_cast<unsigned char>(alpha[rnd(4)])) + ")"; break;
                case 3: sig += "!(" + hexb(static_cast<unsigned char>(alpha[rnd(4)])) + ")"; break;
                case 4: sig += "(" + hexb('a') + hexb('b') + "|" + hexb(static_cast<unsigned char>(alpha[rnd(4)])) + ")"; break;
                case 5: { int a = rnd(3); sig += "{" + std::to_string(a) + "-" + std::to_string(a + rnd(4)) + "}"; break; }
                case 6: sig += "{-" + std::to_string(1 + rnd(3)) + "}"; break;
                default: sig += hexb(static_cast<unsigned char>(alpha[rnd(4)]));
                }
                if (sig.back() == '}') sig += hexb(static_cast<unsigned char>(alpha[rnd(4)]));
            }
        }
        std::string off = "*";
        int ok = rnd(6);
        if (ok == 1) off = std::to_string(rnd(10));
        if (ok == 2) off = std::to_string(rnd(10)) + "," + std::to_string(rnd(20));
        if (ok == 3) off = "EOF-" + std::to_string(rnd(40));
        if (ok == 4) off = "EOF-" + std::to_string(rnd(40)) + "," + std::to_string(rnd(10));
        database db;
        auto lr = load_text("r.ndb", "R:0:" + off + ":" + sig + "\n", db);
        INFO("sig " << sig << " offset " << off);
        REQUIRE(lr);
        if (db.bodies.empty()) continue;
        auto c = compiled_db::compile(db);
        REQUIRE(c);
        if (c->signature_count() == 0) continue;
        scan_state st(*c);
        for (int k = 0; k < 8; ++k) {
            std::string data;
            int len = rnd(60);
            for (int i = 0; i < len; ++i) data += alpha[rnd(4)];
            sigtest::naive nv(db.bodies[0].tokens, data);
            bool want = nv.any(db.bodies[0].offset);
            scan_options so;
            so.normalize = false;
            bool got = scan_memory(st, sigtest::bytes(data), so).infected();
            INFO("data " << data);
            REQUIRE(got == want);
            // streaming in small chunks must agree too
            match_options mo;
            stream s(st, pass_raw, mo, data.size());
            std::size_t ch = 1 + static_cast<std::size_t>(rnd(5));
            for (std::size_t i = 0; i < data.size(); i += ch) s.feed(sigtest::bytes(data.substr(i, ch)));
            s.finish();
            REQUIRE(!s.matches().empty() == want);
            ++checked;
            positives += want;
        }
    }
    CHECK(checked > 5000);
    CHECK(positives > 500);
}

namespace {
/// Compiles `count` random signatures (first literal run of min_len..max_len bytes, sometimes a
/// second run after ??, {n-m} or *) into one database, scans random text with a few of them
/// planted, and checks every instruction-set path against the naive matcher, signature by
/// signature, whole and in chunks.
void differential_many(unsigned seed, int count, int min_len, int max_len) {
    std::mt19937 rng(seed);
    auto rnd = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    const std::string alpha = "abcdefgh";
    auto lit = [&](int n) {
        std::string s;
        for (int i = 0; i < n; ++i) s += alpha[static_cast<std::size_t>(rnd(static_cast<int>(alpha.size())))];
        return s;
    };
    struct gen_sig { std::string hexsig; std::vector<std::pair<int, std::string>> pieces; };
    // pieces: (0, literal) | (1, "n") any bytes | (2, "n") filler for a gap / '*'
    std::vector<gen_sig> sigs;
    std::string ndb;
    for (int i = 0; i < count; ++i) {
        gen_sig g;
        int runs = 1 + rnd(2);
        for (int r = 0; r < runs; ++r) {
            int len = r == 0 ? min_len + rnd(max_len - min_len + 1) : 1 + rnd(30);
            std::string l = lit(len);
            g.hexsig += hex(l);
            g.pieces.push_back({0, l});
            if (r + 1 < runs) {
                switch (rnd(3)) {
                case 0: g.hexsig += "??"; g.pieces.push_back({1, "1"}); break;
                case 1: { int a = rnd(4); g.hexsig += "{" + std::to_string(a) + "-" + std::to_string(a + 1 + rnd(6)) + "}"; g.pieces.push_back({2, std::to_string(a)}); break; }
                default: g.hexsig += "*"; g.pieces.push_back({2, std::to_string(rnd(20))}); break;
                }
            }
        }
        ndb += "M" + std::to_string(i) + ":0:*:" + g.hexsig + "\n";
        sigs.push_back(std::move(g));
    }
    database db;
    REQUIRE(load_text("m.ndb", ndb, db));
    REQUIRE(db.bodies.size() == sigs.size());
    auto c = compiled_db::compile(db);
    REQUIRE(c);
    REQUIRE(c->signature_count() == sigs.size());
    // the same database without the 32-bit filters: AVX2 probes the 64-bit bitmaps
    auto c64 = compile_with_gather_lg(db, 0);
    REQUIRE(c64);

    auto& limit = detail::prefilter_isa_limit();
    const int hw = hardware_isa();
    if (hw < 2) WARN("this CPU has no AVX-512: the AVX-512 prefilter path is not exercised here");
    if (hw < 1) WARN("this CPU has no AVX2: only the scalar prefilter path is exercised here");
    int checked = 0, positives = 0;
    for (int round = 0; round < 12; ++round) {
        // Random text over the same alphabet, with a few signatures planted.
        std::string data = lit(500 + rnd(3000));
        for (int k = 0; k < 6; ++k) {
            const auto& g = sigs[static_cast<std::size_t>(rnd(static_cast<int>(sigs.size())))];
            std::string inst;
            for (auto& [kind, v] : g.pieces) inst += kind == 0 ? v : lit(std::stoi(v));
            data.insert(static_cast<std::size_t>(rnd(static_cast<int>(data.size()))), inst);
        }
        std::vector<std::string> want;
        for (std::size_t i = 0; i < sigs.size(); ++i) {
            sigtest::naive nv(db.bodies[i].tokens, data);
            if (nv.any(db.bodies[i].offset)) want.push_back(db.bodies[i].name);
        }
        std::sort(want.begin(), want.end());
        positives += static_cast<int>(want.size());
        for (int run = 0; run <= hw + (hw >= 1); ++run) {
            const int isa = run > hw ? 1 : run; // the extra run: AVX2 on c64
            limit = isa;
            scan_state st(run > hw ? *c64 : *c);
            scan_options so;
            so.all_matches = true;
            so.normalize = false;
            std::vector<std::string> got;
            for (auto& m : scan_memory(st, sigtest::bytes(data), so).matches) got.push_back(m.name);
            std::sort(got.begin(), got.end());
            INFO("round " << round << " isa " << isa << (run > hw ? " (64-bit bitmaps)" : ""));
            CHECK(got == want);
            // the same in chunks: blocks wait for their bytes, and the tail is probed at the end
            match_options mo;
            mo.all_matches = true;
            stream s(st, pass_raw, mo, data.size());
            std::size_t ch = 1 + static_cast<std::size_t>(rnd(200));
            for (std::size_t i = 0; i < data.size(); i += ch) s.feed(sigtest::bytes(data.substr(i, ch)));
            s.finish();
            std::vector<std::string> sgot;
            for (auto& m : s.matches()) sgot.push_back(m.name);
            std::sort(sgot.begin(), sgot.end());
            CHECK(sgot == want);
            ++checked;
        }
    }
    limit = 2;
    CHECK(checked >= 12);
    CHECK(positives >= 60);
}
} // namespace

TEST_CASE("differential: many signatures on every prefilter tier and instruction set", "[unit]") {
    // First runs of 5..30 bytes (second parts of 1..30) land in every tier: 8-byte grams at
    // stride 8, 4-byte grams at strides 8/4/2/1, 2- and 1-byte grams; the small stride-4 and
    // stride-2 tiers get register filters.
    differential_many(777, 160, 5, 30);
}

TEST_CASE("differential: large short-anchor tiers use Bloom bitmaps on every path", "[unit]") {
    // Hundreds of 5..10-byte anchors: the stride-4 and stride-2 tiers outgrow the register
    // filter and probe Bloom bitmaps instead.
    differential_many(4242, 420, 5, 10);
}



namespace {
/// Plants each signature alone in filler at every position from 40 to 104 (every alignment
/// to the 8-byte blocks, across the 64- and 128-byte group boundaries) and checks that every
/// instruction-set path finds it there. The signatures are plain literals: `n_long` of 16
/// bytes (the stride-8 tier, which the short tiers' grams join), `n7` of 7 bytes (stride-4
/// tier: one 4-gram at a multiple of 4, so half the alignments rest on the probe at p+4
/// alone) and `n5` of 5 bytes (stride-2 tier: p+2, p+4, p+6).
void every_alignment(unsigned seed, int n_long, int n7, int n5, int every) {
    std::mt19937 rng(seed);
    const std::string alpha = "abcdefgh";
    auto hex = [](const std::string& b) {
        static const char* h = "0123456789abcdef";
        std::string o;
        for (unsigned char c : b) o += {h[c >> 4], h[c & 15]};
        return o;
    };
    std::vector<std::pair<std::string, std::string>> sigs; // name, bytes
    std::set<std::string> seen;
    auto add = [&](const char* kind, int count, int len) {
        for (int i = 0; i < count;) {
            std::string b;
            for (int k = 0; k < len; ++k) b += alpha[rng() % alpha.size()];
            if (!seen.insert(b).second) continue;
            sigs.push_back({std::string(kind) + std::to_string(i), b});
            ++i;
        }
    };
    add("L", n_long, 16);
    add("B", n7, 7);
    add("C", n5, 5);
    std::string ndb;
    for (auto& [n, b] : sigs) ndb += n + ":0:*:" + hex(b) + "\n";
    database db;
    REQUIRE(load_text("a.ndb", ndb, db));
    auto& limit = detail::prefilter_isa_limit();
    const int hw = hardware_isa();
    int checked = 0;
    // AVX2 probes 32-bit filters while the stride-8 one has at most 2^filters32_gather_max_lg
    // words, the 64-bit bitmaps above that: both, by compiling with the default and with 0
    for (unsigned gl : {detail::filters32_gather_max_lg().load(), 0u}) {
        auto c = compile_with_gather_lg(db, gl);
        REQUIRE(c);
        for (std::size_t i = 0; i < sigs.size(); i += static_cast<std::size_t>(every)) {
            const auto& [name, bytes] = sigs[i];
            if (name[0] == 'L' && i % 8 != 0) continue;
            for (std::size_t pos = 40; pos <= 104; ++pos) {
                std::string data(200, 'z');
                data.replace(pos, bytes.size(), bytes);
                for (int isa = 0; isa <= hw; ++isa) {
                    limit = isa;
                    scan_state st(*c);
                    scan_options so;
                    so.all_matches = true;
                    so.normalize = false;
                    bool found = false;
                    for (auto& m : scan_memory(st, sigtest::bytes(data), so).matches)
                        found = found || (m.name == name && m.offset == pos);
                    INFO(name << " at " << pos << " isa " << isa << " gather_max_lg " << gl);
                    CHECK(found);
                    ++checked;
                }
            }
        }
    }
    limit = 2;
    CHECK(checked > 2000);
}
} // namespace

TEST_CASE("the short tiers are found at every block alignment on every path", "[unit]") {
    SECTION("register filters (a few short anchors)") { every_alignment(91, 64, 6, 6, 1); }
    SECTION("Bloom bitmaps (hundreds of short anchors)") { every_alignment(92, 64, 90, 160, 7); }
}

TEST_CASE("prefilter case folding matches the fold table", "[unit]") {
    for (unsigned c = 0; c < 256; ++c)
        for (unsigned lane = 0; lane < 8; ++lane) {
            std::uint64_t v = std::uint64_t(0x5a41205f7a617b40ull) ^ (std::uint64_t(0x3c) << (8 * ((lane + 3) % 8)));
            v = (v & ~(std::uint64_t(0xff) << (8 * lane))) | (std::uint64_t(c) << (8 * lane));
            std::uint64_t f = detail::fold8(v), want = 0;
            for (unsigned k = 0; k < 8; ++k)
                want |= std::uint64_t(detail::fold.t[(v >> (8 * k)) & 0xff]) << (8 * k);
            REQUIRE(f == want);
        }
}
