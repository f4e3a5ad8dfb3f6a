#pragma once
/// \file caa/check.hpp
/// The RFC 8659 section 3 search for the Relevant RRset (climb from the name toward the TLD,
/// never querying the root; aliases followed by the lookup; the wildcard label removed) and
/// the issuance verdict for one CA (RFC 8659 section 4, RFC 8657 parameters), with the trail
/// of every lookup and an explanation in plain words.

#include "bulkhead/caa/property.hpp"
#include "bulkhead/config.hpp"
#include "bulkhead/dns.hpp"
#include "bulkhead/error.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace caa {

/// What one CAA lookup at one name found.
struct lookup {
    dns::name qname;                   ///< the name asked for
    std::vector<dns::name> aliases;    ///< CNAME targets followed, in order
    bool transport_failed = false;     ///< no usable answer at all (timeout, network error)
    std::string failure;               ///< the transport error's message
    std::uint16_t rcode = 0;
    std::vector<dns::extended_error> ede;
    std::vector<property> records;     ///< the CAA RRset at the end of the alias chain

    /// NOERROR and NXDOMAIN are answers; everything else (and no answer) is a failure.
    [[nodiscard]] bool failed() const noexcept {
        return transport_failed || (rcode != dns::rcode::noerror && rcode != dns::rcode::nxdomain);
    }
    [[nodiscard]] const dns::name& final_name() const noexcept { return aliases.empty() ? qname : aliases.back(); }
};

/// Anything that can look up the CAA RRset of a name, following aliases like a resolver.
using lookup_fn = std::function<lookup(const dns::name&)>;

/// Interprets a resolver's answer to `qname CAA`: follows the CNAME chain in the answer
/// section (at most 16 links) and collects the CAA records owned by its end.
[[nodiscard]] inline lookup lookup_from_response(const dns::name& qname, const dns::response& r) {
    lookup l;
    l.qname = qname;
    l.rcode = r.rcode;
    l.ede = r.ede;
    const auto m = r.message();
    dns::name cur = qname;
    for (int hop = 0; hop < 16; ++hop) {
        bool moved = false;
        for (const auto& rec : m.answers()) {
            if (rec.type != dns::rr::cname || !rec.owner.equals(cur)) continue;
            auto t = dns::as_name(rec);
            if (!t) continue;
            cur = dns::name(*t);
            l.aliases.push_back(cur);
            moved = true;
            break;
        }
        if (!moved) break;
    }
    for (const auto& rec : m.answers()) {
        if (rec.type != dns::rr::caa || !rec.owner.equals(cur)) continue;
        if (auto p = parse_property(rec.rdata())) l.records.push_back(std::move(*p));
        else l.records.push_back(property{0xFF, "", ""}); // unreadable RDATA: treated as critical unknown
    }
    return l;
}

/// A lookup function over a stub resolver.
[[nodiscard]] inline lookup_fn resolver_lookup(dns::resolver_options opt) {
    return [opt = std::move(opt)](const dns::name& n) {
        auto r = dns::resolve(n, dns::rr::caa, opt);
        if (!r) {
            lookup l;
            l.qname = n;
            l.transport_failed = true;
            l.failure = r.error().message();
            return l;
        }
        return lookup_from_response(n, *r);
    };
}

/// A lookup function over records held in memory (a zone file read with dns::parse_zone):
/// CNAMEs are followed, wildcard owners (`*.example.com`) answer for names that do not exist
/// below their parent (RFC 4592, closest encloser), and a name with no records at all is
/// NXDOMAIN.
[[nodiscard]] inline lookup_fn zone_lookup(std::vector<dns::record> records) {
    return [recs = std::move(records)](const dns::name& n) {
        auto exists = [&](const dns::name& x) {
            for (const auto& r : recs)
                if (r.owner.is_subdomain_of(x)) return true; // empty non-terminals exist too
            return false;
        };
        // The owner whose records answer for `x`: x itself, or the wildcard at its closest encloser.
        auto source = [&](const dns::name& x) -> std::optional<dns::name> {
            if (exists(x)) return x;
            for (dns::name e = x.parent();; e = e.parent()) {
                if (exists(e)) {
                    auto w = e.child("*");
                    if (w && exists(*w)) return *w;
                    return std::nullopt;
                }
                if (e.is_root()) return std::nullopt;
            }
        };
        lookup l;
        l.qname = n;
        dns::name cur = n;
        std::optional<dns::name> src = source(cur);
        for (int hop = 0; hop < 16 && src; ++hop) {
            const dns::record* cn = nullptr;
            for (const auto& r : recs)
                if (r.type == dns::rr::cname && r.owner == *src) cn = &r;
            if (!cn) break;
            auto t = dns::name_view::at(dns::bytes_view(cn->rdata.data(), cn->rdata.size()), 0, false);
            if (!t) break;
            cur = dns::name(*t);
            l.aliases.push_back(cur);
            src = source(cur);
        }
        if (src) {
            for (const auto& r : recs) {
                if (r.type != dns::rr::caa || !(r.owner == *src)) continue;
                if (auto p = parse_property(dns::bytes_view(r.rdata.data(), r.rdata.size()))) l.records.push_back(std::move(*p));
                else l.records.push_back(property{0xFF, "", ""});
            }
        }
        l.rcode = src ? dns::rcode::noerror : dns::rcode::nxdomain;
        return l;
    };
}

/// The certificate request being judged.
struct request {
    std::string domain;              ///< "www.example.com" or "*.example.com"
    std::string ca = "letsencrypt.org"; ///< the CA's issuer domain name
    std::optional<std::string> account_uri;       ///< RFC 8657 accounturi to match
    std::optional<std::string> validation_method; ///< RFC 8657 method the CA would use ("http-01")
};

enum class reason : std::uint8_t {
    no_caa,              ///< permit: no CAA RRset up to the TLD
    no_restriction,      ///< permit: the set holds no property that restricts issuance for this name
    authorized,          ///< permit: a property names this CA and its parameters fit
    lookup_failed,       ///< deny: a lookup at or below the relevant set failed
    critical_unknown,    ///< deny: a critical property this CA does not understand
    not_authorized,      ///< deny: properties name other CAs only
    no_ca_allowed,       ///< deny: only empty issuer names (`issue ";"`)
    account_mismatch,    ///< deny: this CA is named but with another accounturi
    method_mismatch,     ///< deny: this CA is named but not for this validation method
    malformed,           ///< deny: the only properties naming a CA cannot be parsed
};

[[nodiscard]] constexpr std::string_view reason_name(reason r) noexcept {
    switch (r) {
    case reason::no_caa: return "no_caa";
    case reason::no_restriction: return "no_restriction";
    case reason::authorized: return "authorized";
    case reason::lookup_failed: return "lookup_failed";
    case reason::critical_unknown: return "critical_unknown";
    case reason::not_authorized: return "not_authorized";
    case reason::no_ca_allowed: return "no_ca_allowed";
    case reason::account_mismatch: return "account_mismatch";
    case reason::method_mismatch: return "method_mismatch";
    case reason::malformed: return "malformed";
    }
    return "unknown";
}

/// The outcome, with everything needed to explain it.
struct verdict {
    bool permitted = false;
    enum reason why = reason::no_caa;
    bool wildcard = false;
    std::optional<dns::name> relevant_name;  ///< where the relevant (non-empty) set was found
    std::vector<property> relevant_set;
    std::optional<property> deciding;        ///< the property that decided, when one did
    std::vector<lookup> trail;               ///< every lookup, in order
    std::optional<std::size_t> failed_lookup; ///< index into trail when why == lookup_failed
    std::string explanation;                 ///< one or two sentences for a hosting customer
};

namespace detail {
inline std::string rcode_text(std::uint16_t rc) {
    const auto n = dns::rcode_name(rc);
    return n.empty() ? "RCODE" + std::to_string(rc) : std::string(n);
}
inline std::string ede_text(const std::vector<dns::extended_error>& ede) {
    std::string s;
    for (const auto& e : ede) {
        if (!s.empty()) s += "; ";
        s += "Extended DNS Error " + std::to_string(e.info_code);
        const auto n = dns::ede_name(e.info_code);
        if (!n.empty()) s += " \"" + std::string(n) + "\"";
        if (!e.text.empty()) s += ": " + e.text;
    }
    return s;
}
inline std::string list_issuers(const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) s += i + 1 == v.size() ? " and " : ", ";
        s += v[i];
    }
    return s;
}
} // namespace detail

/// Judges `req`: finds the Relevant RRset with `lookup_caa` and applies RFC 8659 / 8657.
/// Only an unusable request (a name that cannot be parsed) is an error; DNS failures are
/// verdicts (deny) that name the failing lookup.
[[nodiscard]] inline result<verdict> check(const request& req, const lookup_fn& lookup_caa) {
    verdict v;
    std::string_view dom = req.domain;
    if (dom.size() >= 2 && dom.substr(0, 2) == "*.") {
        v.wildcard = true;
        dom.remove_prefix(2);
    }
    auto parsed = dns::name::parse(dom);
    if (!parsed) return std::move(parsed.error()).subject(req.domain);
    if (parsed->is_root()) return error(errc::invalid_argument, "caa: the root is not a certificate name").subject(req.domain);
    const std::string who = req.domain;
    const std::string& ca = req.ca;

    // RFC 8659 3: RelevantCAASet climbs toward the TLD and never asks about the root.
    for (dns::name d = *parsed; !d.is_root(); d = d.parent()) {
        v.trail.push_back(lookup_caa(d));
        const lookup& l = v.trail.back();
        if (l.failed()) {
            v.permitted = false;
            v.why = reason::lookup_failed;
            v.failed_lookup = v.trail.size() - 1;
            std::string what = l.transport_failed ? "got no answer (" + l.failure + ")"
                                                  : "failed with " + detail::rcode_text(l.rcode);
            const std::string ede = detail::ede_text(l.ede);
            if (!ede.empty()) what += " (" + ede + ")";
            v.explanation = "The CAA lookup for " + l.qname.to_display() +
                            (l.aliases.empty() ? std::string() : " (an alias of " + l.final_name().to_display() + ")") + " " + what +
                            ". A CA must not issue when it cannot read the CAA records, so " + ca +
                            " will refuse to issue a certificate for " + who +
                            " until the DNS for " + l.qname.to_display() + " answers correctly.";
            return v;
        }
        if (!l.records.empty()) {
            v.relevant_name = d;
            v.relevant_set = l.records;
            break;
        }
    }
    if (!v.relevant_name) {
        v.permitted = true;
        v.why = reason::no_caa;
        v.explanation = "No CAA records exist for " + std::string(dom) + " or any parent domain, so any CA, " + ca +
                        " included, may issue a certificate for " + who + ".";
        return v;
    }
    const std::string where = v.relevant_name->to_display();
    const std::string where_via = v.trail.back().aliases.empty()
                                      ? where
                                      : where + " (through its alias " + v.trail.back().final_name().to_display() + ")";

    // RFC 8659 4.1: a critical property with a tag the CA does not understand forbids issuance.
    for (const auto& p : v.relevant_set) {
        const auto k = p.kind();
        if (p.critical() && (k == tag_kind::unknown || k == tag_kind::invalid)) {
            v.permitted = false;
            v.why = reason::critical_unknown;
            v.deciding = p;
            v.explanation = "The CAA record " + p.to_text() + " at " + where_via +
                            " is marked critical but " + ca + " does not understand the tag \"" + p.tag +
                            "\", so " + ca + " must refuse to issue for " + who + ".";
            return v;
        }
    }
    // RFC 8659 4.3: issuewild properties, when present, replace issue properties for wildcards.
    bool any_wild = false;
    for (const auto& p : v.relevant_set) any_wild |= p.kind() == tag_kind::issuewild;
    const tag_kind use = (v.wildcard && any_wild) ? tag_kind::issuewild : tag_kind::issue;
    const char* use_name = use == tag_kind::issuewild ? "issuewild" : "issue";
    std::vector<const property*> relevant;
    for (const auto& p : v.relevant_set)
        if (p.kind() == use) relevant.push_back(&p);
    if (relevant.empty()) {
        v.permitted = true;
        v.why = reason::no_restriction;
        v.explanation = "The CAA records at " + where_via + " hold no \"issue\" property" +
                        std::string(v.wildcard ? " or \"issuewild\" property" : "") +
                        " that restricts this name, so any CA, " + ca + " included, may issue for " + who + ".";
        return v;
    }
    std::vector<std::string> others;
    const property* account_bad = nullptr;
    const property* method_bad = nullptr;
    const property* malformed = nullptr;
    std::string account_detail, method_detail;
    for (const property* p : relevant) {
        auto iv = parse_issue_value(p->value);
        if (!iv) {
            if (!malformed) malformed = p;
            continue;
        }
        if (iv->issuer.empty()) continue;
        if (!detail::ieq(iv->issuer, ca)) {
            others.push_back(iv->issuer);
            continue;
        }
        // RFC 8657 3 and 4: a record naming this CA authorizes only a matching account and method.
        int accounturis = 0, methods = 0;
        for (const auto& par : iv->parameters) {
            accounturis += detail::ieq(par.tag, "accounturi");
            methods += detail::ieq(par.tag, "validationmethods");
        }
        if (accounturis > 1 || methods > 1) {
            if (!malformed) malformed = p;
            continue;
        }
        if (const auto* a = iv->find("accounturi")) {
            if (!req.account_uri || *req.account_uri != a->value) {
                if (!account_bad) {
                    account_bad = p;
                    account_detail = a->value;
                }
                continue;
            }
        }
        if (const auto* m = iv->find("validationmethods")) {
            auto list = parse_validation_methods(m->value);
            bool ok = false;
            if (list && req.validation_method)
                for (const auto& x : *list) ok |= detail::ieq(x, *req.validation_method);
            if (!ok) {
                if (!method_bad) {
                    method_bad = p;
                    method_detail = m->value;
                }
                continue;
            }
        }
        v.permitted = true;
        v.why = reason::authorized;
        v.deciding = *p;
        v.explanation = "The CAA record " + p->to_text() + " at " + where_via + " allows " + ca + " to issue for " + who + ".";
        return v;
    }
    v.permitted = false;
    // Records cannot sit beside a CNAME: for an alias, the hint names the alias's target.
    const std::string add_hint = " To allow it, add `" + v.trail.back().final_name().to_display() + ". CAA 0 " + use_name +
                                 " \"" + ca + "\"`.";
    if (account_bad) {
        v.why = reason::account_mismatch;
        v.deciding = *account_bad;
        v.explanation = "The CAA record " + account_bad->to_text() + " at " + where_via + " lets " + ca +
                        " issue only for the ACME account " + account_detail + ", " +
                        (req.account_uri ? "not for " + *req.account_uri : std::string("and no account was given")) +
                        ", so " + ca + " will refuse to issue for " + who + ".";
    } else if (method_bad) {
        v.why = reason::method_mismatch;
        v.deciding = *method_bad;
        v.explanation = "The CAA record " + method_bad->to_text() + " at " + where_via + " lets " + ca +
                        " validate only with " + method_detail + ", " +
                        (req.validation_method ? "not with " + *req.validation_method : std::string("and no method was given")) +
                        ", so " + ca + " will refuse to issue for " + who + ".";
    } else if (!others.empty()) {
        v.why = reason::not_authorized;
        v.explanation = "The CAA records at " + where_via + " allow only " + detail::list_issuers(others) + " to issue" +
                        (use == tag_kind::issuewild ? " wildcard certificates" : std::string()) + "; " + ca +
                        " is not listed, so it will refuse to issue for " + who + "." + add_hint;
    } else if (malformed) {
        v.why = reason::malformed;
        v.deciding = *malformed;
        v.explanation = "The CAA record " + malformed->to_text() + " at " + where_via +
                        " cannot be parsed, so it authorizes no CA and " + ca + " will refuse to issue for " + who + "." + add_hint;
    } else {
        v.why = reason::no_ca_allowed;
        v.deciding = *relevant.front();
        v.explanation = "The CAA record " + relevant.front()->to_text() + " at " + where_via + " forbids every CA from issuing" +
                        (use == tag_kind::issuewild ? " wildcard certificates" : std::string()) + ", so " + ca +
                        " will refuse to issue for " + who + ".";
    }
    return v;
}

} // namespace caa
BULKHEAD_NAMESPACE_END
