#pragma once
/// \file seccomp/profile.hpp
/// Reading seccomp profiles: the OCI runtime-spec `linux.seccomp` object (also inside a whole
/// config.json) and Docker's profile format (names, action, errnoRet, args,
/// includes/excludes by arches, caps and minKernel, archMap, defaultErrnoRet).
///
/// Resolution follows Docker/runc:
///  - includes: every listed cap must be held, the host arch must be listed, the kernel must
///    be at least minKernel; excludes: any listed cap held or the host arch listed drops it.
///  - args of one entry are ANDed, except that conditions naming the same argument twice
///    become separate rules (ORed), as runc does.
///  - MASKED_EQ takes `value` as the mask and `valueTwo` as the value.
///  - A name unknown on one of the target architectures is skipped there (and listed in
///    profile::skipped_names) when it is a syscall of another architecture (ours or one in
///    other_arch_syscall_names) or newer than our tables (newer_syscall_names: its number
///    is above the table, where the filter answers ENOSYS); any other name is an error.
/// Errors name the file, the JSON path (`syscalls[12].args[0].op`), line:column and why.

#include "bulkhead/config.hpp"
#include "bulkhead/detail/json.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"
#include "bulkhead/seccomp/arch.hpp"
#include "bulkhead/seccomp/policy.hpp"

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>

BULKHEAD_NAMESPACE_BEGIN
namespace seccomp {

/// Docker's default capability set (moby oci/caps/defaults.go).
inline constexpr std::string_view docker_default_caps[] = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE",     "CAP_FSETID",     "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",          "CAP_SETUID",     "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",   "CAP_AUDIT_WRITE"};

struct profile_options {
    /// The host architecture includes/excludes are matched against.
    seccomp::arch host = native_arch().value_or(seccomp::arch::x86_64);
    /// Also build policies for the host's sub-architectures (archMap, or `architectures` of
    /// an OCI profile). Off: only the host arch, every other arch gets the foreign action.
    bool sub_arches = false;
    /// Capabilities the container holds (Docker's defaults unless replaced).
    std::vector<std::string> caps{std::begin(docker_default_caps), std::end(docker_default_caps)};
    /// Kernel version for minKernel ("6.1"); empty: every minKernel is satisfied.
    std::string kernel;
    /// The file name used in error messages.
    std::string source = "<profile>";
    /// Action for foreign architectures.
    action foreign_arch_action = action::kill_process();
};

/// A resolved profile: the policy and what resolution decided.
struct profile {
    seccomp::policy policy;
    std::size_t rules = 0;                  ///< rules added over all architectures
    std::vector<std::string> skipped_names; ///< "name@arch" skipped as another arch's syscall
    std::vector<std::string> flags;         ///< OCI `flags` (SECCOMP_FILTER_FLAG_*)
    std::string listener_path;              ///< OCI listenerPath
};

namespace detail {

namespace json = ::bulkhead::detail::json;

inline std::string docker_arch_name(arch a) {
    switch (a) {
    case arch::x86_64: return "amd64";
    case arch::i386: return "x86";
    case arch::x32: return "x32";
    case arch::aarch64: return "arm64";
    }
    return "";
}

inline bool arch_listed(const std::vector<std::string>& list, arch host) {
    for (const auto& s : list) {
        if (s == docker_arch_name(host)) return true;
        if (auto a = parse_arch(s); a && *a == host) return true;
        if (host == arch::i386 && s == "386") return true;
    }
    return false;
}

inline std::optional<std::pair<int, int>> kernel_version(std::string_view s) {
    int parts[2] = {0, 0};
    std::size_t i = 0;
    for (int p = 0; p < 2; ++p) {
        std::size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 6)
            parts[p] = parts[p] * 10 + (s[i++] - '0');
        if (i == start) return std::nullopt;
        if (p == 0) {
            if (i >= s.size() || s[i] != '.') return std::nullopt;
            ++i;
        }
    }
    return std::make_pair(parts[0], parts[1]);
}

class profile_reader {
public:
    profile_reader(const profile_options& o) : o_(o) {}

    result<profile> read(std::string_view text) {
        auto doc = json::parse(text);
        if (!doc) {
            error e = doc.error();
            auto pos = std::pair{e.line(), e.column()};
            return std::move(error(errc::parse_error, "seccomp: profile")
                                 .subject(o_.source)
                                 .at(pos.first, pos.second)
                                 .note(e.note_text()));
        }
        const json::value* root = &*doc;
        std::string prefix;
        if (root->is_object()) {
            if (const auto* lin = root->find("linux")) {
                if (!lin->is_object()) return bad(*lin, "linux", "must be an object");
                const auto* sc = lin->find("seccomp");
                if (!sc) return bad(*lin, "linux", "has no seccomp object");
                root = sc;
                prefix = "linux.seccomp.";
            }
        }
        prefix_ = prefix;
        if (!root->is_object()) return bad(*root, "", "profile must be a JSON object");
        profile out;
        for (const auto& [k, v] : root->members()) {
            if (k != "defaultAction" && k != "defaultErrnoRet" && k != "architectures" &&
                k != "archMap" && k != "syscalls" && k != "flags" && k != "listenerPath" &&
                k != "listenerMetadata" && k != "comment")
                return bad(v, k, "unknown member");
        }
        // defaultErrnoRet and defaultAction
        std::uint16_t default_errno = EPERM;
        if (const auto* v = root->find("defaultErrnoRet")) {
            BULKHEAD_TRY_ASSIGN(default_errno, errno_value(*v, "defaultErrnoRet"));
        }
        const auto* da = root->find("defaultAction");
        if (!da) return bad(*root, "defaultAction", "missing");
        BULKHEAD_TRY_ASSIGN(action dflt, parse_act(*da, "defaultAction", default_errno));

        // architectures to build
        std::vector<arch> arches{o_.host};
        if (o_.sub_arches) {
            if (const auto* am = root->find("archMap")) {
                if (!am->is_array()) return bad(*am, "archMap", "must be an array");
                for (std::size_t i = 0; i < am->items().size(); ++i) {
                    const auto& m = am->items()[i];
                    std::string p = "archMap[" + std::to_string(i) + "]";
                    if (!m.is_object()) return bad(m, p, "must be an object");
                    const auto* a = m.find("architecture");
                    if (!a || !a->is_string()) return bad(m, p + ".architecture", "must be a string");
                    if (parse_arch(a->as_string()) != o_.host) continue;
                    if (const auto* subs = m.find("subArchitectures")) {
                        if (!subs->is_array()) return bad(*subs, p + ".subArchitectures", "must be an array");
                        for (const auto& s : subs->items()) {
                            if (!s.is_string()) return bad(s, p + ".subArchitectures", "must hold strings");
                            if (auto sa = parse_arch(s.as_string());
                                sa && std::find(arches.begin(), arches.end(), *sa) == arches.end())
                                arches.push_back(*sa);
                        }
                    }
                }
            }
            if (const auto* aa = root->find("architectures")) {
                if (!aa->is_array()) return bad(*aa, "architectures", "must be an array");
                for (const auto& s : aa->items()) {
                    if (!s.is_string()) return bad(s, "architectures", "must hold strings");
                    if (auto sa = parse_arch(s.as_string());
                        sa && std::find(arches.begin(), arches.end(), *sa) == arches.end())
                        arches.push_back(*sa);
                }
            }
        }
        for (arch a : arches) out.policy.arches.push_back(arch_policy{a, dflt, true, {}});
        out.policy.foreign_arch_action = o_.foreign_arch_action;

        if (const auto* fl = root->find("flags")) {
            if (!fl->is_array()) return bad(*fl, "flags", "must be an array");
            for (const auto& f : fl->items()) {
                if (!f.is_string()) return bad(f, "flags", "must hold strings");
                out.flags.push_back(f.as_string());
            }
        }
        if (const auto* lp = root->find("listenerPath")) {
            if (!lp->is_string()) return bad(*lp, "listenerPath", "must be a string");
            out.listener_path = lp->as_string();
        }

        const auto* sys = root->find("syscalls");
        if (sys) {
            if (!sys->is_array()) return bad(*sys, "syscalls", "must be an array");
            for (std::size_t i = 0; i < sys->items().size(); ++i)
                BULKHEAD_TRY(entry(sys->items()[i], "syscalls[" + std::to_string(i) + "]",
                                   default_errno, out));
        }
        return out;
    }

private:
    error bad(const json::value& v, const std::string& path, std::string_view why) const {
        auto w = v.where();
        return std::move(error(errc::invalid_argument, "seccomp: profile")
                             .subject(o_.source + ": " + prefix_ + path)
                             .at(w.line, w.column)
                             .note(why));
    }

    result<std::uint16_t> errno_value(const json::value& v, const std::string& path) const {
        auto n = v.as_uint64();
        if (!v.is_number() || !n || *n > 4095) return bad(v, path, "must be an integer errno 0..4095");
        return static_cast<std::uint16_t>(*n);
    }

    result<action> parse_act(const json::value& v, const std::string& path, std::uint16_t errno_ret,
                             bool has_errno = false) const {
        if (!v.is_string()) return bad(v, path, "must be a string such as SCMP_ACT_ALLOW");
        const std::string& s = v.as_string();
        if (s == "SCMP_ACT_ERRNO") return action::errno_ret(errno_ret);
        if (s == "SCMP_ACT_TRACE") return action::trace(has_errno ? errno_ret : 0);
        if (s == "SCMP_ACT_TRAP") return action::trap();
        if (s == "SCMP_ACT_KILL") return action::kill_thread();
        if (s == "SCMP_ACT_KILL_THREAD") return action::kill_thread();
        if (s == "SCMP_ACT_KILL_PROCESS") return action::kill_process();
        if (s == "SCMP_ACT_ALLOW") return action::allow();
        if (s == "SCMP_ACT_LOG") return action::log();
        if (s == "SCMP_ACT_NOTIFY") return action::user_notif();
        return bad(v, path, "unknown action (SCMP_ACT_ALLOW, _ERRNO, _KILL, _KILL_PROCESS, "
                            "_KILL_THREAD, _TRAP, _TRACE, _LOG, _NOTIFY)");
    }

    result<std::vector<std::string>> strings(const json::value& v, const std::string& path) const {
        if (!v.is_array()) return bad(v, path, "must be an array of strings");
        std::vector<std::string> out;
        for (std::size_t i = 0; i < v.items().size(); ++i) {
            const auto& s = v.items()[i];
            if (!s.is_string()) return bad(s, path + "[" + std::to_string(i) + "]", "must be a string");
            out.push_back(s.as_string());
        }
        return out;
    }

    bool has_cap(const std::string& c) const {
        return std::find(o_.caps.begin(), o_.caps.end(), c) != o_.caps.end();
    }

    /// includes (`inc` true) or excludes filter; true when the entry applies.
    result<bool> filter(const json::value& f, const std::string& path, bool inc) const {
        if (!f.is_object()) return bad(f, path, "must be an object");
        for (const auto& [k, v] : f.members()) {
            std::string p = path + "." + k;
            if (k == "arches") {
                BULKHEAD_TRY_ASSIGN(auto list, strings(v, p));
                bool listed = arch_listed(list, o_.host);
                if (inc && !list.empty() && !listed) return false;
                if (!inc && listed) return false;
            } else if (k == "caps") {
                BULKHEAD_TRY_ASSIGN(auto list, strings(v, p));
                for (const auto& c : list) {
                    if (inc && !has_cap(c)) return false;
                    if (!inc && has_cap(c)) return false;
                }
            } else if (k == "minKernel") {
                if (!v.is_string()) return bad(v, p, "must be a string like \"4.8\"");
                auto want = kernel_version(v.as_string());
                if (!want) return bad(v, p, "must be a kernel version like \"4.8\"");
                if (!inc) return bad(v, p, "minKernel is only meaningful in includes");
                if (!o_.kernel.empty()) {
                    auto have = kernel_version(o_.kernel);
                    if (have && *have < *want) return false;
                }
            } else {
                return bad(v, p, "unknown member (arches, caps, minKernel)");
            }
        }
        return true;
    }

    result<void> entry(const json::value& e, const std::string& path, std::uint16_t default_errno,
                       profile& out) {
        if (!e.is_object()) return bad(e, path, "must be an object");
        for (const auto& [k, v] : e.members()) {
            if (k != "names" && k != "name" && k != "action" && k != "errnoRet" && k != "args" &&
                k != "includes" && k != "excludes" && k != "comment")
                return bad(v, path + "." + k, "unknown member");
        }
        std::vector<std::string> names;
        if (const auto* n = e.find("names")) {
            BULKHEAD_TRY_ASSIGN(names, strings(*n, path + ".names"));
        }
        if (const auto* n = e.find("name")) {
            if (!n->is_string()) return bad(*n, path + ".name", "must be a string");
            names.push_back(n->as_string());
        }
        if (names.empty()) return bad(e, path + ".names", "missing or empty");
        bool has_errno = false;
        std::uint16_t err = default_errno;
        if (const auto* er = e.find("errnoRet")) {
            BULKHEAD_TRY_ASSIGN(err, errno_value(*er, path + ".errnoRet"));
            has_errno = true;
        }
        const auto* av = e.find("action");
        if (!av) return bad(e, path + ".action", "missing");
        BULKHEAD_TRY_ASSIGN(action act, parse_act(*av, path + ".action", err, has_errno));
        // args
        std::vector<condition> conds;
        if (const auto* args = e.find("args"); args && !args->is_null()) {
            if (!args->is_array()) return bad(*args, path + ".args", "must be an array");
            for (std::size_t i = 0; i < args->items().size(); ++i) {
                const auto& a = args->items()[i];
                std::string p = path + ".args[" + std::to_string(i) + "]";
                if (!a.is_object()) return bad(a, p, "must be an object");
                for (const auto& [k, v] : a.members())
                    if (k != "index" && k != "value" && k != "valueTwo" && k != "op")
                        return bad(v, p + "." + k, "unknown member");
                const auto* ix = a.find("index");
                if (!ix) return bad(a, p + ".index", "missing");
                auto idx = ix->as_uint64();
                if (!ix->is_number() || !idx || *idx > 5) return bad(*ix, p + ".index", "must be 0..5");
                auto num = [&](const char* key, std::uint64_t& out_v) -> result<void> {
                    const auto* v = a.find(key);
                    if (!v) {
                        out_v = 0;
                        return {};
                    }
                    auto u = v->as_uint64();
                    if (!u) {
                        auto s = v->as_int64();
                        if (v->is_number() && s) u = static_cast<std::uint64_t>(*s);
                    }
                    if (!v->is_number() || !u)
                        return bad(*v, p + "." + key, "must be an integer (u64, or negative s64)");
                    out_v = *u;
                    return {};
                };
                std::uint64_t val = 0, two = 0;
                if (!a.find("value")) return bad(a, p + ".value", "missing");
                BULKHEAD_TRY(num("value", val));
                BULKHEAD_TRY(num("valueTwo", two));
                const auto* op = a.find("op");
                if (!op) return bad(a, p + ".op", "missing");
                if (!op->is_string()) return bad(*op, p + ".op", "must be a string");
                const std::string& o = op->as_string();
                condition c{static_cast<std::uint8_t>(*idx), cmp::eq, val, ~std::uint64_t{0}};
                if (o == "SCMP_CMP_EQ") c.op = cmp::eq;
                else if (o == "SCMP_CMP_NE") c.op = cmp::ne;
                else if (o == "SCMP_CMP_LT") c.op = cmp::lt;
                else if (o == "SCMP_CMP_LE") c.op = cmp::le;
                else if (o == "SCMP_CMP_GT") c.op = cmp::gt;
                else if (o == "SCMP_CMP_GE") c.op = cmp::ge;
                else if (o == "SCMP_CMP_MASKED_EQ") {
                    c.op = cmp::masked_eq;
                    c.mask = val;
                    c.value = two;
                } else {
                    return bad(*op, p + ".op",
                               "unknown comparison (SCMP_CMP_EQ, _NE, _LT, _LE, _GT, _GE, _MASKED_EQ)");
                }
                conds.push_back(c);
            }
        }
        bool applies = true;
        if (const auto* inc = e.find("includes")) {
            BULKHEAD_TRY_ASSIGN(bool ok, filter(*inc, path + ".includes", true));
            applies = applies && ok;
        }
        if (const auto* exc = e.find("excludes")) {
            BULKHEAD_TRY_ASSIGN(bool ok, filter(*exc, path + ".excludes", false));
            applies = applies && ok;
        }
        // Names are checked even for entries that do not apply here: a typo is an error.
        const auto* nv = e.find("names");
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (!known_anywhere(names[i]) && !other_arch_only(names[i]) && !newer_than_table(names[i])) {
                const json::value& at = nv && i < nv->items().size() ? nv->items()[i] : e;
                return bad(at, path + ".names[" + std::to_string(i) + "]",
                           "unknown syscall \"" + names[i] + "\"");
            }
        }
        if (!applies) return {};
        // runc: conditions naming one argument twice become separate rules.
        std::vector<std::vector<condition>> rule_conds;
        bool repeated = false;
        for (std::size_t i = 0; i < conds.size(); ++i)
            for (std::size_t j = i + 1; j < conds.size(); ++j)
                if (conds[i].arg == conds[j].arg) repeated = true;
        if (repeated)
            for (auto& c : conds) rule_conds.push_back({c});
        else
            rule_conds.push_back(conds);
        for (auto& ap : out.policy.arches) {
            auto t = table(ap.arch);
            for (const auto& n : names) {
                auto nr = t.find(n);
                if (!nr) {
                    out.skipped_names.push_back(n + "@" + std::string(arch_name(ap.arch)));
                    continue;
                }
                for (auto& rc : rule_conds) {
                    ap.syscalls[*nr].push_back(rule{act, rc});
                    ++out.rules;
                }
            }
        }
        return {};
    }

    const profile_options& o_;
    std::string prefix_;
};

} // namespace detail

/// Reads an OCI `linux.seccomp` object (or a config.json holding one) or a Docker profile.
[[nodiscard]] inline result<profile> parse_profile(std::string_view json_text,
                                                   const profile_options& opt = {}) {
    detail::profile_reader r(opt);
    return r.read(json_text);
}

/// Reads a profile file; errors name the file.
[[nodiscard]] inline result<profile> load_profile(const std::string& path, profile_options opt = {}) {
    auto text = read_file(path.c_str());
    if (!text) return std::move(error(text.error().code(), "seccomp: read profile").subject(path));
    opt.source = path;
    return parse_profile(*text, opt);
}

} // namespace seccomp
BULKHEAD_NAMESPACE_END
