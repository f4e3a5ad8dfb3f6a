// End to end: NSD (authoritative) and Unbound (validating resolver) from Debian on loopback
// addresses and high ports chosen per run, their own config/pid/state files in a temp dir,
// run in the foreground as our children; bulkhead-caa is checked against each case.
#include "bulkhead/detail/json.hpp"
#include "bulkhead/detail/text.hpp"
#include "bulkhead/dns.hpp"
#include "bulkhead/process.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <ftw.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace dns = bulkhead::dns;
namespace json = bulkhead::detail::json;

namespace {

bool executable(const char* p) { return ::access(p, X_OK) == 0; }

struct temp_dir {
    std::string path;
    temp_dir() {
        char t[] = "/tmp/bulkhead-dns-e2e-XXXXXX";
        if (::mkdtemp(t)) path = t;
    }
    ~temp_dir() {
        if (path.empty()) return;
        ::nftw(
            path.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
            FTW_DEPTH | FTW_PHYS);
    }
    std::string operator/(const std::string& f) const { return path + "/" + f; }
};

void write(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
}
std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/// A server process in its own process group; stopped (TERM, then KILL of the whole group)
/// when the guard goes away, also when a REQUIRE fails half-way.
class server_guard {
public:
    server_guard(std::vector<std::string> argv, const std::string& log) {
        std::vector<char*> av;
        for (auto& a : argv) av.push_back(a.data());
        av.push_back(nullptr);
        const int logfd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        auto c = bulkhead::fork_call([&]() -> int {
            ::setpgid(0, 0);
            if (logfd >= 0) {
                ::dup2(logfd, 1);
                ::dup2(logfd, 2);
            }
            const int devnull = ::open("/dev/null", O_RDONLY);
            if (devnull >= 0) ::dup2(devnull, 0);
            ::execv(av[0], av.data());
            return 127;
        });
        if (logfd >= 0) ::close(logfd);
        if (c) {
            pid_ = c->pid();
            ::setpgid(pid_, pid_); // also from the parent: no race with kill(-pid)
            child_ = std::move(*c);
        }
    }
    ~server_guard() { stop(); }
    server_guard(const server_guard&) = delete;
    server_guard& operator=(const server_guard&) = delete;
    [[nodiscard]] bool running() {
        if (!child_.valid()) return false;
        auto s = child_.try_wait();
        return s && !s->has_value();
    }
    void stop() {
        if (!child_.valid() || pid_ <= 0) return;
        ::kill(-pid_, SIGTERM);
        (void)child_.wait_for(std::chrono::milliseconds(3000));
        ::kill(-pid_, SIGKILL); // stragglers (NSD's server and xfrd children)
        (void)child_.kill();
        (void)child_.wait();
        pid_ = -1;
    }

private:
    bulkhead::child child_;
    pid_t pid_ = -1;
};

struct tool_result {
    int exit_code = -1;
    std::string out;
};
tool_result run_tool(const std::string& args) {
    const char* tool = std::getenv("BULKHEAD_CAA_TOOL");
    tool_result r;
    std::string cmd = std::string(tool) + " " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int st = ::pclose(p);
    r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}
std::vector<json::value> json_lines(const std::string& out) {
    std::vector<json::value> v;
    std::stringstream ss(out);
    std::string line;
    while (std::getline(ss, line)) {
        auto j = json::parse(line);
        if (j) v.push_back(std::move(*j));
        else FAIL("not JSON: " << line);
    }
    return v;
}
std::string str(const json::value& o, const char* key) {
    const auto* v = o.find(key);
    return v && v->is_string() ? v->as_string() : std::string();
}

bool answers(const dns::server& s, const char* qname, bool rd) {
    dns::resolver_options o;
    o.servers = {s};
    o.timeout = std::chrono::milliseconds(200);
    o.attempts = 1;
    o.recursion_desired = rd;
    auto r = dns::resolve(dns::name::parse(qname).value(), dns::rr::soa, o);
    return r && r->rcode == dns::rcode::noerror;
}

} // namespace

TEST_CASE("bulkhead-caa against NSD + Unbound", "[e2e]") {
    for (const char* tool : {"/usr/sbin/nsd", "/usr/sbin/unbound", "/usr/bin/ldns-keygen", "/usr/bin/ldns-signzone"}) {
        if (!executable(tool)) {
            WARN("cannot run: " << tool << " is missing (scripts/packages/dns.txt)");
            return;
        }
    }
    REQUIRE(std::getenv("BULKHEAD_CAA_TOOL"));
    temp_dir tmp;
    REQUIRE(!tmp.path.empty());

    std::uint32_t rnd = 0;
    REQUIRE(::getrandom(&rnd, sizeof rnd, 0) == sizeof rnd);
    const std::string net = "127.53." + std::to_string(1 + rnd % 250) + ".";
    const int port = 20000 + static_cast<int>((rnd >> 8) % 20000);
    const std::string nsd_addr = net + "1", unbound_addr = net + "2", dead_addr = net + "3";
    const std::string nsd_at = nsd_addr + "@" + std::to_string(port);
    const std::string tld_addr = net + "4";
    const std::string tld_at = tld_addr + "@" + std::to_string(port);
    const std::string unbound_server = unbound_addr + ":" + std::to_string(port + 1);

    const std::string soa = "@ SOA ns.bhtest. hostmaster.bhtest. 1 3600 600 86400 60\n@ NS ns.bhtest.\n";
    write(tmp / "bhtest.zone", "$ORIGIN bhtest.\n$TTL 60\n" + soa + "ns A " + nsd_addr + "\n");
    write(tmp / "example.bhtest.zone", "$ORIGIN example.bhtest.\n$TTL 60\n" + soa + R"(
@          CAA 0 issue "letsencrypt.org"
@          CAA 0 iodef "mailto:security@example.bhtest"
www        A 192.0.2.10
other      CAA 0 issue "sectigo.com"
none       CAA 0 issue ";"
crit       CAA 128 tbs "must-understand"
crit       CAA 0 issue "letsencrypt.org"
; NSD refuses an upper-case tag in presentation form; the generic form carries "ISSUE".
upper      TYPE257 \# 22 000549535355456c657473656e63727970742e6f7267
wildonly   CAA 0 issuewild "letsencrypt.org"
wildonly   CAA 0 issue "sectigo.com"
wildover   CAA 0 issue "letsencrypt.org"
wildover   CAA 0 issuewild ";"
acct       CAA 0 issue "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/42"
meth       CAA 0 issue "letsencrypt.org; validationmethods=dns-01"
alias      CNAME ca.target.bhtest.
alias2     CNAME nocaa.target.bhtest.
*.wc       CAA 0 issue "sectigo.com"
big        TXT "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big        TXT "1123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big        TXT "2123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big        TXT "3123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
)");
    write(tmp / "target.bhtest.zone", "$ORIGIN target.bhtest.\n$TTL 60\n" + soa +
                                          "ca CAA 0 issue \"sectigo.com\"\nnocaa A 192.0.2.20\n");
    write(tmp / "sub.lame.bhtest.zone", "$ORIGIN sub.lame.bhtest.\n$TTL 60\n" + soa + "@ CAA 0 issue \"letsencrypt.org\"\n");
    write(tmp / "expired.bhtest.zone", "$ORIGIN expired.bhtest.\n$TTL 60\n" + soa + "@ CAA 0 issue \"letsencrypt.org\"\nwww A 192.0.2.30\n");

    // Sign expired.bhtest with signatures that expired long ago.
    const std::string keygen = "cd " + tmp.path + " && /usr/bin/ldns-keygen -a ECDSAP256SHA256 -k expired.bhtest > keyname 2>keygen.log";
    REQUIRE(std::system(keygen.c_str()) == 0);
    std::string key = slurp(tmp / "keyname");
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
    REQUIRE(!key.empty());
    // Two signings: the DNSKEY RRset keeps a valid signature (so the trust anchor primes) and
    // every other RRset gets one that expired in 2020, so validation fails with EDE 7.
    const std::string sign = "cd " + tmp.path + " && /usr/bin/ldns-signzone -f valid.signed expired.bhtest.zone " + key +
                             " 2>sign.log && /usr/bin/ldns-signzone -i 20200101000000 -e 20200201000000 -f old.signed expired.bhtest.zone " +
                             key + " 2>>sign.log";
    REQUIRE(std::system(sign.c_str()) == 0);
    {
        auto dnskey_sig = [](const std::string& line) {
            auto f = bulkhead::detail::split_ws(line);
            return f.size() > 4 && f[3] == "RRSIG" && f[4] == "DNSKEY";
        };
        std::string merged, line;
        std::stringstream valid(slurp(tmp / "valid.signed")), old(slurp(tmp / "old.signed"));
        while (std::getline(valid, line))
            if (dnskey_sig(line)) merged += line + "\n";
        while (std::getline(old, line))
            if (!dnskey_sig(line)) merged += line + "\n";
        write(tmp / "expired.bhtest.signed", merged);
    }

    auto nsd_config = [&](const std::string& name, const std::string& at, std::vector<std::string> zones) {
        std::string c = "server:\n  ip-address: " + at + "\n  port: " + std::to_string(port) +
                        "\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"" + tmp.path +
                        "\"\n  database: \"\"\n  pidfile: \"" + (tmp / (name + ".pid")) + "\"\n  xfrdfile: \"" +
                        (tmp / (name + ".xfrd")) + "\"\n  zonelistfile: \"" + (tmp / (name + ".zonelist")) +
                        "\"\n  server-count: 1\n  verbosity: 1\nremote-control:\n  control-enable: no\n";
        for (const auto& z : zones)
            c += "zone:\n  name: " + z + "\n  zonefile: " + z + (z == "expired.bhtest" ? ".signed" : ".zone") + "\n";
        write(tmp / (name + ".conf"), c);
    };
    // The TLD has its own server, so the other one is lame for lame.bhtest (REFUSED).
    nsd_config("nsd", nsd_at, {"example.bhtest", "target.bhtest", "sub.lame.bhtest", "expired.bhtest"});
    nsd_config("nsd-tld", tld_at, {"bhtest"});

    std::string ub = "server:\n  interface: " + unbound_addr + "\n  port: " + std::to_string(port + 1) +
                     "\n  do-ip6: no\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"" + tmp.path +
                     "\"\n  pidfile: \"" + (tmp / "unbound.pid") + "\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n" +
                     "  num-threads: 1\n  so-reuseport: no\n  do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n" +
                     "  module-config: \"validator iterator\"\n  qname-minimisation: no\n  ede: yes\n  val-log-level: 2\n" +
                     "  trust-anchor-file: \"" + (tmp / (key + ".key")) + "\"\n" +
                     "  outgoing-interface: " + unbound_addr + "\n  infra-host-ttl: 60\n  infra-cache-max-rtt: 1000\n  serve-expired: no\n" +
                     "remote-control:\n  control-enable: no\n";
    ub += "stub-zone:\n  name: \"bhtest.\"\n  stub-addr: " + tld_at + "\n";
    for (const char* z : {"example.bhtest", "target.bhtest", "sub.lame.bhtest", "expired.bhtest", "lame.bhtest"})
        ub += std::string("stub-zone:\n  name: \"") + z + ".\"\n  stub-addr: " + nsd_at + "\n";
    // dead.bhtest: delegated to an address where nothing listens.
    ub += "stub-zone:\n  name: \"dead.bhtest.\"\n  stub-addr: " + dead_addr + "@" + std::to_string(port) + "\n";
    write(tmp / "unbound.conf", ub);

    server_guard nsd({"/usr/sbin/nsd", "-d", "-c", tmp / "nsd.conf"}, tmp / "nsd.log");
    server_guard nsd_tld({"/usr/sbin/nsd", "-d", "-c", tmp / "nsd-tld.conf"}, tmp / "nsd-tld.log");
    const auto tld_server = dns::server::parse(tld_addr + ":" + std::to_string(port)).value();
    server_guard unbound({"/usr/sbin/unbound", "-d", "-c", tmp / "unbound.conf"}, tmp / "unbound.log");
    const auto nsd_server = dns::server::parse(nsd_addr + ":" + std::to_string(port)).value();
    const auto ub_server = dns::server::parse(unbound_server).value();
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
        up = answers(nsd_server, "example.bhtest", false) && answers(tld_server, "bhtest", false) && answers(ub_server, "example.bhtest", true);
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    INFO("nsd log:\n" << slurp(tmp / "nsd.log") << "\nunbound log:\n" << slurp(tmp / "unbound.log"));
    REQUIRE(up);

    const std::string base = "--ca letsencrypt.org --timeout 4000 --server " + unbound_server + " --json ";

    SECTION("CAA at several levels, aliases, wildcards, critical tags, issue \";\"") {
        auto r = run_tool(base +
                          "www.example.bhtest deep.a.b.example.bhtest other.example.bhtest none.example.bhtest "
                          "crit.example.bhtest upper.example.bhtest '*.wildonly.example.bhtest' wildonly.example.bhtest "
                          "'*.wildover.example.bhtest' wildover.example.bhtest alias.example.bhtest alias2.example.bhtest "
                          "www.plain.bhtest www.sub.lame.bhtest foo.wc.example.bhtest");
        INFO(r.out);
        CHECK(r.exit_code == 1);
        auto v = json_lines(r.out);
        REQUIRE(v.size() == 15);
        auto expect = [&](std::size_t i, bool permitted, const char* reason, const char* relevant) {
            INFO("case " << str(v[i], "domain") << ": " << str(v[i], "explanation"));
            CHECK(v[i].find("permitted")->as_bool() == permitted);
            CHECK(str(v[i], "reason") == reason);
            if (relevant) CHECK(str(v[i], "relevant_name") == relevant);
        };
        expect(0, true, "authorized", "example.bhtest");
        CHECK(str(v[0], "explanation") ==
              "The CAA record 0 issue \"letsencrypt.org\" at example.bhtest allows letsencrypt.org to issue for www.example.bhtest.");
        expect(1, true, "authorized", "example.bhtest");
        CHECK(v[1].find("trail")->items().size() == 4);
        expect(2, false, "not_authorized", "other.example.bhtest");
        CHECK_THAT(str(v[2], "explanation"), Catch::Contains("allow only sectigo.com to issue; letsencrypt.org is not listed"));
        expect(3, false, "no_ca_allowed", "none.example.bhtest");
        CHECK_THAT(str(v[3], "explanation"), Catch::Contains("0 issue \";\"") && Catch::Contains("forbids every CA"));
        expect(4, false, "critical_unknown", "crit.example.bhtest");
        CHECK_THAT(str(v[4], "explanation"), Catch::Contains("128 tbs \"must-understand\"") && Catch::Contains("marked critical"));
        expect(5, true, "authorized", "upper.example.bhtest");
        expect(6, true, "authorized", "wildonly.example.bhtest");
        expect(7, false, "not_authorized", "wildonly.example.bhtest");
        expect(8, false, "no_ca_allowed", "wildover.example.bhtest");
        CHECK_THAT(str(v[8], "explanation"), Catch::Contains("wildcard certificates"));
        expect(9, true, "authorized", "wildover.example.bhtest");
        expect(10, false, "not_authorized", "alias.example.bhtest");
        CHECK_THAT(str(v[10], "explanation"), Catch::Contains("through its alias ca.target.bhtest"));
        expect(11, true, "authorized", "example.bhtest"); // alias target without CAA: climb from alias2's parent
        CHECK(v[11].find("trail")->items()[0].find("aliases")->items()[0].as_string() == "nocaa.target.bhtest");
        expect(12, true, "no_caa", nullptr);
        const auto& trail = v[12].find("trail")->items();
        REQUIRE(trail.size() == 3);
        CHECK(str(trail.back(), "name") == "bhtest"); // the TLD, never the root
        // A lame parent above the relevant set does not matter: it is never asked.
        expect(13, true, "authorized", "sub.lame.bhtest");
        CHECK(v[13].find("trail")->items().size() == 2);
        // A DNS wildcard owner answers for foo.wc (synthesized by the servers).
        expect(14, false, "not_authorized", "foo.wc.example.bhtest");
    }

    SECTION("RFC 8657 accounturi and validationmethods") {
        auto r = run_tool(base + "acct.example.bhtest");
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.out, Catch::Contains("account_mismatch") && Catch::Contains("no account was given"));
        r = run_tool(base + "--account https://acme-v02.api.letsencrypt.org/acme/acct/42 acct.example.bhtest");
        CHECK(r.exit_code == 0);
        r = run_tool(base + "--method http-01 meth.example.bhtest");
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.out, Catch::Contains("validate only with dns-01, not with http-01"));
        r = run_tool(base + "--method dns-01 meth.example.bhtest");
        CHECK(r.exit_code == 0);
    }

    SECTION("lame, dead and DNSSEC-expired delegations deny with the failing name, rcode and EDE") {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = run_tool(base + "www.lame.bhtest www.dead.bhtest www.expired.bhtest");
        WARN("lame/dead/expired took " << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count() << " ms");
        INFO(r.out << "\nunbound log:\n" << slurp(tmp / "unbound.log"));
        CHECK(r.exit_code == 1);
        auto v = json_lines(r.out);
        REQUIRE(v.size() == 3);
        for (const auto& x : v) {
            CHECK_FALSE(x.find("permitted")->as_bool());
            CHECK(str(x, "reason") == "lookup_failed");
            CHECK_THAT(str(x, "explanation"), Catch::Contains("failed with SERVFAIL") && Catch::Contains("will refuse"));
        }
        CHECK_THAT(str(v[0], "explanation"), Catch::StartsWith("The CAA lookup for www.lame.bhtest failed with SERVFAIL"));
        CHECK_THAT(str(v[1], "explanation"), Catch::StartsWith("The CAA lookup for www.dead.bhtest failed with SERVFAIL"));
        CHECK_THAT(str(v[2], "explanation"), Catch::Contains("Extended DNS Error 7 \"Signature Expired\""));
        const auto& ede = v[2].find("trail")->items()[0].find("ede")->items();
        REQUIRE_FALSE(ede.empty());
        CHECK(ede[0].find("code")->as_double() == 7);
    }

    SECTION("resolver: TCP after truncation, failover, concurrent fd-based queries") {
        // Without EDNS the 4 x 160-byte TXT RRset does not fit 512 bytes: NSD sets TC.
        dns::resolver_options o;
        o.servers = {nsd_server};
        o.recursion_desired = false;
        o.edns_udp_size = 0;
        auto big = dns::resolve(dns::name::parse("big.example.bhtest").value(), dns::rr::txt, o).value();
        CHECK(big.via_tcp);
        CHECK(big.message().hdr().ancount == 4);
        // A server where nothing listens, then Unbound: the answer comes from Unbound.
        o = {};
        o.servers = {dns::server::parse(dead_addr + ":" + std::to_string(port + 1)).value(), ub_server};
        o.timeout = std::chrono::milliseconds(1000);
        auto fo = dns::resolve(dns::name::parse("example.bhtest").value(), dns::rr::caa, o).value();
        CHECK(fo.from.to_string() == unbound_server);
        CHECK(fo.rcode == dns::rcode::noerror);
        // Two queries driven by one poll loop.
        o.servers = {ub_server};
        o.timeout = std::chrono::milliseconds(4000);
        auto q1 = dns::query::start(dns::name::parse("example.bhtest").value(), dns::rr::caa, o).value();
        auto q2 = dns::query::start(dns::name::parse("www.expired.bhtest").value(), dns::rr::caa, o).value();
        for (int spins = 0; spins < 1000 && !(q1.done() && q2.done()); ++spins) {
            std::vector<pollfd> fds;
            for (auto* q : {&q1, &q2})
                if (!q->done()) fds.push_back(pollfd{q->fd(), q->events(), 0});
            ::poll(fds.data(), fds.size(), 100);
            q1.advance();
            q2.advance();
        }
        REQUIRE(q1.done());
        REQUIRE(q2.done());
        auto a1 = q1.take().value();
        auto a2 = q2.take().value();
        CHECK(a1.rcode == dns::rcode::noerror);
        CHECK(a1.message().hdr().ancount == 2);
        CHECK(a2.rcode == dns::rcode::servfail);
        REQUIRE_FALSE(a2.ede.empty());
        CHECK(a2.ede[0].info_code == 7);
    }

    SECTION("text output, exit codes, usage errors") {
        auto r = run_tool("--ca letsencrypt.org --timeout 4000 --server " + unbound_server + " www.expired.bhtest");
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.out, Catch::StartsWith("www.expired.bhtest: DENY (lookup_failed)"));
        CHECK_THAT(r.out, Catch::Contains("lookup www.expired.bhtest CAA: SERVFAIL [Extended DNS Error 7"));
        r = run_tool("--ca letsencrypt.org --server " + unbound_server + " www.example.bhtest");
        CHECK(r.exit_code == 0);
        CHECK_THAT(r.out, Catch::StartsWith("www.example.bhtest: PERMIT (authorized)"));
        CHECK(run_tool("--server " + unbound_server + " www.example.bhtest").exit_code == 2);
        CHECK(run_tool("--ca x --server nope www.example.bhtest").exit_code == 2);
        CHECK(run_tool("--help").exit_code == 0);
    }

    nsd.stop();
    nsd_tld.stop();
    unbound.stop();
    CHECK_FALSE(nsd_tld.running());
    CHECK_FALSE(nsd.running());
    CHECK_FALSE(unbound.running());
}
