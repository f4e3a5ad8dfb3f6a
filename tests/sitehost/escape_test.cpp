// The escape suite: from inside site alpha, as the site's worker uid and as root of alpha's
// user namespace, bulkhead-escape tries to reach site beta and the host; the same attempts
// inside beta against beta's own canaries are the positive controls. Every probe must be
// refused (PASS), or be something no site can do at all (its control fails too, or N/A).
#include "fixture.hpp"

#include <map>
#include <set>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

using namespace sitehost_test;
using namespace std::chrono_literals;

namespace {

struct verdicts {
    std::map<std::string, std::pair<std::string, std::string>> by_name; // name -> (verdict, detail)
};

verdicts parse(const std::string& out) {
    auto v = json::parse(out);
    INFO(out);
    REQUIRE(v);
    verdicts r;
    for (const auto& p : v->find("probes")->items())
        r.by_name[p.find("name")->as_string()] = {p.find("verdict")->as_string(), p.find("detail")->as_string()};
    return r;
}

/// A loopback-only TCP service on the host (the supervisor's network namespace).
struct host_service {
    bulkhead::unique_fd s;
    int port = 0;
    host_service() {
        s.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(s.get(), 8) == 0);
        socklen_t l = sizeof a;
        ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &l);
        port = ntohs(a.sin_port);
    }
};

std::string hostname_now() {
    char b[65] = {};
    ::gethostname(b, 64);
    return b;
}

} // namespace

TEST_CASE("escape suite: alpha cannot reach beta or the host; beta reaches its own", "[e2e][sitehost][escape]") {
    std::string host_before = hostname_now();
    fixture f;
    f.up();
    host_service svc;

    // Beta's canaries: an abstract socket, SysV IPC, a POSIX queue, /tmp and /dev/shm files.
    std::string canary = "bhcanary" + std::to_string(::getpid());
    auto serve = bulkhead::fork_call([&] {
        int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, 1);
        ::execl(f.sitehost.c_str(), "sitehost", "exec", "--state-dir", f.state.c_str(), "beta", "--",
                "/opt/bulkhead/bulkhead-escape", "--serve-canaries", canary.c_str(), static_cast<char*>(nullptr));
        return 127;
    });
    REQUIRE(serve);
    REQUIRE(eventually([&] {
        int st = 0;
        f.cli("exec beta -- test -e /tmp/" + canary, &st);
        return st == 0;
    }));

    // A setuid copy of the probe owned by alpha's root (uid 200000 outside): run by alpha's
    // www-data it must not become alpha's root (no_new_privs).
    std::string suid = f.tools + "/bulkhead-escape-suid";
    std::system(("cp " + f.tools + "/bulkhead-escape " + suid).c_str());
    REQUIRE(::chown(suid.c_str(), 200000, 200000) == 0);
    REQUIRE(::chmod(suid.c_str(), 04755) == 0);
    struct remove_suid {
        std::string p;
        ~remove_suid() { ::unlink(p.c_str()); }
    } remove_suid_guard{suid};

    pid_t beta_nginx = f.service_pid("beta", "nginx");
    REQUIRE(beta_nginx > 0);
    std::string beta_file = f.dir + "/www-beta/secret.txt";
    std::string attack = " --json --pid " + std::to_string(beta_nginx) + " --file " + beta_file +
                         " --ip 10.88.0.10 --host-ip 10.88.0.5 --host-port " + std::to_string(svc.port) +
                         " --ifname bh1-beta --canary " + canary + " --setuid-binary /opt/bulkhead/bulkhead-escape-suid";

    // Positive controls in beta, against beta's own things as beta sees them.
    int st = 0;
    auto inner_pid = f.cli("exec beta -- pgrep -o nginx", &st);
    REQUIRE(st == 0);
    while (!inner_pid.empty() && inner_pid.back() == '\n') inner_pid.pop_back();
    auto control_out = f.cli("exec beta -- /opt/bulkhead/bulkhead-escape --control --json --pid " + inner_pid +
                                 " --file /srv/www/secret.txt --ip 10.88.0.10 --canary " + canary,
                             &st);
    auto control = parse(control_out);

    for (const char* who : {"", " --root"}) {
        INFO("alpha as " << (*who ? "root of its user namespace" : "www-data"));
        auto out = f.cli(std::string("exec alpha") + who + " -- /opt/bulkhead/bulkhead-escape" + attack, &st);
        auto a = parse(out);
        REQUIRE(a.by_name.size() >= 40);
        std::size_t isolated = 0, refused_everywhere = 0, na = 0;
        for (const auto& [name, vd] : a.by_name) {
            INFO(name << ": " << vd.first << " (" << vd.second << ")");
            CHECK(vd.first != "FAIL");
            CHECK(vd.first != "SKIP");
            if (vd.first == "N/A") {
                ++na;
                continue;
            }
            auto c = control.by_name.find(name);
            if (c != control.by_name.end() && c->second.first == "OK") ++isolated;
            else ++refused_everywhere;
        }
        // The probes with a working control: refused for alpha because of the isolation, not
        // because nobody can do it. These must include the core cross-site ones.
        for (const char* must : {"see (kill 0)", "signal (SIGCONT)", "read", "write", "symlink to it",
                                 "connect 10.88.0.10:80", "abstract unix socket @", "SysV shared memory (shmget)",
                                 "SysV message queue (msgget)", "see /tmp/", "see /dev/shm/"}) {
            bool found = false;
            for (const auto& [name, vd] : control.by_name)
                if (name.rfind(must, 0) == 0) {
                    found = true;
                    INFO("control " << name << ": " << vd.second);
                    CHECK(vd.first == "OK");
                }
            CHECK(found);
        }
        CHECK(isolated >= 12);
        WARN("escape suite: " << isolated << " probes refused by isolation (control succeeded), "
                              << refused_everywhere << " refused for every site, " << na << " N/A");
    }
    CHECK(hostname_now() == host_before);
    (void)serve->kill();
}
