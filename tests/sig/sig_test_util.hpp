#pragma once
// Helpers shared by the sig tests: temp directories, shell commands, a naive reference matcher.
#include "bulkhead/sig.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace sigtest {

/// A temp directory removed (recursively) on destruction.
struct temp_dir {
    std::string path;
    temp_dir() {
        char tmpl[] = "/tmp/bulkhead-sig-XXXXXX";
        char* p = ::mkdtemp(tmpl);
        path = p ? p : "";
    }
    ~temp_dir() {
        std::error_code ec;
        if (!path.empty()) {
            // quarantined files are mode 0; make everything removable first
            for (auto& e : std::filesystem::recursive_directory_iterator(path, ec))
                std::filesystem::permissions(e.path(), std::filesystem::perms::owner_all,
                                             std::filesystem::perm_options::add, ec);
            std::filesystem::remove_all(path, ec);
        }
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::string operator/(const std::string& n) const { return path + "/" + n; }
};

inline void write(const std::string& p, const std::string& data) {
    std::ofstream o(p, std::ios::binary);
    o.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline std::string slurp(const std::string& p) {
    std::ifstream i(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(i)), std::istreambuf_iterator<char>());
}

/// Runs a shell command, returning (exit status, stdout).
inline std::pair<int, std::string> run(const std::string& cmd) {
    std::string out;
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return {-1, out};
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    int st = ::pclose(f);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

inline bool have(const std::string& tool) {
    return run("command -v " + tool + " >/dev/null 2>&1").first == 0;
}

inline std::span<const unsigned char> bytes(const std::string& s) {
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

/// Naive reference: does `toks` match `d` starting somewhere allowed by `off`?
/// Exhaustive over all alignments, memoized on (token, position).
class naive {
public:
    naive(const std::vector<bulkhead::sig::token>& t, const std::string& d) : t_(t), d_(d) {
        memo_.assign((t.size() + 1) * (d.size() + 1), -1);
    }
    bool at(std::size_t ti, std::size_t p) {
        if (ti == t_.size()) return true;
        auto& m = memo_[ti * (d_.size() + 1) + p];
        if (m >= 0) return m;
        m = step(ti, p);
        return m;
    }
    bool any(const bulkhead::sig::offset_spec& off) {
        std::size_t n = d_.size();
        // ClamAV measures the offset of `aa[x-y]HEXSIG` at HEXSIG.
        bool lead = t_.size() > 2 && t_[0].kind == bulkhead::sig::token::lit &&
                    t_[1].kind == bulkhead::sig::token::gap && t_[1].bracket;
        for (std::size_t s = 0; s <= n; ++s) {
            if (off.kind == bulkhead::sig::offset_spec::absolute && (s < off.n || s > off.n + off.shift)) continue;
            if (off.kind == bulkhead::sig::offset_spec::eof_minus &&
                (off.n > n || s < n - off.n || s > n - off.n + off.shift))
                continue;
            if (!lead) {
                if (at(0, s)) return true;
                continue;
            }
            if (!at(2, s)) continue;
            for (std::uint32_t g = t_[1].gmin; g <= t_[1].gmax; ++g)
                if (s >= g + 1 && static_cast<unsigned char>(d_[s - g - 1]) == t_[0].b) return true;
        }
        return false;
    }

private:
    bool step(std::size_t ti, std::size_t p) {
        using bulkhead::sig::token;
        const token& t = t_[ti];
        const std::size_t n = d_.size();
        auto c = [&](std::size_t i) { return static_cast<unsigned char>(d_[i]); };
        switch (t.kind) {
        case token::lit: return p < n && c(p) == t.b && at(ti + 1, p + 1);
        case token::mask: return p < n && (c(p) & t.m) == t.b && at(ti + 1, p + 1);
        case token::any: return p < n && at(ti + 1, p + 1);
        case token::set: return p < n && t.set_has(c(p)) && at(ti + 1, p + 1);
        case token::alt:
            for (auto& a : t.alts)
                if (d_.compare(p, a.size(), a) == 0 && p + a.size() <= n && at(ti + 1, p + a.size())) return true;
            return false;
        case token::nalt: {
            std::size_t l = t.alts[0].size();
            if (p + l > n) return false;
            for (auto& a : t.alts)
                if (d_.compare(p, l, a) == 0) return false;
            return at(ti + 1, p + l);
        }
        case token::gap: {
            std::uint64_t hi = t.gmax == bulkhead::sig::gap_unbounded ? n : std::min<std::uint64_t>(n, p + std::uint64_t(t.gmax));
            for (std::uint64_t q = p + t.gmin; q <= hi; ++q)
                if (at(ti + 1, q)) return true;
            return false;
        }
        }
        return false;
    }
    const std::vector<bulkhead::sig::token>& t_;
    const std::string& d_;
    std::vector<signed char> memo_;
};

} // namespace sigtest
