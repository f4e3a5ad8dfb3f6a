#include "control.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdlib>
#include <string>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {
struct socket_pair {
    bulkhead::unique_fd a, b;
    socket_pair() {
        int s[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == 0);
        a.reset(s[0]);
        b.reset(s[1]);
    }
};
} // namespace

TEST_CASE("control messages carry a line and descriptors", "[unit][sitehost]") {
    socket_pair sp;
    auto p = bulkhead::make_pipe();
    REQUIRE(p);
    std::array<int, 1> fds{p->write.get()};
    REQUIRE(sitehost::send_message(sp.a.get(), R"({"cmd":"exec","site":"alpha"})", fds));
    p->write.reset(); // only the receiver's copy remains
    auto m = sitehost::recv_message(sp.b.get());
    REQUIRE(m);
    CHECK(m->line == R"({"cmd":"exec","site":"alpha"})");
    REQUIRE(m->fds.size() == 1);
    CHECK((::fcntl(m->fds[0].get(), F_GETFD) & FD_CLOEXEC) != 0);
    REQUIRE(bulkhead::write_all(m->fds[0].get(), "through the passed fd"));
    m->fds.clear();
    auto got = bulkhead::read_to_string(p->read.get());
    REQUIRE(got);
    CHECK(*got == "through the passed fd");
}

TEST_CASE("long lines arrive whole; truncation and extra data are errors", "[unit][sitehost]") {
    socket_pair sp;
    std::string big(20000, 'x');
    REQUIRE(sitehost::send_message(sp.a.get(), big));
    auto m = sitehost::recv_message(sp.b.get());
    REQUIRE(m);
    CHECK(m->line == big);

    REQUIRE(bulkhead::write_all(sp.a.get(), "no newline"));
    sp.a.reset();
    auto t = sitehost::recv_message(sp.b.get());
    REQUIRE_FALSE(t);
    CHECK(t.error().code() == bulkhead::errc::truncated);

    socket_pair sp2;
    REQUIRE(bulkhead::write_all(sp2.a.get(), "one\ntwo\n"));
    auto x = sitehost::recv_message(sp2.b.get());
    REQUIRE_FALSE(x);
    CHECK(x.error().code() == bulkhead::errc::protocol_error);

    std::array<int, 4> four{0, 0, 0, 0};
    CHECK_FALSE(sitehost::send_message(sp2.a.get(), "x", four));
}

TEST_CASE("the control socket is private to root and reachable by path", "[unit][sitehost]") {
    char t[] = "/tmp/bulkhead-control-test-XXXXXX";
    std::string dir = ::mkdtemp(t);
    std::string path = dir + "/control.sock";
    {
        auto l = sitehost::listen_control(path);
        REQUIRE(l);
        struct stat st {};
        REQUIRE(::stat(path.c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0600);
        auto c = sitehost::connect_control(path);
        REQUIRE(c);
        bulkhead::unique_fd conn(::accept4(l->get(), nullptr, nullptr, SOCK_CLOEXEC));
        REQUIRE(conn);
        REQUIRE(sitehost::send_message(c->get(), R"({"cmd":"status"})"));
        auto m = sitehost::recv_message(conn.get());
        REQUIRE(m);
        CHECK(m->line == R"({"cmd":"status"})");
    }
    ::unlink(path.c_str());
    auto gone = sitehost::connect_control(path);
    REQUIRE_FALSE(gone);
    CHECK(gone.error().message().find("is `sitehost up` running?") != std::string::npos);
    ::rmdir(dir.c_str());
    CHECK_FALSE(sitehost::unix_address(std::string(200, 'a')));
}

TEST_CASE("events are single JSON lines with a UTC timestamp", "[unit][sitehost]") {
    auto p = bulkhead::make_pipe();
    REQUIRE(p);
    auto w = sitehost::event("oom_kill", "alpha");
    w.field("count", 1);
    sitehost::emit(p->write.get(), std::move(w));
    p->write.reset();
    auto line = bulkhead::read_to_string(p->read.get());
    REQUIRE(line);
    REQUIRE(line->back() == '\n');
    auto v = bulkhead::detail::json::parse(*line);
    REQUIRE(v);
    CHECK(v->find("event")->as_string() == "oom_kill");
    CHECK(v->find("site")->as_string() == "alpha");
    CHECK(v->find("count")->as_int64() == 1);
    const auto& t = v->find("time")->as_string();
    CHECK(t.size() == 24);
    CHECK(t[10] == 'T');
    CHECK(t.back() == 'Z');
}

TEST_CASE("restart back-off doubles, caps and resets after a stable run", "[unit][sitehost]") {
    sitehost::backoff b;
    CHECK(b.next(0ms) == 500ms);
    CHECK(b.next(10ms) == 1000ms);
    CHECK(b.next(10ms) == 2000ms);
    for (int i = 0; i < 20; ++i) (void)b.next(1ms);
    CHECK(b.next(1ms) == 30000ms);
    CHECK(b.next(120000ms) == 500ms);
}
