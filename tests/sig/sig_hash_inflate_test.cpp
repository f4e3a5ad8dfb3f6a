#include <catch2/catch.hpp>

#include "bulkhead/sig.hpp"
#include "sig_test_util.hpp"

#include <random>

using namespace bulkhead::sig;

template <class H>
static std::string hx(const std::string& s) {
    return to_hex(hash_of<H>(s.data(), s.size()));
}

TEST_CASE("MD5 matches the RFC 1321 test suite", "[unit]") {
    CHECK(hx<md5>("") == "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(hx<md5>("a") == "0cc175b9c0f1b6a831c399e269772661");
    CHECK(hx<md5>("abc") == "900150983cd24fb0d6963f7d28e17f72");
    CHECK(hx<md5>("message digest") == "f96b697d7cb7938d525a2f31aaf161d0");
    CHECK(hx<md5>("abcdefghijklmnopqrstuvwxyz") == "c3fcd3d76192e4007dfb496cca67e13b");
    CHECK(hx<md5>("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") ==
          "d174ab98d277d9f5a5611c2c9f419d9f");
    CHECK(hx<md5>("12345678901234567890123456789012345678901234567890123456789012345678901234567890") ==
          "57edf4a22be3c955ac49da2e2107b67a");
}

TEST_CASE("SHA-1 and SHA-256 match the FIPS 180 examples", "[unit]") {
    CHECK(hx<sha1>("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK(hx<sha1>("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    CHECK(hx<sha1>("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    CHECK(hx<sha256>("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(hx<sha256>("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(hx<sha256>("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("one million 'a' in uneven chunks", "[unit]") {
    std::string chunk(997, 'a');
    md5 m;
    sha1 s1;
    sha256 s2;
    std::size_t left = 1000000;
    std::size_t sizes[] = {1, 63, 64, 65, 997, 128, 5};
    std::size_t i = 0;
    while (left) {
        std::size_t n = std::min(left, sizes[i++ % 7]);
        m.update(chunk.data(), n);
        s1.update(chunk.data(), n);
        s2.update(chunk.data(), n);
        left -= n;
    }
    CHECK(to_hex(m.finish()) == "7707d6ae4e027c70eea2a935c2296f21");
    CHECK(to_hex(s1.finish()) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    CHECK(to_hex(s2.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("inflate reads what gzip writes", "[unit]") {
    if (!sigtest::have("gzip")) {
        WARN("gzip not installed: gzip round trip not tested");
        return;
    }
    sigtest::temp_dir td;
    std::mt19937 rng(7);
    std::vector<std::string> inputs = {"", "a", std::string(100000, 'x')};
    std::string mixed;
    for (int i = 0; i < 300000; ++i) mixed += static_cast<char>(i % 7 == 0 ? rng() : "the quick brown fox "[i % 20]);
    inputs.push_back(mixed);
    std::string rnd;
    for (int i = 0; i < 70000; ++i) rnd += static_cast<char>(rng());
    inputs.push_back(rnd); // incompressible: stored blocks
    int k = 0;
    for (auto& in : inputs) {
        for (const char* lvl : {"-1", "-9"}) {
            std::string f = td / ("in" + std::to_string(k++));
            sigtest::write(f, in);
            REQUIRE(sigtest::run(std::string("gzip -n ") + lvl + " -k " + f).first == 0);
            auto gz = sigtest::slurp(f + ".gz");
            auto out = gunzip(sigtest::bytes(gz));
            REQUIRE(out);
            CHECK(std::string(out->begin(), out->end()) == in);
        }
    }
    // two members concatenated
    std::string a = td / "m1", b = td / "m2";
    sigtest::write(a, "first ");
    sigtest::write(b, "second");
    REQUIRE(sigtest::run("gzip -n " + a + " " + b).first == 0);
    auto cat = sigtest::slurp(a + ".gz") + sigtest::slurp(b + ".gz");
    auto out = gunzip(sigtest::bytes(cat));
    REQUIRE(out);
    CHECK(std::string(out->begin(), out->end()) == "first second");
}

TEST_CASE("inflate rejects bad streams with the reason and offset", "[unit]") {
    std::vector<unsigned char> out;
    // block type 3
    unsigned char bt3[] = {0x07};
    auto r = inflate_raw(bt3, out);
    REQUIRE(!r);
    CHECK(r.error().note_text().find("block type 3") != std::string::npos);
    // stored block with bad NLEN
    unsigned char st[] = {0x01, 0x05, 0x00, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'};
    r = inflate_raw(st, out);
    REQUIRE(!r);
    CHECK(r.error().note_text().find("length check") != std::string::npos);
    // stored block truncated
    unsigned char tr[] = {0x01, 0x05, 0x00, 0xfa, 0xff, 'h', 'e'};
    r = inflate_raw(tr, out);
    REQUIRE(!r);
    CHECK(r.error().code() == bulkhead::make_error_code(bulkhead::errc::truncated));
    // fixed block: distance too far back (length code 257, distance 0 -> dist 1 with empty output)
    unsigned char far[] = {0x03, 0x02};
    out.clear();
    r = inflate_raw(far, out);
    REQUIRE(!r);
    // empty input
    r = inflate_raw({}, out);
    REQUIRE(!r);
    // good stored block
    unsigned char good[] = {0x01, 0x05, 0x00, 0xfa, 0xff, 'h', 'e', 'l', 'l', 'o'};
    out.clear();
    r = inflate_raw(good, out);
    REQUIRE(r);
    CHECK(std::string(out.begin(), out.end()) == "hello");
    // gzip: bad magic, bad CRC
    unsigned char bad_magic[] = {0x1f, 0x8c, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(!gunzip(bad_magic));
    unsigned char bad_crc[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x01, 0x01, 0x00, 0xfe, 0xff, 'x',
                               1, 2, 3, 4, 1, 0, 0, 0};
    auto g = gunzip(bad_crc);
    REQUIRE(!g);
    CHECK(g.error().note_text().find("CRC") != std::string::npos);
}

TEST_CASE("inflate stops a decompression bomb at the limit", "[unit]") {
    // 10 MB of zeros compresses to ~10 KB; with a 1 MB limit the decoder must stop.
    if (!sigtest::have("gzip")) {
        WARN("gzip not installed: bomb test not run");
        return;
    }
    sigtest::temp_dir td;
    std::string f = td / "zeros";
    sigtest::write(f, std::string(10 << 20, '\0'));
    REQUIRE(sigtest::run("gzip -9 -n " + f).first == 0);
    auto gz = sigtest::slurp(f + ".gz");
    CHECK(gz.size() < 20000);
    auto r = gunzip(sigtest::bytes(gz), 1 << 20);
    REQUIRE(!r);
    CHECK(r.error().code() == bulkhead::make_error_code(bulkhead::errc::too_large));
    auto ok = gunzip(sigtest::bytes(gz), 11 << 20);
    REQUIRE(ok);
    CHECK(ok->size() == std::size_t(10 << 20));
}
