#include <catch2/catch.hpp>

#include "bulkhead/sig.hpp"
#include "sig_test_util.hpp"

using namespace bulkhead::sig;

TEST_CASE("hex syntax: every element parses to the right token", "[unit]") {
    auto t = parse_hex("41??4?{3}?5*43{-2}(61|62)!(63|64)(6566|67)!(6868|6969){2-}42{1-4}43[1-3]44");
    REQUIRE(t);
    auto& v = *t;
    std::vector<token::kind_t> kinds;
    for (auto& x : v) kinds.push_back(x.kind);
    using K = token;
    std::vector<token::kind_t> want = {K::lit, K::any, K::mask, K::gap, K::mask, K::gap, K::lit, K::gap, K::set,
                                       K::set, K::alt, K::nalt, K::gap, K::lit, K::gap, K::lit, K::gap, K::lit};
    REQUIRE(kinds == want);
    CHECK(v[0].b == 0x41);
    CHECK((v[2].b == 0x40 && v[2].m == 0xf0));
    CHECK((v[3].gmin == 3 && v[3].gmax == 3));
    CHECK((v[4].b == 0x05 && v[4].m == 0x0f));
    CHECK((v[5].gmin == 0 && v[5].gmax == gap_unbounded));
    CHECK((v[7].gmin == 0 && v[7].gmax == 2));
    CHECK((v[8].set_has(0x61) && v[8].set_has(0x62) && !v[8].set_has(0x63)));
    CHECK((!v[9].set_has(0x63) && !v[9].set_has(0x64) && v[9].set_has(0x65)));
    CHECK(v[10].alts == std::vector<std::string>{"ef", "g"});
    CHECK(v[11].alts == std::vector<std::string>{"hh", "ii"});
    CHECK((v[12].gmin == 2 && v[12].gmax == gap_unbounded));
    CHECK((v[14].gmin == 1 && v[14].gmax == 4));
    CHECK((v[16].gmin == 1 && v[16].gmax == 3));
}

TEST_CASE("hex syntax: errors name the column and the reason", "[unit]") {
    struct c { const char* hex; const char* why; };
    for (auto x : {c{"414", "odd"}, c{"41zz", "expected a hex byte"}, c{"41{3", "unterminated {"},
                   c{"41{x}42", "bad gap"}, c{"41{5-2}42", "minimum above maximum"},
                   c{"41(61|)42", "empty alternative"}, c{"*4142", "begin or end with a gap"},
                   c{"4142*", "begin or end with a gap"}, c{"????", "no fixed byte"},
                   c{"41!(6161|62)42", "same length"}, c{"41(6?|62)42", "whole hex bytes"},
                   c{"41[1-40]42", "at most 32"}, c{"41**42", "two gaps"}}) {
        auto r = parse_hex(x.hex);
        INFO(x.hex);
        REQUIRE(!r);
        CHECK(r.error().note_text().find(x.why) != std::string::npos);
        CHECK(r.error().column() >= 1);
    }
    auto r = parse_hex("41(B)42");
    REQUIRE(!r);
    CHECK(r.error().code() == bulkhead::make_error_code(bulkhead::errc::unsupported));
}

TEST_CASE("offsets: every kind parses", "[unit]") {
    auto o = [](const char* s) { return parse_offset(s); };
    CHECK(o("*")->kind == offset_spec::any);
    CHECK((o("10")->kind == offset_spec::absolute && o("10")->n == 10));
    CHECK((o("10,5")->shift == 5));
    CHECK((o("EOF-20")->kind == offset_spec::eof_minus && o("EOF-20")->n == 20));
    CHECK((o("EOF-20,4")->shift == 4));
    CHECK((o("EP+5")->kind == offset_spec::entry_point && !o("EP+5")->negative));
    CHECK(o("EP-5")->negative);
    CHECK((o("S2+8")->kind == offset_spec::section_rel && o("S2+8")->section == 2 && o("S2+8")->n == 8));
    CHECK((o("SE3")->kind == offset_spec::section_whole && o("SE3")->section == 3));
    CHECK(o("SL+4")->kind == offset_spec::last_section);
    CHECK(!o("EOF+3"));
    CHECK(!o("12x"));
    CHECK(!o("1,x"));
    CHECK(!o("S2"));
    CHECK(!o("EP*3"));
}

TEST_CASE(".ndb lines: good, skipped, and bad with file:line", "[unit]") {
    database db;
    auto r = load_text("x.ndb",
                       "# comment\n"
                       "A:0:*:41424344\n"
                       "B:7:10,2:41??4344:51\n"
                       "C:1:*:41424344\n"          // PE target: skipped
                       "D:0:EP+10:41424344\n"      // EP offset: skipped
                       "E:0:*:41424344:255\n"      // flevel too high: skipped
                       "F:0:*:4142(B)4344\n",      // boundary: skipped
                       db);
    REQUIRE(r);
    CHECK(db.bodies.size() == 2);
    CHECK(db.skipped.size() == 4);
    CHECK(db.skipped[0].name == "C");
    CHECK(db.skipped[0].source == "x.ndb:4");
    CHECK(db.skipped[1].reason.find("entry-point") != std::string::npos);

    struct c { const char* line; const char* why; };
    for (auto x : {c{"A:0:*", "expected Name:Target"}, c{"A:x:*:4142", "target type"},
                   c{"A:0:EOF+1:4142", "offset"}, c{"A:0:*:41zz", "hex signature"},
                   c{":0:*:4142", "empty signature name"}, c{"A:0:*:4142:x", "functionality"}}) {
        database d2;
        auto e = load_text("bad.ndb", std::string("# c\n\n") + x.line + "\n", d2);
        INFO(x.line);
        REQUIRE(!e);
        CHECK(e.error().line() == 3);
        CHECK(e.error().subject_text() == "bad.ndb");
        CHECK(e.error().message().find(x.why) != std::string::npos);
    }
}

TEST_CASE(".hdb/.hsb/.fp/.sfp/.ign2 lines", "[unit]") {
    database db;
    REQUIRE(load_text("a.hdb", "d41d8cd98f00b204e9800998ecf8427e:0:Empty.MD5\n", db));
    REQUIRE(load_text("a.hsb",
                      "da39a3ee5e6b4b0d3255bfef95601890afd80709:0:Empty.SHA1\n"
                      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855:*:Empty.SHA256:73\n",
                      db));
    REQUIRE(load_text("a.fp", "900150983cd24fb0d6963f7d28e17f72:3:abc.ok\n", db));
    REQUIRE(load_text("a.sfp", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad:3:abc.ok2\n", db));
    REQUIRE(load_text("a.ign2", "Some.Name\nOther.Name:1234\n", db));
    REQUIRE(db.hashes.size() == 3);
    CHECK(db.hashes[0].kind == hash_kind::md5);
    CHECK(db.hashes[1].kind == hash_kind::sha1);
    CHECK((db.hashes[2].kind == hash_kind::sha256 && db.hashes[2].any_size));
    CHECK(db.allow.size() == 2);
    CHECK(db.ignored.count("Some.Name"));
    CHECK(db.ignored.count("Other.Name"));
    database bad;
    auto e = load_text("b.hdb", "abcd:1:X\n", bad);
    REQUIRE(!e);
    CHECK(e.error().message().find("b.hdb at line 1") != std::string::npos);
    e = load_text("b.hdb", "d41d8cd98f00b204e9800998ecf8427e:x:X\n", bad);
    REQUIRE(!e);
    CHECK(e.error().message().find("size") != std::string::npos);
}

TEST_CASE(".ldb lines: expressions, modifiers, unsupported parts", "[unit]") {
    database db;
    REQUIRE(load_text("l.ldb",
                      "L1;Engine:81-255,Target:0;(0&1)|2>3,2;41424344;45464748::iw;EOF-10:494a4b4c\n"
                      "L2;Target:0;0;41424344/abc/\n"                 // PCRE: skipped
                      "L3;Target:0,FileSize:10-20;0=0;41424344\n"
                      "L4;Target:1;0;41424344\n",                     // PE: skipped
                      db));
    REQUIRE(db.logicals.size() == 2);
    auto& L = db.logicals[0];
    CHECK(L.subs.size() == 3);
    CHECK(L.subs[1].mods == (mod_nocase | mod_wide));
    CHECK(L.subs[2].offset.kind == offset_spec::eof_minus);
    CHECK(L.expr.size() == 6);
    CHECK(db.logicals[1].has_fsize);
    REQUIRE(db.skipped.size() == 2);
    CHECK(db.skipped[0].reason.find("PCRE") != std::string::npos);
    for (auto line : {"X;Target:0;0&;4142", "X;Target:0;3;4142", "X;Target:0;(0;4142", "X;Foo:1;0;4142",
                      "X;Engine:81-255;0;4142", "X;Target:0;0;4142::q", "X;Target:0;0"}) {
        database d;
        auto e = load_text("bad.ldb", line, d);
        INFO(line);
        REQUIRE(!e);
        CHECK(e.error().line() == 1);
    }
    // nesting is bounded, not recursive without limit
    std::string deep = "X;Target:0;" + std::string(200, '(') + "0" + std::string(200, ')') + ";4142";
    database d;
    auto e = load_text("deep.ldb", deep, d);
    REQUIRE(!e);
    CHECK(e.error().message().find("nested too deeply") != std::string::npos);
}

TEST_CASE(".cvd built with tar and gzip loads", "[unit]") {
    if (!sigtest::have("tar") || !sigtest::have("gzip")) {
        WARN("tar/gzip missing: .cvd test not run");
        return;
    }
    sigtest::temp_dir td;
    sigtest::write(td / "test.ndb", "Cvd.Body:0:*:43564442414b4552\n");
    sigtest::write(td / "test.hdb", "900150983cd24fb0d6963f7d28e17f72:3:Cvd.Hash\n");
    sigtest::write(td / "test.info", "info\n");
    REQUIRE(sigtest::run("cd " + td.path + " && tar -cf body.tar test.ndb test.hdb test.info && gzip -n body.tar").first == 0);
    std::string hdr = "ClamAV-VDB:22 Nov 2026 03-00 +0000:4242:2:90:00000000000000000000000000000000:sig:builder:1";
    hdr.resize(512, ' ');
    sigtest::write(td / "test.cvd", hdr + sigtest::slurp(td / "body.tar.gz"));
    database db;
    auto r = load_path(td / "test.cvd", db);
    REQUIRE(r);
    CHECK(db.version == 4242);
    REQUIRE(db.bodies.size() == 1);
    CHECK(db.bodies[0].name == "Cvd.Body");
    CHECK(db.hashes.size() == 1);
    // .cld: same header, plain tar
    REQUIRE(sigtest::run("cd " + td.path + " && gzip -d -k body.tar.gz").first == 0);
    sigtest::write(td / "test.cld", hdr + sigtest::slurp(td / "body.tar"));
    database db2;
    REQUIRE(load_path(td / "test.cld", db2));
    CHECK(db2.bodies.size() == 1);
    // scanning with it
    auto c = compiled_db::compile(db);
    REQUIRE(c);
    scan_state st(*c);
    CHECK(scan_memory(st, sigtest::bytes("xxCVDBAKERyy")).matches.at(0).name == "Cvd.Body");
    CHECK(scan_memory(st, sigtest::bytes("abc")).matches.at(0).name == "Cvd.Hash");
    // broken containers
    database d3;
    auto full = sigtest::slurp(td / "test.cvd");
    CHECK(!load_container("t.cvd", sigtest::bytes(full.substr(0, 600)), d3));
    CHECK(!load_container("t.cvd", sigtest::bytes("ClamAV-VDB:short"), d3));
    std::string nohdr = full;
    nohdr[0] = 'X';
    auto e = load_container("t.cvd", sigtest::bytes(nohdr), d3);
    REQUIRE(!e);
    CHECK(e.error().message().find("ClamAV-VDB") != std::string::npos);
    // bomb limit applies
    auto b = load_container("t.cvd", sigtest::bytes(full), d3, 100);
    REQUIRE(!b);
    CHECK(b.error().code() == bulkhead::make_error_code(bulkhead::errc::too_large));
}
