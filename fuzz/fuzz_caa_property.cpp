// CAA property parsing (RDATA, tag, issue value, validationmethods) and the verdict over a
// relevant set made of the fuzzed property.
#include "bulkhead/caa.hpp"

#include <cstdint>
#include <string>

namespace caa = bulkhead::caa;
namespace dns = bulkhead::dns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)caa::check_tag(text);
    (void)caa::classify_tag(text);
    (void)caa::parse_validation_methods(text);
    if (auto v = caa::parse_issue_value(text)) {
        for (const auto& p : v->parameters)
            if (p.tag.empty()) __builtin_trap(); // the grammar never yields an empty tag
    }
    auto p = caa::parse_property(dns::bytes_view(data, size));
    if (!p) return 0;
    (void)p->to_text();
    caa::request req;
    req.domain = "*.www.example.com";
    req.ca = "letsencrypt.org";
    req.account_uri = "https://acme/acct/1";
    req.validation_method = "http-01";
    const caa::property prop = *p;
    auto v = caa::check(req, [&](const dns::name& n) {
        caa::lookup l;
        l.qname = n;
        l.records.push_back(prop);
        return l;
    });
    if (!v || v->explanation.empty()) __builtin_trap();
    return 0;
}
