// The generated server configurations are checked by the real servers' own config tests
// (`nginx -t`, `php-fpm8.2 -t`), not by string matching alone.
#include "servers.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

namespace {
struct temp_dir {
    std::string path;
    temp_dir() {
        char t[] = "/tmp/bulkhead-sitehost-test-XXXXXX";
        path = ::mkdtemp(t);
    }
    ~temp_dir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

int run(const std::string& cmd, std::string& out) {
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    return ::pclose(p);
}

sitehost::site sample(bool php) {
    auto c = sitehost::parse_config(R"({"sites": [{"name": "alpha", "domains": ["alpha.example"],
        "webroot": "/srv/alpha", "ipv6": "fd88::6"}]})", "t");
    REQUIRE(c);
    auto s = c->sites[0];
    s.php = php;
    return s;
}
} // namespace

TEST_CASE("nginx accepts the generated configuration", "[kernel][sitehost]") {
    if (::access("/usr/sbin/nginx", X_OK) != 0) {
        WARN("nginx is not installed: scripts/install-deps.sh installs it");
        FAIL("nginx missing");
    }
    temp_dir d;
    sitehost::layout l;
    l.run_dir = d.path;
    l.tmp_dir = d.path;
    l.webroot = d.path;
    for (bool php : {true, false}) {
        auto conf = sitehost::nginx_conf(sample(php), l);
        CHECK(conf.find("listen 10.88.0.6:80 default_server;") != std::string::npos);
        CHECK(conf.find("listen [fd88::6]:80") != std::string::npos);
        CHECK((conf.find("fastcgi_pass unix:/run/php-fpm.sock;") != std::string::npos) == php);
        std::string f = d.path + "/nginx.conf";
        REQUIRE(bulkhead::write_file(f.c_str(), conf, AT_FDCWD, O_WRONLY | O_CREAT | O_TRUNC));
        // nginx -t binds the listen addresses: give them to a loopback in a fresh netns.
        std::string cmd = "unshare -n sh -c 'ip link set lo up && ip addr add 10.88.0.6/32 dev lo && "
                          "ip -6 addr add fd88::6/128 dev lo nodad && nginx -t -q -c " + f + " -p " + d.path + "'";
        std::string out;
        int st = run(cmd, out);
        INFO(out);
        CHECK(st == 0);
    }
    // Control: the same check does reject a broken file.
    std::string f = d.path + "/broken.conf";
    REQUIRE(bulkhead::write_file(f.c_str(), sitehost::nginx_conf(sample(true), l) + "bogus;\n",
                                 AT_FDCWD, O_WRONLY | O_CREAT | O_TRUNC));
    std::string out;
    CHECK(run("unshare -n nginx -t -q -c " + f + " -p " + d.path, out) != 0);
}

TEST_CASE("php-fpm accepts the generated configuration", "[kernel][sitehost]") {
    if (::access("/usr/sbin/php-fpm8.2", X_OK) != 0) {
        WARN("php-fpm8.2 is not installed: scripts/install-deps.sh installs it");
        FAIL("php-fpm missing");
    }
    temp_dir d;
    sitehost::layout l;
    l.run_dir = d.path;
    l.php_socket = d.path + "/php.sock";
    auto conf = sitehost::php_fpm_conf(sample(true), l);
    CHECK(conf.find("[alpha]") != std::string::npos);
    CHECK(conf.find("open_basedir] = /srv/www:/tmp") != std::string::npos);
    std::string f = d.path + "/php-fpm.conf";
    REQUIRE(bulkhead::write_file(f.c_str(), conf, AT_FDCWD, O_WRONLY | O_CREAT | O_TRUNC));
    // As in a site: the master is the unprivileged www-data (a root master would demand a
    // pool user), so the check runs as www-data too. Its error_log is /proc/self/fd/2,
    // reopened by www-data: stderr goes to a file www-data owns.
    ::chmod(d.path.c_str(), 0777);
    ::chmod(f.c_str(), 0644);
    auto fpm_test = [&](std::string& out) {
        return run("setpriv --reuid=33 --regid=33 --clear-groups sh -c 'php-fpm8.2 -t -y " + f + " 2>" + d.path +
                       "/err; rc=$?; cat " + d.path + "/err; exit $rc'",
                   out);
    };
    std::string out;
    int st = fpm_test(out);
    INFO(out);
    CHECK(st == 0);
    // Control: the same check does reject a broken pool.
    REQUIRE(bulkhead::write_file(f.c_str(), conf + "pm = sometimes\n", AT_FDCWD, O_WRONLY | O_TRUNC));
    out.clear();
    CHECK(fpm_test(out) != 0);
    CHECK(out.find("ERROR") != std::string::npos);
}
