#include "bulkhead/dns.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace dns = bulkhead::dns;
using bytes = std::vector<std::uint8_t>;

namespace {
dns::name N(std::string_view s) { return dns::name::parse(s).value(); }

dns::record rec(std::string_view owner, std::uint16_t type, bytes rdata, std::uint32_t ttl = 300) {
    dns::record r;
    r.owner = N(owner);
    r.type = type;
    r.ttl = ttl;
    r.rdata = std::move(rdata);
    return r;
}
bytes caa_rdata(std::uint8_t flags, std::string_view tag, std::string_view value) {
    // Built by reserve + push_back: g++ 12 -O2 warns falsely (-Warray-bounds) on insert
    // after a braced initialisation.
    bytes b;
    b.reserve(2 + tag.size() + value.size());
    b.push_back(flags);
    b.push_back(static_cast<std::uint8_t>(tag.size()));
    b.insert(b.end(), tag.begin(), tag.end());
    b.insert(b.end(), value.begin(), value.end());
    return b;
}
bytes wire_name(std::string_view s) {
    auto n = N(s);
    return bytes(n.wire().begin(), n.wire().end());
}
/// A header with the given counts followed by `body`.
bytes msg(std::uint16_t qd, std::uint16_t an, const bytes& body) {
    const std::uint8_t head[12] = {0x12, 0x34, 0x81, 0x80, 0, static_cast<std::uint8_t>(qd), 0, static_cast<std::uint8_t>(an), 0, 0, 0, 0};
    bytes m;
    m.reserve(sizeof head + body.size());
    m.insert(m.end(), head, head + sizeof head);
    m.insert(m.end(), body.begin(), body.end());
    return m;
}
std::string err_of(const bytes& m) {
    auto r = dns::message_view::parse(dns::bytes_view(m.data(), m.size()));
    REQUIRE_FALSE(r);
    return r.error().message();
}
} // namespace

TEST_CASE("names: text, wire, case-insensitive equality", "[unit]") {
    auto n = N("WWW.Example.COM");
    CHECK(n.to_string() == "WWW.Example.COM.");
    CHECK(n == N("www.example.com."));
    CHECK(n.label_count() == 3);
    CHECK(n.parent() == N("example.com"));
    CHECK(n.parent().parent().parent().is_root());
    CHECK(N("a\\.b.example").label_count() == 2);
    CHECK(N("a\\.b.example").to_string() == "a\\.b.example.");
    CHECK(N("\\065b").to_string() == "Ab.");
    auto rel = dns::name::from_text("www", N("example.com")).value();
    CHECK(rel.to_string() == "www.example.com.");
    CHECK(dns::name::from_text("@", N("example.com")).value() == N("example.com"));
    CHECK(N("www.example.com").is_subdomain_of(N("EXAMPLE.com")));
    CHECK_FALSE(N("www.example.com").is_subdomain_of(N("ample.com")));
    CHECK_FALSE(dns::name::parse("a..b"));
    CHECK_FALSE(dns::name::parse(std::string(64, 'a')));
    CHECK(dns::name::parse(std::string(63, 'a')));
    std::string long_name;
    for (int i = 0; i < 4; ++i) long_name += std::string(63, 'x') + ".";
    CHECK_FALSE(dns::name::parse(long_name)); // 4*64+1 = 257 octets
}

TEST_CASE("builder compresses names and the parser reads them back", "[unit]") {
    dns::message_builder b(0xBEEF, dns::flag::qr | dns::flag::rd | dns::flag::ra);
    b.question(N("www.example.com"), dns::rr::caa);
    b.add(dns::section::answer, rec("www.example.com", dns::rr::cname, wire_name("target.example.com")));
    b.add(dns::section::answer, rec("target.example.com", dns::rr::caa, caa_rdata(0, "issue", "ca.example; a=b")));
    b.add(dns::section::authority, rec("example.com", dns::rr::ns, wire_name("ns1.example.com")));
    bytes mx{0, 10};
    auto ex = wire_name("mail.example.com");
    mx.insert(mx.end(), ex.begin(), ex.end());
    b.add(dns::section::additional, rec("example.com", dns::rr::mx, mx));
    b.edns(1232, true);
    auto w = std::move(b).build().value();
    // Uncompressed this would be far longer; every later name is a pointer or a suffix pointer.
    CHECK(w.size() < 150);
    auto m = dns::message_view::parse(dns::bytes_view(w.data(), w.size())).value();
    CHECK(m.hdr().id == 0xBEEF);
    CHECK(m.hdr().has(dns::flag::qr));
    CHECK(m.hdr().ancount == 2);
    auto q = m.question().value();
    CHECK(q.qname.equals(N("www.example.com")));
    CHECK(q.qtype == dns::rr::caa);
    std::vector<std::string> owners;
    for (const auto& r : m.answers()) owners.push_back(r.owner.to_string());
    CHECK(owners == std::vector<std::string>{"www.example.com.", "target.example.com."});
    auto it = m.answers().begin();
    CHECK(dns::as_name(*it).value().to_string() == "target.example.com.");
    ++it;
    auto c = dns::as_caa(*it).value();
    CHECK(c.tag == "issue");
    CHECK(c.value == "ca.example; a=b");
    CHECK_FALSE(c.critical());
    auto ns = *m.authority().begin();
    CHECK(dns::as_name(ns).value().to_string() == "ns1.example.com.");
    auto mxv = dns::as_mx(*m.additional().begin()).value();
    CHECK(mxv.preference == 10);
    CHECK(mxv.exchange.to_string() == "mail.example.com.");
    auto e = m.edns().value();
    CHECK(e.udp_size == 1232);
    CHECK(e.do_bit);
    // to_record expands compressed RDATA names.
    auto owned = dns::to_record(ns).value();
    CHECK(owned.rdata == wire_name("ns1.example.com"));
}

TEST_CASE("builder never points into a name it is still writing", "[unit]") {
    // Found by fuzz_dns_zone: repeated labels used to match the half-written name itself.
    dns::message_builder b(1, dns::flag::qr);
    b.add(dns::section::answer, rec("a.a.a.a", dns::rr::txt, {1, 'x'}));
    b.add(dns::section::answer, rec("b.a.a.a.a", dns::rr::txt, {1, 'y'}));
    auto w = std::move(b).build().value();
    auto m = dns::message_view::parse(dns::bytes_view(w.data(), w.size())).value();
    std::vector<std::string> owners;
    for (const auto& r : m.answers()) owners.push_back(r.owner.to_string());
    CHECK(owners == std::vector<std::string>{"a.a.a.a.", "b.a.a.a.a."});
}

TEST_CASE("query builder: EDNS0 size clamped, DO bit, RD", "[unit]") {
    dns::query_options o;
    o.id = 7;
    o.edns_udp_size = 512;
    o.dnssec_ok = true;
    auto w = dns::build_query(N("example.com"), dns::rr::caa, o).value();
    auto m = dns::message_view::parse(dns::bytes_view(w.data(), w.size())).value();
    CHECK(m.hdr().has(dns::flag::rd));
    CHECK(m.edns()->udp_size == 1232);
    CHECK(m.edns()->do_bit);
    o.edns_udp_size = 9000;
    auto w2 = dns::build_query(N("example.com"), dns::rr::caa, o).value();
    CHECK(dns::message_view::parse(dns::bytes_view(w2.data(), w2.size()))->edns()->udp_size == 4096);
    o.edns_udp_size = 0;
    auto w3 = dns::build_query(N("example.com"), dns::rr::caa, o).value();
    CHECK_FALSE(dns::message_view::parse(dns::bytes_view(w3.data(), w3.size()))->edns());
}

TEST_CASE("wire names: loops, forward and out-of-bounds pointers, long labels and names", "[unit]") {
    // Question name = pointer to itself (offset 12).
    CHECK(err_of(msg(1, 0, {0xC0, 12, 0, 1, 0, 1})) == "dns: name pointer loop or forward pointer at offset 12: parse error");
    // Pointer forward to a later name.
    CHECK(err_of(msg(1, 0, {0xC0, 18, 0, 1, 0, 1, 1, 'a', 0})) == "dns: name pointer loop or forward pointer at offset 12: parse error");
    // Two-step loop: label "a" then a pointer back to the start of its own run.
    CHECK(err_of(msg(1, 0, {1, 'a', 0xC0, 12, 0, 1, 0, 1})) == "dns: name pointer loop or forward pointer at offset 14: parse error");
    // Out of bounds.
    CHECK(err_of(msg(1, 0, {0xC0, 0xFF, 0, 1, 0, 1})) == "dns: name pointer out of bounds at offset 12: parse error");
    // Label of 64 octets (length byte 0x40 is a reserved label type).
    bytes b{64};
    b.insert(b.end(), 64, 'a');
    b.insert(b.end(), {0, 0, 1, 0, 1});
    CHECK(err_of(msg(1, 0, b)) == "dns: label length over 63 (reserved label type) at offset 12: parse error");
    // A name over 255 octets built from pointers: each answer's owner adds 63+1 to the previous.
    bytes body = {0, 0, 1, 0, 1}; // question: root
    std::size_t prev = 12;
    for (int i = 0; i < 4; ++i) {
        const std::size_t here = 12 + body.size();
        body.push_back(63);
        body.insert(body.end(), 63, 'x');
        body.push_back(static_cast<std::uint8_t>(0xC0 | (prev >> 8)));
        body.push_back(static_cast<std::uint8_t>(prev & 0xFF));
        body.insert(body.end(), {0, 1, 0, 1, 0, 0, 0, 0, 0, 0});
        prev = here;
    }
    CHECK_THAT(err_of(msg(1, 4, body)), Catch::Contains("name longer than 255 octets"));
    // Compression where RFC 3597 forbids it (RRSIG signer) is refused.
    bytes sig(18, 0);
    sig.insert(sig.end(), {0xC0, 0});
    CHECK_FALSE(dns::parse_rrsig_rdata(dns::bytes_view(sig.data(), sig.size())));
}

TEST_CASE("every truncation of a valid message is rejected with an offset", "[unit]") {
    dns::message_builder b(1, dns::flag::qr);
    b.question(N("example.com"), dns::rr::caa);
    for (int i = 0; i < 3; ++i) b.add(dns::section::answer, rec("example.com", dns::rr::caa, caa_rdata(0, "issue", "ca.example")));
    b.edns(1232, false, 0, std::vector<std::pair<std::uint16_t, std::string>>{{15, std::string("\0\x07" "expired", 9)}});
    auto w = std::move(b).build().value();
    REQUIRE(dns::message_view::parse(dns::bytes_view(w.data(), w.size())));
    for (std::size_t n = 0; n < w.size(); ++n) {
        auto r = dns::message_view::parse(dns::bytes_view(w.data(), n));
        INFO("prefix " << n);
        REQUIRE_FALSE(r);
        CHECK((r.error().has_offset() || n < 12));
        CHECK(r.error().offset() <= n);
    }
}

TEST_CASE("EDNS: Extended DNS Errors, extended rcode, malformed options", "[unit]") {
    dns::message_builder b(1, dns::flag::qr | 2 /* SERVFAIL */);
    b.question(N("expired.test"), dns::rr::caa);
    std::vector<std::pair<std::uint16_t, std::string>> opts{{15, std::string("\0\x07signatures expired\0", 21)},
                                                           {15, std::string("\0\x16", 2)},
                                                           {10, "cookie12"}};
    b.edns(1232, true, 0, opts);
    auto w = std::move(b).build().value();
    auto m = dns::message_view::parse(dns::bytes_view(w.data(), w.size())).value();
    CHECK(m.rcode() == dns::rcode::servfail);
    std::vector<std::pair<int, std::string>> got;
    m.edns()->for_each_ede([&](const dns::ede_view& e) { got.emplace_back(e.info_code, std::string(e.text)); });
    REQUIRE(got.size() == 2);
    CHECK(got[0] == std::pair<int, std::string>{7, "signatures expired"}); // trailing NUL dropped
    CHECK(got[1] == std::pair<int, std::string>{22, ""});
    CHECK(dns::ede_name(7) == "Signature Expired");
    // Extended rcode BADVERS = 16: upper bits in OPT TTL.
    dns::message_builder b2(1, dns::flag::qr);
    b2.question(N("x.test"), dns::rr::a);
    b2.edns(1232, false, 1);
    auto w2 = std::move(b2).build().value();
    CHECK(dns::message_view::parse(dns::bytes_view(w2.data(), w2.size()))->rcode() == dns::rcode::badvers);
    // An option longer than the OPT RDATA.
    auto bad = w;
    // Find the EDE option length of the first option and inflate it.
    const std::uint8_t pat[] = {0, 15, 0, 21};
    auto p = std::search(bad.begin(), bad.end(), std::begin(pat), std::end(pat));
    REQUIRE(p != bad.end());
    p[3] = 200;
    CHECK_THAT(err_of(bad), Catch::Contains("EDNS option runs past OPT RDATA"));
    // Two OPT records.
    dns::message_builder b3(1, dns::flag::qr);
    b3.edns(1232, false);
    b3.edns(1232, false);
    auto w3 = std::move(b3).build().value();
    CHECK_THAT(err_of(w3), Catch::Contains("more than one OPT"));
}

TEST_CASE("typed RDATA and its edge cases", "[unit]") {
    auto one = [](std::uint16_t type, bytes rd) {
        dns::message_builder b(1, dns::flag::qr);
        b.add(dns::section::answer, rec("x.test", type, std::move(rd)));
        return std::move(b).build().value();
    };
    auto first = [](const bytes& w) {
        static bytes keep;
        keep = w;
        return *dns::message_view::parse(dns::bytes_view(keep.data(), keep.size()))->answers().begin();
    };
    CHECK(dns::as_a(first(one(dns::rr::a, {192, 0, 2, 1}))).value() == std::array<std::uint8_t, 4>{192, 0, 2, 1});
    CHECK_FALSE(dns::as_a(first(one(dns::rr::a, {1, 2, 3}))));
    CHECK_FALSE(dns::as_aaaa(first(one(dns::rr::aaaa, bytes(15, 0)))));
    // CAA: 1-byte RDATA is malformed (not a property with a missing value).
    auto c1 = dns::as_caa(first(one(dns::rr::caa, {0})));
    REQUIRE_FALSE(c1);
    CHECK_THAT(c1.error().message(), Catch::Contains("CAA RDATA shorter than 2 bytes"));
    // Tag length beyond RDATA.
    CHECK_FALSE(dns::as_caa(first(one(dns::rr::caa, {0, 5, 'i', 's'}))));
    // `0 issue ""` is valid: empty value. Empty tag and "_" tags are structurally valid too.
    auto ce = dns::as_caa(first(one(dns::rr::caa, caa_rdata(0, "issue", "")))).value();
    CHECK(ce.value.empty());
    CHECK(dns::as_caa(first(one(dns::rr::caa, {0, 0}))).value().tag.empty());
    CHECK(dns::as_caa(first(one(dns::rr::caa, caa_rdata(128, "is_sue", "x")))).value().critical());
    // TXT must be filled exactly by its strings.
    std::vector<std::string> strs;
    CHECK(dns::for_each_txt(first(one(dns::rr::txt, {2, 'h', 'i', 0})), [&](std::string_view s) { strs.emplace_back(s); }));
    CHECK(strs == std::vector<std::string>{"hi", ""});
    CHECK_FALSE(dns::for_each_txt(first(one(dns::rr::txt, {5, 'h'})), [](std::string_view) {}));
    // SOA.
    bytes soa = wire_name("ns.test");
    auto rn = wire_name("hostmaster.test");
    soa.insert(soa.end(), rn.begin(), rn.end());
    for (int i = 1; i <= 5; ++i) soa.insert(soa.end(), {0, 0, 0, static_cast<std::uint8_t>(i)});
    auto s = dns::as_soa(first(one(dns::rr::soa, soa))).value();
    CHECK(s.rname.to_string() == "hostmaster.test.");
    CHECK(s.serial == 1);
    CHECK(s.minimum == 5);
    soa.pop_back();
    // The builder refuses a short SOA, so build it under another type and patch the type.
    auto w_soa = one(0xFF00, soa);
    const std::uint8_t type_pat[] = {0xFF, 0x00, 0x00, 0x01};
    auto tp = std::search(w_soa.begin(), w_soa.end(), std::begin(type_pat), std::end(type_pat));
    REQUIRE(tp != w_soa.end());
    tp[0] = 0;
    tp[1] = 6;
    CHECK_FALSE(dns::as_soa(first(w_soa)));
    // DNSSEC presence.
    bytes sig{0, 1, 8, 2, 0, 0, 1, 0, 0x65, 0, 0, 0, 0x64, 0, 0, 0, 0x12, 0x34};
    auto signer = wire_name("test");
    sig.insert(sig.end(), signer.begin(), signer.end());
    sig.insert(sig.end(), {1, 2, 3});
    auto rs = dns::parse_rrsig_rdata(dns::bytes_view(sig.data(), sig.size())).value();
    CHECK(rs.type_covered == 1);
    CHECK(rs.key_tag == 0x1234);
    CHECK(rs.signer.to_string() == "test.");
    CHECK(rs.signature.size() == 3);
    dns::message_builder b(1, dns::flag::qr);
    b.add(dns::section::answer, rec("x.test", dns::rr::rrsig, sig));
    b.add(dns::section::answer, rec("x.test", dns::rr::ds, {1, 2, 8, 2, 0xAA}));
    auto w = std::move(b).build().value();
    auto pres = dns::dnssec_records(*dns::message_view::parse(dns::bytes_view(w.data(), w.size())));
    CHECK(pres.rrsig);
    CHECK(pres.ds);
    CHECK_FALSE(pres.dnskey);
}

TEST_CASE("presentation: printing, RFC 3597 generic form, zone reader", "[unit]") {
    CHECK(dns::to_text(rec("example.com", dns::rr::caa, caa_rdata(0, "issue", "ca.example; a=b"))) ==
          "example.com. 300 IN CAA 0 issue \"ca.example; a=b\"");
    CHECK(dns::to_text(rec("example.com", 65280, {0xAB, 0xCD, 0xEF})) == "example.com. 300 IN TYPE65280 \\# 3 ABCDEF");
    // A CAA tag the typed form cannot express falls back to the generic form.
    CHECK(dns::rdata_to_text(dns::rr::caa, caa_rdata(0, "is_sue", "x")) == "\\# 9 000669735F73756578");
    CHECK(dns::rdata_to_text(dns::rr::caa, caa_rdata(0, "issue", "a\"b\\c\x01")) == "0 issue \"a\\\"b\\\\c\\001\"");
    CHECK(dns::rdata_to_text(dns::rr::dnskey, bytes{1, 1, 3, 8, 'a', 'b', 'c', 'd'}) == "257 3 8 YWJjZA==");

    const char* zone = R"(; test zone
$ORIGIN example.com.
$TTL 1h
@       IN SOA ns1 hostmaster ( 2024010101 ; serial
                 7200 3600 1209600 300 )
        IN NS  ns1
ns1     IN A   192.0.2.53
www  60 IN CNAME target
target  CAA 0 issue "ca.example; accounturi=https://acme/acct/1"
        CAA 128 tbs "critical"
upper   CAA 0 ISSUE "ca.example"
generic TYPE257 \# 14 0005697373756563612E6578616D
v6      AAAA 2001:db8::1
mx      MX 10 mail.other.
txt     TXT "hello world" "x\"y"
key     DNSKEY 257 3 8 YWJj ZA==
ds      DS 12345 8 2 ABCDEF0123
)";
    auto recs = dns::parse_zone(zone).value();
    REQUIRE(recs.size() == 13);
    CHECK(dns::to_text(recs[0]) == "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300");
    CHECK(recs[1].owner == N("example.com"));
    CHECK(recs[3].ttl == 60);
    CHECK(dns::to_text(recs[4]) == "target.example.com. 3600 IN CAA 0 issue \"ca.example; accounturi=https://acme/acct/1\"");
    CHECK(recs[5].owner == N("target.example.com"));
    CHECK(dns::to_text(recs[5]) == "target.example.com. 3600 IN CAA 128 tbs \"critical\"");
    CHECK(dns::to_text(recs[7]) == "generic.example.com. 3600 IN CAA 0 issue \"ca.exam\"");
    CHECK(dns::to_text(recs[9]) == "mx.example.com. 3600 IN MX 10 mail.other.");
    CHECK(dns::to_text(recs[10]) == "txt.example.com. 3600 IN TXT \"hello world\" \"x\\\"y\"");
    CHECK(dns::to_text(recs[11]) == "key.example.com. 3600 IN DNSKEY 257 3 8 YWJjZA==");
    CHECK(dns::to_text(recs[12]) == "ds.example.com. 3600 IN DS 12345 8 2 ABCDEF0123");
    // Round trip: print then read gives the same records.
    std::string printed;
    for (const auto& r : recs) printed += dns::to_text(r) + "\n";
    auto again = dns::parse_zone(printed).value();
    REQUIRE(again.size() == recs.size());
    for (std::size_t i = 0; i < recs.size(); ++i) {
        CHECK(again[i].owner == recs[i].owner);
        CHECK(again[i].type == recs[i].type);
        CHECK(again[i].rdata == recs[i].rdata);
    }
}

TEST_CASE("zone reader errors carry line:column", "[unit]") {
    auto e = [](const char* z) { return dns::parse_zone(z).error().message(); };
    CHECK(e("a.test. 300 IN A 1.2.3\n") == "zone: bad IPv4 address \"1.2.3\" at line 1:18: parse error");
    CHECK(e("a.test. IN CAA 0 issue\n") == "zone: too few RDATA fields \"CAA\" at line 1:18: parse error");
    CHECK(e("\n\na.test. IN CAA 0 is_sue \"x\"\n") == "zone: CAA tag is not alphanumeric \"is_sue\" at line 3:18: parse error");
    CHECK(e("a.test. IN TYPE999 \\# 2 ABCDEF\n") == "zone: \\# length does not match the hex data \"2\" at line 1:23: parse error");
    CHECK(e("a.test. IN FOO x\n") == "zone: unknown type \"FOO\" at line 1:12: parse error");
    CHECK(e("  IN A 1.2.3.4\n") == "zone: record without an owner and no previous owner at line 1:1: parse error");
    CHECK(e("a.test. IN TXT \"open\n") == "zone: unterminated quoted string at line 1:16: parse error");
    CHECK(e("a.test. IN SOA ( a b 1 2 3 4\n") == "zone: '(' never closed at line 1:16: parse error");
    CHECK(e("$INCLUDE other\n") == "zone: unsupported directive \"$INCLUDE\" at line 1:1: parse error");
    CHECK(e("a.test. IN RRSIG A 8 2 300 1 2 3 test. AAAA\n") == "zone: this type needs the generic \\# form \"RRSIG\" at line 1:12: parse error");
}

TEST_CASE("server addresses and resolv.conf", "[unit]") {
    CHECK(dns::server::parse("127.0.0.1").value().to_string() == "127.0.0.1:53");
    CHECK(dns::server::parse("127.0.0.2:5353").value().to_string() == "127.0.0.2:5353");
    CHECK(dns::server::parse("::1").value().to_string() == "[::1]:53");
    CHECK(dns::server::parse("[2001:db8::1]:8053").value().to_string() == "[2001:db8::1]:8053");
    CHECK_FALSE(dns::server::parse("example.com"));
    CHECK_FALSE(dns::server::parse("127.0.0.1:0"));
    CHECK_FALSE(dns::server::parse("127.0.0.1:99999"));
    CHECK_FALSE(dns::server::parse("[::1"));
    auto v = dns::parse_resolv_conf("# c\nsearch x\nnameserver 10.0.0.1\nnameserver ::1\noptions edns0\n").value();
    REQUIRE(v.size() == 2);
    CHECK(v[1].to_string() == "[::1]:53");
}

namespace {
/// A scripted UDP+TCP responder on 127.0.0.1 (the real servers are in the e2e test): first
/// answers with a wrong id and from the wrong question, then truncated; the TCP answer is the
/// real one. Proves that mismatched answers are ignored and TC leads to TCP.
struct fake_server {
    int udp = -1, tcp = -1;
    std::uint16_t port = 0;
    std::thread th;
    std::atomic<int> tcp_queries{0};
    explicit fake_server(int family = AF_INET) {
        sockaddr_storage ss{};
        socklen_t len = 0;
        if (family == AF_INET) {
            auto* a = reinterpret_cast<sockaddr_in*>(&ss);
            a->sin_family = AF_INET;
            a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            len = sizeof(sockaddr_in);
        } else {
            auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
            a->sin6_family = AF_INET6;
            a->sin6_addr = in6addr_loopback;
            len = sizeof(sockaddr_in6);
        }
        udp = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(::bind(udp, reinterpret_cast<sockaddr*>(&ss), len) == 0);
        socklen_t l = len;
        ::getsockname(udp, reinterpret_cast<sockaddr*>(&ss), &l);
        port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
        tcp = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        REQUIRE(::bind(tcp, reinterpret_cast<sockaddr*>(&ss), len) == 0);
        REQUIRE(::listen(tcp, 4) == 0);
        th = std::thread([this] { run(); });
    }
    ~fake_server() {
        ::shutdown(tcp, SHUT_RDWR);
        ::shutdown(udp, SHUT_RDWR);
        th.join();
        ::close(udp);
        ::close(tcp);
    }
    static bytes answer_for(const dns::message_view& q, std::uint16_t id, bool tc, const char* qname_override) {
        auto qq = q.question().value();
        dns::message_builder b(id, static_cast<std::uint16_t>(dns::flag::qr | dns::flag::rd | dns::flag::ra | (tc ? dns::flag::tc : 0)));
        b.question(qname_override ? N(qname_override) : dns::name(qq.qname), qq.qtype);
        if (!tc) b.add(dns::section::answer, rec("example.test", dns::rr::caa, caa_rdata(0, "issue", "tcp.example")));
        return std::move(b).build().value();
    }
    void run() {
        std::uint8_t buf[2048];
        sockaddr_storage from{};
        socklen_t fl = sizeof from;
        const ssize_t n = ::recvfrom(udp, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
        if (n <= 0) return;
        auto q = dns::message_view::parse(dns::bytes_view(buf, static_cast<std::size_t>(n))).value();
        const std::uint16_t id = q.hdr().id;
        for (const auto& w : {answer_for(q, static_cast<std::uint16_t>(id + 1), false, nullptr),
                              answer_for(q, id, false, "other.test"), answer_for(q, id, true, nullptr)})
            ::sendto(udp, w.data(), w.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
        const int c = ::accept4(tcp, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        std::uint8_t tb[2048];
        std::size_t got = 0;
        while (got < 2 || got < 2u + ((tb[0] << 8) | tb[1])) {
            const ssize_t k = ::recv(c, tb + got, sizeof tb - got, 0);
            if (k <= 0) break;
            got += static_cast<std::size_t>(k);
        }
        ++tcp_queries;
        auto tq = dns::message_view::parse(dns::bytes_view(tb + 2, got - 2)).value();
        auto w = answer_for(tq, tq.hdr().id, false, nullptr);
        bytes framed{static_cast<std::uint8_t>(w.size() >> 8), static_cast<std::uint8_t>(w.size() & 0xFF)};
        framed.insert(framed.end(), w.begin(), w.end());
        (void)::send(c, framed.data(), framed.size(), MSG_NOSIGNAL);
        ::close(c);
    }
};
} // namespace

TEST_CASE("resolver: ignores mismatched answers, falls back to TCP on TC (IPv4 and IPv6)", "[unit]") {
    for (const int family : {AF_INET, AF_INET6}) {
        fake_server fs(family);
        dns::resolver_options o;
        const std::string host = family == AF_INET ? "127.0.0.1" : "[::1]";
        o.servers.push_back(dns::server::parse(host + ":" + std::to_string(fs.port)).value());
        o.timeout = std::chrono::milliseconds(3000);
        o.attempts = 1;
        auto r = dns::resolve(N("example.test"), dns::rr::caa, o).value();
        CHECK(r.via_tcp);
        CHECK(fs.tcp_queries == 1);
        CHECK(r.rcode == 0);
        auto m = r.message();
        REQUIRE(m.hdr().ancount == 1);
        CHECK(dns::as_caa(*m.answers().begin()).value().value == "tcp.example");
    }
}

TEST_CASE("resolver: a dead server times out with an error naming the query", "[unit]") {
    // A bound UDP socket that never answers.
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t l = sizeof a;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &l);
    dns::resolver_options o;
    o.servers.push_back(dns::server::parse("127.0.0.1:" + std::to_string(ntohs(a.sin_port))).value());
    o.timeout = std::chrono::milliseconds(100);
    o.attempts = 2;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = dns::resolve(N("example.test"), dns::rr::caa, o);
    const auto took = std::chrono::steady_clock::now() - t0;
    ::close(s);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == bulkhead::errc::timeout);
    CHECK_THAT(r.error().message(), Catch::Contains("example.test. CAA") && Catch::Contains("2 tries"));
    CHECK(took >= std::chrono::milliseconds(200));
}
