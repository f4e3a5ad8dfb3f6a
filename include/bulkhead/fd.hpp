#pragma once
/// \file fd.hpp
/// `unique_fd`, a move-only owner of a file descriptor, pipe pairs, and EINTR-safe I/O.
/// Every descriptor this library opens is close-on-exec.

#include "bulkhead/config.hpp"
#include "bulkhead/detail/syscall.hpp"
#include "bulkhead/error.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

BULKHEAD_NAMESPACE_BEGIN

/// Owns one file descriptor; -1 means empty. Closing on destruction ignores errors
/// (EINTR on close counts as closed on Linux); call close() to see them.
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    ~unique_fd() { reset(); }

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

    /// Gives up ownership and returns the descriptor.
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

    /// Closes the current descriptor (if any) and takes `fd`.
    void reset(int fd = -1) noexcept {
        int old = std::exchange(fd_, fd);
        if (old >= 0) ::close(old);
    }

    /// Closes and reports the kernel's answer; EINTR counts as closed.
    result<void> close() noexcept {
        int old = std::exchange(fd_, -1);
        if (old < 0) return {};
        if (::close(old) < 0 && errno != EINTR) return error::from_errno("close");
        return {};
    }

    /// A close-on-exec duplicate.
    [[nodiscard]] result<unique_fd> dup() const noexcept {
        int n = ::fcntl(fd_, F_DUPFD_CLOEXEC, 3);
        if (n < 0) return error::from_errno("dup");
        return unique_fd(n);
    }

private:
    int fd_ = -1;
};

/// The two ends of a pipe.
struct pipe_pair {
    unique_fd read;
    unique_fd write;
};

/// pipe2() with O_CLOEXEC always added to `flags`.
[[nodiscard]] inline result<pipe_pair> make_pipe(int flags = 0) noexcept {
    int fds[2];
    if (::pipe2(fds, flags | O_CLOEXEC) < 0) return error::from_errno("pipe2");
    return pipe_pair{unique_fd(fds[0]), unique_fd(fds[1])};
}

/// open() with O_CLOEXEC always added.
[[nodiscard]] inline result<unique_fd> open_fd(const char* path, int flags,
                                               mode_t mode = 0) noexcept {
    int fd = ::open(path, flags | O_CLOEXEC, mode);
    if (fd < 0) return std::move(error::from_errno("open").subject(path));
    return unique_fd(fd);
}

/// openat() with O_CLOEXEC always added.
[[nodiscard]] inline result<unique_fd> open_fd_at(int dirfd, const char* path, int flags,
                                                  mode_t mode = 0) noexcept {
    int fd = ::openat(dirfd, path, flags | O_CLOEXEC, mode);
    if (fd < 0) return std::move(error::from_errno("openat").subject(path));
    return unique_fd(fd);
}

/// Opens `path` below `dirfd` without ever leaving it: no "..", no absolute paths, no symbolic
/// links (also in intermediate components) and no /proc magic links. For paths inside trees
/// that less trusted code can change (a hosted site's webroot). Needs Linux 5.6 (openat2).
[[nodiscard]] inline result<unique_fd> open_beneath(int dirfd, const char* path, int flags,
                                                    mode_t mode = 0) noexcept {
    struct open_how how {};
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    for (;;) {
        int fd = detail::sys::openat2(dirfd, path, &how);
        if (fd >= 0) return unique_fd(fd);
        if (errno == EAGAIN || errno == EINTR) continue; // a concurrent rename: retry
        return std::move(error::from_errno("open beneath").subject(path));
    }
}

/// Reads up to `buf.size()` bytes, retrying on EINTR; returns the count (0 at end of file).
[[nodiscard]] inline result<std::size_t> read_some(int fd, std::span<std::byte> buf) noexcept {
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno != EINTR) return error::from_errno("read");
    }
}

/// Fills `buf` completely unless end of file comes first; returns the count read.
[[nodiscard]] inline result<std::size_t> read_all(int fd, std::span<std::byte> buf) noexcept {
    std::size_t done = 0;
    while (done < buf.size()) {
        ssize_t n = ::read(fd, buf.data() + done, buf.size() - done);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            return error::from_errno("read");
        }
        done += static_cast<std::size_t>(n);
    }
    return done;
}

/// Writes all of `data`, retrying on EINTR and short writes.
[[nodiscard]] inline result<void> write_all(int fd, std::span<const std::byte> data) noexcept {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return error::from_errno("write");
        }
        done += static_cast<std::size_t>(n);
    }
    return {};
}

[[nodiscard]] inline result<void> write_all(int fd, std::string_view s) noexcept {
    return write_all(fd, std::as_bytes(std::span<const char>(s.data(), s.size())));
}

/// Reads from `fd` until end of file, at most `limit` bytes (errc::too_large beyond).
[[nodiscard]] inline result<std::string> read_to_string(int fd,
                                                        std::size_t limit = 64u << 20) {
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n == 0) return out;
        if (n < 0) {
            if (errno == EINTR) continue;
            return error::from_errno("read");
        }
        if (out.size() + static_cast<std::size_t>(n) > limit) return error(errc::too_large, "read");
        out.append(buf, static_cast<std::size_t>(n));
    }
}

/// Reads a whole file (relative to `dirfd`, AT_FDCWD by default).
[[nodiscard]] inline result<std::string> read_file(const char* path, int dirfd = AT_FDCWD,
                                                   std::size_t limit = 64u << 20) {
    int fd = ::openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return std::move(error::from_errno("open").subject(path));
    unique_fd owner(fd);
    auto r = read_to_string(fd, limit);
    if (!r) return std::move(r.error().subject(path));
    return r;
}

/// Writes `data` to an existing file in one write(2) call where it fits, which is what
/// procfs, sysfs and cgroupfs need: they parse each write as one value.
[[nodiscard]] inline result<void> write_file(const char* path, std::string_view data,
                                             int dirfd = AT_FDCWD,
                                             int flags = O_WRONLY | O_TRUNC) {
    int fd = ::openat(dirfd, path, flags | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0) return std::move(error::from_errno("open").subject(path));
    unique_fd owner(fd);
    if (auto r = write_all(fd, data); !r) return std::move(r.error().subject(path));
    if (auto r = owner.close(); !r) return std::move(r.error().subject(path));
    return {};
}

BULKHEAD_NAMESPACE_END
