// sitehost end to end: the real binary, real nginx and PHP-FPM, real namespaces, inside a
// fresh network namespace made by this test process (the machine's network is never touched).
#include "fixture.hpp"

using namespace sitehost_test;
using namespace std::chrono_literals;


TEST_CASE("sites serve their own PHP pages and are reachable only from the host", "[e2e][sitehost]") {
    fixture f;
    f.up();
    CHECK(eventually([&] { return f.page("10.88.0.6").find("site alpha uid 33") != std::string::npos; }));
    CHECK(eventually([&] { return f.page("10.88.0.10").find("site beta uid 33") != std::string::npos; }));
    int st = 0;
    f.cli("exec alpha -- curl -s -m 2 http://10.88.0.10/", &st);
    CHECK(st != 0);
    auto own = f.cli("exec beta -- curl -s -m 2 http://10.88.0.10/", &st);
    CHECK(st == 0);
    CHECK(own.find("site beta") != std::string::npos);
}

TEST_CASE("exec runs inside the site and returns the command's status", "[e2e][sitehost]") {
    fixture f;
    f.up();
    int st = 0;
    auto out = f.cli("exec alpha -- sh -c 'hostname; id -u; exit 3'", &st);
    CHECK(st == 3);
    CHECK(out.find("alpha\n33\n") != std::string::npos);
    out = f.cli("exec alpha --root -- id -u", &st);
    CHECK(st == 0);
    CHECK(out == "0\n");
    out = f.cli("exec nosuch -- true", &st);
    CHECK(st == 1);
    CHECK(out.find("unknown site") != std::string::npos);
}

TEST_CASE("a crashed server is restarted with an event", "[e2e][sitehost]") {
    fixture f;
    f.up();
    pid_t ngx = f.service_pid("alpha", "nginx");
    REQUIRE(ngx > 0);
    REQUIRE(::kill(ngx, SIGKILL) == 0);
    CHECK(eventually([&] { return f.log().find(R"("event":"restart","site":"alpha","service":"nginx")") != std::string::npos; }));
    CHECK(eventually([&] { return f.page("10.88.0.6").find("site alpha") != std::string::npos; }));
    CHECK(f.log().find(R"("event":"exit","site":"alpha","service":"nginx","status":"signal 9)") != std::string::npos);
}

TEST_CASE("freeze stops a site, thaw resumes it", "[e2e][sitehost]") {
    fixture f;
    f.up();
    int st = 0;
    f.cli("freeze alpha", &st);
    REQUIRE(st == 0);
    CHECK(f.page("10.88.0.6").empty()); // times out: every process of alpha is frozen
    CHECK(f.page("10.88.0.10").find("site beta") != std::string::npos);
    CHECK(f.status().find(R"("name":"alpha","ipv4":"10.88.0.6","state":"frozen")") != std::string::npos);
    f.cli("thaw alpha", &st);
    REQUIRE(st == 0);
    CHECK(eventually([&] { return f.page("10.88.0.6").find("site alpha") != std::string::npos; }));
}

TEST_CASE("SIGKILL of the supervisor leaves no site process; the next up cleans up", "[e2e][sitehost]") {
    fixture f;
    f.up();
    REQUIRE(f.service_pid("beta", "php-fpm") > 0);
    REQUIRE(f.sup.kill());
    REQUIRE(f.sup.wait());
    CHECK(eventually(no_site_processes));
    CHECK(f.page("10.88.0.6").empty());
    // What a killed supervisor cannot remove: its cgroups (and its state files).
    struct stat st {};
    CHECK(::stat(top_cgroup().c_str(), &st) == 0);
    f.up();
    CHECK(f.log().find(R"("event":"cleanup")") != std::string::npos);
    CHECK(f.page("10.88.0.10").find("site beta") != std::string::npos);
    f.stop();
    CHECK(::stat(top_cgroup().c_str(), &st) != 0);
    CHECK(run("ip -o link | grep -c 'bh[0-9]-' || true") == "0\n");
}

TEST_CASE("a bad sites file is rejected with line:column and nothing starts", "[e2e][sitehost]") {
    fixture f;
    fixture::write(f.config, "{\"sites\": [\n  {\"name\": \"alpha\", \"webroot\": \"relative/path\"}\n]}");
    int st = 0;
    auto out = run(f.sitehost + " up " + f.config, &st);
    CHECK(st == 2);
    CHECK(out.find("at line 2:32") != std::string::npos);
    CHECK(out.find("sites[0].webroot: must be an absolute path") != std::string::npos);
    struct stat s {};
    CHECK(::stat(top_cgroup().c_str(), &s) != 0);
}
