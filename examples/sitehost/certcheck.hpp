#pragma once
// CAA preflight: before a hosting panel orders a certificate for a site's domains, ask DNS
// whether the configured CA may issue, and if not, why (RFC 8659/8657, the caa module).
#include "config.hpp"

#include <bulkhead/caa.hpp>
#include <bulkhead/detail/json.hpp>
#include <bulkhead/dns.hpp>

#include <string>
#include <vector>

namespace sitehost {

struct domain_verdict {
    std::string site, domain;
    bool permitted = false;
    std::string reason;      ///< caa::reason_name
    std::string where;       ///< the name where the relevant CAA set was found, if any
    std::string explanation; ///< a sentence for the hosting customer
};

/// The resolver options for `c`: its servers, or /etc/resolv.conf's.
inline bulkhead::result<bulkhead::dns::resolver_options> caa_resolver(const caa_settings& c) {
    bulkhead::dns::resolver_options o;
    o.timeout = std::chrono::milliseconds(1500);
    if (c.servers.empty()) {
        BULKHEAD_TRY_ASSIGN(o.servers, bulkhead::dns::system_servers());
    } else {
        for (const auto& s : c.servers) {
            BULKHEAD_TRY_ASSIGN(auto sv, bulkhead::dns::server::parse(s));
            o.servers.push_back(sv);
        }
    }
    return o;
}

/// Evaluates every domain of `s` (a site without domains gives nothing).
inline bulkhead::result<std::vector<domain_verdict>> certcheck(const caa_settings& c, const site& s) {
    std::vector<domain_verdict> out;
    if (s.domains.empty()) return out;
    BULKHEAD_TRY_ASSIGN(auto opt, caa_resolver(c));
    auto lookup = bulkhead::caa::resolver_lookup(opt);
    for (const auto& d : s.domains) {
        bulkhead::caa::request req;
        req.domain = d;
        req.ca = c.ca;
        req.account_uri = c.account_uri;
        req.validation_method = c.validation_method;
        BULKHEAD_TRY_ASSIGN(auto v, bulkhead::caa::check(req, lookup));
        domain_verdict dv{s.name, d, v.permitted, std::string(bulkhead::caa::reason_name(v.why)),
                          v.relevant_name ? v.relevant_name->to_string() : std::string(), v.explanation};
        out.push_back(std::move(dv));
    }
    return out;
}

inline void to_json(bulkhead::detail::json::writer& w, const domain_verdict& v) {
    w.begin_object().field("site", v.site).field("domain", v.domain).field("permitted", v.permitted)
        .field("reason", v.reason);
    if (!v.where.empty()) w.field("relevant_name", v.where);
    w.field("explanation", v.explanation).end_object();
}

} // namespace sitehost
