#include "bulkhead/caa.hpp"

#include <catch2/catch.hpp>

namespace dns = bulkhead::dns;
namespace caa = bulkhead::caa;

TEST_CASE("CAA tags", "[unit]") {
    CHECK(caa::check_tag("issue"));
    CHECK(caa::check_tag("ISSUEwild"));
    CHECK(caa::check_tag(std::string(15, 'a')));
    CHECK_FALSE(caa::check_tag(std::string(16, 'a')));
    CHECK(caa::check_tag("").error().message() == "caa: empty property tag: parse error");
    CHECK(caa::check_tag("is_sue").error().message() == "caa: property tag is not alphanumeric \"is_sue\" at offset 2: parse error");
    CHECK(caa::classify_tag("IsSuE") == caa::tag_kind::issue);
    CHECK(caa::classify_tag("issuewild") == caa::tag_kind::issuewild);
    CHECK(caa::classify_tag("iodef") == caa::tag_kind::iodef);
    CHECK(caa::classify_tag("contactemail") == caa::tag_kind::unknown);
    CHECK(caa::classify_tag("") == caa::tag_kind::invalid);
    CHECK(caa::classify_tag("is-sue") == caa::tag_kind::invalid);
}

TEST_CASE("CAA property RDATA", "[unit]") {
    const std::uint8_t one[] = {0};
    CHECK_FALSE(caa::parse_property(dns::bytes_view(one, 1)));
    const std::uint8_t empty_value[] = {0, 5, 'i', 's', 's', 'u', 'e'};
    auto p = caa::parse_property(dns::bytes_view(empty_value, sizeof empty_value)).value();
    CHECK(p.value.empty());
    CHECK(p.to_text() == "0 issue \"\"");
    const std::uint8_t empty_tag[] = {128, 0, 'x'};
    auto q = caa::parse_property(dns::bytes_view(empty_tag, sizeof empty_tag)).value();
    CHECK(q.kind() == caa::tag_kind::invalid);
    CHECK(q.critical());
}

TEST_CASE("issue value grammar (RFC 8659 4.2)", "[unit]") {
    auto ok = [](std::string_view s) { return caa::parse_issue_value(s).value(); };
    CHECK(ok("").issuer.empty());
    CHECK(ok(";").issuer.empty());
    CHECK(ok("  ;  ").issuer.empty());
    CHECK(ok("letsencrypt.org").issuer == "letsencrypt.org");
    CHECK(ok(" letsencrypt.org ").issuer == "letsencrypt.org");
    CHECK(ok("letsencrypt.org;").parameters.empty());
    auto v = ok("ca.example; accounturi=https://acme.example/acct/1 ; validationmethods = http-01,dns-01");
    CHECK(v.issuer == "ca.example");
    REQUIRE(v.parameters.size() == 2);
    CHECK(v.parameters[0].tag == "accounturi");
    CHECK(v.parameters[0].value == "https://acme.example/acct/1");
    CHECK(v.find("VALIDATIONMETHODS")->value == "http-01,dns-01");
    CHECK(ok("ca--x.example; a=").parameters[0].value.empty());
    auto bad = [](std::string_view s) { return caa::parse_issue_value(s).error().message(); };
    CHECK(bad("ca..example") == "caa: bad issuer domain name \"ca..example\" at offset 3: parse error");
    CHECK(bad("-ca.example") == "caa: bad issuer domain name \"-ca.example\" at offset 0: parse error");
    CHECK(bad("ca-.example") == "caa: expected ';' after the issuer domain name \"ca-.example\" at offset 2: parse error");
    CHECK(bad("ca.example.") == "caa: bad issuer domain name \"ca.example.\" at offset 11: parse error");
    CHECK(bad("ca.example x") == "caa: expected ';' after the issuer domain name \"ca.example x\" at offset 11: parse error");
    CHECK(bad("ca; a") == "caa: expected '=' after parameter tag \"ca; a\" at offset 5: parse error");
    CHECK(bad("ca; a=b c") == "caa: bad character in parameter value \"ca; a=b c\" at offset 8: parse error");
    CHECK(bad("ca; a=b;") == "caa: ';' must be followed by a parameter \"ca; a=b;\" at offset 8: parse error");
    CHECK(bad("ca; _a=b") == "caa: bad parameter tag \"ca; _a=b\" at offset 4: parse error");
}

TEST_CASE("validationmethods (RFC 8657 4)", "[unit]") {
    CHECK(caa::parse_validation_methods("http-01,dns-01").value() == std::vector<std::string>{"http-01", "dns-01"});
    CHECK_FALSE(caa::parse_validation_methods(""));
    CHECK_FALSE(caa::parse_validation_methods("http-01,"));
    CHECK_FALSE(caa::parse_validation_methods("http-01, dns-01"));
}

namespace {
caa::verdict judge(const char* zone, std::string domain, std::optional<std::string> account = std::nullopt,
                   std::optional<std::string> method = std::nullopt) {
    auto recs = dns::parse_zone(zone).value();
    caa::request r;
    r.domain = std::move(domain);
    r.ca = "letsencrypt.org";
    r.account_uri = std::move(account);
    r.validation_method = std::move(method);
    return caa::check(r, caa::zone_lookup(std::move(recs))).value();
}

const char* zone = R"(
$ORIGIN example.
$TTL 300
@                 SOA ns hostmaster 1 2 3 4 5
@                 CAA 0 issue "letsencrypt.org"
@                 CAA 0 iodef "mailto:sec@example"
other             CAA 0 issue "sectigo.com"
other             CAA 0 issue "digicert.com"
none              CAA 0 issue ";"
empty             CAA 0 issue ""
crit              CAA 128 tbs "unknown"
critok            CAA 128 issue "letsencrypt.org"
noncrit           CAA 0 futuretag "x"
noncrit           CAA 0 issue "letsencrypt.org"
wildonly          CAA 0 issuewild "letsencrypt.org"
wildonly          CAA 0 issue "sectigo.com"
wildover          CAA 0 issue "letsencrypt.org"
wildover          CAA 0 issuewild ";"
acct              CAA 0 issue "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/42"
meth              CAA 0 issue "letsencrypt.org; validationmethods=dns-01"
both              CAA 0 issue "letsencrypt.org; validationmethods=dns-01"
both              CAA 0 issue "letsencrypt.org; validationmethods=http-01,tls-alpn-01"
bad               CAA 0 issue "letsencrypt..org"
iodefonly         CAA 0 iodef "mailto:x@example"
alias             CNAME target.elsewhere.
alias2            CNAME nocaa.elsewhere.
deep.sub.other    A 192.0.2.1
CASE              CAA 0 IsSuE "LetsEncrypt.ORG"
badtag            TYPE257 \# 9 80066973737565785F
$ORIGIN elsewhere.
target            CAA 0 issue "sectigo.com"
nocaa             A 192.0.2.2
)";
} // namespace

TEST_CASE("verdicts: relevant set, climbing, aliases, wildcards, RFC 8657", "[unit]") {
    auto v = judge(zone, "www.example");
    CHECK(v.permitted);
    CHECK(v.why == caa::reason::authorized);
    CHECK(v.relevant_name->to_display() == "example");
    REQUIRE(v.trail.size() == 2);
    CHECK(v.trail[0].rcode == dns::rcode::nxdomain);
    CHECK(v.explanation == "The CAA record 0 issue \"letsencrypt.org\" at example allows letsencrypt.org to issue for www.example.");

    v = judge(zone, "deep.sub.other.example");
    CHECK_FALSE(v.permitted);
    CHECK(v.why == caa::reason::not_authorized);
    CHECK(v.relevant_name->to_display() == "other.example");
    CHECK(v.trail.size() == 3);
    CHECK_THAT(v.explanation, Catch::StartsWith("The CAA records at other.example allow only sectigo.com and digicert.com to issue; letsencrypt.org is not listed"));

    CHECK(judge(zone, "none.example").why == caa::reason::no_ca_allowed);
    CHECK(judge(zone, "empty.example").why == caa::reason::no_ca_allowed);
    v = judge(zone, "crit.example");
    CHECK(v.why == caa::reason::critical_unknown);
    CHECK_THAT(v.explanation, Catch::Contains("is marked critical") && Catch::Contains("\"tbs\""));
    CHECK(judge(zone, "badtag.example").why == caa::reason::critical_unknown);
    CHECK(judge(zone, "critok.example").permitted);
    CHECK(judge(zone, "noncrit.example").permitted);
    CHECK(judge(zone, "CASE.example").permitted);
    CHECK(judge(zone, "iodefonly.example").why == caa::reason::no_restriction);
    CHECK(judge(zone, "bad.example").why == caa::reason::malformed);

    // Wildcards: issuewild wins when present; otherwise issue applies.
    CHECK(judge(zone, "*.wildonly.example").permitted);
    CHECK(judge(zone, "wildonly.example").why == caa::reason::not_authorized); // issuewild ignored
    CHECK(judge(zone, "*.wildover.example").why == caa::reason::no_ca_allowed);
    CHECK(judge(zone, "wildover.example").permitted);
    v = judge(zone, "*.example");
    CHECK(v.permitted);
    CHECK(v.wildcard);
    CHECK(v.trail.front().qname.to_display() == "example"); // the wildcard label is not looked up

    // RFC 8657.
    CHECK(judge(zone, "acct.example").why == caa::reason::account_mismatch);
    CHECK(judge(zone, "acct.example", "https://acme-v02.api.letsencrypt.org/acme/acct/1").why == caa::reason::account_mismatch);
    CHECK(judge(zone, "acct.example", "https://acme-v02.api.letsencrypt.org/acme/acct/42").permitted);
    v = judge(zone, "meth.example", std::nullopt, "http-01");
    CHECK(v.why == caa::reason::method_mismatch);
    CHECK_THAT(v.explanation, Catch::Contains("validate only with dns-01, not with http-01"));
    CHECK(judge(zone, "meth.example", std::nullopt, "dns-01").permitted);
    CHECK(judge(zone, "both.example", std::nullopt, "http-01").permitted); // any one record suffices

    // Aliases: the target's set is used, and the climb continues from the alias's parent.
    v = judge(zone, "alias.example");
    CHECK(v.why == caa::reason::not_authorized);
    CHECK(v.relevant_name->to_display() == "alias.example");
    CHECK_THAT(v.explanation, Catch::Contains("through its alias target.elsewhere"));
    v = judge(zone, "alias2.example");
    CHECK(v.permitted);
    CHECK(v.relevant_name->to_display() == "example");
    CHECK(v.trail[0].aliases.size() == 1);

    // Wildcard owners in a zone file answer for names that do not exist (RFC 4592).
    const char* wz = "$ORIGIN w.example.\n*.w.example. CAA 0 issue \"sectigo.com\"\nreal A 192.0.2.1\n"
                     "*.real A 192.0.2.2\n@ CAA 0 issue \"letsencrypt.org\"\n";
    v = judge(wz, "foo.w.example");
    CHECK(v.why == caa::reason::not_authorized);
    CHECK(v.relevant_name->to_display() == "foo.w.example");
    v = judge(wz, "real.w.example"); // exists: the wildcard does not apply
    CHECK(v.permitted);
    CHECK(v.relevant_name->to_display() == "w.example");
    v = judge(wz, "x.real.w.example"); // *.real has no CAA; real has none; w.example does
    CHECK(v.permitted);
    CHECK(v.trail.size() == 3);

    // No CAA anywhere: the climb stops before the root.
    v = judge("nothing.test. A 192.0.2.1\n", "www.nothing.test");
    CHECK(v.permitted);
    CHECK(v.why == caa::reason::no_caa);
    CHECK(v.trail.size() == 3);
    CHECK(v.trail.back().qname.to_display() == "test");
}

TEST_CASE("verdicts: DNS failures below the relevant set deny, above it do not matter", "[unit]") {
    auto lookup = [](const dns::name& n) {
        caa::lookup l;
        l.qname = n;
        const auto s = n.to_display();
        if (s == "broken.example") {
            l.rcode = dns::rcode::servfail;
            l.ede.push_back({7, "signature expired"});
        } else if (s == "dead.example") {
            l.transport_failed = true;
            l.failure = "dns: no usable answer";
        } else if (s == "example") {
            l.rcode = dns::rcode::servfail; // above any set found lower down
        } else if (s == "ok.example") {
            l.records.push_back({0, "issue", "letsencrypt.org"});
        } else {
            l.rcode = dns::rcode::nxdomain;
        }
        return l;
    };
    caa::request r;
    r.ca = "letsencrypt.org";
    r.domain = "www.broken.example";
    auto v = caa::check(r, lookup).value();
    CHECK_FALSE(v.permitted);
    CHECK(v.why == caa::reason::lookup_failed);
    CHECK(*v.failed_lookup == 1);
    CHECK(v.explanation ==
          "The CAA lookup for broken.example failed with SERVFAIL (Extended DNS Error 7 \"Signature Expired\": signature expired). "
          "A CA must not issue when it cannot read the CAA records, so letsencrypt.org will refuse to issue a certificate for "
          "www.broken.example until the DNS for broken.example answers correctly.");
    r.domain = "dead.example";
    v = caa::check(r, lookup).value();
    CHECK(v.why == caa::reason::lookup_failed);
    CHECK_THAT(v.explanation, Catch::Contains("got no answer"));
    r.domain = "a.ok.example"; // example would SERVFAIL, but it is never reached
    v = caa::check(r, lookup).value();
    CHECK(v.permitted);
    CHECK(v.trail.size() == 2);
    r.domain = "bad name..example";
    CHECK_FALSE(caa::check(r, lookup));
}
