// Kernel tier: real namespaces, mounts, netlink and processes, observed from inside sandboxes.
#include "bulkhead/ns.hpp"
#include "bulkhead/sandbox.hpp"

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <dirent.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <thread>

using namespace bulkhead;
using namespace std::chrono_literals;

namespace {

bool can_run() {
    if (!bulkhead_test::is_root()) {
        WARN("not root: kernel-tier namespace tests cannot run here");
        return false;
    }
    return true;
}

/// Host device nodes must stay exactly as they were (a uid-mapped sandbox once chowned them).
void check_host_devices() {
    for (const char* d : {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}) {
        struct stat st {};
        REQUIRE(::stat(d, &st) == 0);
        INFO(d);
        CHECK(st.st_uid == 0);
        CHECK(st.st_gid == 0);
        CHECK((st.st_mode & 07777) == 0666);
    }
}

/// This test binary's own parent for staging directories, so concurrent runs of other tests
/// cannot disturb the leftover checks.
char staging_buf[64] = "/tmp/bulkhead-nstest-staging.XXXXXX";
const std::string& staging_parent() {
    static const std::string dir = [] {
        if (!::mkdtemp(staging_buf)) return std::string("/tmp");
        ::chmod(staging_buf, 0755);
        std::atexit([] { ::rmdir(staging_buf); });
        return std::string(staging_buf);
    }();
    return dir;
}

/// A fully isolated spec: all namespaces but time, root 0 -> 100000, tmpfs root with /usr
/// read-only, /proc, /dev, /tmp, default masks and read-only paths.
sandbox::spec base_spec(std::vector<std::string> argv) {
    sandbox::spec s;
    s.argv = std::move(argv);
    s.env = sandbox::default_env();
    s.new_namespaces = ns::kind_set{ns::kind::user, ns::kind::pid, ns::kind::mount, ns::kind::net,
                                    ns::kind::uts, ns::kind::ipc, ns::kind::cgroup};
    s.uid_map = ns::id_map{{0, 100000, 65536}};
    s.gid_map = ns::id_map{{0, 100000, 65536}};
    s.mounts.root_tmpfs()
        .ro_bind("/usr", "/usr")
        .symlink("usr/bin", "/bin")
        .symlink("usr/sbin", "/sbin")
        .symlink("usr/lib", "/lib")
        .symlink("usr/lib64", "/lib64")
        .ro_bind("/etc", "/etc")
        .proc("/proc")
        .dev("/dev")
        .tmpfs("/tmp")
        .mask_defaults()
        .read_only_defaults()
        .root_read_only();
    s.out.mode = sandbox::stdio_mode::pipe;
    s.staging_parent = staging_parent();
    return s;
}

struct run_result {
    exit_status status;
    std::string out;
};

run_result run_capture(const sandbox::spec& s) {
    auto sp = sandbox::spawn(s);
    if (!sp) FAIL(sp.error().message());
    auto out = read_to_string(sp->stdout_fd.get());
    REQUIRE(out);
    auto st = sp->process.wait();
    REQUIRE(st);
    return {*st, *out};
}

std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream is(s);
    for (std::string l; std::getline(is, l);) v.push_back(l);
    return v;
}

std::string self_mountinfo() {
    auto r = read_file("/proc/self/mountinfo");
    REQUIRE(r);
    return *r;
}

/// Our children (any thread): must be none after a failed spawn.
std::string own_children() {
    std::string all;
    DIR* d = ::opendir("/proc/self/task");
    REQUIRE(d);
    while (auto* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        auto c = read_file((std::string("/proc/self/task/") + e->d_name + "/children").c_str());
        if (c) all += *c;
    }
    ::closedir(d);
    return all;
}

int staging_dirs() {
    int n = 0;
    DIR* d = ::opendir(staging_parent().c_str());
    REQUIRE(d);
    while (auto* e = ::readdir(d))
        if (std::string(e->d_name).rfind(".bulkhead-root.", 0) == 0) ++n;
    ::closedir(d);
    return n;
}

/// A network namespace of the test's own, pinned under a temp directory; the whole topology
/// (host side included) lives there.
struct test_netns {
    std::string dir;
    ns::pinned_ns pin;
    unique_fd fd;
    test_netns() {
        char tmpl[] = "/tmp/bulkhead-nstest.XXXXXX";
        REQUIRE(::mkdtemp(tmpl));
        dir = tmpl;
        auto p = ns::pinned_ns::create(ns::kind::net, dir + "/net");
        if (!p) FAIL(p.error().message());
        pin = std::move(*p);
        auto f = pin.open();
        REQUIRE(f);
        fd = std::move(*f);
    }
    ~test_netns() {
        fd.reset();
        (void)pin.release();
        ::rmdir(dir.c_str());
    }
    ns::rtnl sock() {
        auto s = ns::rtnl::open_in(fd.get());
        REQUIRE(s);
        return std::move(*s);
    }
    /// Writes a sysctl of this namespace from a helper that entered it.
    void sysctl(const char* path, const char* value) {
        int nsfd = fd.get();
        auto c = fork_call([nsfd, path, value] {
            if (::setns(nsfd, CLONE_NEWNET) < 0) return 1;
            return write_file(path, value) ? 0 : 2;
        });
        REQUIRE(c);
        auto st = c->wait();
        REQUIRE(st);
        CHECK(st->success());
    }
};

} // namespace

TEST_CASE("namespace identities inside differ from the host's", "[kernel][ns]") {
    if (!can_run()) return;
    auto s = base_spec({"/bin/sh", "-c",
                        "for k in user pid mnt net uts ipc cgroup time; do stat -L -c %i /proc/self/ns/$k; done"});
    s.new_namespaces.add(ns::kind::time);
    auto r = run_capture(s);
    REQUIRE(r.status.success());
    auto l = lines(r.out);
    REQUIRE(l.size() == 8);
    const ns::kind kinds[] = {ns::kind::user, ns::kind::pid, ns::kind::mount, ns::kind::net,
                              ns::kind::uts,  ns::kind::ipc, ns::kind::cgroup, ns::kind::time};
    for (std::size_t i = 0; i < 8; ++i) {
        auto host = ns::identity_of(kinds[i]);
        REQUIRE(host);
        INFO(ns::name(kinds[i]));
        CHECK(std::to_string(host->ino) != l[i]);
    }
    check_host_devices();
}

TEST_CASE("pid namespace: the command is pid 1's child and /proc shows only the sandbox", "[kernel][ns]") {
    if (!can_run()) return;
    auto s = base_spec({"/bin/sh", "-c", "echo $$ $PPID; ls /proc | grep -c '^[0-9]*$'; cat /proc/1/cmdline | tr '\\0' ' '; echo"});
    auto r = run_capture(s);
    REQUIRE(r.status.success());
    auto l = lines(r.out);
    REQUIRE(l.size() >= 3);
    CHECK(l[0] == "2 1");
    int count = std::stoi(l[1]);
    CHECK(count >= 2);
    CHECK(count <= 5); // init, sh, ls, grep (and maybe a short-lived subshell)
    CHECK(l[2].find("ns_kernel_tests") != std::string::npos); // pid 1 is our init, a fork of the spawner
}

TEST_CASE("run() returns the payload's exit status", "[kernel][sandbox]") {
    if (!can_run()) return;
    const int staging_before = staging_dirs();
    auto s = base_spec({"/bin/sh", "-c", "exit 7"});
    s.out.mode = sandbox::stdio_mode::inherit;
    auto st = sandbox::run(s);
    REQUIRE(st);
    CHECK(st->exited);
    CHECK(st->code == 7);
    s.argv = {"/bin/sh", "-c", "kill -TERM $$"};
    st = sandbox::run(s);
    REQUIRE(st);
    CHECK(st->exited); // pid 1 (the init) reports a killed payload as 128 + signal
    CHECK(st->code == 128 + SIGTERM);
    s.argv = {"/bin/true"};
    st = sandbox::run(s);
    REQUIRE(st);
    CHECK(st->success());
    CHECK(staging_dirs() == staging_before);
    CHECK(own_children().empty());
}

TEST_CASE("hostname is the sandbox's own", "[kernel][ns]") {
    if (!can_run()) return;
    char host[256] = {};
    ::gethostname(host, sizeof host);
    auto s = base_spec({"/bin/sh", "-c", "hostname"});
    s.hostname = "site-a";
    auto r = run_capture(s);
    REQUIRE(r.status.success());
    CHECK(r.out == "site-a\n");
    char after[256] = {};
    ::gethostname(after, sizeof after);
    CHECK(std::string(host) == after);
}

TEST_CASE("read-only binds give EROFS and masked paths read empty", "[kernel][ns]") {
    if (!can_run()) return;
    auto s = base_spec({"/bin/sh", "-c",
                        "touch /usr/probe 2>&1; { echo x > /proc/sys/kernel/hostname; } 2>&1; "
                        "echo keys=$(wc -c < /proc/keys); echo tl=$(wc -c < /proc/timer_list); "
                        "touch /newfile 2>&1; touch /tmp/ok && echo tmp-writable"});
    auto r = run_capture(s);
    INFO(r.out);
    REQUIRE(r.status.success());
    CHECK(r.out.find("touch: cannot touch '/usr/probe': Read-only file system") != std::string::npos);
    CHECK(r.out.find("Read-only file system") != r.out.rfind("Read-only file system")); // /proc/sys too
    CHECK(r.out.find("keys=0") != std::string::npos);
    CHECK(r.out.find("tl=0") != std::string::npos);
    CHECK(r.out.find("cannot touch '/newfile'") != std::string::npos);
    CHECK(r.out.find("tmp-writable") != std::string::npos);
    struct stat st {};
    CHECK(::stat("/usr/probe", &st) != 0);
    check_host_devices();
}

TEST_CASE("two sandboxes have distinct /tmp", "[kernel][ns]") {
    if (!can_run()) return;
    auto a = base_spec({"/bin/sh", "-c", "echo a > /tmp/marker; stat -c %d:%i /tmp; read x || true"});
    a.in.mode = sandbox::stdio_mode::pipe;
    auto sa = sandbox::spawn(a);
    REQUIRE(sa);
    char buf[64] = {};
    ssize_t n = ::read(sa->stdout_fd.get(), buf, sizeof buf - 1);
    REQUIRE(n > 0);
    std::string a_tmp = lines(buf)[0];
    auto b = base_spec({"/bin/sh", "-c", "stat -c %d:%i /tmp; test -e /tmp/marker && echo seen || echo absent"});
    auto rb = run_capture(b);
    REQUIRE(rb.status.success());
    auto l = lines(rb.out);
    REQUIRE(l.size() == 2);
    CHECK(l[1] == "absent");
    CHECK(l[0] != a_tmp);
    sa->stdin_fd.reset();
    auto st = sa->process.wait();
    REQUIRE(st);
    CHECK(st->success());
    struct stat hs {};
    CHECK(::stat("/tmp/marker", &hs) != 0);
}

TEST_CASE("uid and gid maps map as asked", "[kernel][ns]") {
    if (!can_run()) return;
    char tmpl[] = "/tmp/bulkhead-idmap.XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    std::string dir = tmpl;
    ::chown(dir.c_str(), 100000, 100000);
    SECTION("root inside is 100000 outside") {
        auto s = base_spec({"/bin/sh", "-c", "id -u; id -g; cat /proc/self/uid_map; touch /work/f"});
        s.mounts.bind(dir, "/work");
        auto r = run_capture(s);
        REQUIRE(r.status.success());
        auto l = lines(r.out);
        REQUIRE(l.size() >= 3);
        CHECK(l[0] == "0");
        CHECK(l[1] == "0");
        CHECK(bulkhead::detail::split_ws(l[2]) == std::vector<std::string_view>{"0", "100000", "65536"});
        struct stat st {};
        REQUIRE(::stat((dir + "/f").c_str(), &st) == 0);
        CHECK(st.st_uid == 100000);
        CHECK(st.st_gid == 100000);
        ::unlink((dir + "/f").c_str());
    }
    SECTION("several ranges and a non-root user") {
        auto s = base_spec({"/bin/sh", "-c", "id -u; id -g; cat /proc/self/uid_map | wc -l; touch /work/g"});
        s.uid_map = *ns::id_map::parse_spec("0:100000:1000,1000:201000:1000");
        s.gid_map = *ns::id_map::parse_spec("0:100000:1000,1000:201000:1000");
        s.harden.uid = 1000;
        s.harden.gid = 1000;
        s.mounts.bind(dir, "/work");
        ::chmod(dir.c_str(), 0777);
        auto r = run_capture(s);
        INFO(r.out);
        REQUIRE(r.status.success());
        auto l = lines(r.out);
        REQUIRE(l.size() >= 3);
        CHECK(l[0] == "1000");
        CHECK(l[1] == "1000");
        CHECK(l[2] == "2");
        struct stat st {};
        REQUIRE(::stat((dir + "/g").c_str(), &st) == 0);
        CHECK(st.st_uid == 201000);
        CHECK(st.st_gid == 201000);
        ::unlink((dir + "/g").c_str());
    }
    ::rmdir(dir.c_str());
    check_host_devices();
}

TEST_CASE("capabilities, no_new_privs and rlimits hold", "[kernel][ns]") {
    if (!can_run()) return;
    SECTION("no capabilities kept") {
        auto s = base_spec({"/bin/sh", "-c", "grep -E '^(Cap|NoNewPrivs)' /proc/self/status; ulimit -n; ulimit -Hn; ulimit -c"});
        s.harden.rlimits.push_back(*ns::parse_rlimit("NOFILE=64:128"));
        s.harden.rlimits.push_back(*ns::parse_rlimit("CORE=0"));
        auto r = run_capture(s);
        INFO(r.out);
        REQUIRE(r.status.success());
        CHECK(r.out.find("CapEff:\t0000000000000000") != std::string::npos);
        CHECK(r.out.find("CapPrm:\t0000000000000000") != std::string::npos);
        CHECK(r.out.find("CapBnd:\t0000000000000000") != std::string::npos);
        CHECK(r.out.find("CapAmb:\t0000000000000000") != std::string::npos);
        CHECK(r.out.find("NoNewPrivs:\t1") != std::string::npos);
        auto l = lines(r.out);
        REQUIRE(l.size() >= 3);
        CHECK(l[l.size() - 3] == "64");
        CHECK(l[l.size() - 2] == "128");
        CHECK(l[l.size() - 1] == "0");
    }
    SECTION("an allowlisted capability for a non-root user goes through ambient") {
        auto s = base_spec({"/bin/sh", "-c", "grep -E '^Cap(Eff|Amb|Bnd)' /proc/self/status; id -u"});
        s.harden.keep_caps.add(*ns::parse_capability("CAP_NET_BIND_SERVICE"));
        s.harden.uid = 1000;
        s.harden.gid = 1000;
        auto r = run_capture(s);
        INFO(r.out);
        REQUIRE(r.status.success());
        CHECK(r.out.find("CapEff:\t0000000000000400") != std::string::npos);
        CHECK(r.out.find("CapAmb:\t0000000000000400") != std::string::npos);
        CHECK(r.out.find("CapBnd:\t0000000000000400") != std::string::npos);
        CHECK(r.out.find("1000") != std::string::npos);
    }
}

TEST_CASE("stdio pipes, fd closing and init signal forwarding", "[kernel][sandbox]") {
    if (!can_run()) return;
    auto extra = open_fd("/proc/self/status", O_RDONLY); // must not leak into the sandbox
    REQUIRE(extra);
    // An ignored SIGTERM in the caller must not stay ignored in the payload.
    struct sigaction ign {}, old {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGTERM, &ign, &old);
    auto s = base_spec({"/bin/sh", "-c",
                        "ls /proc/self/fd | tr '\\n' ' '; echo; trap 'echo got-term; exit 3' TERM; echo ready; "
                        "while :; do sleep 0.05; done"});
    s.harden.close_fds = true;
    auto sp = sandbox::spawn(s);
    ::sigaction(SIGTERM, &old, nullptr);
    REQUIRE(sp);
    std::string got;
    char buf[256];
    while (got.find("ready") == std::string::npos) {
        ssize_t n = ::read(sp->stdout_fd.get(), buf, sizeof buf);
        REQUIRE(n > 0);
        got.append(buf, static_cast<std::size_t>(n));
    }
    auto fds = lines(got)[0];
    CHECK(fds == "0 1 2 3 "); // 3 is ls's own directory fd
    REQUIRE(sp->process.signal(SIGTERM));
    auto rest = read_to_string(sp->stdout_fd.get());
    REQUIRE(rest);
    CHECK(rest->find("got-term") != std::string::npos);
    auto st = sp->process.wait();
    REQUIRE(st);
    CHECK(st->exited);
    CHECK(st->code == 3);
}

TEST_CASE("two sandboxes on veths reach each other only where routed", "[kernel][ns][net]") {
    if (!can_run()) return;
    test_netns host;
    auto hs = host.sock();
    REQUIRE(hs.set_link_up(1));
    std::vector<ns::veth_guard> guards;

    // Wire a sandbox to the test's host namespace: veth host end hname <-> sandbox end eth0.
    auto wire = [&](const char* hname, const char* addr, const char* host_addr, std::vector<std::string> routes) {
        return [&, hname, addr, host_addr, routes](const sandbox::setup_context& c) -> result<void> {
            auto nl = ns::rtnl::open_in(host.fd.get());
            if (!nl) return std::move(nl).error();
            BULKHEAD_TRY(nl->create_veth(hname, "eth0", c.netns_fd));
            guards.emplace_back(host.fd.get(), hname);
            BULKHEAD_TRY_ASSIGN(int hidx, nl->link_index(hname));
            BULKHEAD_TRY(nl->add_address(hidx, *ns::ip_prefix::parse(host_addr)));
            BULKHEAD_TRY(nl->set_link_up(hidx));
            BULKHEAD_TRY_ASSIGN(auto in, ns::rtnl::open_in(c.netns_fd));
            BULKHEAD_TRY_ASSIGN(int idx, in.link_index("eth0"));
            BULKHEAD_TRY(in.add_address(idx, *ns::ip_prefix::parse(addr)));
            BULKHEAD_TRY(in.set_link_up(idx));
            auto gw = ns::ip_prefix::parse(std::string(host_addr).substr(0, std::string(host_addr).find('/')));
            for (const auto& r : routes) BULKHEAD_TRY(in.add_route(*ns::ip_prefix::parse(r), *gw, idx));
            return {};
        };
    };
    const std::string py_connect =
        "import socket,sys\n"
        "for a in sys.argv[1:]:\n"
        "  s=socket.socket(); s.settimeout(3)\n"
        "  try:\n"
        "    s.connect((a,8080)); print(a,'ok')\n"
        "  except OSError as e: print(a,e.errno)\n";
    const std::string py_listen =
        "import socket\n"
        "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        "s.bind(('0.0.0.0',8080)); s.listen(8); print('listening',flush=True)\n"
        "import sys; sys.stdin.read()\n";

    auto b = base_spec({"/usr/bin/python3", "-c", py_listen});
    b.in.mode = sandbox::stdio_mode::pipe;
    b.before_start = wire("hb", "10.2.2.2/24", "10.2.2.1/24", {"10.1.1.0/24"});
    auto sb = sandbox::spawn(b);
    if (!sb) FAIL(sb.error().message());
    char buf[64] = {};
    REQUIRE(::read(sb->stdout_fd.get(), buf, sizeof buf - 1) > 0);
    CHECK(std::string(buf).find("listening") != std::string::npos);

    SECTION("without a route and forwarding nothing gets through") {
        auto a = base_spec({"/usr/bin/python3", "-c", py_connect, "10.1.1.1", "10.2.2.2", "192.0.2.1", "127.0.0.1"});
        a.before_start = wire("ha", "10.1.1.2/24", "10.1.1.1/24", {});
        auto r = run_capture(a);
        INFO(r.out);
        REQUIRE(r.status.success());
        CHECK(r.out.find("10.1.1.1 111") != std::string::npos);       // reached the host side: refused
        CHECK(r.out.find("10.2.2.2 101") != std::string::npos);       // ENETUNREACH: no route
        CHECK(r.out.find("192.0.2.1 101") != std::string::npos);
        CHECK(r.out.find("127.0.0.1 111") != std::string::npos); // lo is up (refused, not unreachable)
    }
    SECTION("with a route and forwarding in the middle they reach each other") {
        host.sysctl("/proc/sys/net/ipv4/ip_forward", "1");
        auto a = base_spec({"/usr/bin/python3", "-c", py_connect, "10.2.2.2", "192.0.2.1"});
        a.before_start = wire("ha", "10.1.1.2/24", "10.1.1.1/24", {"10.2.2.0/24"});
        auto r = run_capture(a);
        INFO(r.out);
        REQUIRE(r.status.success());
        CHECK(r.out.find("10.2.2.2 ok") != std::string::npos);
        CHECK(r.out.find("192.0.2.1 101") != std::string::npos); // only what is routed
    }
    SECTION("the payload starts only after a slow hook returned") {
        // The hook runs while the child sets itself up; the payload must still see its veth.
        auto a = base_spec({"/usr/bin/python3", "-c", py_connect, "10.1.1.1"});
        auto plumb = wire("ha", "10.1.1.2/24", "10.1.1.1/24", {});
        a.before_start = [&, plumb](const sandbox::setup_context& c) -> result<void> {
            ::usleep(300 * 1000);
            return plumb(c);
        };
        auto r = run_capture(a);
        INFO(r.out);
        REQUIRE(r.status.success());
        CHECK(r.out.find("10.1.1.1 111") != std::string::npos);
    }
    sb->stdin_fd.reset();
    auto st = sb->process.wait();
    REQUIRE(st);
    guards.clear();
    auto links = hs.list_links();
    REQUIRE(links);
    CHECK(*links == std::vector<std::string>{"lo"});
    check_host_devices();
}

TEST_CASE("failure at every stage names the step and leaves nothing behind", "[kernel][sandbox]") {
    if (!can_run()) return;
    test_netns host;
    const std::string mounts_before = self_mountinfo();
    const int staging_before = staging_dirs();

    auto leaves_nothing = [&] {
        CHECK(self_mountinfo() == mounts_before);
        CHECK(own_children().empty());
        CHECK(staging_dirs() == staging_before);
        auto hs = host.sock();
        auto links = hs.list_links();
        REQUIRE(links);
        CHECK(*links == std::vector<std::string>{"lo"});
    };
    // spawn() and run() must name the same step and leave nothing.
    auto expect_failure = [&](sandbox::spec s, const std::string& message) {
        auto r = sandbox::spawn(s);
        REQUIRE(!r);
        INFO(r.error().message());
        CHECK(r.error().message().find(message) != std::string::npos);
        leaves_nothing();
        auto w = sandbox::run(s);
        REQUIRE(!w);
        INFO(w.error().message());
        CHECK(w.error().message() == r.error().message());
        leaves_nothing();
    };

    SECTION("missing bind source") {
        auto s = base_spec({"/bin/true"});
        s.mounts.ro_bind("/nonexistent-bulkhead-src", "/data");
        expect_failure(s, "mount /nonexistent-bulkhead-src at /data: No such file or directory");
    }
    SECTION("bad tmpfs option") {
        auto s = base_spec({"/bin/true"});
        s.mounts.tmpfs("/scratch", {"lots", 01777});
        expect_failure(s, "mount tmpfs at /scratch: Invalid argument");
    }
    SECTION("missing executable") {
        expect_failure(base_spec({"/nonexistent-cmd"}), "execute /nonexistent-cmd: No such file or directory");
        expect_failure(base_spec({"no-such-command-anywhere"}), "execute no-such-command-anywhere: No such file or directory");
    }
    SECTION("hostname too long") {
        auto s = base_spec({"/bin/true"});
        s.hostname = std::string(100, 'h');
        expect_failure(s, "sethostname");
    }
    SECTION("invalid seccomp program") {
        static const sock_filter bad[] = {{0xffff, 0, 0, 0}};
        auto s = base_spec({"/bin/true"});
        s.seccomp = bad;
        expect_failure(s, "install seccomp filter 1 instructions: Invalid argument");
    }
    SECTION("parent hook fails after veths were made") {
        auto s = base_spec({"/bin/true"});
        ns::veth_guard* keep = nullptr;
        std::vector<ns::veth_guard> guards;
        ns::identity sandbox_net{};
        s.before_start = [&](const sandbox::setup_context& c) -> result<void> {
            BULKHEAD_TRY_ASSIGN(sandbox_net, ns::identity_of_fd(c.netns_fd));
            BULKHEAD_TRY_ASSIGN(auto nl, ns::rtnl::open_in(host.fd.get()));
            BULKHEAD_TRY(nl.create_veth("hfail", "eth0", c.netns_fd));
            guards.emplace_back(host.fd.get(), "hfail");
            keep = &guards.back();
            return error(errc::not_available, "assign address").subject("hfail");
        };
        auto r = sandbox::spawn(s);
        REQUIRE(!r);
        CHECK(r.error().message() == "assign address hfail: not available");
        REQUIRE(keep);
        guards.clear(); // the caller's guard removes its veth
        // No process is left in the sandbox's network namespace (its teardown is deferred).
        CHECK(sandbox_net.ino != 0);
        DIR* procs = ::opendir("/proc");
        REQUIRE(procs);
        int holders = 0;
        while (auto* e = ::readdir(procs)) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
            struct stat st {};
            if (::stat((std::string("/proc/") + e->d_name + "/ns/net").c_str(), &st) == 0 &&
                st.st_ino == sandbox_net.ino && st.st_dev == sandbox_net.dev)
                ++holders;
        }
        ::closedir(procs);
        CHECK(holders == 0);
        expect_failure(base_spec({"/nonexistent-cmd"}), "execute");
    }
    SECTION("the child fails while the parent hook runs: the child's step is reported") {
        // The hook runs while the child sets itself up; the child's failure comes first.
        auto s = base_spec({"/bin/true"});
        s.mounts.ro_bind("/nonexistent-bulkhead-src", "/data");
        s.before_start = [](const sandbox::setup_context&) -> result<void> {
            ::usleep(200 * 1000);
            return error(errc::not_available, "late hook");
        };
        expect_failure(s, "mount /nonexistent-bulkhead-src at /data: No such file or directory");
    }
    SECTION("the kernel refuses the uid map (parent side, after the clone)") {
        auto s = base_spec({"/bin/true"});
        s.uid_map = ns::id_map{{0, 4294967295u, 1}}; // outside id -1: the kernel's overflow check
        // spawn() and run() (not compared: the message names the child's pid)
        auto r = sandbox::spawn(s);
        REQUIRE(!r);
        INFO(r.error().message());
        CHECK(r.error().message().find("/uid_map: Invalid argument") != std::string::npos);
        leaves_nothing();
        auto w = sandbox::run(s);
        REQUIRE(!w);
        INFO(w.error().message());
        CHECK(w.error().message().find("/uid_map: Invalid argument") != std::string::npos);
        leaves_nothing();
    }
    SECTION("clone3 into a bad cgroup fd") {
        auto s = base_spec({"/bin/true"});
        auto f = open_fd("/proc/self/status", O_RDONLY);
        REQUIRE(f);
        s.cgroup_fd = f->get();
        expect_failure(s, "clone3");
    }
    SECTION("joining a namespace the new user namespace has no rights over") {
        auto s = base_spec({"/bin/true"});
        s.new_namespaces.remove(ns::kind::net);
        s.join.push_back({ns::kind::net, host.fd.get()});
        expect_failure(s, "setns net: Operation not permitted");
    }
    check_host_devices();
}

TEST_CASE("killing the parent kills the sandbox", "[kernel][sandbox]") {
    if (!can_run()) return;
    auto pp = make_pipe();
    REQUIRE(pp);
    int wfd = pp->write.get();
    auto parent = fork_call([wfd] {
        auto s = base_spec({"/bin/sleep", "60"});
        s.out.mode = sandbox::stdio_mode::inherit;
        auto sp = sandbox::spawn(s);
        if (!sp) return 1;
        pid_t pid = sp->process.pid();
        if (::write(wfd, &pid, sizeof pid) != sizeof pid) return 2;
        (void)sp->process.detach();
        ::pause();
        return 0;
    });
    REQUIRE(parent);
    pp->write.reset();
    pid_t sandbox_pid = 0;
    REQUIRE(::read(pp->read.get(), &sandbox_pid, sizeof sandbox_pid) == sizeof sandbox_pid);
    int pfd = detail::sys::pidfd_open(sandbox_pid);
    REQUIRE(pfd >= 0);
    unique_fd sandbox_fd(pfd);
    REQUIRE(parent->kill());
    REQUIRE(parent->wait());
    pollfd p{sandbox_fd.get(), POLLIN, 0};
    CHECK(::poll(&p, 1, 5000) == 1); // the sandbox's init got SIGKILL and exited
}

TEST_CASE("warm start: join a pinned netns and spawn into a prepared cgroup", "[kernel][sandbox]") {
    if (!can_run()) return;
    test_netns net;
    REQUIRE(net.sock().set_link_up(1));
    std::string cg;
    for (const char* root : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
        struct statfs_probe {
        };
        std::string probe = std::string(root) + "/cgroup.procs";
        if (::access(probe.c_str(), F_OK) == 0 && ::access((std::string(root) + "/cgroup.controllers").c_str(), F_OK) == 0) {
            cg = std::string(root) + "/bulkhead-ns-test-" + std::to_string(::getpid());
            break;
        }
    }
    unique_fd cgfd;
    if (cg.empty() || ::mkdir(cg.c_str(), 0755) < 0) {
        WARN("no cgroup2 hierarchy to create a test cgroup in; testing the netns join alone");
        cg.clear();
    } else {
        auto f = open_fd(cg.c_str(), O_RDONLY | O_DIRECTORY);
        REQUIRE(f);
        cgfd = std::move(*f);
    }
    sandbox::spec s;
    s.argv = {"/bin/sh", "-c", "stat -L -c %i /proc/self/ns/net; cat /proc/self/cgroup | grep '^0::'"};
    s.env = sandbox::default_env();
    s.new_namespaces = ns::kind_set{ns::kind::pid, ns::kind::mount, ns::kind::uts, ns::kind::ipc};
    s.join.push_back({ns::kind::net, net.fd.get()});
    s.cgroup_fd = cgfd.get();
    s.out.mode = sandbox::stdio_mode::pipe;
    auto r = run_capture(s);
    INFO(r.out);
    REQUIRE(r.status.success());
    auto l = lines(r.out);
    REQUIRE(!l.empty());
    CHECK(l[0] == std::to_string(net.pin.id().ino));
    if (!cg.empty()) {
        REQUIRE(l.size() >= 2);
        CHECK(l[1].find("/bulkhead-ns-test-") != std::string::npos);
        cgfd.reset();
        CHECK(::rmdir(cg.c_str()) == 0);
    }
}

TEST_CASE("joining a prepared pid (and user) namespace puts the payload inside it", "[kernel][sandbox]") {
    if (!can_run()) return;
    // A holder: new user + pid namespaces, its pid 1 an init with `sleep` below it.
    sandbox::spec h;
    h.argv = {"/bin/sleep", "30"};
    h.env = sandbox::default_env();
    h.new_namespaces = ns::kind_set{ns::kind::user, ns::kind::pid, ns::kind::mount};
    h.uid_map = ns::id_map{{0, 300000, 65536}};
    h.gid_map = ns::id_map{{0, 300000, 65536}};
    auto holder = sandbox::spawn(h);
    REQUIRE(holder);
    auto upid = ns::open_ns(ns::kind::user, holder->process.pid());
    auto ppid = ns::open_ns(ns::kind::pid, holder->process.pid());
    REQUIRE(upid);
    REQUIRE(ppid);
    // The joiner reports its own pid (as seen inside), its uid and whether pid 1 is visible.
    sandbox::spec j;
    j.argv = {"/bin/sh", "-c", "echo $$; id -u; test -d /proc/1 && echo sees-1"};
    j.env = sandbox::default_env();
    j.join = {{ns::kind::user, upid->get()}, {ns::kind::pid, ppid->get()}};
    j.harden.uid = 33;
    j.harden.gid = 33;
    j.out.mode = sandbox::stdio_mode::pipe;
    auto own_before = ns::identity_of(ns::kind::pid);
    auto sp = sandbox::spawn(j);
    REQUIRE(sp);
    // The caller's pid_for_children is back to its own namespace.
    auto own_after = ns::identity_of(ns::kind::pid);
    CHECK(own_before->ino == own_after->ino);
    auto child_ns = ns::identity_of(ns::kind::pid, sp->process.pid());
    auto holder_ns = ns::identity_of(ns::kind::pid, holder->process.pid());
    REQUIRE(child_ns);
    CHECK(child_ns->ino == holder_ns->ino);
    auto out = read_to_string(sp->stdout_fd.get());
    REQUIRE(out);
    auto st = sp->process.wait();
    REQUIRE(st);
    INFO(*out);
    CHECK(st->success());
    auto l = lines(*out);
    REQUIRE(l.size() >= 2);
    CHECK(std::stoi(l[0]) > 1);       // a pid of the holder's namespace, not of the host's
    CHECK(std::stoi(l[0]) < 1000);
    CHECK(l[1] == "33");
    // The /proc it sees is the host's (it joined no mount namespace): pid 1 exists there too.
}

TEST_CASE("setns by pidfd and pinning a sandbox's namespace", "[kernel][ns]") {
    if (!can_run()) return;
    auto s = base_spec({"/bin/sh", "-c", "read x"});
    s.hostname = "pinned-uts";
    s.in.mode = sandbox::stdio_mode::pipe;
    s.out.mode = sandbox::stdio_mode::inherit;
    auto sp = sandbox::spawn(s);
    REQUIRE(sp);
    int pidfd = sp->process.pidfd();
    auto joined = fork_call([pidfd] {
        if (!ns::join_pidfd(pidfd, ns::kind_set{ns::kind::user, ns::kind::uts})) return 1;
        char h[64] = {};
        ::gethostname(h, sizeof h);
        return std::string(h) == "pinned-uts" ? 0 : 2;
    });
    REQUIRE(joined);
    auto js = joined->wait();
    REQUIRE(js);
    CHECK(js->success());

    char tmpl[] = "/tmp/bulkhead-pin.XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    std::string path = std::string(tmpl) + "/uts";
    auto expected = ns::identity_of(ns::kind::uts, sp->process.pid());
    REQUIRE(expected);
    {
        auto pin = ns::pinned_ns::pin_process(ns::kind::uts, sp->process.pid(), path);
        if (!pin) FAIL(pin.error().message());
        CHECK(pin->id() == *expected);
        sp->stdin_fd.reset();
        REQUIRE(sp->process.wait());
        // The namespace outlives its last process while pinned.
        auto f = pin->open();
        REQUIRE(f);
        auto id = ns::identity_of_fd(f->get());
        REQUIRE(id);
        CHECK(*id == *expected);
    }
    struct stat st {};
    CHECK(::stat(path.c_str(), &st) != 0); // unmounted and unlinked
    CHECK(self_mountinfo().find(path) == std::string::npos);
    ::rmdir(tmpl);
}

TEST_CASE("host device nodes are untouched after all sandbox tests", "[kernel][ns]") {
    if (!can_run()) return;
    check_host_devices();
}
