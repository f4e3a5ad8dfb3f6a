// Presentation-format reader: whatever it accepts prints and reads back to the same records,
// and builds into a message that parses.
#include "bulkhead/dns.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace dns = bulkhead::dns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 4096) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto recs = dns::parse_zone(text);
    if (!recs) return 0;
    std::string printed;
    for (const auto& r : *recs) printed += dns::to_text(r) + "\n";
    auto back = dns::parse_zone(printed);
    if (!back || back->size() != recs->size()) {
        std::fprintf(stderr, "printed zone does not read back: %s\n", back ? "count" : back.error().message().c_str());
        std::abort();
    }
    for (std::size_t i = 0; i < recs->size(); ++i) {
        const auto& a = (*recs)[i];
        const auto& b = (*back)[i];
        if (!(a.owner == b.owner) || a.type != b.type || a.cls != b.cls || a.ttl != b.ttl || a.rdata != b.rdata) {
            std::fprintf(stderr, "round trip changed: %s\n", dns::to_text(a).c_str());
            std::abort();
        }
    }
    dns::message_builder mb(1, dns::flag::qr);
    for (const auto& r : *recs)
        if (r.type != dns::rr::opt) mb.add(dns::section::answer, r);
    if (auto w = std::move(mb).build()) {
        auto m = dns::message_view::parse(dns::bytes_view(w->data(), w->size()));
        if (!m) {
            std::fprintf(stderr, "built message does not parse: %s\n", m.error().message().c_str());
            std::abort();
        }
    }
    return 0;
}
