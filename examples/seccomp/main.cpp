// bulkhead-seccomp: compile, disassemble, query and compare seccomp profiles.
//
// Exit codes: 0 success (check: the verdict is ALLOW; diff: no difference),
//             1 check: the verdict is not ALLOW; diff: the profiles differ,
//             2 usage error, 3 bad input (profile, BPF file, syscall name),
//             4 compile error (e.g. over BPF_MAXINSNS), 5 output error.
#include "bulkhead/detail/json.hpp"
#include "bulkhead/detail/text.hpp"
#include "bulkhead/seccomp.hpp"

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace sc = bulkhead::seccomp;
namespace json = bulkhead::detail::json;

namespace {

constexpr int exit_ok = 0, exit_no = 1, exit_usage = 2, exit_input = 3, exit_compile = 4, exit_output = 5;

const char* usage_text =
    "usage: bulkhead-seccomp COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  compile PROFILE [-o OUT.bpf | --c-array]   compile to classic BPF (raw output works with\n"
    "                                             `bwrap --seccomp FD`); stats with --json\n"
    "  disasm FILE.bpf|PROFILE                    readable listing with syscall names\n"
    "  check PROFILE SYSCALL [ARG...]             print the verdict for a syscall (name or\n"
    "                                             number) and up to 6 integer arguments\n"
    "  diff A B                                   list syscalls and argument cases whose\n"
    "                                             verdicts differ\n"
    "\n"
    "PROFILE is an OCI linux.seccomp / config.json or Docker profile file, or builtin:docker,\n"
    "builtin:web.\n"
    "\n"
    "Options:\n"
    "  --arch ARCH        host architecture (x86_64, i386, x32, aarch64); default: this one\n"
    "  --sub-arches       also build the profile's sub-architectures (archMap/architectures);\n"
    "                     default: other architectures are killed\n"
    "  --caps LIST        comma-separated capabilities for includes/excludes (default:\n"
    "                     Docker's default set); --caps '' for none\n"
    "  --kernel X.Y       kernel version for minKernel (default: every minKernel holds)\n"
    "  --json             machine-readable output (compile, check, diff)\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit codes: 0 ok (check: ALLOW; diff: same), 1 check: not ALLOW / diff: differ,\n"
    "            2 usage, 3 bad input, 4 compile error, 5 output error.\n";

struct options {
    std::string cmd;
    std::vector<std::string> pos;
    std::string out;
    bool c_array = false;
    bool json = false;
    bool sub_arches = false;
    std::optional<sc::arch> arch;
    std::optional<std::vector<std::string>> caps;
    std::string kernel;
};

int usage_error(const std::string& msg) {
    std::fprintf(stderr, "bulkhead-seccomp: %s\n(see bulkhead-seccomp --help)\n", msg.c_str());
    return exit_usage;
}

sc::arch host(const options& o) { return o.arch.value_or(sc::native_arch().value_or(sc::arch::x86_64)); }

bulkhead::result<sc::policy> load(const options& o, const std::string& spec) {
    if (spec == "builtin:docker") return sc::docker_default(host(o));
    if (spec == "builtin:web") return sc::web_site(host(o));
    sc::profile_options po;
    po.host = host(o);
    po.sub_arches = o.sub_arches;
    if (o.caps) po.caps = *o.caps;
    po.kernel = o.kernel;
    auto p = sc::load_profile(spec, po);
    if (!p) return p.error();
    return std::move(p->policy);
}

bulkhead::result<sc::program> compile_spec(const options& o, const std::string& spec, int& code) {
    auto p = load(o, spec);
    if (!p) {
        code = exit_input;
        return p.error();
    }
    auto prog = sc::compile(*p);
    if (!prog) code = exit_compile;
    return prog;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
    bool neg = false;
    if (!s.empty() && s[0] == '-') {
        neg = true;
        s.remove_prefix(1);
    }
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s.remove_prefix(2);
    }
    if (s.empty()) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return std::nullopt;
        std::uint64_t nv = v * static_cast<unsigned>(base) + static_cast<unsigned>(d);
        if (nv / static_cast<unsigned>(base) != v) return std::nullopt;
        v = nv;
    }
    return neg ? 0 - v : v;
}

int cmd_compile(const options& o) {
    if (o.pos.size() != 1) return usage_error("compile takes one PROFILE");
    if (!o.out.empty() && o.c_array) return usage_error("-o and --c-array exclude each other");
    int code = 0;
    auto prog = compile_spec(o, o.pos[0], code);
    if (!prog) {
        std::fprintf(stderr, "bulkhead-seccomp: compile: %s\n", prog.error().message().c_str());
        return code;
    }
    if (o.c_array) {
        std::printf("/* %zu instructions, compiled by bulkhead-seccomp from %s */\n", prog->size(), o.pos[0].c_str());
        std::printf("static const struct sock_filter filter[] = {\n");
        for (const auto& x : *prog)
            std::printf("    {0x%02x, %u, %u, 0x%08x},\n", x.code, x.jt, x.jf, x.k);
        std::printf("};\n");
        return exit_ok;
    }
    const auto* bytes = reinterpret_cast<const char*>(prog->data());
    std::string_view raw(bytes, prog->size() * sizeof(sc::insn));
    if (!o.out.empty()) {
        int fd = ::open(o.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            std::fprintf(stderr, "bulkhead-seccomp: -o %s: %s\n", o.out.c_str(), std::strerror(errno));
            return exit_output;
        }
        bulkhead::unique_fd owner(fd);
        if (!bulkhead::write_all(fd, raw)) {
            std::fprintf(stderr, "bulkhead-seccomp: write %s: %s\n", o.out.c_str(), std::strerror(errno));
            return exit_output;
        }
    } else if (!o.json) {
        if (::isatty(1)) return usage_error("refusing to write binary BPF to a terminal: use -o FILE or --c-array");
        if (!bulkhead::write_all(1, raw)) return exit_output;
    }
    if (o.json) {
        json::writer w;
        w.begin_object().field("profile", o.pos[0]).field("instructions", static_cast<std::uint64_t>(prog->size()));
        if (!o.out.empty()) w.field("output", o.out);
        w.end_object();
        std::printf("%s\n", w.str().c_str());
    }
    return exit_ok;
}

int cmd_disasm(const options& o) {
    if (o.pos.size() != 1) return usage_error("disasm takes one FILE");
    const std::string& f = o.pos[0];
    sc::program prog;
    auto text = f.rfind("builtin:", 0) == 0 ? bulkhead::result<std::string>(std::string("{")) : bulkhead::read_file(f.c_str());
    if (!text) {
        std::fprintf(stderr, "bulkhead-seccomp: disasm: %s\n", text.error().message().c_str());
        return exit_input;
    }
    std::size_t i = 0;
    while (i < text->size() && (std::isspace(static_cast<unsigned char>((*text)[i])))) ++i;
    if (i < text->size() && (*text)[i] == '{') {
        int code = 0;
        auto p = compile_spec(o, f, code);
        if (!p) {
            std::fprintf(stderr, "bulkhead-seccomp: disasm: %s\n", p.error().message().c_str());
            return code;
        }
        prog = *p;
    } else {
        if (text->empty() || text->size() % sizeof(sc::insn)) {
            std::fprintf(stderr, "bulkhead-seccomp: disasm %s: size %zu is not a multiple of 8 (not raw BPF)\n", f.c_str(), text->size());
            return exit_input;
        }
        prog.resize(text->size() / sizeof(sc::insn));
        std::memcpy(prog.data(), text->data(), text->size());
        if (auto c = sc::check(prog); !c)
            std::fprintf(stderr, "bulkhead-seccomp: warning: %s: %s\n", f.c_str(), c.error().message().c_str());
    }
    std::fputs(sc::disassemble(prog, host(o)).c_str(), stdout);
    return exit_ok;
}

int cmd_check(const options& o) {
    if (o.pos.size() < 2 || o.pos.size() > 8) return usage_error("check takes PROFILE SYSCALL [ARG...] (at most 6 args)");
    int code = 0;
    auto prog = compile_spec(o, o.pos[0], code);
    if (!prog) {
        std::fprintf(stderr, "bulkhead-seccomp: check: %s\n", prog.error().message().c_str());
        return code;
    }
    sc::arch a = host(o);
    sc::data d{};
    d.arch = sc::audit_arch(a);
    std::string name = o.pos[1];
    std::uint32_t nr;
    if (auto n = parse_u64(name); n && *n <= 0xffffffffu) {
        nr = static_cast<std::uint32_t>(*n);
        auto nm = sc::table(a).name(nr >= sc::nr_bias(a) ? nr - sc::nr_bias(a) : nr);
        if (!nm.empty()) name = std::string(nm);
    } else {
        auto r = sc::resolve(a, name);
        if (!r) {
            std::fprintf(stderr, "bulkhead-seccomp: check: %s\n", r.error().message().c_str());
            return exit_input;
        }
        nr = *r + sc::nr_bias(a);
    }
    d.nr = static_cast<int>(nr);
    for (std::size_t i = 2; i < o.pos.size(); ++i) {
        auto v = parse_u64(o.pos[i]);
        if (!v) return usage_error("argument " + std::to_string(i - 1) + " \"" + o.pos[i] + "\" is not an integer");
        d.args[i - 2] = *v;
    }
    auto r = sc::run(*prog, d);
    if (o.json) {
        json::writer w;
        w.begin_object().field("syscall", name).field("nr", static_cast<std::uint64_t>(nr))
            .field("arch", std::string(sc::arch_name(a))).field("verdict", r.verdict().str())
            .field("executed", static_cast<std::uint64_t>(r.executed)).field("loads_args", r.loaded_args).end_object();
        std::printf("%s\n", w.str().c_str());
    } else {
        std::printf("%s: %s\n", name.c_str(), r.verdict().str().c_str());
    }
    return r.verdict() == sc::action::allow() ? exit_ok : exit_no;
}

int cmd_diff(const options& o) {
    if (o.pos.size() != 2) return usage_error("diff takes two profiles");
    auto pa = load(o, o.pos[0]);
    if (!pa) {
        std::fprintf(stderr, "bulkhead-seccomp: diff: %s\n", pa.error().message().c_str());
        return exit_input;
    }
    auto pb = load(o, o.pos[1]);
    if (!pb) {
        std::fprintf(stderr, "bulkhead-seccomp: diff: %s\n", pb.error().message().c_str());
        return exit_input;
    }
    sc::arch a = host(o);
    auto t = sc::table(a);
    // Argument probes: every constant either policy compares with, +-1, and hi-word variants.
    std::set<std::uint64_t> vals{0, 1, 0xffffffff, ~0ull, 0x100000000ull};
    std::set<std::pair<std::uint32_t, std::uint8_t>> argd; // (nr, arg index) with conditions
    for (const auto* p : {&*pa, &*pb})
        for (const auto& ap : p->arches) {
            if (ap.arch != a) continue;
            for (const auto& [nr, rules] : ap.syscalls)
                for (const auto& r : rules)
                    for (const auto& c : r.all_of) {
                        argd.insert({nr, c.arg});
                        for (std::uint64_t v : {c.value, c.value - 1, c.value + 1, c.value | ~c.mask, c.mask})
                            vals.insert(v);
                    }
        }
    json::writer w;
    w.begin_array();
    std::size_t diffs = 0;
    auto report = [&](std::uint32_t nr, const std::string& argtext, sc::action va, sc::action vb) {
        ++diffs;
        std::string name(t.name(nr));
        if (name.empty()) name = "#" + std::to_string(nr);
        if (o.json) {
            w.begin_object().field("syscall", name).field("nr", static_cast<std::uint64_t>(nr));
            if (!argtext.empty()) w.field("args", argtext);
            w.field("a", va.str()).field("b", vb.str()).end_object();
        } else {
            std::printf("%-24s %-28s %-16s %s\n", name.c_str(), argtext.c_str(), va.str().c_str(), vb.str().c_str());
        }
    };
    if (!o.json) std::printf("%-24s %-28s %-16s %s\n", "SYSCALL", "ARGS", "A", "B");
    for (std::uint32_t nr = 0; nr <= t.max_nr + 1; ++nr) {
        sc::data d{};
        d.arch = sc::audit_arch(a);
        d.nr = static_cast<int>(nr + sc::nr_bias(a));
        auto va = pa->evaluate(d), vb = pb->evaluate(d);
        bool has_args = false;
        for (auto& [n2, ai] : argd)
            if (n2 == nr) has_args = true;
        if (!has_args) {
            if (va != vb) report(nr, "", va, vb);
            continue;
        }
        std::size_t shown = 0;
        for (auto& [n2, ai] : argd) {
            if (n2 != nr) continue;
            for (auto v : vals) {
                d.args[ai] = v;
                auto xa = pa->evaluate(d), xb = pb->evaluate(d);
                if (xa != xb && shown++ < 8) {
                    char buf[64];
                    std::snprintf(buf, sizeof buf, "arg%u=0x%llx", ai, static_cast<unsigned long long>(v));
                    report(nr, buf, xa, xb);
                }
            }
            d.args[ai] = 0;
        }
    }
    w.end_array();
    if (o.json) std::printf("%s\n", w.str().c_str());
    return diffs ? exit_no : exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto need = [&](const char* flag) -> std::optional<std::string> {
            if (i + 1 >= argc) return std::nullopt;
            (void)flag;
            return std::string(argv[++i]);
        };
        if (a == "-h" || a == "--help") {
            std::fputs(usage_text, stdout);
            return exit_ok;
        } else if (a == "-o") {
            auto v = need("-o");
            if (!v) return usage_error("-o needs a file name");
            o.out = *v;
        } else if (a == "--c-array") {
            o.c_array = true;
        } else if (a == "--json") {
            o.json = true;
        } else if (a == "--sub-arches") {
            o.sub_arches = true;
        } else if (a == "--arch") {
            auto v = need("--arch");
            if (!v) return usage_error("--arch needs a value");
            auto ar = sc::parse_arch(*v);
            if (!ar) return usage_error("--arch: unknown architecture \"" + *v + "\" (x86_64, i386, x32, aarch64)");
            o.arch = *ar;
        } else if (a == "--caps") {
            auto v = need("--caps");
            if (!v) return usage_error("--caps needs a list");
            std::vector<std::string> caps;
            for (auto c : bulkhead::detail::split(*v, ','))
                if (!c.empty()) caps.emplace_back(c);
            o.caps = caps;
        } else if (a == "--kernel") {
            auto v = need("--kernel");
            if (!v) return usage_error("--kernel needs a version like 6.1");
            o.kernel = *v;
        } else if (a.size() > 1 && a[0] == '-' && !parse_u64(a)) {
            return usage_error("unknown option " + a);
        } else if (o.cmd.empty()) {
            o.cmd = a;
        } else {
            o.pos.push_back(a);
        }
    }
    if (o.cmd.empty()) return usage_error("no command");
    if (o.cmd == "compile") return cmd_compile(o);
    if (o.cmd == "disasm") return cmd_disasm(o);
    if (o.cmd == "check") return cmd_check(o);
    if (o.cmd == "diff") return cmd_diff(o);
    return usage_error("unknown command \"" + o.cmd + "\"");
}
