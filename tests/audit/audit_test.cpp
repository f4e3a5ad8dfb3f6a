// bulkhead-audit observed from the outside: on the host it must say "host", inside a real
// set of namespaces (util-linux unshare) it must say "private" and see only its own world.
#include "audit.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace json = bulkhead::detail::json;

namespace {
std::string run(const std::string& cmd, int* status = nullptr) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int st = ::pclose(p);
    if (status) *status = st;
    return out;
}

std::string tool() {
    const char* t = std::getenv("BULKHEAD_AUDIT");
    REQUIRE(t != nullptr);
    return t;
}

const json::value* ns_of(const json::value& rep, const std::string& kind) {
    for (const auto& n : rep.find("namespaces")->items())
        if (n.find("kind")->as_string() == kind) return &n;
    return nullptr;
}

const json::value* probe(const json::value& rep, const std::string& name) {
    for (const auto& p : rep.find("syscalls")->items())
        if (p.find("name")->as_string() == name) return &p;
    return nullptr;
}
} // namespace

TEST_CASE("audit on the host reports the host's namespaces", "[kernel][audit]") {
    int st = 0;
    auto out = run(tool() + " --json", &st);
    REQUIRE(st == 0);
    auto rep = json::parse(out);
    REQUIRE(rep);
    for (const char* k : {"user", "pid", "uts", "ipc", "cgroup"}) {
        INFO(k);
        CHECK(ns_of(*rep, k)->find("verdict")->as_string() == "host");
    }
    CHECK(rep->find("ids")->find("uid_map_identity")->as_bool());
    CHECK(rep->find("seccomp_mode")->as_int64() == 0);
    CHECK(probe(*rep, "userfaultfd")->find("outcome")->as_string() == "reachable");
}

TEST_CASE("audit inside real namespaces sees only its compartment", "[kernel][audit]") {
    // (-C is the cgroup namespace; -c would only map the current user.)
    // The host's net and mnt inodes are the reference for the two kinds without fixed numbers.
    auto host = json::parse(run(tool() + " --json --no-probes"));
    REQUIRE(host);
    std::string ref = "net:" + std::to_string(*ns_of(*host, "net")->find("inode")->as_uint64()) +
                      ",mnt:" + std::to_string(*ns_of(*host, "mnt")->find("inode")->as_uint64());
    int st = 0;
    auto out = run("unshare -UrpfmnuiC --mount-proc " + tool() + " --json --host-ns " + ref, &st);
    REQUIRE(st == 0);
    auto rep = json::parse(out);
    REQUIRE(rep);
    for (const char* k : {"user", "pid", "mnt", "net", "uts", "ipc", "cgroup"}) {
        INFO(k);
        CHECK(ns_of(*rep, k)->find("verdict")->as_string() == "private");
    }
    CHECK_FALSE(rep->find("ids")->find("uid_map_identity")->as_bool());
    CHECK(rep->find("ids")->find("uid_map")->as_string().find("0") == 0);
    // A fresh pid namespace with its own /proc: only the audit and its probe children.
    const auto& procs = rep->find("processes")->items();
    CHECK(procs.size() <= 3);
    CHECK(procs.at(0).find("pid")->as_int64() == 1);
    // A fresh network namespace: loopback only.
    const auto& ifs = rep->find("interfaces")->items();
    REQUIRE(ifs.size() == 1);
    CHECK(ifs[0].find("name")->as_string() == "lo");
}

TEST_CASE("audit rejects a malformed --host-ns", "[kernel][audit]") {
    int st = 0;
    (void)run(tool() + " --host-ns net=5 2>/dev/null", &st);
    CHECK(WEXITSTATUS(st) == 2);
    auto r = audit::parse_host_ns("net:12,user:x");
    REQUIRE_FALSE(r);
    CHECK(r.error().message() == "--host-ns \"user:x\": parse error (expected KIND:INODE[,KIND:INODE...])");
}
