#pragma once
// Shared code charged to the host, not to a site.
//
// The kernel charges a page-cache page to the cgroup of the task that first reads it, and
// never moves the charge. Every site runs the same nginx and PHP-FPM binaries, libraries and
// PHP extensions, so without care they are charged to whichever site started first; when
// that site reaches its memory.high or memory.max, its own reclaim evicts code pages the
// other sites are executing, and they stall on major faults (measured: a 2.3 s stall of
// site B while site A's memory hog was OOM-killed, benchmarks/sitehost/noisy.sh). So, before
// any site starts, the supervisor reads those files once from its own cgroup.
#include <bulkhead/error.hpp>
#include <bulkhead/fd.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sitehost {

/// The absolute paths in `ldd` output ("libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)"
/// and "/lib64/ld-linux-x86-64.so.2 (0x...)"); "not found" and vDSO lines give none.
inline std::vector<std::string> parse_ldd(std::string_view out) {
    std::vector<std::string> paths;
    while (!out.empty()) {
        auto nl = out.find('\n');
        std::string_view line = out.substr(0, nl);
        out = nl == std::string_view::npos ? std::string_view{} : out.substr(nl + 1);
        auto arrow = line.find("=> ");
        std::string_view rest = arrow == std::string_view::npos ? line : line.substr(arrow + 3);
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
        if (rest.empty() || rest.front() != '/') continue;
        auto end = rest.find_first_of(" \t(");
        std::string_view p = rest.substr(0, end);
        if (p.size() > 1) paths.emplace_back(p);
    }
    return paths;
}

/// Runs `ldd FILE` (trusted system files only: ldd may run the file's loader) and returns
/// the libraries it names; an empty list when ldd is missing or fails.
inline std::vector<std::string> libraries_of(const std::string& file) {
    const char* ldd = "/usr/bin/ldd";
    if (::access(ldd, X_OK) != 0) return {};
    auto p = bulkhead::make_pipe();
    if (!p) return {};
    pid_t pid = ::fork();
    if (pid < 0) return {};
    if (pid == 0) {
        ::dup2(p->write.get(), 1);
        int dn = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (dn >= 0) ::dup2(dn, 2);
        char* const argv[] = {const_cast<char*>(ldd), const_cast<char*>(file.c_str()), nullptr};
        char* const envp[] = {const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), const_cast<char*>("LC_ALL=C"), nullptr};
        ::execve(ldd, argv, envp);
        ::_exit(127);
    }
    p->write.reset();
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(p->read.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (out.size() < (1u << 20)) out.append(buf, static_cast<std::size_t>(n));
    }
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return {};
    return parse_ldd(out);
}

struct prewarm_result {
    std::size_t files = 0;
    std::uint64_t bytes = 0;
    std::chrono::milliseconds took{0};
};

/// Reads every regular file of `files` once (the page cache is charged to the caller's
/// cgroup). Missing files are skipped: a server that is not installed has nothing to share.
inline prewarm_result read_files(std::vector<std::string> files) {
    auto t0 = std::chrono::steady_clock::now();
    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    prewarm_result r;
    std::vector<char> buf(1 << 20);
    for (const auto& f : files) {
        int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) continue;
        bulkhead::unique_fd g(fd);
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        ++r.files;
        for (;;) {
            ssize_t n = ::read(fd, buf.data(), buf.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            r.bytes += static_cast<std::uint64_t>(n);
        }
    }
    r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    return r;
}

/// The shared code of the sites' servers: the executables, the shared objects of `ext_dirs`
/// (PHP's extension directories), and the libraries all of them load.
inline std::vector<std::string> shared_code(const std::vector<std::string>& executables,
                                            const std::vector<std::string>& ext_dirs) {
    std::vector<std::string> objects;
    for (const auto& e : executables)
        if (::access(e.c_str(), R_OK) == 0) objects.push_back(e);
    for (const auto& d : ext_dirs) {
        DIR* dir = ::opendir(d.c_str());
        if (!dir) continue;
        while (auto* ent = ::readdir(dir)) {
            std::string_view n = ent->d_name;
            if (n.size() > 3 && n.substr(n.size() - 3) == ".so") objects.push_back(d + "/" + std::string(n));
        }
        ::closedir(dir);
    }
    std::vector<std::string> files = objects;
    for (const auto& o : objects)
        for (auto& lib : libraries_of(o)) files.push_back(std::move(lib));
    return files;
}

/// PHP's extension directories as Debian lays them out (/usr/lib/php/<API date>/).
inline std::vector<std::string> php_extension_dirs(const std::string& base = "/usr/lib/php") {
    std::vector<std::string> dirs;
    DIR* dir = ::opendir(base.c_str());
    if (!dir) return dirs;
    while (auto* ent = ::readdir(dir)) {
        std::string_view n = ent->d_name;
        if (n.size() == 8 && std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
            dirs.push_back(base + "/" + std::string(n));
    }
    ::closedir(dir);
    std::sort(dirs.begin(), dirs.end());
    return dirs;
}

} // namespace sitehost
