#include "bulkhead/ns.hpp"
#include "bulkhead/sandbox.hpp"

#include <catch2/catch.hpp>

#include <cstring>

using namespace bulkhead;

TEST_CASE("subuid parsing", "[unit][ns]") {
    auto r = ns::parse_subid("# comment\nroot:100000:65536\n\n  www:165536:65536  \n1000:231072:1000\n", "/etc/subuid");
    REQUIRE(r);
    REQUIRE(r->size() == 3);
    CHECK((*r)[0].owner == "root");
    CHECK((*r)[0].start == 100000);
    CHECK((*r)[0].count == 65536);
    CHECK((*r)[0].line == 2);
    CHECK((*r)[1].owner == "www");
    CHECK((*r)[1].line == 4);
    CHECK((*r)[2].owner == "1000");

    auto bad = ns::parse_subid("root:100000:65536\nroot:1x:5\n", "/etc/subuid");
    REQUIRE(!bad);
    CHECK(bad.error().line() == 2);
    CHECK(bad.error().column() == 6);
    CHECK(bad.error().message() == "subordinate ids /etc/subuid at line 2:6: parse error (start is not a 32-bit unsigned number)");

    auto fields = ns::parse_subid("root:1\n", "f");
    REQUIRE(!fields);
    CHECK(fields.error().line() == 1);
    auto zero = ns::parse_subid("root:1:0\n", "f");
    REQUIRE(!zero);
    CHECK(zero.error().column() == 8);
    auto overflow = ns::parse_subid("root:4294967295:2\n", "f");
    REQUIRE(!overflow);
    auto noowner = ns::parse_subid(":1:2\n", "f");
    REQUIRE(!noowner);
    auto extra = ns::parse_subid("a:1:2:3\n", "f");
    REQUIRE(!extra);
}

TEST_CASE("subordinate id allocation is disjoint", "[unit][ns]") {
    auto e = ns::parse_subid("root:100000:65536\nroot:300000:200000\nother:500000:65536\n");
    REQUIRE(e);
    ns::subid_allocator a(*e, "root", "0");
    auto s1 = a.allocate(65536);
    REQUIRE(s1);
    CHECK(*s1 == 100000);
    auto s2 = a.allocate(65536);
    REQUIRE(s2);
    CHECK(*s2 == 300000); // the first range is full
    REQUIRE(a.reserve(365536, 1000));
    auto s3 = a.allocate(65536);
    REQUIRE(s3);
    CHECK(*s3 == 366536);
    auto s4 = a.allocate(65536);
    REQUIRE(s4);
    CHECK(*s4 == 432072);
    auto s5 = a.allocate(65536); // 497608 + 65536 passes the end at 500000
    REQUIRE(!s5);
    CHECK(s5.error().code() == make_error_code(errc::not_available));
    auto small = a.allocate(1000);
    REQUIRE(small);
    CHECK(*small == 497608);
    CHECK(!a.reserve(100010, 5));
    auto m = ns::subid_allocator::map_for(*s1, 65536);
    CHECK(m.to_proc_text() == "0 100000 65536\n");
}

TEST_CASE("id maps", "[unit][ns]") {
    auto m = ns::id_map::parse_spec("0:100000:1000,1000:5000:1,2000:200000:10");
    REQUIRE(m);
    CHECK(m->ranges().size() == 3);
    CHECK(m->to_proc_text() == "0 100000 1000\n1000 5000 1\n2000 200000 10\n");
    CHECK(m->to_outside(999) == 100999u);
    CHECK(m->to_outside(1000) == 5000u);
    CHECK(!m->to_outside(1001));

    auto bad = ns::id_map::parse_spec("0:1:x");
    REQUIRE(!bad);
    CHECK(bad.error().offset() == 4);
    CHECK(!ns::id_map::parse_spec("0:1"));
    auto overlap = ns::id_map::parse_spec("0:100:10,5:200:10");
    REQUIRE(!overlap);
    CHECK(overlap.error().message().find("inside ids overlap") != std::string::npos);
    CHECK(!ns::id_map::parse_spec("0:100:10,50:105:10"));
    CHECK(!ns::id_map::parse_spec("0:4294967295:2"));
    CHECK(!ns::id_map::parse_spec("0:1:0"));
    ns::id_map big;
    for (std::uint32_t i = 0; i < 341; ++i) big.add({i, i + 1000, 1});
    CHECK(!big.validate());
}

TEST_CASE("capability and rlimit names", "[unit][ns]") {
    CHECK(*ns::parse_capability("CAP_NET_BIND_SERVICE") == 10);
    CHECK(*ns::parse_capability("net_bind_service") == 10);
    CHECK(*ns::parse_capability("Cap_Sys_Admin") == 21);
    CHECK(*ns::parse_capability("checkpoint_restore") == 40);
    CHECK(*ns::parse_capability("7") == 7);
    auto bad = ns::parse_capability("CAP_FLY");
    REQUIRE(!bad);
    CHECK(bad.error().message() == "capability \"CAP_FLY\": not found (not a capability name (e.g. CAP_NET_BIND_SERVICE))");
    CHECK(ns::capability_name(10) == "CAP_NET_BIND_SERVICE");
    CHECK(ns::capability_name(0) == "CAP_CHOWN");
    for (const auto& c : ns::detail::cap_table) CHECK(*ns::parse_capability(ns::capability_name(c.value)) == c.value);

    CHECK(*ns::parse_rlimit_name("NOFILE") == RLIMIT_NOFILE);
    CHECK(*ns::parse_rlimit_name("rlimit_nproc") == RLIMIT_NPROC);
    CHECK(!ns::parse_rlimit_name("files"));
    auto r = ns::parse_rlimit("NOFILE=64:128");
    REQUIRE(r);
    CHECK(r->resource == RLIMIT_NOFILE);
    CHECK(r->soft == 64);
    CHECK(r->hard == 128);
    auto r2 = ns::parse_rlimit("as=unlimited");
    REQUIRE(r2);
    CHECK(r2->soft == RLIM_INFINITY);
    CHECK(r2->hard == RLIM_INFINITY);
    auto r3 = ns::parse_rlimit("core=0");
    REQUIRE(r3);
    CHECK(r3->hard == 0);
    CHECK(!ns::parse_rlimit("NOFILE"));
    CHECK(!ns::parse_rlimit("NOFILE=x"));
    auto r4 = ns::parse_rlimit("NOFILE=10:x");
    REQUIRE(!r4);
    CHECK(r4.error().offset() == 10);
    CHECK(!ns::parse_rlimit("NOFILE=200:100"));
}

TEST_CASE("the kernel's last capability, probed and as procfs says", "[unit][ns]") {
    auto text = bulkhead::read_file("/proc/sys/kernel/cap_last_cap");
    REQUIRE(text);
    auto v = bulkhead::detail::parse_int<int>(bulkhead::detail::trim(*text));
    REQUIRE(v);
    CHECK(ns::kernel_cap_last_cap() == *v);
}

TEST_CASE("namespace kinds", "[unit][ns]") {
    CHECK(ns::parse_kind("mnt") == ns::kind::mount);
    CHECK(ns::parse_kind("mount") == ns::kind::mount);
    CHECK(ns::parse_kind("cgroup") == ns::kind::cgroup);
    CHECK(!ns::parse_kind("fs"));
    CHECK(ns::kind_set::all().flags() == (CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET |
                                          CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWTIME));
    CHECK(ns::proc_path(ns::kind::mount, 42) == "/proc/42/ns/mnt");
}

TEST_CASE("ip prefixes", "[unit][ns]") {
    auto a = ns::ip_prefix::parse("10.1.2.3/24");
    REQUIRE(a);
    CHECK(a->family == AF_INET);
    CHECK(a->prefix == 24);
    CHECK(a->addr[0] == 10);
    CHECK(a->addr[3] == 3);
    CHECK(a->to_string() == "10.1.2.3/24");
    auto b = ns::ip_prefix::parse("fd00::1");
    REQUIRE(b);
    CHECK(b->family == AF_INET6);
    CHECK(b->prefix == 128);
    CHECK(b->to_string() == "fd00::1/128");
    CHECK(!ns::ip_prefix::parse("10.1.2.3/33"));
    CHECK(!ns::ip_prefix::parse("10.1.2/8"));
    CHECK(!ns::ip_prefix::parse("fd00::1/129"));
}

namespace {
std::uint32_t u32_at(std::span<const std::uint8_t> b, std::size_t off) {
    std::uint32_t v;
    std::memcpy(&v, b.data() + off, 4);
    return v;
}
std::uint16_t u16_at(std::span<const std::uint8_t> b, std::size_t off) {
    std::uint16_t v;
    std::memcpy(&v, b.data() + off, 2);
    return v;
}
} // namespace

TEST_CASE("netlink request building", "[unit][ns]") {
    auto m = ns::rtnl::build_create_veth("ha", "sb", 7);
    auto b = m.bytes();
    REQUIRE(b.size() >= 16);
    CHECK(u32_at(b, 0) == b.size());
    CHECK(u16_at(b, 4) == RTM_NEWLINK);
    CHECK(u16_at(b, 6) == (NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL));
    // Walk it back with the reply parsers: header, ifinfomsg, then IFLA_IFNAME + IFLA_LINKINFO.
    auto msgs = ns::parse_nl_replies(b);
    REQUIRE(msgs);
    REQUIRE(msgs->size() == 1);
    auto payload = (*msgs)[0].payload;
    auto attrs = ns::parse_rtattrs(payload.subspan(sizeof(ifinfomsg)));
    REQUIRE(attrs);
    REQUIRE(attrs->size() == 2);
    CHECK((*attrs)[0].type == IFLA_IFNAME);
    CHECK(std::string(reinterpret_cast<const char*>((*attrs)[0].data.data())) == "ha");
    CHECK((*attrs)[1].type == IFLA_LINKINFO);
    auto li = ns::parse_rtattrs((*attrs)[1].data);
    REQUIRE(li);
    REQUIRE(li->size() == 2);
    CHECK((*li)[0].type == IFLA_INFO_KIND);
    CHECK(std::string(reinterpret_cast<const char*>((*li)[0].data.data())) == "veth");
    auto data = ns::parse_rtattrs((*li)[1].data);
    REQUIRE(data);
    REQUIRE(data->size() == 1);
    CHECK((*data)[0].type == VETH_INFO_PEER);
    auto peer = ns::parse_rtattrs((*data)[0].data.subspan(sizeof(ifinfomsg)));
    REQUIRE(peer);
    REQUIRE(peer->size() == 2);
    CHECK(std::string(reinterpret_cast<const char*>((*peer)[0].data.data())) == "sb");
    CHECK((*peer)[1].type == IFLA_NET_NS_FD);
    CHECK(u32_at((*peer)[1].data, 0) == 7);

    auto addr = ns::ip_prefix::parse("fd00::2/64");
    REQUIRE(addr);
    auto am = ns::rtnl::build_add_address(3, *addr);
    auto ab = am.bytes();
    CHECK(u16_at(ab, 4) == RTM_NEWADDR);
    ifaddrmsg ia;
    std::memcpy(&ia, ab.data() + 16, sizeof ia);
    CHECK(ia.ifa_family == AF_INET6);
    CHECK(ia.ifa_prefixlen == 64);
    CHECK(ia.ifa_index == 3);
    CHECK((ia.ifa_flags & IFA_F_NODAD) != 0);
    auto aa = ns::parse_rtattrs(ab.subspan(16 + NLMSG_ALIGN(sizeof(ifaddrmsg))));
    REQUIRE(aa);
    REQUIRE(aa->size() == 2);
    CHECK((*aa)[0].type == IFA_LOCAL);
    CHECK((*aa)[0].data.size() == 16);
}

TEST_CASE("netlink reply parsing", "[unit][ns]") {
    // An NLMSG_ERROR with -EEXIST, capped, with an extended-ack message.
    std::vector<std::uint8_t> buf(16 + 4 + 16);
    nlmsghdr h{};
    h.nlmsg_type = NLMSG_ERROR;
    h.nlmsg_flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
    h.nlmsg_seq = 9;
    int e = -EEXIST;
    std::memcpy(buf.data() + 16, &e, 4);
    const char text[] = "File exists here";
    rtattr a{};
    a.rta_type = NLMSGERR_ATTR_MSG;
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(sizeof text));
    std::size_t at = buf.size();
    buf.resize(at + RTA_SPACE(sizeof text));
    std::memcpy(buf.data() + at, &a, sizeof a);
    std::memcpy(buf.data() + at + RTA_LENGTH(0), text, sizeof text);
    h.nlmsg_len = static_cast<std::uint32_t>(buf.size());
    std::memcpy(buf.data(), &h, sizeof h);
    auto r = ns::parse_nl_replies(buf);
    REQUIRE(r);
    REQUIRE(r->size() == 1);
    CHECK((*r)[0].seq == 9);
    CHECK((*r)[0].error == EEXIST);
    CHECK((*r)[0].ext_msg == "File exists here");

    auto trunc = ns::parse_nl_replies(std::span<const std::uint8_t>(buf.data(), 10));
    REQUIRE(!trunc);
    buf[0] = 200; // length past the end
    auto badlen = ns::parse_nl_replies(buf);
    REQUIRE(!badlen);
    CHECK(badlen.error().offset() == 0);
    std::uint8_t attr_bad[] = {2, 0, 1, 0};
    CHECK(!ns::parse_rtattrs(attr_bad));
}

TEST_CASE("mount plan compiles to named steps", "[unit][ns]") {
    ns::mount_plan plan;
    plan.root_tmpfs().ro_bind("/usr", "/usr").tmpfs("/tmp", {"16m", 01777}).proc("/proc", ns::hidepid::invisible).mask("/proc/kcore");
    ns::detail::program p;
    REQUIRE(plan.compile(p, "/stage"));
    std::vector<std::string> names;
    for (std::size_t i = 0; i < p.size(); ++i) names.push_back(p.describe(i));
    auto has = [&](const std::string& s) { return std::find(names.begin(), names.end(), s) != names.end(); };
    CHECK(has("mount tmpfs at / (/stage)"));
    CHECK(has("mount /usr at /usr"));
    CHECK(has("set mount flags of /usr"));
    CHECK(has("mount tmpfs at /tmp"));
    CHECK(has("mount proc at /proc"));
    CHECK(has("mask /proc/kcore"));
    CHECK(names.back() == "pivot_root into /stage");
    // The step's failure names it like the kernel error would.
    ns::detail::failure_record rec{3, ENOSPC};
    std::size_t tmp_index = 0;
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == "mount tmpfs at /tmp") tmp_index = i;
    rec.step = static_cast<std::int32_t>(tmp_index);
    CHECK(p.to_error(rec).message() == "mount tmpfs at /tmp: No space left on device");

    ns::mount_plan rel;
    rel.root_tmpfs().bind("/usr", "usr");
    ns::detail::program p2;
    auto r = rel.compile(p2, "/stage");
    REQUIRE(!r);
    CHECK(r.error().message().find("path must be absolute") != std::string::npos);
    ns::mount_plan dots;
    dots.root_tmpfs().tmpfs("/a/../etc");
    ns::detail::program p3;
    CHECK(!dots.compile(p3, "/stage"));
}

TEST_CASE("sandbox spec validation", "[unit][sandbox]") {
    sandbox::spec s;
    auto r = sandbox::spawn(s);
    REQUIRE(!r);
    CHECK(r.error().message() == "sandbox spec argv: invalid argument (no command)");
    s.argv = {"/bin/true"};
    s.hostname = "x";
    r = sandbox::spawn(s);
    REQUIRE(!r);
    CHECK(r.error().message().find("uts") != std::string::npos);
    s.hostname.clear();
    s.mounts.root_tmpfs();
    r = sandbox::spawn(s);
    REQUIRE(!r);
    CHECK(r.error().message().find("mount namespace") != std::string::npos);
}
