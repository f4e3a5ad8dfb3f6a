#pragma once
/// \file sig/scanner.hpp
/// Scanning files and trees: hashes (.hdb/.hsb, allow lists .fp/.sfp), the raw pass, and the
/// normalized pass for text files; mmap'd files; a std::jthread pool over whole trees with
/// symlinks and special files skipped; a verdict cache keyed by (dev, inode, size, mtime, ctime,
/// database version); and quarantine with a JSON sidecar.

#include "bulkhead/config.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/fd.hpp"
#include "bulkhead/detail/json.hpp"
#include "bulkhead/sig/engine.hpp"
#include "bulkhead/sig/hash.hpp"
#include "bulkhead/sig/matcher.hpp"
#include "bulkhead/sig/normalize.hpp"

#include <atomic>
#include <cstdlib>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <condition_variable>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

BULKHEAD_NAMESPACE_BEGIN
namespace sig {

struct scan_options {
    std::uint64_t max_file_size = 0; ///< 0 = no limit; larger files are reported as skipped
    bool normalize = true;           ///< normalized pass for text files
    bool normalized_any = true;      ///< target-0 signatures in the normalized pass too
    bool all_matches = false;
    bool hashes = true;
};

/// What a scan of one buffer or file found.
struct scan_report {
    std::vector<match> matches;
    bool allowed = false;      ///< hash on an allow list (.fp/.sfp): reported clean
    std::size_t undecided = 0; ///< signatures that could not be decided (see stream)
    [[nodiscard]] bool infected() const noexcept { return !matches.empty(); }
};

/// Scans a complete buffer: hash lookups, raw pass, and normalized pass for text.
inline scan_report scan_memory(scan_state& st, std::span<const unsigned char> data,
                               const scan_options& opt = {}) {
    const compiled_db& db = st.db();
    scan_report rep;
    match_options mo{opt.all_matches, opt.normalized_any};
    if (opt.hashes && db.has_hashes()) {
        auto check = [&](std::span<const unsigned char> d) {
            if (db.lookup_hash(d, data.size(), true)) {
                rep.allowed = true;
                return;
            }
            if (const char* n = db.lookup_hash(d, data.size(), false))
                rep.matches.push_back({n, 0, pass_raw});
        };
        // Only hash when some signature of that kind has this file's size (or any size).
        if (db.hash_wanted(16, data.size())) {
            auto d = hash_of<md5>(data.data(), data.size());
            check(d);
        }
        if (db.hash_wanted(20, data.size())) {
            auto d = hash_of<sha1>(data.data(), data.size());
            check(d);
        }
        if (db.hash_wanted(32, data.size())) {
            auto d = hash_of<sha256>(data.data(), data.size());
            check(d);
        }
        if (rep.allowed) {
            rep.matches.clear();
            return rep;
        }
        if (!rep.matches.empty() && !opt.all_matches) return rep;
    }
    {
        stream s(st, pass_raw, mo, data.size(), data.size());
        s.scan(data);
        rep.undecided += s.undecided();
        for (auto& m : s.matches()) rep.matches.push_back(std::move(m));
    }
    if (!rep.matches.empty() && !opt.all_matches) return rep;
    if (opt.normalize && db.has_normalized() && is_text(data)) {
        std::vector<unsigned char> norm;
        norm.reserve(data.size());
        text_normalizer tn;
        tn.feed(data, norm);
        stream s(st, pass_normalized, mo, norm.size(), data.size());
        s.scan(norm);
        rep.undecided += s.undecided();
        for (auto& m : s.matches()) {
            bool dup = false;
            for (auto& o : rep.matches) dup = dup || o.name == m.name;
            if (!dup) rep.matches.push_back(std::move(m));
        }
    }
    return rep;
}

/// A read-only mapping of a file (empty files map to an empty span).
class mapped_file {
public:
    static result<mapped_file> open(const std::string& path, std::uint64_t max_size, struct stat* st_out = nullptr) {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) return error::from_errno("open").subject(path);
        unique_fd owner(fd);
        struct stat st {};
        if (::fstat(fd, &st) != 0) return error::from_errno("fstat").subject(path);
        if (!S_ISREG(st.st_mode)) return error(errc::unsupported, "scan").subject(path).note("not a regular file");
        if (st_out) *st_out = st;
        if (max_size && static_cast<std::uint64_t>(st.st_size) > max_size)
            return error(errc::too_large, "scan").subject(path).note("over the size limit");
        mapped_file m;
        m.size_ = static_cast<std::size_t>(st.st_size);
        if (m.size_) {
            void* p = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) return error::from_errno("mmap").subject(path);
            ::madvise(p, m.size_, MADV_SEQUENTIAL);
            m.p_ = p;
        }
        return m;
    }
    mapped_file() = default;
    mapped_file(mapped_file&& o) noexcept : p_(o.p_), size_(o.size_) { o.p_ = nullptr; o.size_ = 0; }
    mapped_file& operator=(mapped_file&& o) noexcept {
        if (this != &o) { reset(); p_ = o.p_; size_ = o.size_; o.p_ = nullptr; o.size_ = 0; }
        return *this;
    }
    ~mapped_file() { reset(); }
    [[nodiscard]] std::span<const unsigned char> bytes() const noexcept {
        return {static_cast<const unsigned char*>(p_), size_};
    }

private:
    void reset() noexcept {
        if (p_) ::munmap(p_, size_);
        p_ = nullptr;
    }
    void* p_ = nullptr;
    std::size_t size_ = 0;
};

/// Verdict cache keyed by (dev, inode, size, mtime, ctime, database version). Thread-safe.
class scan_cache {
public:
    struct key {
        std::uint64_t dev, ino, size;
        std::int64_t mtime_ns, ctime_ns;
        std::uint32_t dbver;
        bool operator==(const key&) const = default;
    };
    static key key_of(const struct stat& st, std::uint32_t dbver) noexcept {
        return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                static_cast<std::uint64_t>(st.st_size),
                std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                std::int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec, dbver};
    }
    /// Only clean verdicts are cached: an infected file is always rescanned and reported.
    [[nodiscard]] bool is_clean(const key& k) const {
        std::lock_guard lk(mu_);
        return map_.count(k) != 0;
    }
    void put_clean(const key& k) {
        std::lock_guard lk(mu_);
        map_.emplace(k, 1);
    }
    [[nodiscard]] std::size_t size() const {
        std::lock_guard lk(mu_);
        return map_.size();
    }
    /// Persists as text lines "dev ino size mtime ctime dbver".
    result<void> save(const std::string& path) const {
        std::string s;
        {
            std::lock_guard lk(mu_);
            for (auto& [k, v] : map_)
                s += std::to_string(k.dev) + ' ' + std::to_string(k.ino) + ' ' + std::to_string(k.size) + ' ' +
                     std::to_string(k.mtime_ns) + ' ' + std::to_string(k.ctime_ns) + ' ' + std::to_string(k.dbver) + '\n';
        }
        std::string tmp = path + ".tmp";
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return error::from_errno("save scan cache").subject(tmp);
        unique_fd o(fd);
        BULKHEAD_TRY(write_all(fd, std::string_view(s)));
        if (::rename(tmp.c_str(), path.c_str()) != 0) return error::from_errno("save scan cache").subject(path);
        return ok();
    }
    result<void> load(const std::string& path) {
        auto data = read_file(path.c_str(), AT_FDCWD, std::size_t(1) << 30);
        if (!data) return std::move(data).error();
        std::size_t ln = 0;
        result<void> r;
        bulkhead::detail::for_each_line(*data, [&](std::string_view line) {
            ++ln;
            if (!r || line.empty()) return;
            auto f = bulkhead::detail::split_ws(line);
            auto u = [&](std::size_t i) { return bulkhead::detail::parse_int<std::uint64_t>(f[i]); };
            auto s = [&](std::size_t i) { return bulkhead::detail::parse_int<std::int64_t>(f[i]); };
            if (f.size() != 6 || !u(0) || !u(1) || !u(2) || !s(3) || !s(4) || !u(5)) {
                r = error(errc::parse_error, "load scan cache").subject(path).at(static_cast<std::uint32_t>(ln), 1);
                return;
            }
            put_clean({*u(0), *u(1), *u(2), *s(3), *s(4), static_cast<std::uint32_t>(*u(5))});
        });
        return r;
    }

private:
    struct hasher {
        std::size_t operator()(const key& k) const noexcept {
            std::uint64_t h = k.dev * 0x9e3779b97f4a7c15ull ^ k.ino;
            h = h * 0x9e3779b97f4a7c15ull ^ k.size;
            h = h * 0x9e3779b97f4a7c15ull ^ static_cast<std::uint64_t>(k.mtime_ns);
            h = h * 0x9e3779b97f4a7c15ull ^ static_cast<std::uint64_t>(k.ctime_ns);
            return static_cast<std::size_t>(h ^ k.dbver);
        }
    };
    mutable std::mutex mu_;
    std::unordered_map<key, char, hasher> map_;
};

/// The result for one file of a tree scan.
struct file_result {
    enum kind_t { clean, infected, error, skipped, cached };
    std::string path;
    kind_t kind = clean;
    std::vector<match> matches;
    std::string message; ///< error or skip reason
    std::uint64_t size = 0;
};

/// Scans one file (mmap), using the cache when given.
inline file_result scan_file(scan_state& st, const std::string& path, const scan_options& opt = {},
                             scan_cache* cache = nullptr) {
    file_result fr;
    fr.path = path;
    struct stat sb {};
    auto m = mapped_file::open(path, opt.max_file_size, &sb);
    if (!m) {
        auto& e = m.error();
        bool skip = e.code() == make_error_code(errc::too_large) || e.code() == make_error_code(errc::unsupported) ||
                    e.sys_errno() == ELOOP;
        fr.kind = skip ? file_result::skipped : file_result::error;
        fr.message = e.sys_errno() == ELOOP ? "symbolic link" : e.message();
        return fr;
    }
    fr.size = static_cast<std::uint64_t>(sb.st_size);
    scan_cache::key k{};
    if (cache) {
        k = scan_cache::key_of(sb, st.db().version());
        if (cache->is_clean(k)) {
            fr.kind = file_result::cached;
            return fr;
        }
    }
    auto rep = scan_memory(st, m->bytes(), opt);
    fr.matches = std::move(rep.matches);
    fr.kind = fr.matches.empty() ? file_result::clean : file_result::infected;
    if (cache && fr.kind == file_result::clean) cache->put_clean(k);
    return fr;
}

/// Options for tree scans.
struct tree_options {
    bool recursive = true;
    unsigned threads = 0; ///< 0 = hardware concurrency
    scan_options scan;
    scan_cache* cache = nullptr;
    bool follow_root_symlinks = true; ///< roots that are symlinks are resolved first
};

/// Scans files and directories with a pool of std::jthreads. Symlinks (as arguments inside a
/// tree, and as directory entries) and special files are reported as skipped, never followed.
/// `on_result` is called from worker threads, serialized by an internal mutex.
inline void scan_tree(const compiled_db& db, const std::vector<std::string>& roots, const tree_options& topt,
                      const std::function<void(const file_result&)>& on_result) {
    std::mutex qmu, outmu;
    std::condition_variable cv;
    std::deque<std::string> queue;
    bool done_listing = false;
    auto emit = [&](const file_result& r) {
        std::lock_guard lk(outmu);
        on_result(r);
    };
    unsigned n = topt.threads ? topt.threads : std::max(1u, std::thread::hardware_concurrency());
    {
        std::vector<std::jthread> workers;
        for (unsigned i = 0; i < n; ++i)
            workers.emplace_back([&] {
                scan_state st(db);
                for (;;) {
                    std::string p;
                    {
                        std::unique_lock lk(qmu);
                        cv.wait(lk, [&] { return !queue.empty() || done_listing; });
                        if (queue.empty()) return;
                        p = std::move(queue.front());
                        queue.pop_front();
                    }
                    emit(scan_file(st, p, topt.scan, topt.cache));
                }
            });
        auto push = [&](std::string p) {
            {
                std::lock_guard lk(qmu);
                queue.push_back(std::move(p));
            }
            cv.notify_one();
        };
        // Walk iteratively (no recursion), never following symlinks.
        std::vector<std::string> dirs;
        for (auto r : roots) {
            struct stat sb {};
            // A symlink named as a root is followed (as clamscan does for its arguments);
            // symlinks met inside a tree never are.
            if (::lstat(r.c_str(), &sb) == 0 && S_ISLNK(sb.st_mode) && topt.follow_root_symlinks) {
                if (char* real = ::realpath(r.c_str(), nullptr)) {
                    r = real;
                    std::free(real);
                }
            }
            if (::lstat(r.c_str(), &sb) != 0) {
                emit({r, file_result::error, {}, error::from_errno("lstat").subject(r).message(), 0});
                continue;
            }
            if (S_ISDIR(sb.st_mode)) {
                if (topt.recursive) dirs.push_back(r);
                else emit({r, file_result::skipped, {}, "directory (use -r)", 0});
            } else if (S_ISREG(sb.st_mode)) {
                push(r);
            } else {
                emit({r, file_result::skipped, {}, S_ISLNK(sb.st_mode) ? "symbolic link" : "special file", 0});
            }
            while (!dirs.empty()) {
                std::string d = std::move(dirs.back());
                dirs.pop_back();
                DIR* dp = ::opendir(d.c_str());
                if (!dp) {
                    emit({d, file_result::error, {}, error::from_errno("opendir").subject(d).message(), 0});
                    continue;
                }
                std::vector<std::string> names;
                while (auto* de = ::readdir(dp)) {
                    std::string_view nm = de->d_name;
                    if (nm == "." || nm == "..") continue;
                    names.emplace_back(nm);
                }
                ::closedir(dp);
                std::sort(names.begin(), names.end());
                std::vector<std::string> sub;
                for (auto& nm : names) {
                    std::string full = d.back() == '/' ? d + nm : d + "/" + nm;
                    struct stat es {};
                    if (::lstat(full.c_str(), &es) != 0) continue;
                    if (S_ISDIR(es.st_mode)) sub.push_back(full);
                    else if (S_ISREG(es.st_mode)) push(full);
                    else emit({full, file_result::skipped, {}, S_ISLNK(es.st_mode) ? "symbolic link" : "special file", 0});
                }
                for (auto it = sub.rbegin(); it != sub.rend(); ++it) dirs.push_back(*it);
            }
        }
        {
            std::lock_guard lk(qmu);
            done_listing = true;
        }
        cv.notify_all();
    } // jthreads join here
}

/// What quarantine recorded.
struct quarantine_record {
    std::string stored_path;  ///< where the file now is
    std::string sidecar_path; ///< its JSON metadata
};

/// Moves `path` into `dir` (created 0700 if missing) under a unique name, with a JSON sidecar
/// holding the original path, signature, SHA-256, time, uid, gid and mode. The quarantined
/// copy is made unreadable (mode 0000). Works across filesystems (copy, fsync, unlink).
inline result<quarantine_record> quarantine(const std::string& path, const std::string& dir,
                                            std::string_view signature) {
    struct stat sb {};
    if (::lstat(path.c_str(), &sb) != 0) return error::from_errno("quarantine: lstat").subject(path);
    if (!S_ISREG(sb.st_mode)) return error(errc::invalid_argument, "quarantine").subject(path).note("not a regular file");
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return error::from_errno("quarantine: mkdir").subject(dir);
    auto m = mapped_file::open(path, 0);
    if (!m) return std::move(m).error();
    auto digest = to_hex(hash_of<sha256>(m->bytes().data(), m->bytes().size()));
    struct timespec ts {};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    std::string base = digest.substr(0, 16) + "-" + std::to_string(ts.tv_sec) + "-" + std::to_string(ts.tv_nsec);
    std::string dest = dir + "/" + base + ".bin";
    std::string side = dir + "/" + base + ".json";
    if (::rename(path.c_str(), dest.c_str()) != 0) {
        if (errno != EXDEV) return error::from_errno("quarantine: rename").subject(path);
        int out = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out < 0) return error::from_errno("quarantine: create").subject(dest);
        unique_fd o(out);
        auto b = m->bytes();
        auto w = write_all(out, std::span<const std::byte>(reinterpret_cast<const std::byte*>(b.data()), b.size()));
        if (!w || ::fsync(out) != 0) {
            ::unlink(dest.c_str());
            return error::from_errno("quarantine: write").subject(dest);
        }
        if (::unlink(path.c_str()) != 0) {
            auto e = error::from_errno("quarantine: unlink").subject(path);
            ::unlink(dest.c_str());
            return e;
        }
    }
    ::chmod(dest.c_str(), 0);
    bulkhead::detail::json::writer w;
    char tbuf[64];
    struct tm tmv {};
    ::gmtime_r(&ts.tv_sec, &tmv);
    std::strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    w.begin_object();
    w.field("original_path", path);
    w.field("signature", signature);
    w.field("sha256", digest);
    w.field("size", static_cast<std::uint64_t>(sb.st_size));
    w.field("time", std::string_view(tbuf));
    w.field("uid", static_cast<std::uint64_t>(sb.st_uid));
    w.field("gid", static_cast<std::uint64_t>(sb.st_gid));
    w.field("mode", static_cast<std::uint64_t>(sb.st_mode & 07777));
    w.field("stored_as", dest);
    w.end_object();
    std::string js = std::move(w).str() + "\n";
    int sfd = ::open(side.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (sfd < 0) return error::from_errno("quarantine: sidecar").subject(side);
    unique_fd so(sfd);
    BULKHEAD_TRY(write_all(sfd, std::string_view(js)));
    return quarantine_record{dest, side};
}

} // namespace sig
BULKHEAD_NAMESPACE_END
