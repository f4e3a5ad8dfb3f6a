// bulkhead-seccomp as an operator uses it: exit codes, outputs, and a compiled filter that
// bubblewrap loads with --seccomp FD.
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace {

std::string tool() {
    const char* t = std::getenv("BULKHEAD_SECCOMP_TOOL");
    return t ? t : "";
}

std::string docker() {
    for (std::string base : {bulkhead_test::shared_dir(), bulkhead_test::source_dir() + "/../../shared",
                             std::string("/work/shared")}) {
        std::string p = base + "/data/seccomp/docker-default.json";
        if (::access(p.c_str(), R_OK) == 0) return p;
    }
    return {};
}

/// Runs a shell command; returns (exit code, stdout).
std::pair<int, std::string> sh(const std::string& cmd) {
    std::string out;
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return {-1, ""};
    std::array<char, 4096> buf{};
    std::size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
    int st = ::pclose(f);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

} // namespace

TEST_CASE("bulkhead-seccomp compile/check/disasm/diff", "[e2e]") {
    std::string t = tool();
    if (t.empty() || ::access(t.c_str(), X_OK) != 0) {
        WARN("bulkhead-seccomp not built (BULKHEAD_BUILD_EXAMPLES off?): " << t);
        return;
    }
    std::string d = docker();
    if (d.empty()) {
        WARN("docker-default.json missing");
        return;
    }
    auto [hc, help] = sh(t + " --help");
    CHECK(hc == 0);
    CHECK(help.find("Exit codes") != std::string::npos);
    CHECK(sh(t + " frobnicate 2>/dev/null").first == 2);
    CHECK(sh(t + " check /nonexistent.json read 2>/dev/null").first == 3);

    auto [c1, ok] = sh(t + " check '" + d + "' personality 0x20008");
    CHECK(c1 == 0);
    CHECK(ok == "personality: ALLOW\n");
    auto [c2, no] = sh(t + " check '" + d + "' personality 6");
    CHECK(c2 == 1);
    CHECK(no == "personality: ERRNO(1)\n");
    auto [c3, js] = sh(t + " check --json '" + d + "' getppid");
    CHECK(c3 == 0);
    CHECK(js.find("\"verdict\":\"ALLOW\"") != std::string::npos);

    std::string out = "seccomp_tool_test.bpf";
    auto [c4, stats] = sh(t + " compile '" + d + "' -o " + out + " --json");
    REQUIRE(c4 == 0);
    CHECK(stats.find("\"instructions\":") != std::string::npos);
    auto [c5, listing] = sh(t + " disasm " + out);
    CHECK(c5 == 0);
    CHECK(listing.find("ld [nr]") != std::string::npos);
    CHECK(listing.find("(AUDIT_ARCH_X86_64)") != std::string::npos);
    CHECK(listing.find("ret ALLOW") != std::string::npos);
    auto [c6, carr] = sh(t + " compile '" + d + "' --c-array");
    CHECK(c6 == 0);
    CHECK(carr.find("struct sock_filter") != std::string::npos);

    auto [c7, diff] = sh(t + " diff '" + d + "' builtin:web");
    CHECK(c7 == 1);
    CHECK(diff.find("ptrace") != std::string::npos);
    CHECK(diff.find("arg0=0x8") != std::string::npos);
    CHECK(sh(t + " diff '" + d + "' '" + d + "'").first == 0);

    // The raw output is what bubblewrap loads.
    if (sh("command -v bwrap >/dev/null 2>&1").first != 0 || !bulkhead_test::is_root()) {
        WARN("bwrap missing or not root: --seccomp round trip not checked");
    } else {
        auto [w, _] = sh(t + " compile builtin:web -o web_tool_test.bpf");
        REQUIRE(w == 0);
        std::string bw = "bwrap --ro-bind / / --dev /dev --proc /proc --seccomp 9 9<web_tool_test.bpf ";
        CHECK(sh(bw + "/bin/true").first == 0);
        CHECK(sh(bw + "/usr/bin/unshare -U /bin/true 2>/dev/null").first != 0);
    }
    ::unlink(out.c_str());
    ::unlink("web_tool_test.bpf");
}
