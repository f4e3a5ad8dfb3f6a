// sitehost: runs many client websites on one host, each in its own kernel compartment (user,
// pid, mount, net, uts, ipc and cgroup namespaces, its own cgroup with limits, its own IP,
// seccomp, no capabilities beyond binding port 80), with real nginx and PHP-FPM per site.
#include "filters.hpp"
#include "supervisor.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

const char* usage = R"(usage:
  sitehost up CONFIG [--native] [--tools DIR] [--state-dir DIR]
  sitehost status [--json]
  sitehost freeze|thaw|kill|restart SITE
  sitehost exec SITE [--root] -- COMMAND [ARGS...]
  sitehost shutdown
  sitehost check CONFIG
  sitehost certcheck [SITE] [--config CONFIG] [--json]
  sitehost scan SITE|--all

up        starts every site of CONFIG (a JSON sites file, see docs/sitehost.md) and
          supervises it in the foreground: crashed servers restart with back-off; events
          are printed as JSON lines (start, exit, restart, oom_kill, ...). SIGTERM or
          SIGINT stops every site and removes everything made for them. A supervisor
          killed with SIGKILL takes its sites with it; the next `up` removes what is left.
  --native  run even where the cgroup controllers are missing (cpu, memory, pids limits
          are then NOT enforced, and sitehost says so)
  --tools DIR  bind DIR read-only at /opt/bulkhead in every site (e.g. bulkhead-audit)
  status    per site: state, address, services, CPU, memory, pids, PSI (--json: as JSON)
  freeze, thaw   stop and resume every process of a site (cgroup freezer)
  kill      kill the site's servers (they are restarted); restart: rebuild the site
  exec      run COMMAND inside SITE (as www-data, or --root: root of the site's own user
          namespace), with this terminal as its stdio; exits with its status
  check     validate CONFIG and print the allotted ids and addresses
  scan      full malware scan of SITE's webroot (or every site) with the configured
          databases, all cores, unchanged files skipped; detections are quarantined
  certcheck CAA preflight: may the configured CA (default letsencrypt.org) issue for each
          domain of SITE (or of every site)? Prints the verdict and why; exits 1 when a
          domain is refused. Reads CONFIG, or asks the running supervisor which it uses.

options for the client commands: --state-dir DIR (default: $SITEHOST_STATE_DIR or
/run/bulkhead-sitehost, the state_dir of the config)

exit status: 0 success, 1 the command failed (or exec's command's status), 2 usage or
configuration error
)";

std::string state_dir_default() {
    if (const char* e = std::getenv("SITEHOST_STATE_DIR")) return e;
    return "/run/bulkhead-sitehost";
}

int fail(const std::string& msg, int code = 1) {
    std::fprintf(stderr, "sitehost: %s\n", msg.c_str());
    return code;
}

/// Sends one request and returns the reply line.
bulkhead::result<std::string> request(const std::string& state_dir, const std::string& line,
                                      std::span<const int> fds = {}) {
    BULKHEAD_TRY_ASSIGN(auto c, sitehost::connect_control(state_dir + "/control.sock"));
    BULKHEAD_TRY(sitehost::send_message(c.get(), line, fds));
    BULKHEAD_TRY_ASSIGN(auto m, sitehost::recv_message(c.get()));
    return std::move(m.line);
}

/// The host's namespace inodes, so bulkhead-audit inside a site can judge net and mnt too.
std::string host_ns_list() {
    std::string out;
    for (const char* k : {"user", "pid", "mnt", "net", "uts", "ipc", "cgroup"}) {
        struct stat st {};
        if (::stat((std::string("/proc/self/ns/") + k).c_str(), &st) == 0)
            out += (out.empty() ? "" : ",") + std::string(k) + ":" + std::to_string(st.st_ino);
    }
    return out;
}

std::string status_table(const bulkhead::detail::json::value& v) {
    std::string o;
    char line[256];
    std::snprintf(line, sizeof line, "%-12s %-9s %-15s %-10s %10s %10s %6s %8s\n", "SITE", "STATE", "IPV4",
                  "SERVICES", "CPU(ms)", "MEM(MiB)", "PIDS", "PSI-CPU");
    o += line;
    for (const auto& s : v.find("sites")->items()) {
        std::string svc;
        if (const auto* ss = s.find("services"))
            for (const auto& x : ss->items()) {
                if (!svc.empty()) svc += ',';
                if (!x.find("running")->as_bool()) svc += '!';
                svc += x.find("name")->as_string().substr(0, 3);
            }
        auto num = [&](const char* k, double div) {
            const auto* x = s.find(k);
            if (!x) return std::string("-");
            char b[32];
            std::snprintf(b, sizeof b, "%.1f", x->as_double() / div);
            return std::string(b);
        };
        std::snprintf(line, sizeof line, "%-12s %-9s %-15s %-10s %10s %10s %6s %8s\n",
                      s.find("name")->as_string().c_str(), s.find("state")->as_string().c_str(),
                      s.find("ipv4")->as_string().c_str(), svc.c_str(), num("cpu_usage_usec", 1000).c_str(),
                      num("memory_bytes", 1048576).c_str(), num("pids", 1).c_str(),
                      num("psi_cpu_some_avg10", 1).c_str());
        o += line;
        if (const auto* rec = s.find("recent_events"))
            for (const auto& e : rec->items()) o += "             " + e.as_string() + "\n";
    }
    if (!v.find("limits_enforced")->as_bool()) o += "warning: limits are NOT enforced (--native)\n";
    return o;
}

int cmd_up(int argc, char** argv) {
    std::string config_path, tools, state_dir;
    bool native = false;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--native") native = true;
        else if (a == "--tools" && i + 1 < argc) tools = argv[++i];
        else if (a == "--state-dir" && i + 1 < argc) state_dir = argv[++i];
        else if (!a.empty() && a[0] == '-') return fail("up: unknown option '" + a + "' (see --help)", 2);
        else if (config_path.empty()) config_path = a;
        else return fail("up: one CONFIG only", 2);
    }
    if (config_path.empty()) return fail("up: CONFIG missing (see --help)", 2);
    auto cfg = sitehost::load_config(config_path);
    if (!cfg) return fail(cfg.error().message(), 2);
    if (!state_dir.empty()) cfg->state_dir = state_dir;
    if (::geteuid() != 0) return fail("up needs root (namespaces, cgroups, veths)", 2);
    // A peer that went away (a control client, a child that failed before reading its start
    // signal) must give EPIPE, not kill the supervisor and strand its sites.
    ::signal(SIGPIPE, SIG_IGN);
    sitehost::supervisor_options opt;
    opt.native = native;
    opt.tools_dir = tools;
    // One compilation per profile for the supervisor's lifetime (restarts reuse it).
    std::map<std::string, std::vector<sock_filter>> compiled;
    opt.filters = [&compiled](const sitehost::site& s) -> bulkhead::result<std::vector<sock_filter>> {
        if (auto it = compiled.find(s.seccomp); it != compiled.end()) return it->second;
        BULKHEAD_TRY_ASSIGN(auto f, sitehost::site_filter(s));
        compiled.emplace(s.seccomp, f);
        return f;
    };
    sitehost::supervisor sup(std::move(*cfg), opt);
    if (auto r = sup.prepare(); !r) return fail(r.error().message(), 1);
    if (auto r = sup.start_all(); !r) return fail(r.error().message(), 1);
    sup.certcheck_all();
    auto r = sup.run();
    sup.shutdown();
    if (!r) return fail(r.error().message(), 1);
    return sup.failed_sites().empty() ? 0 : 1;
}

int cmd_client(const std::string& cmd, int argc, char** argv) {
    std::string state_dir = state_dir_default();
    bool as_json = false, as_root = false, scan_all = false;
    std::string site;
    std::vector<std::string> command;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") {
            for (++i; i < argc; ++i) command.emplace_back(argv[i]);
            break;
        }
        if (a == "--json") as_json = true;
        else if (a == "--root") as_root = true;
        else if (a == "--all" && cmd == "scan") scan_all = true;
        else if (a == "--state-dir" && i + 1 < argc) state_dir = argv[++i];
        else if (!a.empty() && a[0] == '-') return fail(cmd + ": unknown option '" + a + "'", 2);
        else if (site.empty()) site = a;
        else return fail(cmd + ": unexpected argument '" + a + "'", 2);
    }
    bulkhead::detail::json::writer w;
    w.begin_object().field("cmd", cmd);
    if (cmd == "scan" && scan_all) {
        w.field("all", true);
    } else if (cmd != "status" && cmd != "shutdown") {
        if (site.empty()) return fail(cmd + ": SITE missing", 2);
        w.field("site", site);
    }
    std::vector<int> fds;
    if (cmd == "exec") {
        if (command.empty()) return fail("exec: COMMAND missing after --", 2);
        w.key("argv").begin_array();
        for (const auto& c : command) w.string(c);
        w.end_array().field("root", as_root).field("host_ns", host_ns_list());
        // Our stdio becomes the command's; a closed one (a daemon, CI) is /dev/null instead.
        for (int fd = 0; fd < 3; ++fd) {
            if (::fcntl(fd, F_GETFD) >= 0) {
                fds.push_back(fd);
                continue;
            }
            int null = ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            fds.push_back(null);
        }
    }
    w.end_object();
    auto raw = request(state_dir, std::move(w).str(), fds);
    if (!raw) return fail(raw.error().message());
    auto reply = bulkhead::detail::json::parse(*raw);
    if (!reply) return fail("malformed reply from the supervisor: " + reply.error().message());
    const auto* ok = reply->find("ok");
    if (!ok || !ok->as_bool()) {
        const auto* e = reply->find("error");
        return fail(cmd + ": " + (e ? e->as_string() : std::string("failed")));
    }
    if (cmd == "status") {
        std::fputs(as_json ? (*raw + "\n").c_str() : status_table(*reply).c_str(), stdout);
    }
    if (cmd == "scan") {
        std::uint64_t infected = 0;
        for (const auto& s : reply->find("sites")->items()) {
            infected += *s.find("infected")->as_uint64();
            std::printf("%-12s files %-6llu infected %-4llu unchanged %-6llu errors %llu\n", s.find("name")->as_string().c_str(),
                        static_cast<unsigned long long>(*s.find("files")->as_uint64()),
                        static_cast<unsigned long long>(*s.find("infected")->as_uint64()),
                        static_cast<unsigned long long>(*s.find("unchanged")->as_uint64()),
                        static_cast<unsigned long long>(*s.find("errors")->as_uint64()));
        }
        return infected ? 1 : 0;
    }
    if (cmd == "exec") {
        if (const auto* x = reply->find("exit")) return static_cast<int>(*x->as_int64());
        if (const auto* s = reply->find("signal")) return 128 + static_cast<int>(*s->as_int64());
    }
    return 0;
}

int cmd_certcheck(int argc, char** argv) {
    std::string state_dir = state_dir_default(), config_path, only;
    bool as_json = false;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--json") as_json = true;
        else if (a == "--config" && i + 1 < argc) config_path = argv[++i];
        else if (a == "--state-dir" && i + 1 < argc) state_dir = argv[++i];
        else if (!a.empty() && a[0] == '-') return fail("certcheck: unknown option '" + a + "'", 2);
        else if (only.empty()) only = a;
        else return fail("certcheck: one SITE at most", 2);
    }
    if (config_path.empty()) {
        auto raw = request(state_dir, R"({"cmd":"config"})");
        if (!raw) return fail("certcheck: " + raw.error().message() + "; or pass --config CONFIG", 2);
        auto v = bulkhead::detail::json::parse(*raw);
        const auto* p = v ? v->find("path") : nullptr;
        if (!p) return fail("certcheck: malformed reply from the supervisor", 2);
        config_path = p->as_string();
    }
    auto cfg = sitehost::load_config(config_path);
    if (!cfg) return fail(cfg.error().message(), 2);
    bool found = only.empty(), denied = false;
    bulkhead::detail::json::writer w;
    w.begin_array();
    for (const auto& s : cfg->sites) {
        if (!only.empty() && s.name != only) continue;
        found = true;
        auto r = sitehost::certcheck(cfg->caa, s);
        if (!r) return fail("certcheck " + s.name + ": " + r.error().message(), 2);
        for (const auto& v : *r) {
            denied |= !v.permitted;
            if (as_json) sitehost::to_json(w, v);
            else std::printf("%-10s %-28s %-7s %s\n", s.name.c_str(), v.domain.c_str(),
                             v.permitted ? "permit" : "DENY", v.explanation.c_str());
        }
    }
    w.end_array();
    if (!found) return fail("certcheck: no site named '" + only + "' in " + config_path, 2);
    if (as_json) std::printf("%s\n", w.str().c_str());
    return denied ? 1 : 0;
}

int cmd_check(int argc, char** argv) {
    if (argc != 1) return fail("check: CONFIG missing", 2);
    auto cfg = sitehost::load_config(argv[0]);
    if (!cfg) return fail(cfg.error().message(), 2);
    for (const auto& s : cfg->sites)
        std::printf("%-16s ids %u-%u  ipv4 %s (host side %s)  webroot %s\n", s.name.c_str(), s.ids->base,
                    s.ids->base + s.ids->count - 1, s.ipv4.c_str(), sitehost::host_side_ipv4(s).c_str(),
                    s.webroot.c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
        std::fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    std::string cmd = argv[1];
    if (cmd == "up") return cmd_up(argc - 2, argv + 2);
    if (cmd == "check") return cmd_check(argc - 2, argv + 2);
    if (cmd == "certcheck") return cmd_certcheck(argc - 2, argv + 2);
    if (cmd == "status" || cmd == "freeze" || cmd == "thaw" || cmd == "kill" || cmd == "restart" ||
        cmd == "exec" || cmd == "shutdown" || cmd == "scan")
        return cmd_client(cmd, argc - 2, argv + 2);
    return fail("unknown command '" + cmd + "' (see --help)", 2);
}
