#!/usr/bin/env python3
"""Side-by-side start latency of /bin/true in full isolation: bulkhead-run vs the kernel floor,
bubblewrap and crun. One run, paired and interleaved: every sample runs each tool K times in
a shuffled order, so load changes hit all tools alike; ratios are per-sample medians.

  benchmarks/ns/startup_side_by_side.py --build BUILD_DIR [--samples 30] [--per-sample 10]

Rows: floor = clone3 with 7 namespaces + id maps + /proc + exec (chroot into the prepared
root); floor-static = the same program linked as a static PIE, as bulkhead-run is (no dynamic
loader on either side: the like-for-like reference, a second ratio column); floor-pivot = the
floor with pivot_root and the old root detached, as every sandbox must;
bulkhead = bulkhead-run --unshare-all into the prepared read-only root with /proc, caps dropped,
no_new_privs, an rlimit, Docker's default seccomp profile (compiled by bulkhead-seccomp, 71
instructions) and a prepared cgroup (CLONE_INTO_CGROUP), all the issue's "full isolation";
bulkhead-usr / bwrap = the same bwrap-style mounts (tmpfs root, /usr read-only, /proc, /dev),
bwrap given the same seccomp program (--seccomp FD; bwrap has no cgroup option);
bwrap-root = bwrap with the prepared root; crun = busybox bundle (no user namespace, no
seccomp, no cgroup: crun does less than the bulkhead row);
fork+exec = a plain runner (fork, exec, wait); bulkhead-warm = bulkhead-run joining a prepared
netns and spawning into a prepared cgroup.

BUILD_DIR holds benchmarks/ns/bench_ns_floor(_static), examples/run/bulkhead-run and
examples/seccomp/bulkhead-seccomp (Release build).
--breakdown also runs benchmarks/ns/bench_ns_breakdown in the same prepared root: the start
in-process with each sandbox feature (init, lo, read-only root, bounding set, seccomp, cgroup)
switched off in turn, beside the floor done in the same process.
Runs as root. The whole script runs in a private mount namespace with /sys/fs/cgroup hidden
(crun is also told --cgroup-manager=disabled), so no runtime can touch the machine's cgroups;
stdio of every tool is a pipe (never /dev/null), and /dev/null is checked afterwards.
"""
import argparse, json, os, random, shutil, signal, statistics, subprocess, sys, tempfile, time

def die(msg):
    print(f"startup_side_by_side: {msg}", file=sys.stderr)
    sys.exit(2)

def reexec_private():
    if os.environ.get("BH_BENCH_INNER") == "1":
        return
    if os.geteuid() != 0:
        die("needs root")
    os.environ["BH_BENCH_INNER"] = "1"
    os.execvp("unshare", ["unshare", "-m", "--propagation", "private", sys.executable] + sys.argv)

def make_root(base):
    root = os.path.join(base, "root")
    for d in ["bin", "proc", "dev", "tmp", "sys", "etc"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    bb = shutil.which("busybox")
    if not bb:
        die("busybox (busybox-static) is needed for the prepared root")
    shutil.copy(bb, os.path.join(root, "bin", "busybox"))
    os.symlink("busybox", os.path.join(root, "bin", "true"))
    return root

def crun_bundle(base, root):
    bundle = os.path.join(base, "bundle")
    os.makedirs(bundle)
    subprocess.run(["crun", "spec"], cwd=bundle, check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    cfg["process"]["args"] = ["/bin/true"]
    cfg["process"]["terminal"] = False
    cfg["root"] = {"path": root, "readonly": True}
    cfg["mounts"] = [m for m in cfg["mounts"] if m.get("type") != "cgroup" and m["destination"] != "/sys/fs/cgroup"]
    cfg["linux"].pop("resources", None)
    # No user namespace for crun: an OCI runtime with a uid-mapped root has chowned the host's
    # /dev/null here before (machine.md). crun therefore does a little less work than the others.
    cfg["linux"]["namespaces"] = [{"type": t} for t in ["pid", "network", "ipc", "uts", "mount", "cgroup"]]
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)
    return bundle

SECCOMP_FD = "{seccomp-fd}"  # replaced per run by a fresh descriptor of the BPF file

def run_once(cmd, bpf=None):
    fds = ()
    if SECCOMP_FD in cmd:
        fd = os.open(bpf, os.O_RDONLY)  # bwrap reads it to the end: a new one every run
        fds = (fd,)
        cmd = [str(fd) if c == SECCOMP_FD else c for c in cmd]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=fds)
    dt = time.perf_counter() - t0
    for fd in fds:
        os.close(fd)
    if p.returncode != 0:
        die(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode(errors='replace').strip()}")
    return dt

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--per-sample", type=int, default=10)
    ap.add_argument("--no-crun", action="store_true")
    ap.add_argument("--breakdown", action="store_true", help="also run bench_ns_breakdown (in-process)")
    a = ap.parse_args()
    floor = os.path.join(a.build, "benchmarks/ns/bench_ns_floor")
    floor_static = os.path.join(a.build, "benchmarks/ns/bench_ns_floor_static")
    run = os.path.join(a.build, "examples/run/bulkhead-run")
    seccomp_tool = os.path.join(a.build, "examples/seccomp/bulkhead-seccomp")
    for p in (floor, floor_static, run, seccomp_tool):
        if not os.access(p, os.X_OK):
            die(f"missing {p} (build the bench_ns_floor and bulkhead-run targets)")
    reexec_private()
    base = tempfile.mkdtemp(prefix="bh-bench-")
    os.chmod(base, 0o755)  # the sandboxes' mapped root is not the owner
    state = os.path.join(base, "crun-state")
    cg = None
    pin = None
    try:
        root = make_root(base)
        true_bin = os.path.join(root, "bin", "true")
        # A prepared cgroup (cgroup2) and network namespace for the warm start.
        for cgroot in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
            if os.path.exists(os.path.join(cgroot, "cgroup.procs")) and os.path.exists(os.path.join(cgroot, "cgroup.controllers")):
                cg = os.path.join(cgroot, f"bh-bench-{os.getpid()}")
                os.mkdir(cg)
                break
        cg_view = os.path.join(base, "cg")
        if cg:
            os.mkdir(cg_view)
            subprocess.run(["mount", "--bind", cg, cg_view], check=True)
        pin = os.path.join(base, "netns")
        open(pin, "w").close()
        subprocess.run(["unshare", f"--net={pin}", "true"], check=True)
        # Hide the machine's cgroups from everything below (crun in particular).
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k,mode=0555", "bh-hidden", "/sys/fs/cgroup"], check=True)

        bpf = os.path.join(base, "docker.bpf")
        subprocess.run([seccomp_tool, "compile", "builtin:docker", "-o", bpf], check=True, stdout=subprocess.DEVNULL)
        # Full isolation as the issue lists it: also a seccomp filter and a (prepared) cgroup.
        full = ["--seccomp", bpf] + (["--cgroup", cg_view] if cg else [])
        uidmap = ["--uid-map", "0:100000:65536", "--gid-map", "0:100000:65536"]
        usr_binds = ["--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
                     "--symlink", "usr/lib64", "/lib64"]
        tools = {
            "floor": [floor, "--root", root, "/bin/true"],
            "floor-static": [floor_static, "--root", root, "/bin/true"],
            "bulkhead": [run, "--unshare-all"] + uidmap + ["--root-dir", root, "--root-ro", "--proc", "/proc",
                                                          "--rlimit", "NOFILE=1024"] + full + ["/bin/true"],
            # The same without the pid-1 init (the payload is pid 1): the init's share.
            "bulkhead-noinit": [run, "--unshare-all", "--no-init"] + uidmap + ["--root-dir", root, "--root-ro", "--proc",
                                                                             "/proc", "--rlimit", "NOFILE=1024"] + full + ["/bin/true"],
            "bulkhead-usr": [run, "--unshare-all"] + uidmap + usr_binds + ["--proc", "/proc", "--dev", "/dev",
                                                                          "--rlimit", "NOFILE=1024"] + full + ["/bin/true"],
            "bwrap": ["bwrap", "--unshare-all", "--seccomp", SECCOMP_FD] + usr_binds + ["--proc", "/proc", "--dev", "/dev", "/bin/true"],
            "bwrap-root": ["bwrap", "--unshare-all", "--seccomp", SECCOMP_FD, "--ro-bind", root, "/", "--proc", "/proc", "/bin/true"],
            "floor-pivot": [floor, "--pivot", "--root", root, "/bin/true"],
            # Warm start: the site's netns and cgroup exist; a new process joins them.
            "fork+exec": [floor, "--plain", true_bin],
            "bulkhead-warm": [run, "--join-net", pin] + (["--cgroup", cg_view] if cg else []) + [true_bin],
        }
        if not a.no_crun and shutil.which("crun"):
            bundle = crun_bundle(base, root)
            counter = [0]
            def crun_cmd():
                counter[0] += 1
                return ["crun", "--cgroup-manager=disabled", "--root", state, "run", "-b", bundle, f"bh{os.getpid()}-{counter[0]}"]
            tools["crun"] = crun_cmd
        names = list(tools)
        samples = {n: [] for n in names}
        for n in names:  # warm-up, and fail early with the tool's own message
            cmd = tools[n]() if callable(tools[n]) else tools[n]
            run_once(cmd, bpf)
        for _ in range(a.samples):
            order = names[:]
            random.shuffle(order)
            for n in order:
                tot = 0.0
                for _ in range(a.per_sample):
                    cmd = tools[n]() if callable(tools[n]) else tools[n]
                    tot += run_once(cmd, bpf)
                samples[n].append(tot / a.per_sample * 1000.0)
        def ratio(x, y):
            return statistics.median(p / q for p, q in zip(samples[x], samples[y]))
        print(f"start latency of /bin/true, {a.samples} samples x {a.per_sample} starts, interleaved (ms per start)")
        print(f"{'tool':<14} {'median':>8} {'p10':>8} {'p90':>8}  ratio")
        for n in names:
            s = sorted(samples[n])
            ref = "fork+exec" if n == "bulkhead-warm" else "floor"
            r = "" if n in ("floor", "fork+exec") else f"{ratio(n, ref):.2f}x {ref}"
            if n not in ("floor", "floor-static", "fork+exec", "bulkhead-warm"):
                r += f", {ratio(n, 'floor-static'):.2f}x floor-static"
            if n == "bulkhead-warm" and not cg:
                r += " (no cgroup2 dir: netns join only)"
            print(f"{n:<14} {statistics.median(s):8.2f} {s[len(s)//10]:8.2f} {s[(len(s)*9)//10]:8.2f}  {r}")
        if "bwrap" in samples:
            print(f"bwrap / bulkhead-usr (same mounts): {ratio('bwrap', 'bulkhead-usr'):.2f}x")
        if "crun" in samples:
            print(f"crun / bulkhead: {ratio('crun', 'bulkhead'):.2f}x")
        if a.breakdown:
            print()
            sys.stdout.flush()
            subprocess.run([os.path.join(a.build, "benchmarks/ns/bench_ns_breakdown"), "--seccomp", bpf]
                           + (["--cgroup", cg_view] if cg else []) + [root, str(a.samples), str(a.per_sample * 2)], check=True)
    finally:
        subprocess.run(["umount", "/sys/fs/cgroup"], stderr=subprocess.DEVNULL)
        if pin and os.path.exists(pin):
            subprocess.run(["umount", pin], stderr=subprocess.DEVNULL)
        if cg:
            subprocess.run(["umount", os.path.join(base, "cg")], stderr=subprocess.DEVNULL)
            try:
                os.rmdir(cg)
            except OSError as e:
                print(f"startup_side_by_side: rmdir {cg}: {e}", file=sys.stderr)
        shutil.rmtree(base, ignore_errors=True)
        st = os.stat("/dev/null")
        if st.st_uid != 0 or st.st_gid != 0 or (st.st_mode & 0o7777) != 0o666:
            print("startup_side_by_side: WARNING: /dev/null changed owner or mode!", file=sys.stderr)
            sys.exit(3)

if __name__ == "__main__":
    main()
