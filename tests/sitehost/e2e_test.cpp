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
    auto refused = f.cli("exec alpha -- true", &st);
    CHECK(st == 1);
    CHECK(refused.find("site is frozen: thaw it first") != std::string::npos);
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

TEST_CASE("malware uploaded into a site is quarantined and can freeze the site", "[e2e][sitehost]") {
    fixture f;
    std::string hex;
    for (unsigned char c : std::string("eval($_POST[")) {
        char b[3];
        std::snprintf(b, sizeof b, "%02x", c);
        hex += b;
    }
    fixture::write(f.dir + "/sigs.ndb", "Test.WebShell:0:*:" + hex + "\n");
    f.configure(R"("scan": {"databases": [")" + f.dir + R"(/sigs.ndb"], "quarantine_dir": ")" + f.dir +
                R"(/quarantine", "freeze_on_detection": true})");
    // An infected file outside every site, and a link to it planted in alpha: sitehost, root
    // on the host, must never follow it.
    ::mkdir((f.dir + "/outside").c_str(), 0755);
    fixture::write(f.dir + "/outside/evil.php", "<?php eval($_POST['x']);\n");
    f.up();
    int st = 0;
    f.cli("exec alpha -- ln -s " + f.dir + "/outside/evil.php /srv/www/link.php", &st);
    REQUIRE(st == 0);
    auto scan = f.cli("scan alpha", &st);
    INFO(scan);
    CHECK(st == 0); // nothing infected below alpha's webroot
    CHECK(::access((f.dir + "/outside/evil.php").c_str(), F_OK) == 0);
    // Now an upload into a directory created after the watch began, written as alpha's
    // www-data from the host side (an exec'd writer would itself be frozen with the site).
    // The file is made complete and owned first, then renamed in: sitehost may quarantine it
    // the moment it appears.
    std::string up = f.dir + "/www-alpha/up";
    REQUIRE(::mkdir(up.c_str(), 0755) == 0);
    REQUIRE(::mkdir((up + "/a").c_str(), 0755) == 0);
    for (const std::string& p : {up, up + "/a"}) REQUIRE(::chown(p.c_str(), 200033, 200033) == 0);
    std::string staged = f.dir + "/staged.php";
    fixture::write(staged, "<?php eval($_POST[1]);\n");
    REQUIRE(::chown(staged.c_str(), 200033, 200033) == 0);
    REQUIRE(::rename(staged.c_str(), (up + "/a/s.php").c_str()) == 0);
    CHECK(eventually([&] { return f.log().find(R"("event":"malware","site":"alpha","path":"up/a/s.php","signature":"Test.WebShell")") != std::string::npos; }));
    CHECK(::access((f.dir + "/www-alpha/up/a/s.php").c_str(), F_OK) != 0);
    CHECK(eventually([&] { return f.status().find(R"("name":"alpha","ipv4":"10.88.0.6","state":"frozen")") != std::string::npos; }));
    CHECK(f.log().find(R"("event":"freeze","site":"alpha")") != std::string::npos);
    CHECK(f.page("10.88.0.10").find("site beta") != std::string::npos); // beta untouched
    auto q = run("cat " + f.dir + "/quarantine/alpha/*.json");
    CHECK(q.find(R"("path":"up/a/s.php")") != std::string::npos);
    CHECK(q.find(R"("sha256":")") != std::string::npos);
    f.cli("thaw alpha", &st);
    CHECK(st == 0);
}

TEST_CASE("certcheck without a running supervisor reads the config and explains", "[e2e][sitehost]") {
    fixture f;
    int st = 0;
    // No DNS server answers on this address: the lookup fails, so the CA would refuse.
    f.configure(R"("caa": {"servers": ["127.0.0.9:5399"]})");
    fixture::write(f.config, run("sed 's/\"name\": \"alpha\"/\"name\": \"alpha\", \"domains\": [\"alpha.example\"]/' " + f.config));
    auto out = f.cli("certcheck --config " + f.config + " alpha", &st);
    INFO(out);
    CHECK(st == 1);
    CHECK(out.find("alpha.example") != std::string::npos);
    CHECK(out.find("DENY") != std::string::npos);
}
