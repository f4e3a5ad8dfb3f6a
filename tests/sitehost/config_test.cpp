#include "config.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include <fcntl.h>
#include <unistd.h>

using sitehost::parse_config;

namespace {
std::string err(std::string_view text) {
    auto r = parse_config(text, "sites.json");
    REQUIRE_FALSE(r);
    return r.error().message();
}
} // namespace

TEST_CASE("a full sites file is read, allotted and checked", "[unit][sitehost]") {
    auto c = parse_config(R"({
  "state_dir": "/run/sh-test",
  "ipv4_pool": "10.88.0.0/16",
  "sites": [
    {"name": "alpha", "domains": ["alpha.example", "www.alpha.example"],
     "webroot": "/srv/sites/alpha",
     "limits": {"cpu_max": "50000 100000", "memory_max": "256M", "memory_high": "192M",
                "pids_max": 128, "io_max": [{"device": "8:0", "rbps": "10M", "wiops": 500}]},
     "ro_binds": ["/usr/share/zoneinfo"]},
    {"name": "beta", "webroot": "/srv/sites/beta", "ids": {"base": 400000, "count": 65536},
     "ipv4": "10.88.9.6", "ipv6": "fd88::9:6", "php": false, "seccomp": "docker-default"},
    {"name": "gamma", "webroot": "/srv/sites/gamma", "limits": {"pids_max": "max", "memory_max": "max"}}
  ]
})",
                          "sites.json");
    REQUIRE(c);
    REQUIRE(c->sites.size() == 3);
    const auto& a = c->sites[0];
    CHECK(a.name == "alpha");
    CHECK(a.domains.size() == 2);
    CHECK(a.limits.cpu_max == "50000 100000");
    CHECK(a.limits.memory_max == 256u << 20);
    CHECK(a.limits.memory_high == 192u << 20);
    CHECK(a.limits.pids_max == 128u);
    REQUIRE(a.limits.io_max.size() == 1);
    CHECK(a.limits.io_max[0].rbps == 10u << 20);
    CHECK(a.limits.io_max[0].wiops == 500u);
    CHECK_FALSE(a.limits.io_max[0].wbps);
    CHECK(a.php);
    CHECK(a.seccomp == "web");
    // Allotted: disjoint id ranges from the pool, own /30 each.
    CHECK(a.ids->base == 200000);
    CHECK(a.ids->count == 65536);
    CHECK(a.ipv4 == "10.88.0.6");
    CHECK(sitehost::host_side_ipv4(a) == "10.88.0.5");
    CHECK(sitehost::host_side_ipv6(c->sites[1]) == "fd88::9:5");
    const auto& b = c->sites[1];
    CHECK(b.ids->base == 400000);
    CHECK(b.ipv4 == "10.88.9.6");
    CHECK_FALSE(b.php);
    const auto& g = c->sites[2];
    CHECK(g.ids->base == 265536);
    CHECK(g.ipv4 == "10.88.0.10");
    CHECK_FALSE(g.limits.pids_max);
    CHECK_FALSE(g.limits.memory_max);
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = i + 1; j < 3; ++j) CHECK_FALSE(c->sites[i].ids->overlaps(*c->sites[j].ids));
}

TEST_CASE("allotment skips ranges and networks taken explicitly", "[unit][sitehost]") {
    auto c = parse_config(R"({"sites": [
      {"name": "a", "webroot": "/srv/a"},
      {"name": "b", "webroot": "/srv/b", "ids": {"base": 265536, "count": 65536}, "ipv4": "10.88.0.10"},
      {"name": "c", "webroot": "/srv/c"}]})",
                          "s.json");
    REQUIRE(c);
    CHECK(c->sites[0].ids->base == 200000);
    CHECK(c->sites[2].ids->base == 331072); // 265536 is b's
    CHECK(c->sites[0].ipv4 == "10.88.0.6");
    CHECK(c->sites[2].ipv4 == "10.88.0.14"); // 10.88.0.8/30 is b's
}

TEST_CASE("bad sites files are rejected with file, line:column, key path and reason", "[unit][sitehost]") {
    CHECK(err("{\"sites\": [}") == "json sites.json at line 1:12: parse error (unexpected character, expected a value)");
    CHECK(err(R"({"sites": []})") ==
          "sites file sites.json at line 1:11: invalid argument (sites: expected a non-empty array of sites)");
    CHECK(err("{\"sites\": [\n  {\"name\": \"a\", \"webroot\": \"/srv/../etc\"}]}") ==
          "sites file sites.json at line 2:28: invalid argument (sites[0].webroot: must be an absolute "
          "path without \"..\", not /)");
    CHECK(err(R"({"sites": [{"name": "Bad_Name", "webroot": "/srv/a"}]})").find("sites[0].name: use 1-32") !=
          std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a", "limits": {"memory_max": "-5"}}]})")
              .find("sites[0].limits.memory_max: expected a size") != std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a", "limits": {"cpu_max": "100 100000"}}]})")
              .find("sites[0].limits.cpu_max: expected \"QUOTA PERIOD\"") != std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a", "limits": {"cpu_weight": 0}}]})")
              .find("cpu_weight: must be between 1 and 10000") != std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a", "limits": {"memory_max": "1M", "memory_high": "2M"}}]})")
              .find("memory_high: must not exceed memory_max") != std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a", "limits": {"io_max": [{"rbps": 1}]}}]})")
              .find("io_max[0]: missing \"device\"") != std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a", "colour": "red"}]})")
              .find("sites[0].colour: unknown key") != std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a", "domains": ["-x.example"]}]})")
              .find("domains[0]: not a valid host name") != std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a", "ipv4": "10.1.2"}]})")
              .find("sites[0].ipv4: not an IPv4 address") != std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a", "seccomp": "relative.json"}]})")
              .find("sites[0].seccomp: expected") != std::string::npos);
}

TEST_CASE("sites must not share names, webroots, domains, ids or addresses", "[unit][sitehost]") {
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a"}, {"name": "a", "webroot": "/srv/b"}]})")
              .find("sites[1].name: \"a\" is used twice") != std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a"}, {"name": "b", "webroot": "/srv/a/sub"}]})")
              .find("sites[1].webroot: overlaps the webroot of site \"a\"") != std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a", "domains": ["x.example"]},
                            {"name": "b", "webroot": "/srv/b", "domains": ["x.example"]}]})")
              .find("\"x.example\" also belongs to site \"a\"") != std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a", "ids": {"base": 300000, "count": 65536}},
                            {"name": "b", "webroot": "/srv/b", "ids": {"base": 330000, "count": 65536}}]})")
              .find("site \"b\": id range overlaps site \"a\"") != std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a", "ipv4": "10.88.1.2"},
                            {"name": "b", "webroot": "/srv/b", "ipv4": "10.88.1.3"}]})")
              .find("shares a /30 with site \"a\"") != std::string::npos);
    CHECK(err(R"({"sites": [{"name": "a", "webroot": "/srv/a", "ipv6": "fd88::1:6"},
                            {"name": "b", "webroot": "/srv/b", "ipv6": "fd88::1:5"}]})")
              .find("ipv6 fd88::1:5 shares a /126 with site \"a\"") != std::string::npos);
    // /srv/ab is not inside /srv/a.
    CHECK(parse_config(R"({"sites": [{"name": "a", "webroot": "/srv/a"}, {"name": "b", "webroot": "/srv/ab"}]})", "s"));
}

TEST_CASE("the id pool and address pool run out with a clear error", "[unit][sitehost]") {
    CHECK(err(R"({"id_pool": {"base": 100000, "count": 65536},
                  "sites": [{"name": "a", "webroot": "/srv/a"}, {"name": "b", "webroot": "/srv/b"}]})")
              .find("site \"b\": no free id range left in the pool") != std::string::npos);
    CHECK(err(R"({"ipv4_pool": "10.9.9.0/28",
                  "sites": [{"name": "a", "webroot": "/srv/a"}, {"name": "b", "webroot": "/srv/b"},
                            {"name": "c", "webroot": "/srv/c"}, {"name": "d", "webroot": "/srv/d"}]})")
              .find("site \"d\": no free /30 left in ipv4_pool") != std::string::npos);
}

TEST_CASE("the id pool can come from /etc/subuid-style files", "[unit][sitehost]") {
    char t[] = "/tmp/bulkhead-subid-test-XXXXXX";
    std::string dir = ::mkdtemp(t);
    REQUIRE(bulkhead::write_file((dir + "/subuid").c_str(), "alice:100000:65536\nsitehost:1000000:1048576\n", AT_FDCWD,
                                 O_WRONLY | O_CREAT));
    REQUIRE(bulkhead::write_file((dir + "/subgid").c_str(), "sitehost:1000000:1048576\n", AT_FDCWD, O_WRONLY | O_CREAT));
    auto c = parse_config(R"({"id_pool": {"subuid": ")" + dir + R"(/subuid", "subgid": ")" + dir +
                              R"(/subgid", "owner": "sitehost"},
                              "sites": [{"name": "a", "webroot": "/srv/a"}, {"name": "b", "webroot": "/srv/b"}]})",
                          "s.json");
    REQUIRE(c);
    CHECK(c->sites[0].ids->base == 1000000);
    CHECK(c->sites[1].ids->base == 1065536);
    auto bad = parse_config(R"({"id_pool": {"subuid": ")" + dir + R"(/subuid", "subgid": ")" + dir +
                                R"(/subgid", "owner": "alice"}, "sites": [{"name": "a", "webroot": "/srv/a"}]})",
                            "s.json");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message().find("no range of \"alice\" is in both") != std::string::npos);
    auto missing = parse_config(R"({"id_pool": {"subuid": "/nonexistent/subuid", "owner": "x"}, "sites": [{"name": "a", "webroot": "/srv/a"}]})",
                                "s.json");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message().find("/nonexistent/subuid") != std::string::npos);
    std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("prewarm is a boolean, on by default", "[unit][sitehost]") {
    auto c = sitehost::parse_config(R"({"sites": [{"name": "a", "webroot": "/srv/a"}]})", "sites.json");
    REQUIRE(c);
    CHECK(c->prewarm);
    auto off = sitehost::parse_config(R"({"prewarm": false, "sites": [{"name": "a", "webroot": "/srv/a"}]})", "sites.json");
    REQUIRE(off);
    CHECK_FALSE(off->prewarm);
    CHECK(err(R"({"prewarm": 1, "sites": [{"name": "a", "webroot": "/srv/a"}]})") ==
          "sites file sites.json at line 1:13: invalid argument (prewarm: expected true or false)");
}
