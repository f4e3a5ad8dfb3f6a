// bulkhead-audit: run inside a site, it reports what isolation the site really has, as
// observed from the inside: namespaces, id maps, capabilities, no_new_privs, seccomp and which
// dangerous syscalls are blocked, cgroup limits, visible processes, mounts and interfaces.
#include "audit.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {
const char* usage = R"(usage: bulkhead-audit [--json] [--no-probes] [--host-ns KIND:INODE,...]

Reports, from inside a compartment, the isolation it really has:
  namespaces   each namespace's inode and whether it is the host's ("host"), not the
               host's ("private"), or cannot be judged without a reference ("unverified")
  ids          uid/gid, uid_map/gid_map (root inside is nobody outside?), setgroups
  privileges   capability sets, NoNewPrivs, seccomp mode and filter count
  syscalls     harmless probes of io_uring, ptrace, process_vm_readv, keyctl, add_key, bpf,
               perf_event_open, userfaultfd, unshare, setns, mount, pivot_root,
               open_by_handle_at, kexec_load, init_module, clone3: "blocked" (with the
               errno or signal) or "reachable" (the kernel checked the arguments)
  cgroup       limits of this cgroup and every visible ancestor
  processes, mounts, network interfaces: what this compartment can see

options:
  --json           one JSON object instead of the table
  --no-probes      skip the syscall probes
  --host-ns LIST   the host's namespace inodes as KIND:INODE,... to judge against
                   (default: $BULKHEAD_HOST_NS, else the kernel's fixed initial inodes,
                   which exist for user, pid, uts, ipc, cgroup and time)
  --help           this text

exit status: 0 report printed, 2 usage error
)";
} // namespace

int main(int argc, char** argv) {
    audit::options opt;
    bool as_json = false;
    std::string host_ns;
    if (const char* env = std::getenv("BULKHEAD_HOST_NS")) host_ns = env;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--json") {
            as_json = true;
        } else if (a == "--no-probes") {
            opt.probes = false;
        } else if (a == "--host-ns") {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "bulkhead-audit: --host-ns needs a value\n");
                return 2;
            }
            host_ns = argv[++i];
        } else if (a == "--help" || a == "-h") {
            std::fputs(usage, stdout);
            return 0;
        } else {
            std::fprintf(stderr, "bulkhead-audit: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    auto ns = audit::parse_host_ns(host_ns);
    if (!ns) {
        std::fprintf(stderr, "bulkhead-audit: %s\n", ns.error().message().c_str());
        return 2;
    }
    opt.host_ns = *ns;
    auto rep = audit::collect(opt);
    std::string out = as_json ? audit::to_json(rep) + "\n" : audit::to_table(rep);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}
