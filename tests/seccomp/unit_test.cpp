// seccomp unit tier: tables, builder, compiler vs model (exhaustive probes), profiles,
// emulator and disassembler. No privileges needed.
#include "bulkhead/seccomp.hpp"
#include "probes.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

namespace sc = bulkhead::seccomp;
using sc::action;
using sc::arch;
using sc::arg;

namespace {

std::string docker_json_path() {
    for (std::string base : {bulkhead_test::shared_dir(), bulkhead_test::source_dir() + "/../../shared",
                             std::string("/work/shared")}) {
        std::string p = base + "/data/seccomp/docker-default.json";
        if (::access(p.c_str(), R_OK) == 0) return p;
    }
    return {};
}

std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/// Compiles `p` and checks the program against the model on every probe.
sc::program check_equivalent(const sc::policy& p) {
    auto prog = sc::compile(p);
    if (!prog) FAIL(prog.error().message());
    REQUIRE(sc::check(*prog));
    std::size_t mismatches = 0;
    auto n = seccomp_test::for_each_probe(p, [&](const sc::data& d) {
        auto want = p.evaluate(d);
        auto got = sc::run(*prog, d);
        if (got.verdict() != want && mismatches++ < 5) {
            UNSCOPED_INFO("arch " << std::hex << d.arch << " nr " << d.nr << " args " << d.args[0]
                                  << "," << d.args[1] << "," << d.args[2] << ": program "
                                  << got.verdict().str() << " model " << want.str());
        }
    });
    INFO("probes: " << n);
    CHECK(mismatches == 0);
    return *prog;
}

sc::policy docker_json_policy(bool sub_arches = false) {
    sc::profile_options o;
    o.host = arch::x86_64;
    o.sub_arches = sub_arches;
    auto pr = sc::load_profile(docker_json_path(), o);
    if (!pr) FAIL(pr.error().message());
    return pr->policy;
}

} // namespace

TEST_CASE("syscall_table.hpp is what the generator makes from the installed headers", "[unit]") {
    const char* headers[] = {"/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
                             "/usr/include/x86_64-linux-gnu/asm/unistd_32.h",
                             "/usr/include/x86_64-linux-gnu/asm/unistd_x32.h",
                             "/usr/include/asm-generic/unistd.h"};
    for (const char* h : headers) {
        if (::access(h, R_OK) != 0) {
            WARN("cannot check the syscall table: " << h << " missing (install linux-libc-dev)");
            return;
        }
    }
    if (std::system("python3 --version >/dev/null 2>&1") != 0) {
        WARN("cannot check the syscall table: python3 missing");
        return;
    }
    std::string src = bulkhead_test::source_dir();
    // Into a temp file (removed again), never the working directory.
    char tmpl[] = "/tmp/bulkhead-syscall-table.XXXXXX";
    int tfd = ::mkstemp(tmpl);
    REQUIRE(tfd >= 0);
    ::close(tfd);
    std::string out = tmpl;
    std::string cmd = "python3 '" + src + "/scripts/gen_syscall_tables.py' -o '" + out + "'";
    int rc = std::system(cmd.c_str());
    std::string fresh = slurp(out);
    ::unlink(out.c_str());
    REQUIRE(rc == 0);
    std::string committed = slurp(src + "/include/bulkhead/seccomp/syscall_table.hpp");
    REQUIRE(!fresh.empty());
    CHECK(committed == fresh);
}

TEST_CASE("syscall tables resolve names and numbers per architecture", "[unit]") {
    CHECK(*sc::resolve(arch::x86_64, "read") == 0);
    CHECK(*sc::resolve(arch::x86_64, "getppid") == 110);
    CHECK(*sc::resolve(arch::i386, "getppid") == 64);
    CHECK(*sc::resolve(arch::x32, "getppid") == 110);
    CHECK(*sc::resolve(arch::x32, "execve") == 520);
    CHECK(*sc::resolve(arch::aarch64, "openat") == 56);
    CHECK(*sc::resolve(arch::aarch64, "fstat") == 80);
    CHECK(*sc::resolve(arch::aarch64, "newfstatat") == 79);
    CHECK(*sc::resolve(arch::aarch64, "mmap") == 222);
    CHECK(!sc::resolve(arch::aarch64, "open"));
    CHECK(sc::table(arch::x86_64).name(59) == "execve");
    CHECK(sc::table(arch::x86_64).name(400).empty());
    auto e = sc::resolve(arch::x86_64, "no_such_call");
    REQUIRE(!e);
    CHECK(e.error().message().find("no_such_call") != std::string::npos);
    // Every entry round-trips.
    for (arch a : sc::all_arches) {
        auto t = sc::table(a);
        for (const auto& ent : t.by_name) {
            CHECK(t.name(ent.nr) == ent.name);
            CHECK(ent.nr <= t.max_nr);
        }
    }
    CHECK(sc::parse_arch("SCMP_ARCH_X86_64") == arch::x86_64);
    CHECK(sc::parse_arch("amd64") == arch::x86_64);
    CHECK(sc::parse_arch("SCMP_ARCH_X86") == arch::i386);
    CHECK(sc::parse_arch("arm64") == arch::aarch64);
    CHECK(!sc::parse_arch("mips"));
}

TEST_CASE("policy builder keeps the first error", "[unit]") {
    auto r = sc::policy_builder(arch::x86_64)
                 .allow("read")
                 .allow("not_a_syscall")
                 .add("write", action::errno_ret(5000))
                 .build();
    REQUIRE(!r);
    CHECK(r.error().message().find("not_a_syscall") != std::string::npos);
    auto r2 = sc::policy_builder(arch::x86_64).allow("read", {sc::condition{6, sc::cmp::eq, 0}}).build();
    REQUIRE(!r2);
    CHECK(r2.error().note_text().find("0..5") != std::string::npos);
    auto r3 = sc::policy_builder(arch::x86_64).deny("read", 4096).build();
    REQUIRE(!r3);
    CHECK(r3.error().note_text().find("4095") != std::string::npos);
    // A name of another architecture only is unknown here.
    CHECK(!sc::policy_builder(arch::aarch64).allow("open").build());
}

TEST_CASE("actions parse and print", "[unit]") {
    CHECK(sc::parse_action("allow") == action::allow());
    CHECK(sc::parse_action("ERRNO(13)") == action::errno_ret(13));
    CHECK(sc::parse_action("SCMP_ACT_KILL_PROCESS") == action::kill_process());
    CHECK(sc::parse_action("trap(7)") == action::trap(7));
    CHECK(sc::parse_action("notify") == action::user_notif());
    CHECK(!sc::parse_action("ERRNO(99999)"));
    CHECK(!sc::parse_action("bogus"));
    CHECK(action::errno_ret(1).str() == "ERRNO(1)");
    CHECK(action::kill_thread().str() == "KILL_THREAD");
}

TEST_CASE("model: AND within a rule, first matching rule wins, unsigned 64-bit", "[unit]") {
    auto p = sc::policy_builder(arch::x86_64)
                 .default_action(action::errno_ret(1))
                 .add("write", action::errno_ret(7), {arg(0) == 1, arg(2) > 100})
                 .add("write", action::allow(), {arg(0) < 3})
                 .build();
    REQUIRE(p);
    sc::data d{};
    d.arch = sc::audit_arch_x86_64;
    d.nr = 1;
    d.args[0] = 1;
    d.args[2] = 101;
    CHECK(p->evaluate(d) == action::errno_ret(7));
    d.args[2] = 100;
    CHECK(p->evaluate(d) == action::allow());
    d.args[0] = ~0ull; // -1 is the largest u64: not < 3
    CHECK(p->evaluate(d) == action::errno_ret(1));
    d.nr = 451; // above the table
    CHECK(p->evaluate(d) == action::errno_ret(ENOSYS));
    d.nr = static_cast<int>(sc::x32_syscall_bit | 1);
    CHECK(p->evaluate(d) == action::kill_process());
    d.arch = sc::audit_arch_i386;
    CHECK(p->evaluate(d) == action::kill_process());
    check_equivalent(*p);
}

TEST_CASE("compiled program equals the model: every action, every comparison, all arches", "[unit]") {
    auto b = sc::policy_builder(arch::x86_64);
    b.default_action(action::kill_thread())
        .allow({"read", "write", "close", "exit_group"})
        .add("getppid", action::errno_ret(99))
        .add("getpid", action::trap(3))
        .add("gettid", action::trace(4))
        .add("getuid", action::log())
        .add("getgid", action::user_notif())
        .add("kill", action::kill_process())
        .add("openat", action::allow(), {arg(2).masked_eq(0x3, 0)})
        .add("openat", action::errno_ret(13), {arg(2).masked_eq(0xffffffff00000003ull, 0x100000001ull)})
        .add("mmap", action::allow(), {arg(2) <= 3, arg(3) != 0x22})
        .add("mmap", action::errno_ret(12), {arg(0) >= 0x100000000ull})
        .add("ioctl", action::allow(), {arg(1) == 0x5401})
        .add("ioctl", action::allow(), {arg(1) == 0x5413})
        .add("ioctl", action::errno_ret(25), {arg(1) > 0xffffffff0000ull})
        .add("fcntl", action::allow(), {arg(1) < 5})
        .add("fcntl", action::allow(), {arg(1) >= 1024, arg(1) <= 1030})
        .add("lseek", action::allow(), {arg(2).masked_eq(0x8000000000000000ull, 0x8000000000000000ull)})
        .add("prctl", action::allow(), {arg(0).masked_eq(0xff00, 0x1200), arg(5) == 0, arg(4) != 7});
    b.for_arch(arch::i386)
        .default_action(action::errno_ret(1))
        .allow({"read", "write"})
        .add("socketcall", action::allow(), {arg(0) <= 5});
    b.for_arch(arch::x32).default_action(action::errno_ret(2)).allow("getppid", {arg(0) == 0});
    b.for_arch(arch::aarch64).enosys_above_max(false).allow({"openat", "read"});
    auto p = b.foreign_arch_action(action::errno_ret(95)).build();
    REQUIRE(p);
    auto prog = check_equivalent(*p);
    CHECK(prog.size() < 300);
}

TEST_CASE("Docker's profile resolves like Docker does for amd64 with default caps", "[unit]") {
    std::string path = docker_json_path();
    if (path.empty()) {
        WARN("docker-default.json not found under the shared data dir: cannot test");
        return;
    }
    sc::profile_options o;
    o.host = arch::x86_64;
    auto pr = sc::load_profile(path, o);
    if (!pr) FAIL(pr.error().message());
    const auto& ap = pr->policy.arches.at(0);
    CHECK(pr->policy.arches.size() == 1);
    CHECK(ap.default_action == action::errno_ret(1));
    // Allowed: unconditional ALLOW, or ALLOW for some arguments.
    std::size_t unconditional = 0, conditional = 0;
    for (const auto& [nr, rules] : ap.syscalls) {
        bool any_allow = std::any_of(rules.begin(), rules.end(), [](const sc::rule& r) { return r.act == action::allow(); });
        if (!any_allow) continue;
        if (rules.size() == 1 && rules[0].all_of.empty()) ++unconditional;
        else ++conditional;
    }
    // 292 without argument checks + personality, socket, clone; clone3 gets ENOSYS. The
    // 14 names newer than Linux 6.1's tables (cachestat ... removexattrat, uretprobe) are
    // skipped and answered ENOSYS by the filter.
    CHECK(unconditional == 292);
    CHECK(conditional == 3);
    auto clone3 = *sc::resolve(arch::x86_64, "clone3");
    REQUIRE(ap.syscalls.count(clone3));
    CHECK(ap.syscalls.at(clone3).at(0).act == action::errno_ret(ENOSYS));
    auto io_uring = *sc::resolve(arch::x86_64, "io_uring_setup");
    CHECK(!ap.syscalls.count(io_uring));
    CHECK(std::find(pr->skipped_names.begin(), pr->skipped_names.end(), "cachestat@x86_64") !=
          pr->skipped_names.end());

    auto prog = check_equivalent(pr->policy);
    // The issue's goals (libseccomp level 2: 415 insns, 12/15/22 executed).
    CHECK(prog.size() <= 160);
    std::vector<std::uint32_t> plain, checked;
    for (std::uint32_t nr = 0; nr <= sc::table(arch::x86_64).max_nr; ++nr) {
        if (sc::table(arch::x86_64).name(nr).empty()) continue;
        sc::data d{};
        d.arch = sc::audit_arch_x86_64;
        d.nr = static_cast<int>(nr);
        auto r = sc::run(prog, d);
        auto it = ap.syscalls.find(nr);
        bool has_args = it != ap.syscalls.end() && !it->second.empty() && !it->second[0].all_of.empty();
        if (!has_args) {
            CHECK(!r.loaded_args); // stays cacheable by the kernel
            if (r.verdict() == action::allow()) plain.push_back(r.executed);
        } else {
            for (auto v : seccomp_test::arg_values(pr->policy)) {
                d.args[0] = v;
                d.args[1] = v;
                checked.push_back(sc::run(prog, d).executed);
            }
        }
    }
    REQUIRE(!plain.empty());
    CHECK(*std::max_element(plain.begin(), plain.end()) <= 10);
    CHECK(*std::max_element(checked.begin(), checked.end()) <= 16);
}

TEST_CASE("Built-in Docker default equals the resolved JSON on x86_64", "[unit]") {
    std::string path = docker_json_path();
    if (path.empty()) {
        WARN("docker-default.json not found: cannot compare");
        return;
    }
    auto json = docker_json_policy();
    auto builtin = sc::docker_default(arch::x86_64);
    REQUIRE(builtin);
    std::size_t diffs = 0;
    seccomp_test::for_each_probe(json, [&](const sc::data& d) {
        if (json.evaluate(d) != builtin->evaluate(d) && diffs++ < 5)
            UNSCOPED_INFO("nr " << d.nr << " arg0 " << d.args[0] << ": json " << json.evaluate(d).str()
                                << " builtin " << builtin->evaluate(d).str());
    });
    CHECK(diffs == 0);
    check_equivalent(*builtin);
}

TEST_CASE("Web-site profile blocks the breakout surface and compiles equivalently", "[unit]") {
    for (arch a : sc::all_arches) {
        auto p = sc::web_site(a);
        REQUIRE(p);
        check_equivalent(*p);
        auto verdict = [&](std::string_view name, std::uint64_t a0 = 0) {
            sc::data d{};
            d.arch = sc::audit_arch(a);
            d.nr = static_cast<int>(*sc::resolve(a, name) + sc::nr_bias(a));
            d.args[0] = a0;
            return p->evaluate(d);
        };
        for (auto n : {"io_uring_setup", "ptrace", "process_vm_readv", "mount", "unshare", "setns",
                       "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
                       "kexec_load", "finit_module"})
            CHECK(verdict(n) == action::errno_ret(EPERM));
        CHECK(verdict("clone3") == action::errno_ret(ENOSYS));
        CHECK(verdict("clone", 0x11 /* SIGCHLD */) == action::allow());
        CHECK(verdict("clone", 0x10000000 /* CLONE_NEWUSER */) == action::errno_ret(EPERM));
        CHECK(verdict("read") == action::allow());
        CHECK(verdict("personality", 0) == action::allow());
        CHECK(verdict("personality", 0x0008) == action::errno_ret(EPERM));
    }
}

TEST_CASE("multi-arch Docker profile (archMap) compiles equivalently", "[unit]") {
    if (docker_json_path().empty()) {
        WARN("docker-default.json not found");
        return;
    }
    auto p = docker_json_policy(true);
    CHECK(p.arches.size() == 3); // x86_64, i386, x32
    check_equivalent(p);
}

TEST_CASE("long jumps get trampolines; over BPF_MAXINSNS is an error", "[unit]") {
    // Many argument-checked syscalls: the tree's jumps to their blocks exceed 255.
    auto b = sc::policy_builder(arch::x86_64);
    b.default_action(action::errno_ret(1));
    auto t = sc::table(arch::x86_64);
    int i = 0;
    for (const auto& e : t.by_name) {
        if (++i % 2) b.add(e.name, action::allow(), {arg(static_cast<std::uint8_t>(i % 6)) == static_cast<std::uint64_t>(i) * 0x100000001ull, arg(1) != 3});
        else b.add(e.name, action::errno_ret(static_cast<std::uint16_t>(i)));
    }
    auto p = b.build();
    REQUIRE(p);
    auto prog = check_equivalent(*p);
    CHECK(prog.size() > 256);
    bool has_ja = std::any_of(prog.begin(), prog.end(), [](const sc::insn& x) { return x.code == (BPF_JMP | BPF_JA) && x.k > 0; });
    CHECK(has_ja);

    auto big = sc::policy_builder(arch::x86_64);
    std::uint64_t salt = 0;
    for (const auto& e : t.by_name) {
        ++salt;
        for (std::uint64_t v = 0; v < 12; ++v) big.add(e.name, action::errno_ret(static_cast<std::uint16_t>(v + 1)), {arg(0) == v * 7 + (salt << 32), arg(1) == v + salt});
    }
    auto bp = big.build();
    REQUIRE(bp);
    auto r = sc::compile(*bp);
    REQUIRE(!r);
    CHECK(r.error().code() == bulkhead::errc::too_large);
    CHECK(r.error().message().find("BPF_MAXINSNS") != std::string::npos);
}

TEST_CASE("random policies compile to the model's verdicts", "[unit]") {
    std::mt19937_64 rng(12345);
    auto t = sc::table(arch::x86_64);
    const action acts[] = {action::allow(), action::errno_ret(1), action::errno_ret(38), action::kill_process(),
                           action::trap(1), action::log(), action::kill_thread(), action::user_notif()};
    for (int round = 0; round < 25; ++round) {
        auto b = sc::policy_builder(arch::x86_64);
        b.default_action(acts[rng() % 8]);
        int n = static_cast<int>(rng() % 120);
        for (int k = 0; k < n; ++k) {
            auto name = t.by_name[rng() % t.by_name.size()].name;
            std::vector<sc::condition> conds;
            int nc = static_cast<int>(rng() % 3);
            for (int c = 0; c < nc; ++c) {
                sc::condition cd;
                cd.arg = static_cast<std::uint8_t>(rng() % 3);
                cd.op = static_cast<sc::cmp>(rng() % 7);
                std::uint64_t vals[] = {0, 1, 5, 0xffffffff, 0x100000000ull, ~0ull, rng()};
                cd.value = vals[rng() % 7];
                cd.mask = vals[rng() % 7];
                if (cd.op == sc::cmp::masked_eq && (rng() % 2)) cd.value &= cd.mask;
                conds.push_back(cd);
            }
            b.add(name, acts[rng() % 8], conds);
        }
        auto p = b.build();
        REQUIRE(p);
        check_equivalent(*p);
    }
}

TEST_CASE("profile errors name the file, the JSON path, the position and why", "[unit]") {
    sc::profile_options o;
    o.source = "site.json";
    auto r = sc::parse_profile(R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
  {"names":["read"],"action":"SCMP_ACT_ALLOW"},
  {"names":["write"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_BOGUS"}]}]})", o);
    REQUIRE(!r);
    auto m = r.error().message();
    CHECK(m.find("site.json") != std::string::npos);
    CHECK(m.find("syscalls[1].args[0].op") != std::string::npos);
    CHECK(r.error().line() == 3);
    auto u = sc::parse_profile(R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["raed"],"action":"SCMP_ACT_ALLOW"}]})", o);
    REQUIRE(!u);
    CHECK(u.error().message().find("syscalls[0].names[0]") != std::string::npos);
    CHECK(u.error().message().find("raed") != std::string::npos);
    auto j = sc::parse_profile("{\"defaultAction\": }", o);
    REQUIRE(!j);
    CHECK(j.error().message().find("site.json") != std::string::npos);
    CHECK(!sc::parse_profile(R"({"syscalls":[]})", o));
    CHECK(!sc::parse_profile(R"({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":5000})", o));
    CHECK(!sc::parse_profile(R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]})", o));
}

TEST_CASE("OCI config.json linux.seccomp, errnoRet, masked_eq valueTwo, runc's same-arg OR", "[unit]") {
    // The numbers below are x86_64's: resolve as on an x86_64 host whatever this one is.
    sc::profile_options x86_64_host;
    x86_64_host.host = sc::arch::x86_64;
    auto r = sc::parse_profile(R"({"ociVersion":"1.0.2","linux":{"seccomp":{
        "defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[
          {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":99},
          {"names":["mmap"],"action":"SCMP_ACT_ALLOW","args":[{"index":2,"value":4,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
          {"names":["ioctl"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":2,"op":"SCMP_CMP_EQ"}]},
          {"names":["write"],"action":"SCMP_ACT_NOTIFY"}]}}})",
                              x86_64_host);
    if (!r) FAIL(r.error().message());
    sc::data d{};
    d.arch = sc::audit_arch_x86_64;
    d.nr = 110;
    CHECK(r->policy.evaluate(d) == action::errno_ret(99));
    d.nr = 9;
    d.args[2] = 3;
    CHECK(r->policy.evaluate(d) == action::allow());
    d.args[2] = 7;
    CHECK(r->policy.evaluate(d) == action::errno_ret(38));
    d.nr = 16;
    d.args[1] = 2; // same index twice: ORed like runc
    CHECK(r->policy.evaluate(d) == action::allow());
    d.nr = 1;
    CHECK(r->policy.evaluate(d) == action::user_notif());
    check_equivalent(r->policy);
    auto flags = sc::install_options_from({"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"});
    REQUIRE(flags);
    CHECK(flags->log);
    CHECK(flags->tsync);
    CHECK(!flags->new_listener);
    auto bad = sc::install_options_from({"SECCOMP_FILTER_FLAG_BOGUS"});
    REQUIRE(!bad);
    CHECK(bad.error().message().find("BOGUS") != std::string::npos);
}

TEST_CASE("emulator and checker follow the kernel's rules", "[unit]") {
    sc::program bad{BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), BPF_STMT(BPF_RET | BPF_K, 0)};
    CHECK(!sc::check(bad));
    sc::program oob{BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0), BPF_STMT(BPF_RET | BPF_K, 0)};
    CHECK(!sc::check(oob));
    sc::program noret{BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0)};
    CHECK(!sc::check(noret));
    sc::program alu{BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0), BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 0x7fff0000),
                    BPF_STMT(BPF_RET | BPF_A, 0)};
    REQUIRE(sc::check(alu));
    sc::data d{};
    d.nr = 5;
    auto r = sc::run(alu, d);
    CHECK(r.ret == 0x7fff0005u);
    CHECK(r.executed == 3);
    CHECK(!r.loaded_args);
}

TEST_CASE("disassembler names syscalls and actions", "[unit]") {
    auto p = sc::policy_builder(arch::x86_64).default_action(action::errno_ret(1)).allow("getppid").build();
    REQUIRE(p);
    auto prog = sc::compile(*p);
    REQUIRE(prog);
    auto text = sc::disassemble(*prog, arch::x86_64);
    CHECK(text.find("ld [arch]") != std::string::npos);
    CHECK(text.find("AUDIT_ARCH_X86_64") != std::string::npos);
    CHECK(text.find("(getppid)") != std::string::npos);
    CHECK(text.find("ret ALLOW") != std::string::npos);
    CHECK(text.find("ret ERRNO(1)") != std::string::npos);
}

TEST_CASE("golden programs: Docker default and web-site on x86_64", "[unit]") {
    // The listings are committed; a layout change shows up as a diff here. Regenerate with
    // BULKHEAD_UPDATE_GOLDEN=1 after checking the new figures.
    std::string dir = bulkhead_test::source_dir() + "/tests/seccomp/golden/";
    std::vector<std::pair<std::string, sc::policy>> cases;
    if (!docker_json_path().empty()) cases.emplace_back("docker_default_x86_64.txt", docker_json_policy());
    else WARN("docker-default.json missing: its golden program is not checked");
    cases.emplace_back("web_site_x86_64.txt", *sc::web_site(arch::x86_64));
    for (auto& [file, p] : cases) {
        auto prog = sc::compile(p);
        REQUIRE(prog);
        std::string text = sc::disassemble(*prog, arch::x86_64);
        if (std::getenv("BULKHEAD_UPDATE_GOLDEN")) {
            std::ofstream(dir + file, std::ios::binary) << text;
            WARN("golden " << file << " rewritten");
            continue;
        }
        std::string want = slurp(dir + file);
        INFO(file);
        REQUIRE(!want.empty());
        CHECK(text == want);
    }
}
