// bulkhead-caa: may this CA issue a certificate for these names? Explains the CAA verdict
// (RFC 8659, RFC 8657) in plain words, including DNS failures that make a CA refuse.
#include "bulkhead/caa.hpp"
#include "bulkhead/detail/json.hpp"
#include "bulkhead/dns.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace dns = bulkhead::dns;
namespace caa = bulkhead::caa;

constexpr int exit_permit = 0, exit_deny = 1, exit_error = 2;

void usage(std::FILE* f) {
    std::fputs(
        "usage: bulkhead-caa --ca DOMAIN [options] DOMAIN...\n"
        "\n"
        "Checks whether the CAA records of each DOMAIN (use *.example.com for a wildcard)\n"
        "let the certificate authority DOMAIN issue, following RFC 8659 and RFC 8657, and\n"
        "explains why.\n"
        "\n"
        "  --ca DOMAIN         the CA's issuer domain name (e.g. letsencrypt.org)\n"
        "  --account URI       the ACME account URI the CA would issue for (accounturi)\n"
        "  --method METHOD     the validation method the CA would use (http-01, dns-01, ...)\n"
        "  --server IP[:PORT]  a recursive resolver to ask (repeatable; default /etc/resolv.conf)\n"
        "  --timeout MS        per-try timeout in milliseconds (default 2000)\n"
        "  --zone FILE         read the records from a zone file instead of asking the DNS\n"
        "  --origin NAME       $ORIGIN for --zone (default: the root)\n"
        "  --json              one JSON object per line instead of text\n"
        "  --help              this text\n"
        "\n"
        "exit status: 0 every name permitted, 1 at least one denied, 2 usage or setup error\n",
        f);
}

int fail(const std::string& msg) {
    std::fprintf(stderr, "bulkhead-caa: %s\n", msg.c_str());
    return exit_error;
}

void print_json(const caa::request& req, const caa::verdict& v) {
    bulkhead::detail::json::writer w;
    w.begin_object();
    w.field("domain", req.domain);
    w.field("ca", req.ca);
    w.field("permitted", v.permitted);
    w.field("reason", caa::reason_name(v.why));
    w.field("wildcard", v.wildcard);
    if (v.relevant_name) w.field("relevant_name", v.relevant_name->to_display());
    else w.key("relevant_name").null();
    w.key("relevant_set").begin_array();
    for (const auto& p : v.relevant_set) w.string(p.to_text());
    w.end_array();
    if (v.deciding) w.field("deciding_record", v.deciding->to_text());
    w.field("explanation", v.explanation);
    w.key("trail").begin_array();
    for (const auto& l : v.trail) {
        w.begin_object();
        w.field("name", l.qname.to_display());
        w.key("aliases").begin_array();
        for (const auto& a : l.aliases) w.string(a.to_display());
        w.end_array();
        if (l.transport_failed) w.field("error", l.failure);
        else w.field("rcode", caa::detail::rcode_text(l.rcode));
        w.key("ede").begin_array();
        for (const auto& e : l.ede) {
            w.begin_object();
            w.field("code", static_cast<unsigned>(e.info_code));
            w.field("text", e.text);
            w.end_object();
        }
        w.end_array();
        w.key("records").begin_array();
        for (const auto& p : l.records) w.string(p.to_text());
        w.end_array();
        w.end_object();
    }
    w.end_array();
    w.end_object();
    std::printf("%s\n", w.str().c_str());
}

void print_text(const caa::request& req, const caa::verdict& v) {
    std::printf("%s: %s (%s)\n", req.domain.c_str(), v.permitted ? "PERMIT" : "DENY",
                std::string(caa::reason_name(v.why)).c_str());
    std::printf("  %s\n", v.explanation.c_str());
    for (const auto& l : v.trail) {
        std::string line = "  lookup " + l.qname.to_display() + " CAA";
        for (const auto& a : l.aliases) line += " -> " + a.to_display();
        if (l.transport_failed) line += ": no answer";
        else line += ": " + caa::detail::rcode_text(l.rcode);
        if (!l.ede.empty()) line += " [" + caa::detail::ede_text(l.ede) + "]";
        if (!l.failed()) line += l.records.empty() ? ", no CAA records" : ", " + std::to_string(l.records.size()) + " CAA record(s)";
        std::printf("%s\n", line.c_str());
        for (const auto& p : l.records) std::printf("    %s\n", p.to_text().c_str());
    }
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    caa::request base;
    base.ca.clear();
    std::vector<std::string> domains;
    std::vector<dns::server> servers;
    std::string zone_file, origin = ".";
    bool json = false;
    long timeout_ms = 2000;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto a = args[i];
        if (a == "--help" || a == "-h") {
            usage(stdout);
            return exit_permit;
        } else if (a == "--json") {
            json = true;
        } else if (a == "--ca" || a == "--account" || a == "--method" || a == "--server" || a == "--zone" ||
                   a == "--origin" || a == "--timeout") {
            if (i + 1 >= args.size()) return fail(std::string(a) + " needs a value (see --help)");
            const std::string v(args[++i]);
            if (a == "--ca") base.ca = v;
            else if (a == "--account") base.account_uri = v;
            else if (a == "--method") base.validation_method = v;
            else if (a == "--zone") zone_file = v;
            else if (a == "--origin") origin = v;
            else if (a == "--timeout") {
                auto t = bulkhead::detail::parse_int<long>(v);
                if (!t || *t <= 0) return fail("--timeout: not a positive number of milliseconds: " + v);
                timeout_ms = *t;
            } else {
                auto s = dns::server::parse(v);
                if (!s) return fail("--server: " + s.error().message());
                servers.push_back(*s);
            }
        } else if (!a.empty() && a[0] == '-') {
            return fail("unknown option " + std::string(a) + " (see --help)");
        } else {
            domains.emplace_back(a);
        }
    }
    if (base.ca.empty()) return fail("--ca DOMAIN is required (e.g. --ca letsencrypt.org)");
    if (domains.empty()) return fail("no DOMAIN given (see --help)");
    if (!zone_file.empty() && !servers.empty()) return fail("--zone and --server exclude each other");

    caa::lookup_fn lookup;
    if (!zone_file.empty()) {
        std::ifstream f(zone_file);
        if (!f) return fail("--zone: cannot open " + zone_file);
        std::stringstream ss;
        ss << f.rdbuf();
        auto org = dns::name::parse(origin);
        if (!org) return fail("--origin: " + org.error().message());
        dns::zone_options zo;
        zo.origin = *org;
        auto recs = dns::parse_zone(ss.str(), zo);
        if (!recs) return fail("--zone " + zone_file + ": " + recs.error().message());
        lookup = caa::zone_lookup(std::move(*recs));
    } else {
        dns::resolver_options ro;
        if (servers.empty()) {
            auto sys = dns::system_servers();
            if (!sys) return fail("no --server given and " + sys.error().message());
            servers = std::move(*sys);
        }
        ro.servers = std::move(servers);
        ro.timeout = std::chrono::milliseconds(timeout_ms);
        ro.dnssec_ok = true;
        lookup = caa::resolver_lookup(std::move(ro));
    }

    int status = exit_permit;
    for (const auto& d : domains) {
        caa::request req = base;
        req.domain = d;
        auto v = caa::check(req, lookup);
        if (!v) {
            std::fprintf(stderr, "bulkhead-caa: %s: %s\n", d.c_str(), v.error().message().c_str());
            status = exit_error;
            continue;
        }
        if (json) print_json(req, *v);
        else print_text(req, *v);
        if (!v->permitted && status == exit_permit) status = exit_deny;
    }
    return status;
}
