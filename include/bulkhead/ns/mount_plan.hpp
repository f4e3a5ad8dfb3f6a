#pragma once
/// \file ns/mount_plan.hpp
/// A declarative mount plan, built in the parent and applied in the child: a new root (tmpfs
/// or a directory), binds (ro/rw, recursive), tmpfs with size and mode, proc (hidepid), a
/// minimal /dev (host device nodes bound as they are, never chowned or chmodded), OCI-style
/// masked and read-only paths, symlinks, directories, propagation, then pivot_root with the
/// old root detached. `compile()` turns it into child steps.

#include "bulkhead/config.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/ns/steps.hpp"

#include <array>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <sys/mount.h>
#include <sys/stat.h>

BULKHEAD_NAMESPACE_BEGIN
namespace ns {

/// Flags for a bind mount.
struct bind_options {
    bool read_only = false;
    bool recursive = true;
    bool nosuid = false;
    bool nodev = false;
    bool noexec = false;
};

/// A tmpfs: size ("64m", "" = kernel default of half the RAM), mode and flags.
struct tmpfs_options {
    std::string size{};
    mode_t mode = 01777;
    bool nosuid = true;
    bool nodev = true;
    bool noexec = false;
    bool read_only = false;
};

/// proc's hidepid mount option.
enum class hidepid { off, noaccess, invisible };

/// Paths runc masks by default (OCI), plus /proc/sysrq-trigger.
inline constexpr std::array<const char*, 12> default_masked_paths = {
    "/proc/acpi",          "/proc/asound",        "/proc/kcore",       "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list",    "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi",          "/proc/sysrq-trigger", "/sys/firmware",     "/sys/devices/virtual/powercap"};

/// Paths runc makes read-only by default (OCI).
inline constexpr std::array<const char*, 4> default_readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq",
                                                                      "/proc/sys"};

/// Device nodes a minimal /dev binds from the host, as they are.
inline constexpr std::array<const char*, 6> minimal_dev_nodes = {"null", "zero", "full", "random",
                                                                 "urandom", "tty"};

class mount_plan {
public:
    /// The new root is an empty tmpfs (default).
    mount_plan& root_tmpfs(std::string size = {}) {
        root_dir_.clear();
        root_size_ = std::move(size);
        has_root_ = true;
        return *this;
    }
    /// The new root is the host directory `dir` (bound onto itself in the child's mount ns;
    /// mount points must exist in it when it is read-only).
    mount_plan& root_directory(std::string dir) {
        root_dir_ = std::move(dir);
        has_root_ = true;
        return *this;
    }
    /// Remounts the root read-only once everything is mounted (its submounts keep their own flags).
    mount_plan& root_read_only(bool ro = true) {
        root_ro_ = ro;
        return *this;
    }
    /// Propagation applied to the whole inherited tree first: MS_SLAVE (default) or MS_PRIVATE.
    mount_plan& propagation(unsigned long ms) {
        propagation_ = ms;
        return *this;
    }

    mount_plan& bind(std::string src, std::string dst, bind_options o = {}) {
        return push({kind::bind, std::move(src), std::move(dst), {}, o, {}, hidepid::off, 0});
    }
    mount_plan& ro_bind(std::string src, std::string dst) {
        bind_options o;
        o.read_only = true;
        return bind(std::move(src), std::move(dst), o);
    }
    mount_plan& tmpfs(std::string dst, tmpfs_options o = {}) {
        return push({kind::tmpfs, {}, std::move(dst), {}, {}, std::move(o), hidepid::off, 0});
    }
    mount_plan& proc(std::string dst = "/proc", hidepid h = hidepid::off) {
        return push({kind::proc, {}, std::move(dst), {}, {}, {}, h, 0});
    }
    /// A minimal /dev: tmpfs, host null/zero/full/random/urandom/tty bound as they are,
    /// devpts (newinstance) at pts with ptmx, tmpfs shm, fd/stdin/stdout/stderr symlinks.
    mount_plan& dev(std::string dst = "/dev") {
        return push({kind::dev, {}, std::move(dst), {}, {}, {}, hidepid::off, 0});
    }
    /// Hides `path`: a read-only empty tmpfs over a directory, /dev/null over a file; a path
    /// that does not exist is skipped.
    mount_plan& mask(std::string path) {
        return push({kind::mask, {}, std::move(path), {}, {}, {}, hidepid::off, 0});
    }
    mount_plan& mask_defaults() {
        for (const char* p : default_masked_paths) mask(p);
        return *this;
    }
    /// Makes an already mounted path read-only (recursive bind onto itself + setattr).
    mount_plan& read_only(std::string path) {
        return push({kind::read_only, {}, std::move(path), {}, {}, {}, hidepid::off, 0});
    }
    mount_plan& read_only_defaults() {
        for (const char* p : default_readonly_paths) read_only(p);
        return *this;
    }
    mount_plan& symlink(std::string target, std::string link) {
        return push({kind::symlink, std::move(target), std::move(link), {}, {}, {}, hidepid::off, 0});
    }
    mount_plan& dir(std::string path, mode_t mode = 0755) {
        return push({kind::dir, {}, std::move(path), {}, {}, {}, hidepid::off, mode});
    }

    [[nodiscard]] bool has_root() const noexcept { return has_root_; }
    [[nodiscard]] bool uses_staging() const noexcept { return has_root_ && root_dir_.empty(); }
    [[nodiscard]] bool empty() const noexcept { return !has_root_ && entries_.empty(); }

    /// Appends the steps that build the root at `staging` (used for a tmpfs root) and
    /// pivot into it. Errors name the entry (relative paths, "..").
    [[nodiscard]] result<void> compile(detail::program& p, const std::string& staging) const {
        if (!has_root_) {
            if (!entries_.empty())
                return error(errc::invalid_argument, "mount plan").note("entries need a new root (tmpfs or directory)");
            return {};
        }
        detail::step st;
        st.code = detail::op::mount;
        st.b = "/";
        st.x = MS_REC | propagation_;
        p.add(st, "set propagation of", "/");

        const std::string root = root_dir_.empty() ? staging : root_dir_;
        if (root.empty() || root.front() != '/')
            return error(errc::invalid_argument, "mount plan").subject(root).note("root must be an absolute path");
        const char* rootc = p.str(root);
        if (root_dir_.empty()) {
            detail::step t;
            t.code = detail::op::mount;
            t.a = "tmpfs";
            t.b = rootc;
            t.c = "tmpfs";
            std::string data = "mode=0755";
            if (!root_size_.empty()) data += ",size=" + root_size_;
            t.d = p.str(data);
            t.x = MS_NOSUID | MS_NODEV;
            p.add(t, "mount", "tmpfs at / (" + root + ")");
        } else {
            detail::step t;
            t.code = detail::op::mount;
            t.a = rootc;
            t.b = rootc;
            t.x = MS_BIND | MS_REC;
            p.add(t, "mount", root + " at /");
        }
        std::set<std::string> made;
        for (const auto& e : entries_) BULKHEAD_TRY(compile_entry(p, root, e, made));
        if (root_ro_) {
            detail::step r;
            r.code = detail::op::setattr;
            r.a = rootc;
            r.x = detail::attr_rdonly;
            p.add(r, "remount read-only", "/");
        }
        detail::step pv;
        pv.code = detail::op::pivot;
        pv.a = rootc;
        p.add(pv, "pivot_root into", root);
        return {};
    }

private:
    enum class kind { bind, tmpfs, proc, dev, mask, read_only, symlink, dir };
    struct entry {
        kind k;
        std::string src;
        std::string dst;
        std::string extra;
        bind_options bind{};
        tmpfs_options tmp{};
        hidepid hide = hidepid::off;
        mode_t mode = 0755;
    };

    mount_plan& push(entry e) {
        entries_.push_back(std::move(e));
        return *this;
    }

    static result<void> check_path(const std::string& p, const char* what) {
        if (p.empty() || p.front() != '/')
            return error(errc::invalid_argument, "mount plan").subject(std::string(what) + " " + p).note("path must be absolute");
        for (std::size_t i = 0; i < p.size();) {
            std::size_t j = p.find('/', i + 1);
            std::string_view c(p.data() + i + 1, (j == std::string::npos ? p.size() : j) - i - 1);
            if (c == "..")
                return error(errc::invalid_argument, "mount plan").subject(std::string(what) + " " + p).note("'..' is not allowed");
            if (j == std::string::npos) break;
            i = j;
        }
        return {};
    }

    static std::string normalize(const std::string& p) {
        std::string out;
        for (std::size_t i = 0; i < p.size(); ++i) {
            if (p[i] == '/' && !out.empty() && out.back() == '/') continue;
            out += p[i];
        }
        while (out.size() > 1 && out.back() == '/') out.pop_back();
        return out;
    }

    // mkdir -p of the parents of `rel` (and of `rel` itself when `self_dir`) under root.
    static void make_parents(detail::program& p, const std::string& root, const std::string& rel,
                             bool self_dir, bool self_file, std::set<std::string>& made,
                             mode_t mode = 0755) {
        std::size_t pos = 1;
        for (;;) {
            std::size_t j = rel.find('/', pos);
            if (j == std::string::npos) break;
            std::string part = rel.substr(0, j);
            if (made.insert(part).second) {
                detail::step s;
                s.code = detail::op::mkdir;
                s.a = p.str(root + part);
                s.x = 0755;
                p.add(s, "create directory", part);
            }
            pos = j + 1;
        }
        if (rel == "/") return;
        if (self_dir && made.insert(rel).second) {
            detail::step s;
            s.code = detail::op::mkdir;
            s.a = p.str(root + rel);
            s.x = mode;
            p.add(s, "create directory", rel);
        } else if (self_file && made.insert(rel).second) {
            detail::step s;
            s.code = detail::op::touch;
            s.a = p.str(root + rel);
            p.add(s, "create mount point", rel);
        }
    }

    static void add_setattr(detail::program& p, const char* path, std::uint64_t set, bool rec,
                            const std::string& what) {
        detail::step s;
        s.code = detail::op::setattr;
        s.a = path;
        s.x = set;
        s.flags = rec ? 1u : 0u;
        p.add(s, "set mount flags of", what);
    }

    static void add_tmpfs(detail::program& p, const std::string& root, const std::string& dst,
                          const tmpfs_options& o, std::set<std::string>& made) {
        make_parents(p, root, dst, true, false, made);
        detail::step s;
        s.code = detail::op::mount;
        s.a = "tmpfs";
        s.b = p.str(root + dst);
        s.c = "tmpfs";
        char mode[16];
        std::snprintf(mode, sizeof mode, "mode=%04o", static_cast<unsigned>(o.mode & 07777));
        std::string data = mode;
        if (!o.size.empty()) data += ",size=" + o.size;
        s.d = p.str(data);
        s.x = (o.nosuid ? MS_NOSUID : 0) | (o.nodev ? MS_NODEV : 0) | (o.noexec ? MS_NOEXEC : 0) |
              (o.read_only ? MS_RDONLY : 0);
        p.add(s, "mount", "tmpfs at " + dst);
    }

    static result<void> compile_entry(detail::program& p, const std::string& root, const entry& e0,
                                      std::set<std::string>& made) {
        entry e = e0;
        e.dst = normalize(e.dst);
        BULKHEAD_TRY(check_path(e.dst, "destination"));
        switch (e.k) {
        case kind::bind: {
            if (e.src.empty()) return error(errc::invalid_argument, "mount plan").subject("bind to " + e.dst).note("empty source");
            struct stat st {};
            bool is_dir = ::stat(e.src.c_str(), &st) != 0 || S_ISDIR(st.st_mode);
            make_parents(p, root, e.dst, is_dir, !is_dir, made);
            detail::step s;
            s.code = detail::op::mount;
            s.a = p.str(e.src);
            s.b = p.str(root + e.dst);
            s.x = MS_BIND | (e.bind.recursive ? MS_REC : 0);
            p.add(s, "mount", e.src + " at " + e.dst);
            std::uint64_t set = (e.bind.read_only ? detail::attr_rdonly : 0) |
                                (e.bind.nosuid ? detail::attr_nosuid : 0) |
                                (e.bind.nodev ? detail::attr_nodev : 0) |
                                (e.bind.noexec ? detail::attr_noexec : 0);
            if (set) add_setattr(p, s.b, set, e.bind.recursive, e.dst);
            return {};
        }
        case kind::tmpfs: add_tmpfs(p, root, e.dst, e.tmp, made); return {};
        case kind::proc: {
            make_parents(p, root, e.dst, true, false, made);
            detail::step s;
            s.code = detail::op::mount;
            s.a = "proc";
            s.b = p.str(root + e.dst);
            s.c = "proc";
            s.d = e.hide == hidepid::off ? nullptr : e.hide == hidepid::noaccess ? "hidepid=1" : "hidepid=2";
            s.x = MS_NOSUID | MS_NODEV | MS_NOEXEC;
            p.add(s, "mount", "proc at " + e.dst);
            return {};
        }
        case kind::dev: {
            tmpfs_options t;
            t.mode = 0755;
            t.noexec = true;
            t.nodev = false;
            t.size = "64k";
            add_tmpfs(p, root, e.dst, t, made);
            for (const char* n : minimal_dev_nodes) {
                std::string rel = e.dst + "/" + n;
                std::string host = std::string("/dev/") + n;
                make_parents(p, root, rel, false, true, made);
                detail::step s;
                s.code = detail::op::mount;
                s.a = p.str(host);
                s.b = p.str(root + rel);
                s.x = MS_BIND;
                p.add(s, "mount", host + " at " + rel);
            }
            std::string pts = e.dst + "/pts";
            make_parents(p, root, pts, true, false, made);
            detail::step s;
            s.code = detail::op::mount;
            s.a = "devpts";
            s.b = p.str(root + pts);
            s.c = "devpts";
            s.d = "newinstance,ptmxmode=0666,mode=0620";
            s.x = MS_NOSUID | MS_NOEXEC;
            p.add(s, "mount", "devpts at " + pts);
            tmpfs_options shm;
            shm.mode = 01777;
            shm.noexec = false;
            add_tmpfs(p, root, e.dst + "/shm", shm, made);
            const std::pair<const char*, const char*> links[] = {
                {"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
                {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
            for (auto [target, name] : links) {
                detail::step l;
                l.code = detail::op::symlink;
                l.a = target;
                l.b = p.str(root + e.dst + "/" + name);
                p.add(l, "create symlink", e.dst + "/" + name);
            }
            return {};
        }
        case kind::mask: {
            detail::step s;
            s.code = detail::op::mask;
            s.a = p.str(root + e.dst);
            s.b = "/dev/null";
            p.add(s, "mask", e.dst);
            return {};
        }
        case kind::read_only: {
            const char* path = p.str(root + e.dst);
            detail::step s;
            s.code = detail::op::mount;
            s.a = path;
            s.b = path;
            s.x = MS_BIND | MS_REC;
            p.add(s, "mount", e.dst + " at " + e.dst);
            add_setattr(p, path, detail::attr_rdonly, true, e.dst);
            return {};
        }
        case kind::symlink: {
            make_parents(p, root, e.dst, false, false, made);
            detail::step s;
            s.code = detail::op::symlink;
            s.a = p.str(e.src);
            s.b = p.str(root + e.dst);
            p.add(s, "create symlink", e.dst + " -> " + e.src);
            return {};
        }
        case kind::dir: make_parents(p, root, e.dst, true, false, made, e.mode); return {};
        }
        return {};
    }

    std::vector<entry> entries_;
    std::string root_dir_;
    std::string root_size_;
    bool has_root_ = false;
    bool root_ro_ = false;
    unsigned long propagation_ = MS_SLAVE;
};

} // namespace ns
BULKHEAD_NAMESPACE_END
