#pragma once
/// \file error.hpp
/// The error model: `error` (an error_code, the static name of the failed operation and an
/// optional detail) and `result<T>`, a value or an error with std::expected's member names.

#include "bulkhead/config.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#if BULKHEAD_HAS_EXCEPTIONS
#include <stdexcept>
#endif

BULKHEAD_NAMESPACE_BEGIN

/// Library conditions, in the `bulkhead` error category. Kernel failures stay errno values in
/// std::system_category().
enum class errc : int {
    ok = 0,
    invalid_argument = 1, ///< a value handed to the API is out of its domain
    parse_error,          ///< input text or bytes do not follow their grammar
    out_of_range,         ///< a number does not fit where it goes
    truncated,            ///< input ended before a complete item
    too_large,            ///< input or output over a documented bound
    not_found,            ///< a named thing (syscall, key, controller, file) does not exist
    unsupported,          ///< valid, but not implemented or not available on this kernel
    not_available,        ///< a kernel facility is missing here (e.g. cgroup controller)
    already_exists,       ///< a unique thing was declared twice
    busy,                 ///< still in use after bounded retries
    timeout,              ///< a deadline passed
    protocol_error,       ///< a peer answered something that breaks its protocol
    mismatch,             ///< an answer does not belong to its question / a check failed
    child_failed,         ///< a child process failed a setup step before exec
    state_error,          ///< the object is not in a state that allows the call
};

namespace detail {
class bulkhead_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "bulkhead"; }
    std::string message(int c) const override {
        switch (static_cast<errc>(c)) {
        case errc::ok: return "success";
        case errc::invalid_argument: return "invalid argument";
        case errc::parse_error: return "parse error";
        case errc::out_of_range: return "value out of range";
        case errc::truncated: return "input truncated";
        case errc::too_large: return "too large";
        case errc::not_found: return "not found";
        case errc::unsupported: return "not supported";
        case errc::not_available: return "not available";
        case errc::already_exists: return "already exists";
        case errc::busy: return "busy";
        case errc::timeout: return "timed out";
        case errc::protocol_error: return "protocol error";
        case errc::mismatch: return "mismatch";
        case errc::child_failed: return "child setup failed";
        case errc::state_error: return "invalid state";
        }
        return "unknown bulkhead error";
    }
    std::error_condition default_error_condition(int c) const noexcept override {
        switch (static_cast<errc>(c)) {
        case errc::invalid_argument:
        case errc::parse_error:
        case errc::out_of_range: return std::errc::invalid_argument;
        case errc::not_found: return std::errc::no_such_file_or_directory;
        case errc::unsupported: return std::errc::not_supported;
        case errc::busy: return std::errc::device_or_resource_busy;
        case errc::timeout: return std::errc::timed_out;
        case errc::too_large: return std::errc::value_too_large;
        default: return std::error_condition(c, *this);
        }
    }
};
} // namespace detail

/// The `bulkhead` error category (one instance per program, even across vendored TUs).
inline const std::error_category& bulkhead_category() noexcept {
    static const detail::bulkhead_category_impl instance;
    return instance;
}

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), bulkhead_category()};
}

BULKHEAD_NAMESPACE_END

template <>
struct std::is_error_code_enum<bulkhead::errc> : std::true_type {};

BULKHEAD_NAMESPACE_BEGIN

/// What went wrong: a code, the operation that failed (a static string such as
/// "cgroup: write memory.max"), and optionally the subject (path, value), a position in the
/// input (byte offset or line:column) and a note with the likely cause.
///
/// `message()` renders: `op subject at position: code message (note)`.
class error {
public:
    error() noexcept = default;
    error(std::error_code code, const char* op) noexcept : code_(code), op_(op) {}
    error(errc code, const char* op) noexcept : code_(make_error_code(code)), op_(op) {}

    /// An errno failure of `op` (errno is read when not given).
    [[nodiscard]] static error from_errno(const char* op, int err = errno) noexcept {
        return error(std::error_code(err, std::system_category()), op);
    }

    /// Names what the operation acted on, rendered verbatim (a path, a flag, a key).
    error& subject(std::string_view s) & {
        subject_.assign(s);
        return *this;
    }
    error&& subject(std::string_view s) && { return std::move(subject(s)); }

    /// Names the offending value, rendered quoted with non-printable bytes escaped.
    error& value(std::string_view v) & {
        subject_ = quote(v);
        return *this;
    }
    error&& value(std::string_view v) && { return std::move(value(v)); }

    /// A byte offset into the input that was being parsed.
    error& at_offset(std::size_t off) & noexcept {
        pos_kind_ = pos_offset;
        offset_ = off;
        return *this;
    }
    error&& at_offset(std::size_t off) && noexcept { return std::move(at_offset(off)); }

    /// A 1-based line and column in a text input.
    error& at(std::uint32_t line, std::uint32_t column) & noexcept {
        pos_kind_ = pos_line;
        line_ = line;
        column_ = column;
        return *this;
    }
    error&& at(std::uint32_t line, std::uint32_t column) && noexcept {
        return std::move(at(line, column));
    }

    /// Free text: the reason or likely cause ("bound to a cgroup v1 hierarchy").
    error& note(std::string_view n) & {
        note_.assign(n);
        return *this;
    }
    error&& note(std::string_view n) && { return std::move(note(n)); }

    [[nodiscard]] const std::error_code& code() const noexcept { return code_; }
    [[nodiscard]] const char* op() const noexcept { return op_ ? op_ : ""; }
    [[nodiscard]] const std::string& subject_text() const noexcept { return subject_; }
    [[nodiscard]] const std::string& note_text() const noexcept { return note_; }
    [[nodiscard]] bool has_offset() const noexcept { return pos_kind_ == pos_offset; }
    [[nodiscard]] bool has_line() const noexcept { return pos_kind_ == pos_line; }
    [[nodiscard]] std::size_t offset() const noexcept { return offset_; }
    [[nodiscard]] std::uint32_t line() const noexcept { return line_; }
    [[nodiscard]] std::uint32_t column() const noexcept { return column_; }

    /// errno value when the code is in the system category, else 0.
    [[nodiscard]] int sys_errno() const noexcept {
        return code_.category() == std::system_category() ? code_.value() : 0;
    }

    [[nodiscard]] std::string message() const {
        std::string m = op();
        if (!subject_.empty()) {
            if (!m.empty()) m += ' ';
            m += subject_;
        }
        if (pos_kind_ == pos_offset) {
            m += " at offset ";
            m += std::to_string(offset_);
        } else if (pos_kind_ == pos_line) {
            m += " at line ";
            m += std::to_string(line_);
            m += ':';
            m += std::to_string(column_);
        }
        if (!m.empty()) m += ": ";
        m += code_.message();
        if (!note_.empty()) {
            m += " (";
            m += note_;
            m += ')';
        }
        return m;
    }

    /// Quotes `v` for messages: printable ASCII as is, `"` and `\` escaped, others as \xNN.
    [[nodiscard]] static std::string quote(std::string_view v) {
        std::string q;
        q.reserve(v.size() + 2);
        q += '"';
        for (unsigned char c : v) {
            if (c == '"' || c == '\\') {
                q += '\\';
                q += static_cast<char>(c);
            } else if (c >= 0x20 && c < 0x7f) {
                q += static_cast<char>(c);
            } else {
                static constexpr char hex[] = "0123456789abcdef";
                q += "\\x";
                q += hex[c >> 4];
                q += hex[c & 15];
            }
        }
        q += '"';
        return q;
    }

private:
    enum pos_kind_t : unsigned char { pos_none, pos_offset, pos_line };
    std::error_code code_{};
    const char* op_ = nullptr;
    std::string subject_;
    std::string note_;
    std::size_t offset_ = 0;
    std::uint32_t line_ = 0;
    std::uint32_t column_ = 0;
    pos_kind_t pos_kind_ = pos_none;
};

namespace detail {
[[noreturn]] inline void throw_or_abort(const error& e) {
#if BULKHEAD_HAS_EXCEPTIONS
    throw std::system_error(e.code(), e.message());
#else
    std::fprintf(stderr, "bulkhead: fatal: %s\n", e.message().c_str());
    std::abort();
#endif
}
} // namespace detail

template <class T>
class result;

/// A value of type T or an `error`. Member names follow std::expected.
template <class T>
class [[nodiscard]] result {
    static_assert(!std::is_reference_v<T>, "result<T&> is not supported");
    static_assert(!std::is_same_v<std::remove_cv_t<T>, bulkhead::error>,
                  "result<error> is ambiguous");

public:
    using value_type = T;
    using error_type = bulkhead::error;

    template <class U = T,
              std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                   !std::is_same_v<std::remove_cvref_t<U>, result> &&
                                   !std::is_same_v<std::remove_cvref_t<U>, bulkhead::error>,
                               int> = 0>
    result(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) : ok_(true) {
        ::new (static_cast<void*>(&val_)) T(std::forward<U>(v));
    }
    result(const bulkhead::error& e) : ok_(false) { ::new (static_cast<void*>(&err_)) error_type(e); }
    result(bulkhead::error&& e) noexcept : ok_(false) {
        ::new (static_cast<void*>(&err_)) error_type(std::move(e));
    }
    template <class... A>
    explicit result(std::in_place_t, A&&... a) : ok_(true) {
        ::new (static_cast<void*>(&val_)) T(std::forward<A>(a)...);
    }

    result(const result& o) : ok_(o.ok_) {
        if (ok_)
            ::new (static_cast<void*>(&val_)) T(o.val_);
        else
            ::new (static_cast<void*>(&err_)) error_type(o.err_);
    }
    result(result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(o.ok_) {
        if (ok_)
            ::new (static_cast<void*>(&val_)) T(std::move(o.val_));
        else
            ::new (static_cast<void*>(&err_)) error_type(std::move(o.err_));
    }
    result& operator=(const result& o) {
        if (this != &o) {
            result tmp(o);
            destroy();
            construct_from(std::move(tmp));
        }
        return *this;
    }
    result& operator=(result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) {
        if (this != &o) {
            destroy();
            construct_from(std::move(o));
        }
        return *this;
    }
    ~result() { destroy(); }

    [[nodiscard]] bool has_value() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }

    T& value() & {
        if (!ok_) detail::throw_or_abort(err_);
        return val_;
    }
    const T& value() const& {
        if (!ok_) detail::throw_or_abort(err_);
        return val_;
    }
    T&& value() && {
        if (!ok_) detail::throw_or_abort(err_);
        return std::move(val_);
    }

    /// The error; calling it on a value is a precondition violation.
    [[nodiscard]] const error_type& error() const& noexcept { return err_; }
    [[nodiscard]] error_type& error() & noexcept { return err_; }
    [[nodiscard]] error_type&& error() && noexcept { return std::move(err_); }

    template <class U>
    [[nodiscard]] T value_or(U&& alt) const& {
        return ok_ ? val_ : static_cast<T>(std::forward<U>(alt));
    }
    template <class U>
    [[nodiscard]] T value_or(U&& alt) && {
        return ok_ ? std::move(val_) : static_cast<T>(std::forward<U>(alt));
    }

    T& operator*() & noexcept { return val_; }
    const T& operator*() const& noexcept { return val_; }
    T&& operator*() && noexcept { return std::move(val_); }
    T* operator->() noexcept { return &val_; }
    const T* operator->() const noexcept { return &val_; }

    /// As std::expected: equal to a value when it holds an equal value.
    template <class U, std::enable_if_t<!std::is_same_v<std::remove_cvref_t<U>, result> &&
                                            !std::is_same_v<std::remove_cvref_t<U>, bulkhead::error>,
                                        int> = 0>
    friend bool operator==(const result& r, const U& v) {
        return r.has_value() && *r == v;
    }

private:
    void destroy() noexcept {
        if (ok_)
            val_.~T();
        else
            err_.~error_type();
    }
    void construct_from(result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) {
        ok_ = o.ok_;
        if (ok_)
            ::new (static_cast<void*>(&val_)) T(std::move(o.val_));
        else
            ::new (static_cast<void*>(&err_)) error_type(std::move(o.err_));
    }

    union {
        T val_;
        error_type err_;
    };
    bool ok_;
};

/// Success or an `error`.
template <>
class [[nodiscard]] result<void> {
public:
    using value_type = void;
    using error_type = bulkhead::error;

    result() noexcept = default;
    result(const bulkhead::error& e) : ok_(false), err_(e) {}
    result(bulkhead::error&& e) noexcept : ok_(false), err_(std::move(e)) {}

    [[nodiscard]] bool has_value() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    void value() const {
        if (!ok_) detail::throw_or_abort(err_);
    }
    [[nodiscard]] const error_type& error() const& noexcept { return err_; }
    [[nodiscard]] error_type& error() & noexcept { return err_; }
    [[nodiscard]] error_type&& error() && noexcept { return std::move(err_); }

private:
    bool ok_ = true;
    error_type err_{};
};

/// Shorthand for a successful `result<void>`.
[[nodiscard]] inline result<void> ok() noexcept { return {}; }

BULKHEAD_NAMESPACE_END

/// Propagates the error of a `result` expression; on success the value is discarded.
#define BULKHEAD_TRY(expr)                                                                     \
    do {                                                                                       \
        auto&& bulkhead_try_r_ = (expr);                                                       \
        if (!bulkhead_try_r_) return std::move(bulkhead_try_r_).error();                       \
    } while (0)

/// `BULKHEAD_TRY_ASSIGN(auto x, expr);` declares/assigns the value or returns the error.
/// It expands to several statements: under an `if`, put it in braces.
#define BULKHEAD_TRY_ASSIGN(lhs, expr)                                                         \
    BULKHEAD_TRY_ASSIGN_IMPL(BULKHEAD_CONCAT(bulkhead_try_r_, __LINE__), lhs, expr)
#define BULKHEAD_TRY_ASSIGN_IMPL(tmp, lhs, expr)                                               \
    auto tmp = (expr);                                                                         \
    if (!tmp) return std::move(tmp).error();                                                   \
    lhs = std::move(*tmp)
