// Open-loop HTTP latency at a fixed request rate: requests start on a fixed schedule whatever
// the answers do, and each latency is measured from its scheduled start (no coordinated
// omission), one new connection per request. Prints one JSON line; with RAW_FILE, also
// appends every latency (ms, one per line) to it, so runs can be pooled.
//
// usage: bench_latency IP PORT PATH RATE_PER_S SECONDS [RAW_FILE]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {
using clk = std::chrono::steady_clock;

struct conn {
    clk::time_point scheduled;
    std::string request;
    std::size_t sent = 0;
    bool got_status = false;
    std::string head;
};

double ms(clk::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
} // namespace

int main(int argc, char** argv) {
    if (argc != 6 && argc != 7) {
        std::fprintf(stderr, "usage: bench_latency IP PORT PATH RATE_PER_S SECONDS [RAW_FILE]\n");
        return 2;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[2])));
    if (::inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        std::fprintf(stderr, "bench_latency: bad IP %s\n", argv[1]);
        return 2;
    }
    std::string path = argv[3];
    double rate = std::atof(argv[4]);
    double seconds = std::atof(argv[5]);
    if (rate <= 0 || seconds <= 0) {
        std::fprintf(stderr, "bench_latency: RATE and SECONDS must be positive\n");
        return 2;
    }
    const auto period = std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(1.0 / rate));
    const auto start = clk::now();
    const auto end = start + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(seconds));
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::map<int, conn> open;
    std::vector<double> lat;
    int errors = 0, sent = 0;
    auto next = start;
    auto deadline = end + std::chrono::seconds(10); // stragglers
    while (clk::now() < deadline && (clk::now() < end || !open.empty())) {
        auto now = clk::now();
        while (next <= now && next < end) {
            int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            ++sent;
            if (s < 0 || (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 && errno != EINPROGRESS)) {
                ++errors;
                if (s >= 0) ::close(s);
            } else {
                epoll_event ev{};
                ev.events = EPOLLOUT | EPOLLIN;
                ev.data.fd = s;
                ::epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
                conn c;
                c.scheduled = next;
                c.request = req;
                open[s] = std::move(c);
            }
            next += period;
        }
        auto wait = next < end ? std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(next - clk::now()).count()) : 50;
        epoll_event evs[64];
        int n = ::epoll_wait(ep, evs, 64, static_cast<int>(std::min<long>(wait, 50)));
        for (int i = 0; i < n; ++i) {
            int s = evs[i].data.fd;
            auto it = open.find(s);
            if (it == open.end()) continue;
            conn& c = it->second;
            bool done = false, failed = false;
            if (evs[i].events & (EPOLLERR)) failed = true;
            if (!failed && (evs[i].events & EPOLLOUT) && c.sent < c.request.size()) {
                ssize_t w = ::send(s, c.request.data() + c.sent, c.request.size() - c.sent, MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN) failed = true;
                if (w > 0) c.sent += static_cast<std::size_t>(w);
                if (c.sent == c.request.size()) {
                    epoll_event ev{};
                    ev.events = EPOLLIN;
                    ev.data.fd = s;
                    ::epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev);
                }
            }
            if (!failed && (evs[i].events & (EPOLLIN | EPOLLHUP))) {
                char buf[4096];
                for (;;) {
                    ssize_t r = ::recv(s, buf, sizeof buf, 0);
                    if (r > 0) {
                        if (c.head.size() < 64) c.head.append(buf, static_cast<std::size_t>(std::min<ssize_t>(r, 64)));
                        continue;
                    }
                    if (r == 0) done = true;
                    else if (errno != EAGAIN) failed = true;
                    break;
                }
            }
            if (done || failed) {
                bool ok = done && c.head.rfind("HTTP/1.1 200", 0) == 0;
                if (ok) lat.push_back(ms(clk::now() - c.scheduled));
                else ++errors;
                ::epoll_ctl(ep, EPOLL_CTL_DEL, s, nullptr);
                ::close(s);
                open.erase(it);
            }
        }
    }
    errors += static_cast<int>(open.size()); // never answered
    if (argc == 7) {
        std::FILE* raw = std::fopen(argv[6], "a");
        if (!raw) {
            std::fprintf(stderr, "bench_latency: %s: %s\n", argv[6], std::strerror(errno));
            return 2;
        }
        for (double l : lat) std::fprintf(raw, "%.3f\n", l);
        std::fclose(raw);
    }
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) { return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * static_cast<double>(lat.size())))]; };
    std::printf("{\"sent\":%d,\"ok\":%zu,\"errors\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f}\n", sent,
                lat.size(), errors, pct(0.50), pct(0.99), lat.empty() ? 0.0 : lat.back());
    return 0;
}
