#pragma once
// sitehost's control channel and event log.
//
// Control: a unix stream socket (mode 0600, in the state directory). A client sends one JSON
// request line, optionally with file descriptors (SCM_RIGHTS: `exec` hands over its stdio so
// the command inside the site talks to the operator's terminal), and reads one JSON reply line.
//
// Events: one JSON object per line with an RFC 3339 UTC timestamp, e.g.
//   {"time":"2026-11-22T03:10:00.123Z","event":"oom_kill","site":"alpha","count":1}

#include <bulkhead/detail/json.hpp>
#include <bulkhead/error.hpp>
#include <bulkhead/fd.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <span>
#include <string>
#include <vector>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace sitehost {

namespace json = bulkhead::detail::json;

inline constexpr std::size_t max_passed_fds = 3;
inline constexpr std::size_t max_request_bytes = 64 * 1024;

inline bulkhead::result<sockaddr_un> unix_address(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof a.sun_path)
        return bulkhead::error(bulkhead::errc::too_large, "control socket").subject(path).note("path too long for a unix socket");
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return a;
}

/// Listens on `path` (replacing a stale socket file), mode 0600: only root may control sites.
inline bulkhead::result<bulkhead::unique_fd> listen_control(const std::string& path) {
    BULKHEAD_TRY_ASSIGN(auto addr, unix_address(path));
    bulkhead::unique_fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) return bulkhead::error::from_errno("control socket");
    ::unlink(path.c_str());
    mode_t old = ::umask(0077);
    int rc = ::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::umask(old);
    if (rc < 0) return bulkhead::error::from_errno("bind control socket").subject(path);
    // The umask already kept group and others out; connecting needs no execute bit either.
    if (::chmod(path.c_str(), 0600) < 0) return bulkhead::error::from_errno("chmod control socket").subject(path);
    if (::listen(s.get(), 16) < 0) return bulkhead::error::from_errno("listen control socket").subject(path);
    return s;
}

inline bulkhead::result<bulkhead::unique_fd> connect_control(const std::string& path) {
    BULKHEAD_TRY_ASSIGN(auto addr, unix_address(path));
    bulkhead::unique_fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) return bulkhead::error::from_errno("control socket");
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        return bulkhead::error::from_errno("connect").subject(path).note("is `sitehost up` running?");
    return s;
}

/// Sends `line` (a '\n' is appended) with up to max_passed_fds descriptors attached.
inline bulkhead::result<void> send_message(int sock, std::string line, std::span<const int> fds = {}) {
    if (fds.size() > max_passed_fds) return bulkhead::error(bulkhead::errc::too_large, "send control message");
    line += '\n';
    iovec iov{line.data(), line.size()};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * max_passed_fds)] = {};
    if (!fds.empty()) {
        m.msg_control = ctrl;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    for (;;) {
        ssize_t n = ::sendmsg(sock, &m, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return bulkhead::error::from_errno("send control message");
        // The fds travel with the first byte; the rest of a long line goes as plain data.
        if (static_cast<std::size_t>(n) < line.size())
            return bulkhead::write_all(sock, std::string_view(line).substr(static_cast<std::size_t>(n)));
        return {};
    }
}

struct message {
    std::string line;                      ///< without the '\n'
    std::vector<bulkhead::unique_fd> fds;  ///< received descriptors (close-on-exec)
};

/// Reads one '\n'-terminated line (at most max_request_bytes) and any passed descriptors.
/// End of stream before a full line is errc::truncated.
inline bulkhead::result<message> recv_message(int sock) {
    message out;
    char buf[4096];
    for (;;) {
        iovec iov{buf, sizeof buf};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * max_passed_fds)];
        m.msg_control = ctrl;
        m.msg_controllen = sizeof ctrl;
        // Peek is not needed: the peer sends exactly one line per message exchange.
        ssize_t n = ::recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return bulkhead::error::from_errno("receive control message");
        for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            std::size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (std::size_t i = 0; i < k; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                out.fds.emplace_back(fd);
            }
        }
        if (m.msg_flags & MSG_CTRUNC)
            return bulkhead::error(bulkhead::errc::too_large, "receive control message").note("too many descriptors");
        if (n == 0) return bulkhead::error(bulkhead::errc::truncated, "receive control message").note("peer closed before a full line");
        out.line.append(buf, static_cast<std::size_t>(n));
        auto nl = out.line.find('\n');
        if (nl != std::string::npos) {
            if (nl + 1 != out.line.size())
                return bulkhead::error(bulkhead::errc::protocol_error, "receive control message").note("data after the request line");
            out.line.resize(nl);
            return out;
        }
        if (out.line.size() > max_request_bytes)
            return bulkhead::error(bulkhead::errc::too_large, "receive control message");
    }
}

/// "2026-11-22T03:10:00.123Z"
inline std::string rfc3339_now() {
    auto now = std::chrono::system_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[96]; // room for any int the compiler can imagine in each field
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
    return buf;
}

/// Starts an event line: {"time":...,"event":...,"site":...; the caller adds fields and
/// passes the writer to emit().
inline json::writer event(std::string_view name, std::string_view site) {
    json::writer w;
    w.begin_object().field("time", rfc3339_now()).field("event", name);
    if (!site.empty()) w.field("site", site);
    return w;
}

/// Ends the object and writes it as one line (one write(2): lines never interleave).
inline void emit(int fd, json::writer&& w) {
    w.end_object();
    std::string line = std::move(w).str();
    line += '\n';
    (void)bulkhead::write_all(fd, line);
}

/// Restart back-off: 0.5 s doubling to 30 s; a process that ran for a minute starts again
/// from the beginning.
struct backoff {
    std::chrono::milliseconds initial{500};
    std::chrono::milliseconds max{30000};
    std::chrono::milliseconds stable{60000};
    int failures = 0;

    /// The delay before the next start, given how long the last run lasted.
    std::chrono::milliseconds next(std::chrono::milliseconds ran_for) {
        if (ran_for >= stable) failures = 0;
        auto d = initial * (1LL << std::min(failures, 16));
        ++failures;
        return std::min<std::chrono::milliseconds>(d, max);
    }
};

} // namespace sitehost
