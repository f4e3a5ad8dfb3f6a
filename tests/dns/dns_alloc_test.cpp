// Counts heap allocations on the parse path: replaces the global operator new in this
// executable only.
#include "bulkhead/dns.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> g_allocs{0};
}

void* operator new(std::size_t n) {
    ++g_allocs;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    ++g_allocs;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

TEST_CASE("parsing a CAA response allocates nothing", "[unit]") {
    namespace dns = bulkhead::dns;
    dns::message_builder b(0x4242, dns::flag::qr | dns::flag::rd | dns::flag::ra);
    const auto qn = dns::name::parse("www.example.com").value();
    b.question(qn, dns::rr::caa);
    for (const char* v : {"letsencrypt.org", "sectigo.com", "digicert.com; validationmethods=dns-01", "pki.goog",
                          "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1"}) {
        dns::record r;
        r.owner = qn;
        r.type = dns::rr::caa;
        r.ttl = 300;
        r.rdata = {0, 5, 'i', 's', 's', 'u', 'e'};
        r.rdata.insert(r.rdata.end(), v, v + std::strlen(v));
        b.add(dns::section::answer, r);
    }
    b.edns(1232, true, 0, std::vector<std::pair<std::uint16_t, std::string>>{{15, std::string("\0\x03stale", 7)}});
    const auto wire = std::move(b).build().value();

    const long before = g_allocs.load();
    std::size_t value_bytes = 0, n = 0;
    std::uint16_t ede = 0;
    bool q_ok = false;
    for (int iter = 0; iter < 100; ++iter) {
        auto m = dns::message_view::parse(dns::bytes_view(wire.data(), wire.size()));
        if (!m) break;
        q_ok = m->question()->qname.equals(qn);
        for (const auto& r : m->answers()) {
            if (r.type != dns::rr::caa || !r.owner.equals(qn)) continue;
            auto c = dns::as_caa(r);
            if (!c) continue;
            value_bytes += c->value.size();
            ++n;
        }
        if (auto e = m->edns()) e->for_each_ede([&](const dns::ede_view& x) { ede = x.info_code; });
    }
    const long after = g_allocs.load();
    CHECK(after - before == 0);
    CHECK(q_ok);
    CHECK(n == 500);
    CHECK(value_bytes > 0);
    CHECK(ede == 3);
}
