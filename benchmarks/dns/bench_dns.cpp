// Parse a realistic CAA response (6 CAA records + OPT, ~355 bytes): bulkhead's zero-allocation
// view vs c-ares ares_parse_caa_reply vs ldns ldns_wire2pkt + walk. Prints the ratios measured
// in this one run.
#include "bulkhead/dns.hpp"

#include <benchmark/benchmark.h>

#if BULKHEAD_BENCH_PEERS
#include <ares.h>
#include <ldns/ldns.h>
#endif

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace dns = bulkhead::dns;

namespace {

std::vector<std::uint8_t> make_response() {
    const auto qn = dns::name::parse("www.example.com").value();
    dns::message_builder b(0x5a5a, dns::flag::qr | dns::flag::rd | dns::flag::ra);
    b.question(qn, dns::rr::caa);
    const std::pair<const char*, const char*> props[] = {
        {"issue", "letsencrypt.org; validationmethods=http-01,dns-01"},
        {"issue", "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1"},
        {"issue", "sectigo.com"},
        {"issuewild", "digicert.com"},
        {"issuewild", ";"},
        {"iodef", "mailto:security@example.com"},
    };
    for (const auto& [tag, value] : props) {
        dns::record r;
        r.owner = qn;
        r.type = dns::rr::caa;
        r.ttl = 3600;
        r.rdata.push_back(0);
        r.rdata.push_back(static_cast<std::uint8_t>(std::strlen(tag)));
        r.rdata.insert(r.rdata.end(), tag, tag + std::strlen(tag));
        r.rdata.insert(r.rdata.end(), value, value + std::strlen(value));
        b.add(dns::section::answer, r);
    }
    b.edns(1232, true, 0, std::vector<std::pair<std::uint16_t, std::string>>{{10, "01234567"}});
    return std::move(b).build().value();
}

const std::vector<std::uint8_t>& response() {
    static const auto r = make_response();
    return r;
}

void bulkhead_parse(benchmark::State& st) {
    const auto& w = response();
    for (auto _ : st) {
        auto m = dns::message_view::parse(dns::bytes_view(w.data(), w.size()));
        std::size_t sum = 0;
        if (m) {
            for (const auto& r : m->answers()) {
                if (r.type != dns::rr::caa) continue;
                auto c = dns::as_caa(r);
                if (c) sum += c->flags + c->tag.size() + c->value.size();
            }
            if (auto e = m->edns()) sum += e->udp_size;
        }
        benchmark::DoNotOptimize(sum);
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * w.size()));
}
BENCHMARK(bulkhead_parse);

#if BULKHEAD_BENCH_PEERS
void cares_parse_caa_reply(benchmark::State& st) {
    const auto& w = response();
    for (auto _ : st) {
        struct ares_caa_reply* caa = nullptr;
        std::size_t sum = 0;
        if (ares_parse_caa_reply(w.data(), static_cast<int>(w.size()), &caa) == ARES_SUCCESS) {
            for (auto* c = caa; c; c = c->next) sum += c->critical + c->plength + c->length;
            ares_free_data(caa);
        }
        benchmark::DoNotOptimize(sum);
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * w.size()));
}
BENCHMARK(cares_parse_caa_reply);

void ldns_wire2pkt_walk(benchmark::State& st) {
    const auto& w = response();
    for (auto _ : st) {
        ldns_pkt* pkt = nullptr;
        std::size_t sum = 0;
        if (ldns_wire2pkt(&pkt, w.data(), w.size()) == LDNS_STATUS_OK) {
            ldns_rr_list* an = ldns_pkt_answer(pkt);
            for (std::size_t i = 0; i < ldns_rr_list_rr_count(an); ++i) {
                ldns_rr* rr = ldns_rr_list_rr(an, i);
                if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_CAA) continue;
                for (std::size_t k = 0; k < ldns_rr_rd_count(rr); ++k) sum += ldns_rdf_size(ldns_rr_rdf(rr, k));
            }
            sum += ldns_pkt_edns_udp_size(pkt);
            ldns_pkt_free(pkt);
        }
        benchmark::DoNotOptimize(sum);
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * w.size()));
}
BENCHMARK(ldns_wire2pkt_walk);
#endif

/// Console output plus a record of each benchmark's CPU time per iteration.
class ratio_reporter : public benchmark::ConsoleReporter {
public:
    std::map<std::string, double> ns;
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& r : runs)
            if (r.run_type == Run::RT_Iteration && r.iterations > 0)
                ns[r.benchmark_name()] = r.GetAdjustedCPUTime(); // ns by default
        ConsoleReporter::ReportRuns(runs);
    }
};

} // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    std::printf("message: %zu bytes, 6 CAA records + OPT\n", response().size());
    ratio_reporter rep;
    benchmark::RunSpecifiedBenchmarks(&rep);
    const auto b = rep.ns.find("bulkhead_parse");
    if (b != rep.ns.end() && b->second > 0) {
        std::printf("\nbulkhead: %.1f ns/message\n", b->second);
        for (const auto& [name, t] : rep.ns)
            if (name != "bulkhead_parse") std::printf("%s / bulkhead = %.1fx\n", name.c_str(), t / b->second);
    }
    benchmark::Shutdown();
    return 0;
}
