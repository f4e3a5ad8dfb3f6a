#pragma once
// Upload scanning: sitehost watches every site's webroot (new and changed files, recursively,
// directories created later included) and scans them with the signature engine; a detection
// moves the file into a quarantine outside every site with a JSON record. Full scans use all
// cores and skip unchanged files (the engine's cache).
//
// The webroot belongs to the site, which may race us with symlinks and renames. Every path
// below a webroot is therefore opened from the webroot's directory descriptor with
// open_beneath (openat2: no "..", no symlinks, no magic links), directories are walked one
// component at a time, and quarantine renames by (directory fd, name): the supervisor, which
// is root on the host, can never be steered to read or move a file outside the webroot.

#include "config.hpp"

#include <bulkhead/fd.hpp>
#include <bulkhead/sig.hpp>

#include <dirent.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <atomic>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sitehost {

namespace sg = bulkhead::sig;

/// The loaded, compiled signature databases (read-only; shared by all scanning threads).
class signature_db {
public:
    static bulkhead::result<std::unique_ptr<signature_db>> load(const scan_settings& s) {
        auto out = std::make_unique<signature_db>();
        sg::database db;
        for (const auto& p : s.databases) BULKHEAD_TRY(sg::load_path(p, db));
        BULKHEAD_TRY_ASSIGN(out->db_, sg::compiled_db::compile(db));
        out->opt_.max_file_size = s.max_file_size;
        return out;
    }
    [[nodiscard]] const sg::compiled_db& db() const noexcept { return db_; }
    [[nodiscard]] const sg::scan_options& options() const noexcept { return opt_; }
    [[nodiscard]] sg::scan_cache& cache() noexcept { return cache_; }

private:
    sg::compiled_db db_;
    sg::scan_options opt_;
    sg::scan_cache cache_;
};

/// One file's verdict.
struct file_verdict {
    std::string rel;       ///< path below the webroot
    std::string signature; ///< empty: clean
    bool cached = false;   ///< unchanged since a clean scan
    std::string error;     ///< could not be scanned (a symlink, gone, too large, ...)
};

/// Scans `rel` below `root` (a webroot directory fd), never following links.
inline file_verdict scan_below(signature_db& sdb, sg::scan_state& st, int root, const std::string& rel) {
    file_verdict v;
    v.rel = rel;
    auto fd = bulkhead::open_beneath(root, rel.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (!fd) {
        v.error = fd.error().message();
        return v;
    }
    struct stat sb {};
    if (::fstat(fd->get(), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        v.error = "not a regular file";
        return v;
    }
    if (sdb.options().max_file_size && static_cast<std::uint64_t>(sb.st_size) > sdb.options().max_file_size) {
        v.error = "larger than max_file_size";
        return v;
    }
    auto key = sg::scan_cache::key_of(sb, sdb.db().version());
    if (sdb.cache().is_clean(key)) {
        v.cached = true;
        return v;
    }
    sg::scan_report rep;
    if (sb.st_size == 0) {
        rep = sg::scan_memory(st, std::span<const unsigned char>(), sdb.options());
    } else {
        void* m = ::mmap(nullptr, static_cast<std::size_t>(sb.st_size), PROT_READ, MAP_PRIVATE, fd->get(), 0);
        if (m == MAP_FAILED) {
            v.error = std::string("mmap: ") + std::strerror(errno);
            return v;
        }
        rep = sg::scan_memory(st, std::span<const unsigned char>(static_cast<const unsigned char*>(m),
                                                                  static_cast<std::size_t>(sb.st_size)),
                              sdb.options());
        ::munmap(m, static_cast<std::size_t>(sb.st_size));
    }
    if (rep.infected()) v.signature = rep.matches.front().name;
    else sdb.cache().put_clean(key);
    return v;
}

/// Every regular file below `root`, walked one component at a time (no link is followed).
inline void list_files(int dirfd, const std::string& prefix, std::vector<std::string>& out, int depth = 0) {
    if (depth > 64) return;
    int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup < 0) return;
    DIR* d = ::fdopendir(dup);
    if (!d) {
        ::close(dup);
        return;
    }
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        std::string rel = prefix.empty() ? n : prefix + "/" + n;
        if (e->d_type == DT_DIR) {
            bulkhead::unique_fd sub(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (sub) list_files(sub.get(), rel, out, depth + 1);
        } else if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN) {
            out.push_back(rel);
        }
    }
    ::closedir(d);
}

/// What quarantine recorded.
struct quarantined {
    std::string stored, record, sha256;
};

/// Moves `rel` (below webroot fd `root`) into `qdir/<site>/` under a unique name, with a JSON
/// record: site, path, signature, SHA-256, size, uid, gid, mode and time.
inline bulkhead::result<quarantined> quarantine_below(int root, const std::string& rel, const std::string& qdir,
                                                      const std::string& site_name, const std::string& signature) {
    auto slash = rel.rfind('/');
    std::string dir = slash == std::string::npos ? "." : rel.substr(0, slash);
    std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
    BULKHEAD_TRY_ASSIGN(auto parent, bulkhead::open_beneath(root, dir.c_str(), O_RDONLY | O_DIRECTORY));
    bulkhead::unique_fd file(::openat(parent.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!file) return bulkhead::error::from_errno("quarantine: open").subject(rel);
    struct stat sb {};
    if (::fstat(file.get(), &sb) != 0 || !S_ISREG(sb.st_mode))
        return bulkhead::error(bulkhead::errc::invalid_argument, "quarantine").subject(rel).note("not a regular file");
    std::string content;
    BULKHEAD_TRY_ASSIGN(content, bulkhead::read_to_string(file.get(), std::size_t(1) << 30));
    auto digest = sg::to_hex(sg::hash_of<sg::sha256>(content.data(), content.size()));
    for (const auto& d : {qdir, qdir + "/" + site_name})
        if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) return bulkhead::error::from_errno("quarantine: mkdir").subject(d);
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    std::string base = qdir + "/" + site_name + "/" + digest.substr(0, 16) + "-" + std::to_string(ts.tv_sec);
    bulkhead::unique_fd qd(::open((qdir + "/" + site_name).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::string stored_name = base.substr(base.rfind('/') + 1) + ".bin";
    if (::renameat(parent.get(), name.c_str(), qd.get(), stored_name.c_str()) != 0) {
        if (errno != EXDEV) return bulkhead::error::from_errno("quarantine: move").subject(rel);
        // Another file system: the copy we read, then the original removed.
        BULKHEAD_TRY(bulkhead::write_file((base + ".bin").c_str(), content, AT_FDCWD, O_WRONLY | O_CREAT | O_EXCL));
        if (::unlinkat(parent.get(), name.c_str(), 0) != 0) return bulkhead::error::from_errno("quarantine: unlink").subject(rel);
    }
    ::chmod((base + ".bin").c_str(), 0);
    char when[32];
    std::tm tm{};
    ::gmtime_r(&ts.tv_sec, &tm);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    bulkhead::detail::json::writer w;
    w.begin_object().field("site", site_name).field("path", rel).field("signature", signature).field("sha256", digest)
        .field("size", static_cast<std::uint64_t>(sb.st_size)).field("uid", static_cast<std::uint64_t>(sb.st_uid))
        .field("gid", static_cast<std::uint64_t>(sb.st_gid)).field("mode", static_cast<std::uint64_t>(sb.st_mode & 07777))
        .field("time", when).end_object();
    BULKHEAD_TRY(bulkhead::write_file((base + ".json").c_str(), w.str() + "\n", AT_FDCWD, O_WRONLY | O_CREAT | O_TRUNC));
    return quarantined{base + ".bin", base + ".json", digest};
}

/// inotify over every site's webroot, directories created later included.
class webroot_watch {
public:
    static bulkhead::result<webroot_watch> open() {
        webroot_watch w;
        w.fd_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        if (!w.fd_) return bulkhead::error::from_errno("inotify_init1");
        return w;
    }
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }

    /// Watches `dirfd` (a directory below site `site`'s webroot at `rel`) and every directory
    /// below it; returns the files already there (they may have arrived before the watch).
    std::vector<std::string> add_tree(std::size_t site, int dirfd, const std::string& rel, int depth = 0) {
        std::vector<std::string> files;
        if (depth > 64) return files;
        // The watch is placed through our descriptor, never through a path the site controls.
        std::string self = "/proc/self/fd/" + std::to_string(dirfd);
        int wd = ::inotify_add_watch(fd_.get(), self.c_str(),
                                     IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ONLYDIR);
        if (wd >= 0) dirs_[wd] = {site, rel};
        int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR* d = dup >= 0 ? ::fdopendir(dup) : nullptr;
        if (!d) {
            if (dup >= 0) ::close(dup);
            return files;
        }
        while (auto* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n == "." || n == "..") continue;
            std::string r = rel.empty() ? n : rel + "/" + n;
            if (e->d_type == DT_DIR) {
                bulkhead::unique_fd sub(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (sub) {
                    auto more = add_tree(site, sub.get(), r, depth + 1);
                    files.insert(files.end(), more.begin(), more.end());
                }
            } else if (e->d_type == DT_REG) {
                files.push_back(r);
            }
        }
        ::closedir(d);
        return files;
    }

    /// Drains the events: the (site, path below its webroot) of every file to scan. New
    /// directories are watched (through `root_of(site)`) and their files listed.
    template <class RootOf>
    std::vector<std::pair<std::size_t, std::string>> read(RootOf&& root_of) {
        std::vector<std::pair<std::size_t, std::string>> out;
        alignas(inotify_event) char buf[16384];
        for (;;) {
            ssize_t n = ::read(fd_.get(), buf, sizeof buf);
            if (n <= 0) break;
            for (char* p = buf; p < buf + n;) {
                auto* ev = reinterpret_cast<inotify_event*>(p);
                p += sizeof(inotify_event) + ev->len;
                auto it = dirs_.find(ev->wd);
                if (it == dirs_.end() || ev->len == 0) continue;
                auto [site, dir] = it->second;
                std::string rel = dir.empty() ? std::string(ev->name) : dir + "/" + ev->name;
                if (ev->mask & IN_ISDIR) {
                    if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
                        auto sub = bulkhead::open_beneath(root_of(site), rel.c_str(), O_RDONLY | O_DIRECTORY);
                        if (sub)
                            for (auto& f : add_tree(site, sub->get(), rel)) out.emplace_back(site, std::move(f));
                    }
                } else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
                    out.emplace_back(site, rel);
                }
            }
        }
        return out;
    }

    /// Forgets a site's watches (before it is rebuilt or removed).
    void drop(std::size_t site) {
        for (auto it = dirs_.begin(); it != dirs_.end();) {
            if (it->second.first == site) {
                ::inotify_rm_watch(fd_.get(), it->first);
                it = dirs_.erase(it);
            } else {
                ++it;
            }
        }
    }

private:
    bulkhead::unique_fd fd_;
    std::map<int, std::pair<std::size_t, std::string>> dirs_;
};

/// A full scan of one webroot with `threads` workers (0: every core); calls `found` for each
/// infected file (from the calling thread, after the scan).
inline std::vector<file_verdict> full_scan(signature_db& sdb, int root, unsigned threads) {
    std::vector<std::string> files;
    list_files(root, "", files);
    std::vector<file_verdict> results(files.size());
    unsigned n = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
    std::atomic<std::size_t> next{0};
    {
        std::vector<std::jthread> pool;
        for (unsigned t = 0; t < n; ++t)
            pool.emplace_back([&] {
                sg::scan_state st(sdb.db());
                for (std::size_t i; (i = next.fetch_add(1)) < files.size();)
                    results[i] = scan_below(sdb, st, root, files[i]);
            });
    }
    return results;
}

} // namespace sitehost
