// clamscan (Debian's clamav, never freshclam) as the oracle: the same generated databases and
// files through clamscan and bulkhead-scan must give the same detections per file.
#include <catch2/catch.hpp>

#include "bulkhead/sig.hpp"
#include "sig_test_util.hpp"

#include <map>
#include <random>
#include <set>
#include <sstream>

#include <unistd.h>

namespace {

std::string hex(const std::string& s) {
    static const char* h = "0123456789abcdef";
    std::string o;
    for (unsigned char c : s) { o += h[c >> 4]; o += h[c & 15]; }
    return o;
}

/// Parses "PATH: NAME FOUND" / "PATH: OK" lines into path -> set of names (".UNOFFICIAL"
/// stripped: clamscan marks unsigned databases that way).
std::map<std::string, std::set<std::string>> parse(const std::string& out) {
    std::map<std::string, std::set<std::string>> m;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        auto c = line.rfind(": ");
        if (c == std::string::npos) continue;
        std::string path = line.substr(0, c), rest = line.substr(c + 2);
        if (rest == "OK") { m[path]; continue; }
        if (rest.size() > 6 && rest.substr(rest.size() - 6) == " FOUND") {
            std::string n = rest.substr(0, rest.size() - 6);
            if (n.size() > 11 && n.substr(n.size() - 11) == ".UNOFFICIAL") n.resize(n.size() - 11);
            m[path].insert(n);
        }
    }
    return m;
}

} // namespace

TEST_CASE("bulkhead-scan agrees with clamscan per file", "[e2e]") {
    const char* bin = std::getenv("BULKHEAD_SCAN_BIN");
    if (!sigtest::have("clamscan") || !bin) {
        WARN("clamscan or bulkhead-scan missing: oracle test not run");
        return;
    }
    sigtest::temp_dir td;
    std::mt19937 rng(2026);
    auto rnd = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    auto word = [&](int n) {
        std::string w;
        for (int i = 0; i < n; ++i) w += static_cast<char>('a' + rnd(26));
        return w;
    };
    // Signatures: every syntax element and offset kind, target 0 and 7, logical ones.
    std::ostringstream ndb, ldb, hdb;
    struct plant { std::string sig, content; bool text; };
    std::vector<plant> plants;
    for (int i = 0; i < 60; ++i) {
        std::string a = word(6), b = word(5), c = word(4);
        std::string name = "Or.N" + std::to_string(i);
        std::string sig, content;
        switch (i % 12) {
        case 0: sig = hex(a + b); content = a + b; break;
        case 1: sig = hex(a) + "????" + hex(b); content = a + "\x01\x02" + b; break;
        case 2: sig = hex(a) + "*" + hex(b); content = a + std::string(rnd(500), 'q') + b; break;
        case 3: sig = hex(a) + "{2-5}" + hex(b); content = a + "zzz" + b; break;
        case 4: sig = hex(a) + "(" + hex("x") + "|" + hex("y") + ")" + hex(b); content = a + "y" + b; break;
        case 5: sig = hex(a) + "!(" + hex("x") + "|" + hex("y") + ")" + hex(b); content = a + "w" + b; break;
        case 6: sig = hex(a) + "{-3}" + hex(b); content = a + "kk" + b; break;
        case 7: sig = hex(a) + "{3-}" + hex(b); content = a + "kkkkk" + b; break;
        case 8: sig = hex(a.substr(0, 1)) + "[1-3]" + hex(b + c); content = a.substr(0, 1) + "mm" + b + c; break;
        case 9: sig = hex(a) + "6?" + hex(b); content = a + "j" + b; break;
        case 10: sig = hex(a) + "(" + hex("one") + "|" + hex("three") + ")" + hex(b); content = a + "three" + b; break;
        case 11: sig = hex(a) + "?" + std::string(1, "0123456789abcdef"[('c') & 15]) + hex(b); content = a + "c" + b; break;
        }
        std::string off = "*";
        if (i % 5 == 1) off = "10";
        if (i % 5 == 2) off = "EOF-" + std::to_string(content.size() + 7);
        if (i % 5 == 3) off = "5,20";
        ndb << name << ":0:" << off << ":" << sig << "\n";
        std::string pre = off == "10" ? std::string(10, 'p') : off == "5,20" ? std::string(5 + rnd(20), 'p') : std::string(3 + rnd(30), 'p');
        std::string post = off.rfind("EOF", 0) == 0 ? std::string(7, 's') : std::string(rnd(50), 's');
        plants.push_back({name, pre + content + post, true});
    }
    // target 7 (normalized text) and target 0 on normalized text
    for (int i = 0; i < 10; ++i) {
        std::string a = word(5), b = word(6);
        ndb << "Or.T7_" << i << ":7:*:" << hex(a + " " + b) << "\n";
        std::string up = a + " \t\r\n  " + b;
        for (auto& ch : up) if (rnd(2)) ch = static_cast<char>(std::toupper(ch));
        plants.push_back({"Or.T7_" + std::to_string(i), "<?php\n// " + up + "\necho 1;\n", true});
    }
    // logical signatures
    for (int i = 0; i < 10; ++i) {
        std::string a = word(6), b = word(6);
        std::string name = "Or.L" + std::to_string(i);
        switch (i % 5) {
        case 0: ldb << name << ";Engine:81-255,Target:0;0&1;" << hex(a) << ";" << hex(b) << "\n";
            plants.push_back({name, a + " and " + b, true}); break;
        case 1: ldb << name << ";Engine:81-255,Target:0;0>1;" << hex(a) << "\n";
            plants.push_back({name, a + "," + a + "," + a, true}); break;
        case 2: ldb << name << ";Engine:81-255,Target:0;0&1;" << hex(a) << "::i;" << hex(b) << "\n";
            { std::string A = a; for (auto& ch : A) ch = static_cast<char>(std::toupper(ch));
              plants.push_back({name, "\x01" + A + "\x02" + b, false}); } break;
        case 3: ldb << name << ";Engine:81-255,Target:0;0;" << hex(a) << "::w\n";
            { std::string w; for (char ch : a) { w += ch; w += '\0'; }
              plants.push_back({name, "\xff\xfe" + w, false}); } break;
        case 4: ldb << name << ";Engine:81-255,Target:0;0&1;" << hex(a) << "::f;" << hex(b) << "\n";
            plants.push_back({name, "x " + a + " y" + b, true}); break;
        }
    }
    // hash signatures
    for (int i = 0; i < 5; ++i) {
        std::string content = "hash target " + word(20);
        auto d = bulkhead::sig::hash_of<bulkhead::sig::md5>(content.data(), content.size());
        hdb << bulkhead::sig::to_hex(d) << ":" << content.size() << ":Or.H" << i << "\n";
        plants.push_back({"Or.H" + std::to_string(i), content, true});
    }
    ::mkdir((td / "db").c_str(), 0755);
    ::mkdir((td / "files").c_str(), 0755);
    sigtest::write(td / "db/o.ndb", ndb.str());
    sigtest::write(td / "db/o.ldb", ldb.str());
    sigtest::write(td / "db/o.hdb", hdb.str());
    std::vector<std::string> files;
    for (std::size_t i = 0; i < plants.size(); ++i) {
        std::string f = td / ("files/p" + std::to_string(i));
        sigtest::write(f, plants[i].content);
        files.push_back(f);
    }
    // near misses and clean files
    for (int i = 0; i < 30; ++i) {
        std::string f = td / ("files/c" + std::to_string(i));
        auto src = plants[static_cast<std::size_t>(rnd(static_cast<int>(plants.size())))].content;
        if (!src.empty()) src[static_cast<std::size_t>(rnd(static_cast<int>(src.size())))] ^= 0x01; // flip one bit
        sigtest::write(f, i % 3 ? src : word(200));
        files.push_back(f);
    }
    std::string flist;
    for (auto& f : files) flist += " " + f;
    auto [crc, cout] = sigtest::run("clamscan --no-summary --allmatch -d " + td.path + "/db" + flist + " 2>&1");
    INFO(cout);
    REQUIRE((crc == 0 || crc == 1));
    auto [brc, bout] = sigtest::run(std::string(bin) + " --no-summary --allmatch -d " + td.path + "/db" + flist + " 2>&1");
    INFO(bout);
    REQUIRE((brc == 0 || brc == 1));
    auto cm = parse(cout), bm = parse(bout);
    REQUIRE(cm.size() == files.size());
    REQUIRE(bm.size() == files.size());
    int detections = 0;
    for (auto& f : files) {
        INFO(f << " content: " << sigtest::slurp(f));
        CHECK(bm[f] == cm[f]);
        detections += static_cast<int>(cm[f].size());
    }
    // every planted signature was found by clamscan: the oracle actually exercised them
    CHECK(detections >= static_cast<int>(plants.size()));
    CHECK(crc == brc);

    // a .cvd built from the same files loads and scans the same
    std::string hdr = "ClamAV-VDB:22 Nov 2026 03-00 +0000:77:100:90:00000000000000000000000000000000:x:bh:1";
    hdr.resize(512, ' ');
    REQUIRE(sigtest::run("cd " + td.path + "/db && tar -cf ../o.tar o.ndb o.ldb o.hdb && gzip -n ../o.tar").first == 0);
    ::mkdir((td / "cvd").c_str(), 0755);
    sigtest::write(td / "cvd/o.cvd", hdr + sigtest::slurp(td / "o.tar.gz"));
    auto [vrc, vout] = sigtest::run(std::string(bin) + " --no-summary --allmatch -d " + td.path + "/cvd/o.cvd" + flist + " 2>&1");
    CHECK(vrc == brc);
    CHECK(parse(vout) == bm);

    // a compiled database saved by the tool and mapped back scans the same
    auto [src, sout] = sigtest::run(std::string(bin) + " --save-db " + td.path + "/o.bhdb -d " + td.path + "/db 2>&1");
    INFO(sout);
    CHECK(src == 0);
    auto [lrc, lout] = sigtest::run(std::string(bin) + " --no-summary --allmatch -d " + td.path + "/o.bhdb" + flist + " 2>&1");
    CHECK(lrc == brc);
    CHECK(parse(lout) == bm);

    // --json: one object per file plus a summary, machine-readable
    auto [jrc, jout] = sigtest::run(std::string(bin) + " --json -d " + td.path + "/db " + files[0] + " " + files.back());
    CHECK(jrc == 1);
    std::istringstream js(jout);
    std::string jl;
    int objects = 0, infected = 0;
    while (std::getline(js, jl)) {
        auto v = bulkhead::detail::json::parse(jl);
        REQUIRE(v);
        ++objects;
        if (jl.find("\"status\":\"infected\"") != std::string::npos) ++infected;
    }
    CHECK(objects == 3);
    CHECK(infected >= 1);

    // --cache: the second run answers from the cache; --quarantine moves the infected file
    std::string clean_file;
    for (auto& f : files)
        if (cm[f].empty()) { clean_file = f; break; }
    REQUIRE(!clean_file.empty());
    std::string cache = td / "scan.cache";
    auto [c1, o1] = sigtest::run(std::string(bin) + " --no-summary --cache " + cache + " -d " + td.path + "/db " + files[0] + " " + clean_file);
    auto [c2, o2] = sigtest::run(std::string(bin) + " --no-summary --cache " + cache + " -d " + td.path + "/db " + files[0] + " " + clean_file);
    CHECK(c1 == c2);
    CHECK(parse(o1) == parse(o2));
    CHECK(sigtest::slurp(cache).size() > 0);
    auto [qrc, qout] = sigtest::run(std::string(bin) + " --no-summary --quarantine " + td.path + "/q -d " + td.path + "/db " + files[0]);
    CHECK(qrc == 1);
    CHECK(::access(files[0].c_str(), F_OK) != 0);

    // exit code 2 and file:line for a bad database line
    sigtest::write(td / "bad.ndb", "Good:0:*:41424344\nBad:0:*:41zz\n");
    auto [erc, eout] = sigtest::run(std::string(bin) + " -d " + td.path + "/bad.ndb " + files[1] + " 2>&1");
    CHECK(erc == 2);
    CHECK(eout.find("bad.ndb at line 2") != std::string::npos);
}
