// VM tier: run inside a guest booted by scripts/vm/run.sh with cgroup_no_v1=all, so the
// cgroup2 root offers cpu, memory, pids, io, cpuset and has them enabled for its children.
// Everything the hybrid host cannot show is proven here against the real controllers.
#include "bulkhead/cgroup.hpp"

#include <catch2/catch.hpp>

#include "test_support.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int run_site_example(); // doc_example.cpp

using namespace bulkhead;
using namespace std::chrono_literals;

namespace {

std::string mount_point() {
    auto sys = cg::discover();
    REQUIRE(sys);
    return sys->mount;
}

std::string name(const char* what) { return std::string("vmtest-") + what; }

bool exists(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0;
}

int sleeper() {
    for (;;) ::pause();
}

/// Touches `mib` MiB of anonymous memory page by page.
int hog(std::size_t mib) {
    std::size_t n = mib << 20;
    char* p = static_cast<char*>(::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) return 2;
    for (;;)
        for (std::size_t i = 0; i < n; i += 4096) p[i] = static_cast<char>(i);
}

/// A loop device over a tmpfs file, detached and deleted on destruction.
struct loop_device {
    std::string path;
    std::string backing;
    unique_fd dev;
    ~loop_device() {
        if (dev) ::ioctl(dev.get(), LOOP_CLR_FD, 0);
        if (!backing.empty()) ::unlink(backing.c_str());
    }
};

void make_loop(loop_device& l, std::size_t mib) {
    l.backing = "/tmp/vmtest-loop.img";
    {
        auto f = open_fd(l.backing.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
        REQUIRE(f);
        std::string chunk(1 << 20, 'x');
        for (std::size_t i = 0; i < mib; ++i) REQUIRE(write_all(f->get(), chunk));
    }
    auto ctl = open_fd("/dev/loop-control", O_RDWR);
    REQUIRE(ctl);
    int n = ::ioctl(ctl->get(), LOOP_CTL_GET_FREE);
    REQUIRE(n >= 0);
    l.path = "/dev/loop" + std::to_string(n);
    auto dev = open_fd(l.path.c_str(), O_RDWR);
    REQUIRE(dev);
    auto back = open_fd(l.backing.c_str(), O_RDWR);
    REQUIRE(back);
    REQUIRE(::ioctl(dev->get(), LOOP_SET_FD, back->get()) == 0);
    l.dev = std::move(*dev);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

TEST_CASE("the guest is a pure cgroup v2 system with the controllers enabled", "[vm]") {
    auto sys = cg::discover();
    REQUIRE(sys);
    CHECK(!sys->hybrid());
    CHECK(sys->self == "/");
    auto sub = cg::subtree_control_at(sys->mount);
    REQUIRE(sub);
    for (const char* c : {"cpu", "memory", "pids", "io", "cpuset"}) {
        INFO(c);
        CHECK(std::find(sub->begin(), sub->end(), c) != sub->end());
        CHECK(cg::require_controller(*sys, sys->mount, c));
    }
    auto g = cgroup::create(sys->mount, name("discover"));
    REQUIRE(g);
    auto ctl = g->controllers();
    REQUIRE(ctl);
    CHECK(std::find(ctl->begin(), ctl->end(), "memory") != ctl->end());
    // Inside the child nothing is enabled for grandchildren: the error names the cause.
    auto gc = g->create_child("inner");
    REQUIRE(gc);
    auto r = cg::require_controller(*sys, gc->path(), "memory");
    REQUIRE(!r);
    CHECK(r.error().message() == "cgroup: controller 'memory' is not available at " + gc->path() +
                                     ": not available (not enabled in the parent's cgroup.subtree_control (" +
                                     g->path() + "))");
}

TEST_CASE("typed limits are written, validated and read back", "[vm]") {
    auto g = cgroup::create(mount_point(), name("limits"));
    REQUIRE(g);
    cg::limits l;
    l.cpu = cg::cpu_max{20000, 50000};
    l.cpu_weight = 250;
    l.cpuset_cpus = "0";
    l.cpuset_mems = "0";
    l.memory_min = 1u << 20;
    l.memory_low = 2u << 20;
    l.memory_high = 48u << 20;
    l.memory_max = 64u << 20;
    l.memory_swap_max = 0;
    l.memory_oom_group = true;
    l.pids_max = 42;
    REQUIRE(g->apply(l));
    CHECK((*g->cpu_max() == cg::cpu_max{20000, 50000}));
    CHECK(*g->cpu_weight() == 250u);
    CHECK(*g->cpuset_cpus() == "0");
    CHECK(*g->cpuset_cpus(true) == "0");
    CHECK(*g->cpuset_mems() == "0");
    CHECK(*g->memory_min() == 1u << 20);
    CHECK(*g->memory_low() == 2u << 20);
    CHECK(*g->memory_high() == 48u << 20);
    CHECK(*g->memory_max() == 64u << 20);
    CHECK(*g->memory_swap_max() == 0u);
    CHECK(*g->memory_oom_group());
    CHECK(*g->pids_max() == 42u);
    REQUIRE(g->set_memory_max(cg::unlimited));
    CHECK(*g->memory_max() == cg::unlimited);
    REQUIRE(g->set_cpu_max({}));
    CHECK(g->cpu_max()->quota_us == cg::unlimited);
    REQUIRE(g->set_pids_max(cg::unlimited));
    CHECK(*g->pids_max() == cg::unlimited);

    auto w = g->set_io_weight(300);
    if (w) CHECK(*g->io_weight() == 300u);
    else WARN("io.weight not available in this kernel: " << w.error().message());

    // The kernel's own refusals, reported with file and value.
    auto neg = g->write("memory.max", "-5");
    REQUIRE(!neg);
    CHECK(neg.error().message() == "cgroup: write memory.max \"-5\": Invalid argument");
    auto cpus = g->set_cpuset_cpus("0-63");
    REQUIRE(!cpus);
    CHECK(cpus.error().message().rfind("cgroup: write cpuset.cpus \"0-63\": ", 0) == 0);
    auto wrong = g->write("cpu.max", "10 100000");
    REQUIRE(!wrong);
    CHECK(wrong.error().message() == "cgroup: write cpu.max \"10 100000\": Invalid argument");
    CHECK(!g->set_cpu_max({50000, 0}));

    // Statistics parse from the real files.
    CHECK(g->cpu_stat());
    CHECK(g->memory_current());
    CHECK(g->memory_stat()->get("anon"));
    CHECK(g->memory_events());
    CHECK(g->memory_events(true));
    CHECK(g->pids_current());
    CHECK(g->io_stat());
    for (auto r : {cg::psi_resource::cpu, cg::psi_resource::memory, cg::psi_resource::io}) CHECK(g->pressure(r));
    auto peak = g->memory_peak();
    if (!peak) WARN("memory.peak needs Linux 5.19: " << peak.error().message());
}

TEST_CASE("memory.max OOM-kills a hog and the oom_kill event arrives", "[vm]") {
    auto g = cgroup::create(mount_point(), name("oom"));
    REQUIRE(g);
    REQUIRE(g->set_memory_max(32u << 20));
    REQUIRE(g->set_memory_swap_max(0));
    auto w = cg::event_watch::open(*g);
    REQUIRE(w);
    auto c = g->spawn([] { return hog(64); });
    REQUIRE(c);
    bool oom_kill = false, populated = false, unpopulated = false;
    auto t0 = std::chrono::steady_clock::now();
    while (!(oom_kill && unpopulated) && seconds_since(t0) < 30) {
        auto ev = w->wait(1s);
        REQUIRE(ev);
        for (const auto& e : *ev) {
            UNSCOPED_INFO("event " << cg::to_string(e.kind) << " count " << e.count);
            if (e.kind == cg::event_kind::oom_kill) oom_kill = true;
            if (e.kind == cg::event_kind::populated) populated = true;
            if (e.kind == cg::event_kind::unpopulated) unpopulated = true;
        }
    }
    CHECK(oom_kill);
    CHECK(unpopulated);
    (void)populated; // the child may have been placed before the watch saw it empty
    auto st = c->wait();
    REQUIRE(st);
    CHECK(st->killed_by(SIGKILL));
    auto me = g->memory_events();
    REQUIRE(me);
    CHECK(me->oom_kill >= 1u);
    CHECK(me->max >= 1u);
    auto peak = g->memory_peak();
    if (peak) {
        CHECK(*peak <= (32u << 20));
        CHECK(*peak >= (16u << 20));
    }
}

TEST_CASE("memory.oom.group kills the whole group and reports oom_group_kill", "[vm]") {
    auto g = cgroup::create(mount_point(), name("oomgroup"));
    REQUIRE(g);
    REQUIRE(g->set_memory_max(32u << 20));
    REQUIRE(g->set_memory_swap_max(0));
    REQUIRE(g->set_memory_oom_group(true));
    auto w = cg::event_watch::open(*g, cg::watch_memory_events);
    REQUIRE(w);
    auto bystander = g->spawn(sleeper);
    REQUIRE(bystander);
    auto c = g->spawn([] { return hog(64); });
    REQUIRE(c);
    bool group_kill = false;
    auto t0 = std::chrono::steady_clock::now();
    while (!group_kill && seconds_since(t0) < 30) {
        auto ev = w->wait(1s);
        REQUIRE(ev);
        for (const auto& e : *ev)
            if (e.kind == cg::event_kind::oom_group_kill) group_kill = true;
    }
    CHECK(group_kill);
    CHECK(c->wait()->killed_by(SIGKILL));
    CHECK(bystander->wait()->killed_by(SIGKILL)); // killed with the hog: the group is one unit
    CHECK(g->memory_events()->oom_group_kill >= 1u);
}

TEST_CASE("pids.max makes fork fail with EAGAIN", "[vm]") {
    auto g = cgroup::create(mount_point(), name("pids"));
    REQUIRE(g);
    REQUIRE(g->set_pids_max(5));
    auto watch = cg::event_watch::open(*g, cg::watch_pids_events);
    REQUIRE(watch);
    // The child forks sleepers until fork fails; it exits 100 + the number it made when the
    // failure was EAGAIN.
    auto c = g->spawn([] {
        for (int i = 0; i < 20; ++i) {
            pid_t p = ::fork();
            if (p == 0) sleeper();
            if (p < 0) return errno == EAGAIN ? 100 + i : 1;
        }
        return 2;
    });
    REQUIRE(c);
    auto st = c->wait();
    REQUIRE(st);
    CHECK(st->exited);
    CHECK(st->code == 104); // itself + 4 children = 5
    CHECK(*g->pids_current() == 4u);
    CHECK(*g->pids_peak() == 5u); // pids.peak: Linux 6.1, the guest's kernel
    auto ev = g->read("pids.events");
    REQUIRE(ev);
    auto kv = cg::parse_keyed(*ev, "pids.events");
    REQUIRE(kv);
    CHECK(*kv->get("max") >= 1u);
    // The refusal arrives through the event watch too.
    auto evs = watch->wait(std::chrono::seconds(2));
    REQUIRE(evs);
    REQUIRE(evs->size() == 1);
    CHECK((*evs)[0].kind == cg::event_kind::pids_max);
    CHECK((*evs)[0].count >= 1u);
    CHECK(std::string(cg::to_string((*evs)[0].kind)) == "pids_max");
    REQUIRE(g->kill());
    // Killed orphans stay charged until init reaps them.
    auto t0 = std::chrono::steady_clock::now();
    while (*g->pids_current() != 0u && seconds_since(t0) < 5) std::this_thread::sleep_for(5ms);
    CHECK(*g->pids_current() == 0u);
}

TEST_CASE("cpu.max throttles a spinner", "[vm]") {
    auto g = cgroup::create(mount_point(), name("cpu"));
    REQUIRE(g);
    REQUIRE(g->set_cpu_max({10000, 100000})); // 10% of one CPU
    auto t0 = std::chrono::steady_clock::now();
    auto c = g->spawn([] {
        volatile unsigned long spins = 0;
        for (;;) spins = spins + 1;
        return 0;
    });
    REQUIRE(c);
    std::this_thread::sleep_for(1500ms);
    REQUIRE(g->freeze());
    double wall = seconds_since(t0);
    auto s = g->cpu_stat();
    REQUIRE(s);
    REQUIRE(g->kill());
    double used = static_cast<double>(s->usage_usec) / 1e6;
    INFO("wall " << wall << " s, usage " << used << " s, nr_periods " << s->nr_periods << ", nr_throttled "
                 << s->nr_throttled << ", throttled " << s->throttled_usec << " us");
    CHECK(s->nr_throttled > 0u);
    CHECK(s->throttled_usec > 0u);
    CHECK(used > 0.02);
    CHECK(used < 0.35 * wall); // an unthrottled spinner would use ~all of it
}

TEST_CASE("io.max throttles reads on a loop device", "[vm]") {
    if (!exists("/dev/loop-control")) {
        WARN("no loop driver in the guest (boot with --module loop)");
        return;
    }
    loop_device loop;
    make_loop(loop, 8);
    auto dev = cg::block_device(loop.path.c_str());
    REQUIRE(dev);
    auto g = cgroup::create(mount_point(), name("io"));
    REQUIRE(g);
    cg::io_max lim;
    lim.rbps = 1u << 20;
    REQUIRE(g->set_io_max(loop.path.c_str(), lim));
    auto back = g->io_max();
    REQUIRE(back);
    REQUIRE(back->size() == 1);
    CHECK((*back)[0].device == *dev);
    CHECK(*(*back)[0].rbps == 1u << 20);
    CHECK(*(*back)[0].wbps == cg::unlimited);

    // Read 3 MiB with O_DIRECT (no page cache) inside the group: at 1 MiB/s that cannot take
    // much under 2 s, whereas the same read outside the group takes milliseconds.
    std::string path = loop.path;
    auto reader = [path] {
        int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
        if (fd < 0) return 3;
        void* buf = nullptr;
        if (::posix_memalign(&buf, 4096, 256 << 10) != 0) return 4;
        for (int i = 0; i < 12; ++i)
            if (::read(fd, buf, 256 << 10) != (256 << 10)) return 5;
        ::close(fd);
        return 0;
    };
    auto free_t0 = std::chrono::steady_clock::now();
    auto f = fork_call(reader);
    REQUIRE(f);
    REQUIRE(f->wait()->success());
    double free_s = seconds_since(free_t0);

    auto t0 = std::chrono::steady_clock::now();
    auto c = g->spawn(reader);
    REQUIRE(c);
    auto st = c->wait_for(20s);
    REQUIRE(st);
    CHECK(st->success());
    double throttled_s = seconds_since(t0);
    INFO("unthrottled " << free_s << " s, throttled " << throttled_s << " s");
    CHECK(throttled_s > 1.5);
    CHECK(throttled_s > 3 * free_s);
    auto s = g->io_stat();
    REQUIRE(s);
    auto it = std::find_if(s->begin(), s->end(), [&](const cg::io_stat_entry& e) { return e.device == *dev; });
    REQUIRE(it != s->end());
    CHECK(it->rbytes >= 3u << 20);
    CHECK(it->rios >= 12u);

    // Lift the limit again with "max".
    lim.rbps = cg::unlimited;
    lim.device = *dev;
    REQUIRE(g->set_io_max(lim));
    auto cleared = g->io_max();
    REQUIRE(cleared);
    CHECK(cleared->empty());
}

TEST_CASE("cgroup.kill empties a group with nested children and forks", "[vm]") {
    auto g = cgroup::create(mount_point(), name("kill"));
    REQUIRE(g);
    auto sub = g->create_child("sub");
    REQUIRE(sub);
    auto a = g->spawn(sleeper);
    auto b = sub->spawn([] {
        for (int i = 0; i < 3; ++i)
            if (::fork() == 0) sleeper();
        return sleeper();
    });
    REQUIRE(a);
    REQUIRE(b);
    auto t0 = std::chrono::steady_clock::now();
    while (sub->procs()->size() < 4 && seconds_since(t0) < 5) std::this_thread::sleep_for(5ms);
    CHECK(sub->procs()->size() == 4);
    CHECK(*g->pids_current() == 5u);
    REQUIRE(g->kill());
    CHECK(!g->events()->populated);
    CHECK(g->procs()->empty());
    CHECK(sub->procs()->empty());
    CHECK(a->wait()->killed_by(SIGKILL));
    CHECK(b->wait()->killed_by(SIGKILL));
}

TEST_CASE("freeze stops progress and thaw resumes it", "[vm]") {
    auto g = cgroup::create(mount_point(), name("freeze"));
    REQUIRE(g);
    void* mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(mem != MAP_FAILED);
    auto* counter = static_cast<std::atomic<unsigned long>*>(mem);
    auto c = g->spawn([counter] {
        for (;;) counter->fetch_add(1, std::memory_order_relaxed);
        return 0;
    });
    REQUIRE(c);
    while (counter->load() == 0) std::this_thread::sleep_for(1ms);
    REQUIRE(g->freeze());
    auto frozen_at = counter->load();
    std::this_thread::sleep_for(300ms);
    CHECK(counter->load() == frozen_at);
    REQUIRE(g->thaw());
    auto t0 = std::chrono::steady_clock::now();
    while (counter->load() == frozen_at && seconds_since(t0) < 5) std::this_thread::sleep_for(1ms);
    CHECK(counter->load() > frozen_at);
    REQUIRE(g->kill());
    ::munmap(mem, 4096);
}

TEST_CASE("a PSI trigger fires under memory pressure", "[vm]") {
    auto g = cgroup::create(mount_point(), name("psi"));
    REQUIRE(g);
    // memory.high far below what the hog keeps touching: without swap nothing can be
    // reclaimed, so the kernel throttles the hog and accounts the stalls as memory pressure.
    REQUIRE(g->set_memory_high(8u << 20));
    REQUIRE(g->set_memory_swap_max(0));
    auto t = cg::psi_trigger::open(*g, cg::psi_resource::memory, {false, 50000, 500000});
    REQUIRE(t);
    auto w = cg::event_watch::open(*g);
    REQUIRE(w);
    auto loop = cg::event_loop::create();
    REQUIRE(loop);
    int fired = 0;
    std::uint64_t high_events = 0;
    REQUIRE(loop->add(*t, [&] { ++fired; }));
    REQUIRE(loop->add(*w, [&](const cg::event& e) {
        if (e.kind == cg::event_kind::memory_high) high_events = e.count;
    }));
    auto c = g->spawn([] { return hog(24); });
    REQUIRE(c);
    auto r = loop->run_until([&] { return fired > 0; }, 30s);
    CHECK(r);
    CHECK(fired > 0);
    auto p = g->pressure(cg::psi_resource::memory);
    REQUIRE(p);
    INFO("memory.pressure some total " << p->some.total_usec << " us, high events " << high_events);
    CHECK(p->some.total_usec > 50000u);
    REQUIRE(g->kill());
    CHECK(c->wait()->killed_by(SIGKILL));
    CHECK(g->memory_events()->high > 0u);
}

TEST_CASE("nested site groups keep their own limits", "[vm]") {
    auto root = mount_point();
    auto site = cgroup::create(root, name("site"));
    REQUIRE(site);
    REQUIRE(site->enable_controllers({"cpu", "memory", "pids", "io"}));
    CHECK(*site->subtree_control() == std::vector<std::string>{"cpu", "io", "memory", "pids"});
    auto nginx = site->create_child("nginx");
    auto php = site->create_child("php");
    REQUIRE(nginx);
    REQUIRE(php);
    REQUIRE(site->set_memory_max(128u << 20));
    REQUIRE(site->set_pids_max(100));
    REQUIRE(nginx->set_memory_max(32u << 20));
    REQUIRE(nginx->set_cpu_weight(200));
    REQUIRE(php->set_memory_max(96u << 20));
    REQUIRE(php->set_pids_max(20));
    REQUIRE(php->set_cpu_max({50000, 100000}));
    auto n1 = nginx->spawn(sleeper);
    auto p1 = php->spawn(sleeper);
    REQUIRE(n1);
    REQUIRE(p1);
    CHECK(*site->pids_current() == 2u);
    CHECK(*nginx->memory_max() == 32u << 20);
    CHECK(*nginx->cpu_weight() == 200u);
    CHECK(*nginx->pids_max() == cg::unlimited);
    CHECK(*php->memory_max() == 96u << 20);
    CHECK(*php->pids_max() == 20u);
    CHECK((*php->cpu_max() == cg::cpu_max{50000, 100000}));
    CHECK(*site->memory_max() == 128u << 20);

    // The no-internal-processes rule: a sub-group with a process cannot enable domain
    // controllers for its children, unless its processes move into a leaf first.
    auto e = php->enable_controllers({"memory"});
    REQUIRE(!e);
    CHECK(e.error().message() == "cgroup: enable controllers " + php->path() +
                                     ": Device or resource busy (the cgroup has processes (no-internal-processes "
                                     "rule): move them into a leaf group first)");
    // Threaded controllers (pids, cpu) are exempt from the rule.
    REQUIRE(nginx->enable_controllers({"pids"}));
    CHECK(*nginx->subtree_control() == std::vector<std::string>{"pids"});
    auto leaf = php->enable_controllers({"memory"}, "workers");
    INFO((leaf ? std::string("ok") : leaf.error().message()));
    REQUIRE(leaf);
    CHECK(php->procs()->empty());
    CHECK(*php->subtree_control() == std::vector<std::string>{"memory"});
    auto workers = cgroup::open(php->path() + "/workers");
    REQUIRE(workers);
    CHECK(*workers->procs() == std::vector<pid_t>{p1->pid()});
    // The limits set before are still there.
    CHECK(*php->memory_max() == 96u << 20);
    CHECK(*php->pids_max() == 20u);
    std::string site_path = site->path();
    nginx->disown();
    php->disown();
    REQUIRE(site->remove());
    CHECK(!exists(site_path));
    CHECK(n1->wait()->killed_by(SIGKILL));
    CHECK(p1->wait()->killed_by(SIGKILL));
}

TEST_CASE("the docs example runs", "[vm]") {
    CHECK(run_site_example() == 0);
    CHECK(!exists(mount_point() + "/example.org"));
}

TEST_CASE("nothing is left behind in the guest", "[vm]") {
    auto root = cgroup::open(mount_point());
    REQUIRE(root);
    CHECK(root->is_root());
    auto rk = root->kill(cg::kill_method::procs_loop);
    REQUIRE(!rk);
    CHECK(rk.error().message() == "cgroup: kill " + root->path() + ": invalid argument (refusing to kill the root cgroup)");
    CHECK(!root->kill());
    auto st = root->stat();
    REQUIRE(st);
    CHECK(st->nr_descendants == 0u);
    CHECK(!exists("/tmp/vmtest-loop.img"));
}
