#pragma once
// The sitehost e2e fixture: two sites (alpha, beta) with PHP webroots in a temporary directory,
// the real sitehost binary started in a fresh network namespace of this test process.
#include <bulkhead/detail/json.hpp>
#include <bulkhead/fd.hpp>
#include <bulkhead/process.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sitehost_test {

namespace json = bulkhead::detail::json;
using namespace std::chrono_literals;

std::string env_or_fail(const char* name) {
    const char* v = std::getenv(name);
    REQUIRE(v != nullptr);
    return v;
}

std::string run(const std::string& cmd, int* status = nullptr) {
    std::string out;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int st = ::pclose(p);
    if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return out;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return pred();
}

/// A fresh network namespace for this test process (and so for sitehost, its child).
void enter_fresh_netns() {
    REQUIRE(::unshare(CLONE_NEWNET) == 0);
    int st = 0;
    run("ip link set lo up", &st);
    REQUIRE(st == 0);
}

/// Two sites with webroots in a temporary directory; removed with everything in it.
struct fixture {
    std::string dir, state, config, sitehost, tools, sites_json;
    bulkhead::child sup;
    std::string events;

    fixture() {
        enter_fresh_netns();
        sitehost = env_or_fail("BULKHEAD_SITEHOST");
        tools = env_or_fail("BULKHEAD_TOOLS");
        char t[] = "/tmp/bulkhead-sitehost-e2e-XXXXXX";
        dir = ::mkdtemp(t);
        ::chmod(dir.c_str(), 0711);
        state = dir + "/state";
        events = dir + "/events.log";
        std::uint32_t base = 200000;
        std::string sites;
        for (const char* s : {"alpha", "beta"}) {
            std::string www = dir + "/www-" + s;
            ::mkdir(www.c_str(), 0755);
            write(www + "/index.php", std::string("<?php echo \"site \", gethostname(), \" uid \", posix_getuid(), \"\\n\";"));
            write(www + "/secret.txt", std::string("secret of ") + s + "\n");
            REQUIRE(::chown((www + "/secret.txt").c_str(), base + 33, base + 33) == 0);
            REQUIRE(::chown(www.c_str(), base + 33, base + 33) == 0);
            REQUIRE(::chown((www + "/index.php").c_str(), base + 33, base + 33) == 0);
            base += 65536;
            sites += std::string(sites.empty() ? "" : ",") + R"({"name": ")" + s + R"(", "webroot": ")" + www +
                     R"(", "seccomp": ")" + seccomp_profile() + R"("})";
        }
        config = dir + "/sites.json";
        sites_json = sites;
        write(config, R"({"state_dir": ")" + state + R"(", "cgroup": ")" + cgroup_name() + R"(", "sites": [)" + sites + "]}");
    }

    /// Each test process its own top cgroup, so tests running side by side never clean up
    /// each other's sites.
    static std::string cgroup_name() { return "bulkhead-sitehost-test-" + std::to_string(::getpid()); }

    /// Rewrites the config with extra top-level members (before up()).
    void configure(const std::string& extra) {
        write(config, R"({"state_dir": ")" + state + R"(", "cgroup": ")" + cgroup_name() + R"(", )" + extra +
                          R"(, "sites": [)" + sites_json + "]}");
    }
    ~fixture() {
        stop();
        std::system(("rm -rf '" + dir + "'").c_str());
    }

    static std::string seccomp_profile() {
        const char* p = std::getenv("BULKHEAD_SITE_SECCOMP");
        return p ? p : "web";
    }

    static void write(const std::string& path, const std::string& text) {
        REQUIRE(bulkhead::write_file(path.c_str(), text, AT_FDCWD, O_WRONLY | O_CREAT | O_TRUNC));
    }

    void up() {
        auto c = bulkhead::fork_call([this] {
            // If ctest kills this test, the supervisor follows (and takes its sites with it).
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            int fd = ::open(events.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            ::execl(sitehost.c_str(), "sitehost", "up", config.c_str(), "--native", "--tools", tools.c_str(),
                    static_cast<char*>(nullptr));
            return 127;
        });
        REQUIRE(c);
        sup = std::move(*c);
        REQUIRE(eventually([&] { return status().find("\"ok\":true") != std::string::npos; }));
        // Serving: both servers of every site answer (nginx up and PHP-FPM's socket there).
        REQUIRE(eventually([&] { return page("10.88.0.6").find("uid 33") != std::string::npos &&
                                        page("10.88.0.10").find("uid 33") != std::string::npos; }));
    }

    void stop() {
        if (sup.valid() && !sup.status()) {
            (void)sup.signal(SIGTERM);
            (void)sup.wait_for(20s);
        }
        sup.kill_and_reap();
    }

    /// `sitehost CMD --state-dir STATE REST` (options go before exec's "--").
    std::string cli(const std::string& args, int* st = nullptr) {
        auto sp = args.find(' ');
        std::string cmd = args.substr(0, sp), rest = sp == std::string::npos ? "" : args.substr(sp);
        return run(sitehost + " " + cmd + " --state-dir " + state + rest, st);
    }
    std::string status() { return cli("status --json"); }
    std::string log() {
        std::ifstream in(events);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    std::string page(const char* ip) { return run(std::string("curl -s -m 3 http://") + ip + "/"); }

    /// The host pid of a site's service from `status --json`.
    pid_t service_pid(const std::string& site, const std::string& service) {
        auto v = json::parse(status());
        REQUIRE(v);
        for (const auto& s : v->find("sites")->items())
            if (s.find("name")->as_string() == site)
                for (const auto& sv : s.find("services")->items())
                    if (sv.find("name")->as_string() == service && sv.find("running")->as_bool())
                        return static_cast<pid_t>(*sv.find("pid")->as_int64());
        return -1;
    }
};

/// sitehost's top cgroup under this machine's cgroup2 mount.
std::string top_cgroup() {
    auto m = run("findmnt -n -t cgroup2 -o TARGET | head -n1");
    while (!m.empty() && m.back() == '\n') m.pop_back();
    REQUIRE_FALSE(m.empty());
    return m + "/" + fixture::cgroup_name();
}

bool no_site_processes() {
    // Every site process lives in a cgroup below bulkhead-sitehost.
    std::string procs = run("cat " + top_cgroup() + "/*/*/cgroup.procs 2>/dev/null");
    return procs.find_first_of("0123456789") == std::string::npos;
}

} // namespace sitehost_test
