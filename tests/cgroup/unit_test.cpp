// Unit tier: parsers, validators and formatters of the cgroup module, fed real kernel output
// (copied from a 6.1 guest and this 6.18 host) and broken variants of it.
#include "bulkhead/cgroup.hpp"

#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <string>

using namespace bulkhead;

TEST_CASE("max-or-number and sizes", "[unit]") {
    CHECK(*cg::parse_max_or_number("max\n", "memory.max") == cg::unlimited);
    CHECK(*cg::parse_max_or_number("33554432\n", "memory.max") == 33554432u);
    auto bad = cg::parse_max_or_number("12x", "memory.max");
    REQUIRE(!bad);
    CHECK(bad.error().message().find("memory.max") != std::string::npos);

    CHECK(*cg::parse_size("64M", "memory.max") == 64ull << 20);
    CHECK(*cg::parse_size("2g", "memory.max") == 2ull << 30);
    CHECK(*cg::parse_size("max", "memory.max") == cg::unlimited);
    CHECK(*cg::parse_size("4096", "memory.max") == 4096u);
    auto neg = cg::parse_size("-5", "memory.max");
    REQUIRE(!neg);
    CHECK(neg.error().message() == "cgroup: write memory.max \"-5\": Invalid argument (negative)");
    CHECK(!cg::parse_size("", "memory.max"));
    CHECK(!cg::parse_size("1.5G", "memory.max"));
    CHECK(!cg::parse_size("M", "memory.max"));
    auto big = cg::parse_size("99999999999T", "memory.high");
    REQUIRE(!big);
    CHECK(big.error().message() == "cgroup: write memory.high \"99999999999T\": Invalid argument (out of range)");
    CHECK(cg::format_max_or_number(cg::unlimited) == "max");
    CHECK(cg::format_max_or_number(5) == "5");
}

TEST_CASE("cpu.max validation and round trip", "[unit]") {
    CHECK(*cg::format_cpu_max({50000, 100000}) == "50000 100000");
    CHECK(*cg::format_cpu_max({}) == "max 100000");
    auto zero = cg::format_cpu_max({50000, 0});
    REQUIRE(!zero);
    CHECK(zero.error().message() == "cgroup: write cpu.max \"50000 0\": Invalid argument (zero period)");
    CHECK(!cg::format_cpu_max({50000, 999}));
    CHECK(!cg::format_cpu_max({50000, 1000001}));
    CHECK(!cg::format_cpu_max({999, 100000}));
    CHECK(cg::format_cpu_max({1000, 1000}));

    auto p = cg::parse_cpu_max("max 100000\n");
    REQUIRE(p);
    CHECK(p->quota_us == cg::unlimited);
    CHECK(p->period_us == 100000u);
    CHECK((*cg::parse_cpu_max("10000 50000") == cg::cpu_max{10000, 50000}));
    CHECK(cg::parse_cpu_max("20000")->period_us == 100000u);
    auto bad = cg::parse_cpu_max("10000 x");
    REQUIRE(!bad);
    CHECK(bad.error().column() == 7);
    CHECK(!cg::parse_cpu_max(""));
    CHECK(!cg::parse_cpu_max("1 2 3"));
    CHECK(!cg::parse_cpu_max("-1 100000"));
}

TEST_CASE("weights, cpusets, pids", "[unit]") {
    CHECK(cg::validate_weight("cpu.weight", 1));
    CHECK(cg::validate_weight("cpu.weight", 10000));
    auto w = cg::validate_weight("cpu.weight", 0);
    REQUIRE(!w);
    CHECK(w.error().message() == "cgroup: write cpu.weight \"0\": Invalid argument (weight must be 1..10000)");
    CHECK(!cg::validate_weight("io.weight", 10001));
    CHECK(*cg::parse_weight("100\n", "cpu.weight") == 100u);
    CHECK(*cg::parse_weight("default 250\n8:0 400\n", "io.weight") == 250u);
    CHECK(!cg::parse_weight("abc", "cpu.weight"));
    CHECK(!cg::parse_weight("", "cpu.weight"));

    CHECK(cg::validate_cpuset_list("cpuset.cpus", "0-3,6,8-9"));
    CHECK(cg::validate_cpuset_list("cpuset.cpus", ""));
    CHECK(!cg::validate_cpuset_list("cpuset.cpus", "3-1"));
    CHECK(!cg::validate_cpuset_list("cpuset.cpus", "0,,1"));
    CHECK(!cg::validate_cpuset_list("cpuset.cpus", "a"));
    CHECK(!cg::validate_cpuset_list("cpuset.mems", "-1"));

    CHECK(cg::validate_pids_max(0));
    CHECK(cg::validate_pids_max(cg::unlimited));
    auto p = cg::validate_pids_max(5000000);
    REQUIRE(!p);
    CHECK(p.error().message().find("pids.max \"5000000\"") != std::string::npos);
}

TEST_CASE("io.max format and parse", "[unit]") {
    cg::io_max m;
    m.device = {7, 0};
    m.rbps = 1048576;
    m.wiops = cg::unlimited;
    CHECK(*cg::format_io_max(m) == "7:0 rbps=1048576 wiops=max");
    cg::io_max none;
    none.device = {8, 0};
    auto n = cg::format_io_max(none);
    REQUIRE(!n);
    CHECK(n.error().message().find("no limit given") != std::string::npos);
    none.rbps = 0;
    CHECK(!cg::format_io_max(none));

    auto p = cg::parse_io_max("7:0 rbps=1048576 wbps=max riops=max wiops=100\n8:16 rbps=max wbps=5 riops=max wiops=max\n");
    REQUIRE(p);
    REQUIRE(p->size() == 2);
    CHECK((*p)[0].device == cg::device_number{7, 0});
    CHECK(*(*p)[0].rbps == 1048576u);
    CHECK(*(*p)[0].wbps == cg::unlimited);
    CHECK(*(*p)[0].wiops == 100u);
    CHECK(*(*p)[1].wbps == 5u);
    CHECK(cg::parse_io_max("")->empty());
    auto bad = cg::parse_io_max("7:0 rbps=1\n7:x rbps=2\n");
    REQUIRE(!bad);
    CHECK(bad.error().line() == 2);
    CHECK(!cg::parse_io_max("7:0 rbps\n"));
    CHECK(!cg::parse_io_max("7:0 rbps=-1\n"));

    CHECK((*cg::parse_device_number("259:3") == cg::device_number{259, 3}));
    CHECK(!cg::parse_device_number("259"));
    CHECK(!cg::parse_device_number("a:b"));
    CHECK(!cg::parse_device_number(":1"));
}

TEST_CASE("flat keyed files", "[unit]") {
    const char* cpu = "usage_usec 1174\nuser_usec 0\nsystem_usec 1174\ncore_sched.force_idle_usec 0\n"
                      "nr_periods 11\nnr_throttled 10\nthrottled_usec 903211\nnr_bursts 0\nburst_usec 0\n";
    auto c = cg::parse_cpu_stat(cpu);
    REQUIRE(c);
    CHECK(c->usage_usec == 1174u);
    CHECK(c->system_usec == 1174u);
    CHECK(c->nr_periods == 11u);
    CHECK(c->nr_throttled == 10u);
    CHECK(c->throttled_usec == 903211u);

    auto m = cg::parse_memory_events("low 0\nhigh 3\nmax 120\noom 1\noom_kill 1\noom_group_kill 0\n");
    REQUIRE(m);
    CHECK(m->high == 3u);
    CHECK(m->max == 120u);
    CHECK(m->oom == 1u);
    CHECK(m->oom_kill == 1u);

    auto e = cg::parse_cgroup_events("populated 1\nfrozen 0\n");
    REQUIRE(e);
    CHECK(e->populated);
    CHECK(!e->frozen);

    auto s = cg::parse_cgroup_stat("nr_descendants 2\nnr_dying_descendants 1\nnr_subsys_cpu 3\n");
    REQUIRE(s);
    CHECK(s->nr_descendants == 2u);
    CHECK(s->nr_dying_descendants == 1u);

    auto ms = cg::parse_keyed("anon 4096\nfile 8192\nkernel 0\npgfault 17\n", "memory.stat");
    REQUIRE(ms);
    CHECK(*ms->get("file") == 8192u);
    CHECK(!ms->get("nope"));

    auto bad = cg::parse_cpu_stat("usage_usec 1\nnr_periods -1\n");
    REQUIRE(!bad);
    CHECK(bad.error().line() == 2);
    CHECK(bad.error().column() == 12);
    CHECK(bad.error().message().find("cpu.stat") != std::string::npos);
    CHECK(!cg::parse_memory_events("oom\n"));
    CHECK(cg::parse_pids_events("max 7\n") == 7u);
    CHECK(cg::parse_pids_events("") == 0u);
    CHECK(!cg::parse_pids_events("max x\n"));
    CHECK(!cg::parse_cgroup_events("populated 1 2\n"));
    CHECK(cg::parse_cgroup_events("")->populated == false);
}

TEST_CASE("io.stat", "[unit]") {
    auto s = cg::parse_io_stat("7:0 rbytes=1048576 wbytes=0 rios=256 wios=0 dbytes=0 dios=0\n"
                               "254:0 rbytes=5 wbytes=6 rios=7 wios=8 dbytes=9 dios=10 cost.vrate=100.00 cost.usage=3\n");
    REQUIRE(s);
    REQUIRE(s->size() == 2);
    CHECK((*s)[0].device == cg::device_number{7, 0});
    CHECK((*s)[0].rbytes == 1048576u);
    CHECK((*s)[0].rios == 256u);
    CHECK((*s)[1].dios == 10u);
    CHECK(cg::parse_io_stat("")->empty());
    CHECK(!cg::parse_io_stat("7:0 rbytes=x\n"));
    CHECK(!cg::parse_io_stat("7:0 =1\n"));
    CHECK(!cg::parse_io_stat("sda rbytes=1\n"));
}

TEST_CASE("PSI files and triggers", "[unit]") {
    auto p = cg::parse_psi("some avg10=1.25 avg60=0.50 avg300=0.00 total=123456\n"
                           "full avg10=0.00 avg60=0.00 avg300=0.00 total=42\n");
    REQUIRE(p);
    CHECK(p->some.avg10 == Approx(1.25));
    CHECK(p->some.avg60 == Approx(0.5));
    CHECK(p->some.total_usec == 123456u);
    CHECK(p->has_full);
    CHECK(p->full.total_usec == 42u);
    auto cpu = cg::parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
    REQUIRE(cpu);
    CHECK(!cpu->has_full);
    CHECK(!cg::parse_psi(""));
    CHECK(!cg::parse_psi("some avg10=0.00 avg60=0.00 total=0\n"));
    CHECK(!cg::parse_psi("some avg10=0.00 avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"));
    CHECK(!cg::parse_psi("some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n"));
    CHECK(!cg::parse_psi("some avg10=100.01 avg60=0.00 avg300=0.00 total=0\n"));
    CHECK(!cg::parse_psi("half avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"));
    auto bad = cg::parse_psi("some avg10=0.00 avg60=nan avg300=0.00 total=0\n", "memory.pressure");
    REQUIRE(!bad);
    CHECK(bad.error().message().find("memory.pressure at line 1:17") != std::string::npos);

    CHECK(*cg::format_psi_trigger({}) == "some 150000 1000000");
    CHECK(*cg::format_psi_trigger({true, 100000, 2000000}) == "full 100000 2000000");
    CHECK(!cg::format_psi_trigger({false, 0, 1000000}));
    CHECK(!cg::format_psi_trigger({false, 2000000, 1000000}));
    auto w = cg::format_psi_trigger({false, 1000, 100000}, "memory.pressure");
    REQUIRE(!w);
    CHECK(w.error().message() ==
          "cgroup: write memory.pressure \"some 1000 100000\": Invalid argument (window must be 500000..10000000 us)");
}

TEST_CASE("controller of an interface file", "[unit]") {
    CHECK(cg::controller_of("memory.max") == "memory");
    CHECK(cg::controller_of("io.max") == "io");
    CHECK(cg::controller_of("cgroup.procs").empty());
    CHECK(cg::controller_of("memory.pressure").empty());
    CHECK(cg::controller_of("noext").empty());
}

// Verbatim from this hybrid machine (trimmed), with an escaped mount point added.
static const char* hybrid_mountinfo =
    "22 1 0:21 / / rw,relatime - ext4 /dev/vda rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:5 - cgroup2 cgroup2 rw\n"
    "50 22 0:40 / /mnt/with\\040space rw - tmpfs tmpfs rw\n";
static const char* hybrid_proc_cgroups =
    "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
    "cpuset\t3\t1\t1\ncpu\t1\t1\t1\nblkio\t7\t1\t1\nmemory\t4\t14\t1\nhugetlb\t0\t1\t1\n"
    "pids\t8\t1\t1\nrdma\t0\t1\t0\n";

TEST_CASE("mountinfo, /proc/cgroups, /proc/self/cgroup", "[unit]") {
    auto m = cg::parse_mountinfo(hybrid_mountinfo);
    REQUIRE(m);
    REQUIRE(m->size() == 8);
    CHECK((*m)[6].fstype == "cgroup2");
    CHECK((*m)[6].mount_point == "/sys/fs/cgroup/unified");
    CHECK((*m)[2].super_options == "rw,cpu");
    CHECK((*m)[7].mount_point == "/mnt/with space");
    CHECK(!cg::parse_mountinfo("1 2 3\n"));
    CHECK(!cg::parse_mountinfo("1 2 0:1 / /x rw shared:1 -\n"));

    auto pc = cg::parse_proc_cgroups(hybrid_proc_cgroups);
    REQUIRE(pc);
    CHECK(pc->size() == 7);
    CHECK((*pc)[3].name == "memory");
    CHECK((*pc)[3].hierarchy == 4u);
    CHECK(!(*pc)[6].enabled);
    CHECK(!cg::parse_proc_cgroups("memory 4 x 1\n"));

    CHECK(*cg::parse_proc_pid_cgroup("9:name=systemd:/\n4:memory:/x\n0::/site/nginx\n") == "/site/nginx");
    auto none = cg::parse_proc_pid_cgroup("4:memory:/x\n");
    REQUIRE(!none);
    CHECK(none.error().code() == make_error_code(errc::not_found));
}

TEST_CASE("discovery from text: hybrid and pure v2", "[unit]") {
    auto sys = cg::discover_from(hybrid_mountinfo, "0::/\n", hybrid_proc_cgroups);
    REQUIRE(sys);
    CHECK(sys->mount == "/sys/fs/cgroup/unified");
    CHECK(sys->self_path() == "/sys/fs/cgroup/unified");
    CHECK(sys->hybrid());
    CHECK(*sys->v1_mount_of("memory") == "/sys/fs/cgroup/memory");
    CHECK(*sys->v1_mount_of("io") == "/sys/fs/cgroup/blkio");
    CHECK(!sys->v1_mount_of("hugetlb"));
    CHECK(sys->kernel_controller("io")->name == "blkio");

    auto pure = cg::discover_from("30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
                                  "0::/user.slice\n", "");
    REQUIRE(pure);
    CHECK(!pure->hybrid());
    CHECK(pure->self_path() == "/sys/fs/cgroup/user.slice");

    // A container that sees only its own subtree bind-mounted at /sys/fs/cgroup.
    auto sub = cg::discover_from("40 1 0:26 /site/php /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
                                 "0::/site/php/worker\n", "");
    REQUIRE(sub);
    CHECK(sub->mount_root == "/site/php");
    CHECK(sub->self_path() == "/sys/fs/cgroup/worker");
    auto both = cg::discover_from("40 1 0:26 /x /a rw - cgroup2 cgroup2 rw\n41 1 0:26 / /b rw - cgroup2 cgroup2 rw\n",
                                  "0::/\n", "");
    REQUIRE(both);
    CHECK(both->mount == "/b");

    auto none = cg::discover_from("22 1 0:21 / / rw - ext4 /dev/vda rw\n", "0::/\n", "");
    REQUIRE(!none);
    CHECK(none.error().message().find("no cgroup2 filesystem is mounted") != std::string::npos);
}

TEST_CASE("docs/cgroup.md shows tests/cgroup/doc_example.cpp verbatim", "[unit]") {
    auto root = bulkhead_test::source_dir();
    auto doc = read_file((root + "/docs/cgroup.md").c_str());
    auto src = read_file((root + "/tests/cgroup/doc_example.cpp").c_str());
    REQUIRE(doc);
    REQUIRE(src);
    // The file minus its first comment line is the docs' code block.
    std::string body = src->substr(src->find('\n') + 1);
    std::string marker = "This is `tests/cgroup/doc_example.cpp`, compiled and run by the VM tier:\n\n```cpp\n";
    auto at = doc->find(marker);
    REQUIRE(at != std::string::npos);
    auto start = at + marker.size();
    auto end = doc->find("```", start);
    REQUIRE(end != std::string::npos);
    CHECK(doc->substr(start, end - start) == body);
}
