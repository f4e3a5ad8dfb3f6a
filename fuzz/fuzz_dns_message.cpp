// DNS message parser + printer round trip: every record of a message that parses is printed
// in presentation form, read back, and must give the same record.
#include "bulkhead/dns.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace dns = bulkhead::dns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto m = dns::message_view::parse(dns::bytes_view(data, size));
    if (!m) return 0;
    if (auto q = m->question()) (void)q->qname.to_string();
    if (auto e = m->edns()) {
        std::size_t n = 0;
        e->for_each_ede([&](const dns::ede_view& x) { n += x.text.size() + x.info_code; });
        (void)n;
    }
    (void)m->rcode();
    (void)dns::dnssec_records(*m);
    for (auto s : {dns::section::answer, dns::section::authority, dns::section::additional}) {
        for (const auto& rv : m->records(s)) {
            (void)rv.owner.to_string();
            (void)rv.owner.wire_length();
            switch (rv.type) {
            case dns::rr::a: (void)dns::as_a(rv); break;
            case dns::rr::aaaa: (void)dns::as_aaaa(rv); break;
            case dns::rr::mx: (void)dns::as_mx(rv); break;
            case dns::rr::soa: (void)dns::as_soa(rv); break;
            case dns::rr::txt: (void)dns::for_each_txt(rv, [](std::string_view) {}); break;
            case dns::rr::caa: (void)dns::as_caa(rv); break;
            case dns::rr::rrsig: (void)dns::parse_rrsig_rdata(rv.rdata()); break;
            default: break;
            }
            auto r = dns::to_record(rv);
            if (!r) continue;
            const std::string text = dns::to_text(*r);
            auto back = dns::parse_zone(text);
            if (!back || back->size() != 1) {
                std::fprintf(stderr, "round trip failed to read: %s\n%s\n", text.c_str(),
                             back ? "wrong count" : back.error().message().c_str());
                std::abort();
            }
            const auto& b = back->front();
            if (!(b.owner == r->owner) || b.type != r->type || b.cls != r->cls || b.ttl != r->ttl || b.rdata != r->rdata) {
                std::fprintf(stderr, "round trip changed the record: %s -> %s\n", text.c_str(), dns::to_text(b).c_str());
                std::abort();
            }
        }
    }
    return 0;
}
