#pragma once
/// \file dns/resolver.hpp
/// A stub resolver: UDP with random ids and random source ports, per-try timeouts and retries
/// across several servers, TCP when the answer is truncated, EDNS0, and answers checked
/// against the question (id, QR, qname, qtype, qclass, source address). `query` is a
/// non-blocking state machine over one fd for event loops; `resolve` drives it with poll(2).

#include "bulkhead/config.hpp"
#include "bulkhead/detail/text.hpp"
#include "bulkhead/dns/wire.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace dns {

/// A server address (IPv4 or IPv6 with a port).
struct server {
    sockaddr_storage addr{};
    socklen_t addr_len = 0;

    /// "IP", "IP:PORT", "[IPv6]", "[IPv6]:PORT" or a bare IPv6 address ("::1"), port 53 by default.
    [[nodiscard]] static result<server> parse(std::string_view s, std::uint16_t default_port = 53) {
        server sv;
        std::string host;
        std::string_view port;
        if (!s.empty() && s.front() == '[') {
            const auto close = s.find(']');
            if (close == std::string_view::npos) return error(errc::parse_error, "dns: server address: missing ']'").value(s);
            host = std::string(s.substr(1, close - 1));
            const auto rest = s.substr(close + 1);
            if (!rest.empty()) {
                if (rest.front() != ':') return error(errc::parse_error, "dns: server address: junk after ']'").value(s);
                port = rest.substr(1);
            }
        } else if (s.find(':') != s.rfind(':')) {
            host = std::string(s); // bare IPv6
        } else if (const auto c = s.find(':'); c != std::string_view::npos) {
            host = std::string(s.substr(0, c));
            port = s.substr(c + 1);
        } else {
            host = std::string(s);
        }
        std::uint16_t p = default_port;
        if (!port.empty() || (s.size() && s.back() == ':')) {
            auto v = bulkhead::detail::parse_int<std::uint16_t>(port);
            if (!v || *v == 0) return error(errc::parse_error, "dns: server address: bad port").value(s);
            p = *v;
        }
        unsigned scope = 0;
        if (const auto pct = host.find('%'); pct != std::string::npos) {
            scope = ::if_nametoindex(host.c_str() + pct + 1);
            if (!scope) return error(errc::parse_error, "dns: server address: unknown interface").value(s);
            host.resize(pct);
        }
        auto* v4 = reinterpret_cast<sockaddr_in*>(&sv.addr);
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&sv.addr);
        if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
            v4->sin_family = AF_INET;
            v4->sin_port = htons(p);
            sv.addr_len = sizeof(sockaddr_in);
        } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons(p);
            v6->sin6_scope_id = scope;
            sv.addr_len = sizeof(sockaddr_in6);
        } else {
            return error(errc::parse_error, "dns: server address is not an IP address").value(s);
        }
        return sv;
    }
    [[nodiscard]] int family() const noexcept { return addr.ss_family; }
    [[nodiscard]] std::string to_string() const {
        char buf[INET6_ADDRSTRLEN] = {};
        if (addr.ss_family == AF_INET) {
            const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
            ::inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
            return std::string(buf) + ':' + std::to_string(ntohs(v4->sin_port));
        }
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
        ::inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
        return '[' + std::string(buf) + "]:" + std::to_string(ntohs(v6->sin6_port));
    }
    /// Same address and port.
    [[nodiscard]] bool same(const sockaddr* sa, socklen_t len) const noexcept {
        if (sa->sa_family != addr.ss_family) return false;
        if (sa->sa_family == AF_INET) {
            if (len < sizeof(sockaddr_in)) return false;
            const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
            const auto* b = reinterpret_cast<const sockaddr_in*>(sa);
            return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
        }
        if (len < sizeof(sockaddr_in6)) return false;
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
        const auto* b = reinterpret_cast<const sockaddr_in6*>(sa);
        return a->sin6_port == b->sin6_port && std::memcmp(&a->sin6_addr, &b->sin6_addr, 16) == 0;
    }
};

/// The `nameserver` lines of resolv.conf text.
[[nodiscard]] inline result<std::vector<server>> parse_resolv_conf(std::string_view text) {
    std::vector<server> out;
    std::string err;
    bulkhead::detail::for_each_line(text, [&](std::string_view line) {
        const auto f = bulkhead::detail::split_ws(line);
        if (f.size() >= 2 && f[0] == "nameserver") {
            if (auto s = server::parse(f[1])) out.push_back(*s);
        }
    });
    return out;
}
/// The servers of /etc/resolv.conf (or `path`).
[[nodiscard]] inline result<std::vector<server>> system_servers(const char* path = "/etc/resolv.conf") {
    std::ifstream f(path);
    if (!f) return error::from_errno("dns: open resolv.conf").subject(path);
    std::stringstream ss;
    ss << f.rdbuf();
    BULKHEAD_TRY_ASSIGN(auto v, parse_resolv_conf(ss.str()));
    if (v.empty()) return error(errc::not_found, "dns: no nameserver line in").subject(path);
    return v;
}

struct resolver_options {
    std::vector<server> servers;                       ///< tried in order, round-robin per retry
    std::chrono::milliseconds timeout{2000};           ///< per try
    int attempts = 2;                                  ///< rounds over all servers
    std::uint16_t edns_udp_size = 1232;                ///< 0 disables EDNS0
    bool dnssec_ok = false;
    bool recursion_desired = true;
    bool checking_disabled = false;
};

/// An Extended DNS Error copied out of a response.
struct extended_error {
    std::uint16_t info_code = 0;
    std::string text;
};

/// A checked answer. `message()` views `wire`.
struct response {
    std::vector<std::uint8_t> wire;
    std::uint16_t rcode = 0;
    std::vector<extended_error> ede;
    server from{};
    bool via_tcp = false;
    /// The validated message (always succeeds: `wire` was validated when received).
    [[nodiscard]] message_view message() const noexcept {
        auto m = message_view::parse(bytes_view(wire.data(), wire.size()));
        return m ? *m : message_view();
    }
};

namespace detail {
inline std::uint64_t random_u64() noexcept {
    std::uint64_t v = 0;
    auto* p = reinterpret_cast<unsigned char*>(&v);
    std::size_t got = 0;
    while (got < sizeof v) {
        const ssize_t n = ::getrandom(p + got, sizeof v - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            // getrandom cannot fail on Linux >= 3.17 once the pool is ready; keep going safely.
            v ^= static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    return v;
}

/// Checks that `msg` answers `q` (id, QR, one question equal to ours).
inline bool answers(const message_view& m, std::uint16_t id, const name& qname, std::uint16_t qtype) noexcept {
    if (m.hdr().id != id || !m.hdr().has(flag::qr) || m.hdr().qdcount != 1) return false;
    const auto q = m.question();
    return q && q->qtype == qtype && q->qclass == class_in && q->qname.equals(qname);
}
} // namespace detail

/// One query in flight, driven by an event loop: wait for `events()` on `fd()` or until
/// `deadline()`, then call `advance()`; repeat until it reports done, then `take()`.
class query {
public:
    query(const query&) = delete;
    query& operator=(const query&) = delete;
    query(query&&) noexcept = default;
    query& operator=(query&&) noexcept = default;

    [[nodiscard]] static result<query> start(const name& qname, std::uint16_t qtype, resolver_options opt) {
        if (opt.servers.empty()) return error(errc::invalid_argument, "dns: no servers to ask");
        if (opt.attempts < 1) opt.attempts = 1;
        query q;
        q.qname_ = qname;
        q.qtype_ = qtype;
        q.opt_ = std::move(opt);
        BULKHEAD_TRY(q.begin_try());
        return q;
    }

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    /// poll(2) events to wait for.
    [[nodiscard]] short events() const noexcept { return state_ == st::tcp_connect || state_ == st::tcp_write ? POLLOUT : POLLIN; }
    [[nodiscard]] std::chrono::steady_clock::time_point deadline() const noexcept { return deadline_; }
    [[nodiscard]] bool done() const noexcept { return state_ == st::done; }

    /// Makes progress without blocking; returns true when the query has finished (success or
    /// error; see `take()`).
    bool advance() {
        while (state_ != st::done) {
            const auto r = step();
            if (r == progress::wait) {
                if (std::chrono::steady_clock::now() >= deadline_) on_timeout();
                else break;
            }
        }
        return state_ == st::done;
    }

    /// The outcome; only once `done()`.
    [[nodiscard]] result<response> take() {
        if (state_ != st::done) return error(errc::state_error, "dns: query not finished");
        if (have_response_) return std::move(resp_);
        return std::move(err_);
    }

private:
    enum class st { udp_wait, tcp_connect, tcp_write, tcp_read, done };
    enum class progress { again, wait };
    query() = default;

    const server& srv() const { return opt_.servers[try_ % opt_.servers.size()]; }
    std::size_t total_tries() const { return opt_.servers.size() * static_cast<std::size_t>(opt_.attempts); }

    result<void> begin_try() {
        id_ = static_cast<std::uint16_t>(detail::random_u64());
        query_options qo;
        qo.id = id_;
        qo.recursion_desired = opt_.recursion_desired;
        qo.checking_disabled = opt_.checking_disabled;
        qo.edns_udp_size = opt_.edns_udp_size;
        qo.dnssec_ok = opt_.dnssec_ok;
        BULKHEAD_TRY_ASSIGN(out_, build_query(qname_, qtype_, qo));
        const server& s = srv();
        fd_ = unique_fd(::socket(s.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!fd_) return error::from_errno("dns: socket");
        bind_random_port(s.family());
        if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&s.addr), s.addr_len) < 0)
            return error::from_errno("dns: connect").subject(s.to_string());
        if (::send(fd_.get(), out_.data(), out_.size(), MSG_NOSIGNAL) < 0) {
            // An unreachable server counts as a failed try, not as a fatal error.
            last_failure_ = error::from_errno("dns: send").subject(s.to_string());
        }
        state_ = st::udp_wait;
        deadline_ = std::chrono::steady_clock::now() + opt_.timeout;
        return {};
    }

    void bind_random_port(int family) {
        // Random source ports (RFC 5452); on collisions fall back to the kernel's choice.
        for (int i = 0; i < 8; ++i) {
            const auto port = static_cast<std::uint16_t>(1024 + detail::random_u64() % (65536 - 1024));
            sockaddr_storage a{};
            socklen_t len = 0;
            if (family == AF_INET) {
                auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
                v4->sin_family = AF_INET;
                v4->sin_port = htons(port);
                len = sizeof(sockaddr_in);
            } else {
                auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
                v6->sin6_family = AF_INET6;
                v6->sin6_port = htons(port);
                len = sizeof(sockaddr_in6);
            }
            if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), len) == 0) return;
        }
    }

    void next_try() {
        ++try_;
        if (try_ >= total_tries()) {
            finish_failure();
            return;
        }
        if (auto r = begin_try(); !r) {
            last_failure_ = r.error();
            next_try();
        }
    }
    void finish_failure() {
        fd_.reset();
        state_ = st::done;
        if (have_fallback_) {
            resp_ = std::move(fallback_);
            have_response_ = true;
            return;
        }
        err_ = error(errc::timeout, "dns: no usable answer")
                   .subject(qname_.to_string() + " " + std::string(type_name(qtype_).empty() ? "TYPE" + std::to_string(qtype_) : std::string(type_name(qtype_))))
                   .note(last_failure_.code() ? last_failure_.message() + "; " + std::to_string(total_tries()) + " tries"
                                              : "no answer after " + std::to_string(total_tries()) + " tries of " +
                                                    std::to_string(opt_.timeout.count()) + " ms");
    }
    void on_timeout() {
        if (!last_failure_.code()) last_failure_ = error(errc::timeout, "dns: no answer from").subject(srv().to_string());
        next_try();
    }

    // Accepts a validated answer; SERVFAIL/REFUSED/NOTIMP make us try the next server while
    // there is one, keeping the answer in case all fail alike.
    void accept(std::vector<std::uint8_t> wire, bool tcp) {
        response r;
        r.wire = std::move(wire);
        const auto m = r.message();
        r.rcode = m.rcode();
        if (auto e = m.edns())
            e->for_each_ede([&](const ede_view& x) { r.ede.push_back({x.info_code, std::string(x.text)}); });
        r.from = srv();
        r.via_tcp = tcp;
        const bool retry_elsewhere = (r.rcode == rcode::servfail || r.rcode == rcode::refused || r.rcode == rcode::notimp) &&
                                     opt_.servers.size() > 1 && try_ + 1 < opt_.servers.size();
        if (retry_elsewhere) {
            fallback_ = std::move(r);
            have_fallback_ = true;
            next_try();
            return;
        }
        fd_.reset();
        resp_ = std::move(r);
        have_response_ = true;
        state_ = st::done;
    }

    progress step() {
        switch (state_) {
        case st::udp_wait: {
            std::uint8_t buf[65535];
            sockaddr_storage from{};
            socklen_t flen = sizeof from;
            const ssize_t n = ::recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return progress::wait;
                last_failure_ = error::from_errno("dns: receive from").subject(srv().to_string());
                next_try();
                return progress::again;
            }
            if (!srv().same(reinterpret_cast<sockaddr*>(&from), flen)) return progress::again;
            const bytes_view b(buf, static_cast<std::size_t>(n));
            auto m = message_view::parse(b);
            if (!m || !detail::answers(*m, id_, qname_, qtype_)) return progress::again; // ignore spoofs/garbage
            if (m->hdr().has(flag::tc)) {
                start_tcp();
                return progress::again;
            }
            accept(std::vector<std::uint8_t>(b.begin(), b.end()), false);
            return progress::again;
        }
        case st::tcp_connect: {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            pollfd p{fd_.get(), POLLOUT, 0};
            if (::poll(&p, 1, 0) <= 0) return progress::wait;
            ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &soerr, &sl);
            if (soerr) {
                last_failure_ = error::from_errno("dns: TCP connect", soerr).subject(srv().to_string());
                next_try();
                return progress::again;
            }
            state_ = st::tcp_write;
            return progress::again;
        }
        case st::tcp_write: {
            const ssize_t n = ::send(fd_.get(), tcp_out_.data() + io_done_, tcp_out_.size() - io_done_, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) return progress::wait;
                last_failure_ = error::from_errno("dns: TCP send").subject(srv().to_string());
                next_try();
                return progress::again;
            }
            io_done_ += static_cast<std::size_t>(n);
            if (io_done_ == tcp_out_.size()) {
                state_ = st::tcp_read;
                io_done_ = 0;
                tcp_in_.assign(2, 0);
            }
            return progress::again;
        }
        case st::tcp_read: {
            const ssize_t n = ::recv(fd_.get(), tcp_in_.data() + io_done_, tcp_in_.size() - io_done_, 0);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) return progress::wait;
                last_failure_ = error::from_errno("dns: TCP receive").subject(srv().to_string());
                next_try();
                return progress::again;
            }
            if (n == 0) {
                last_failure_ = error(errc::protocol_error, "dns: TCP connection closed early by").subject(srv().to_string());
                next_try();
                return progress::again;
            }
            io_done_ += static_cast<std::size_t>(n);
            if (io_done_ < tcp_in_.size()) return progress::again;
            if (tcp_in_.size() == 2) {
                const std::size_t len = detail::rd16(tcp_in_.data());
                tcp_in_.assign(len, 0);
                io_done_ = 0;
                if (len == 0) {
                    next_try();
                }
                return progress::again;
            }
            auto m = message_view::parse(bytes_view(tcp_in_.data(), tcp_in_.size()));
            if (!m || !detail::answers(*m, id_, qname_, qtype_)) {
                last_failure_ = error(errc::mismatch, "dns: TCP answer does not match the question from").subject(srv().to_string());
                next_try();
                return progress::again;
            }
            accept(std::move(tcp_in_), true);
            return progress::again;
        }
        case st::done: return progress::wait;
        }
        return progress::wait;
    }

    void start_tcp() {
        const server& s = srv();
        fd_ = unique_fd(::socket(s.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!fd_) {
            last_failure_ = error::from_errno("dns: TCP socket");
            next_try();
            return;
        }
        tcp_out_.clear();
        tcp_out_.push_back(static_cast<std::uint8_t>(out_.size() >> 8));
        tcp_out_.push_back(static_cast<std::uint8_t>(out_.size() & 0xFF));
        tcp_out_.insert(tcp_out_.end(), out_.begin(), out_.end());
        io_done_ = 0;
        deadline_ = std::chrono::steady_clock::now() + opt_.timeout;
        if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&s.addr), s.addr_len) == 0) {
            state_ = st::tcp_write;
        } else if (errno == EINPROGRESS) {
            state_ = st::tcp_connect;
        } else {
            last_failure_ = error::from_errno("dns: TCP connect").subject(s.to_string());
            next_try();
        }
    }

    name qname_;
    std::uint16_t qtype_ = 0;
    resolver_options opt_;
    std::uint16_t id_ = 0;
    std::size_t try_ = 0;
    unique_fd fd_;
    st state_ = st::udp_wait;
    std::chrono::steady_clock::time_point deadline_{};
    std::vector<std::uint8_t> out_, tcp_out_, tcp_in_;
    std::size_t io_done_ = 0;
    response resp_{}, fallback_{};
    bool have_response_ = false, have_fallback_ = false;
    error err_{}, last_failure_{};
};

/// Resolves synchronously (poll(2) on the query's fd).
[[nodiscard]] inline result<response> resolve(const name& qname, std::uint16_t qtype, const resolver_options& opt) {
    BULKHEAD_TRY_ASSIGN(query q, query::start(qname, qtype, opt));
    while (!q.advance()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(q.deadline() - std::chrono::steady_clock::now());
        pollfd p{q.fd(), q.events(), 0};
        const int ms = left.count() < 0 ? 0 : static_cast<int>(left.count()) + 1;
        if (::poll(&p, 1, ms) < 0 && errno != EINTR) return error::from_errno("dns: poll");
    }
    return q.take();
}

} // namespace dns
BULKHEAD_NAMESPACE_END
