#pragma once
/// \file seccomp/arch.hpp
/// Architectures a filter can name (x86_64, i386, x32, aarch64), their AUDIT_ARCH values and
/// syscall tables: name <-> number lookups over the generated syscall_table.hpp.

#include "bulkhead/config.hpp"
#include "bulkhead/error.hpp"
#include "bulkhead/seccomp/syscall_table.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

BULKHEAD_NAMESPACE_BEGIN
namespace seccomp {

/// The x32 ABI runs under AUDIT_ARCH_X86_64 with this bit set in the syscall number.
inline constexpr std::uint32_t x32_syscall_bit = 0x40000000u;

/// An architecture a policy can be written for. x32 is its own table but shares
/// AUDIT_ARCH_X86_64 with x86_64: the filter tells them apart by x32_syscall_bit.
enum class arch : std::uint8_t { x86_64, i386, x32, aarch64 };

inline constexpr arch all_arches[] = {arch::x86_64, arch::i386, arch::x32, arch::aarch64};

/// AUDIT_ARCH_* as seen in seccomp_data.arch.
inline constexpr std::uint32_t audit_arch_x86_64 = 0xc000003eu;
inline constexpr std::uint32_t audit_arch_i386 = 0x40000003u;
inline constexpr std::uint32_t audit_arch_aarch64 = 0xc00000b7u;

[[nodiscard]] constexpr std::uint32_t audit_arch(arch a) noexcept {
    switch (a) {
    case arch::x86_64:
    case arch::x32: return audit_arch_x86_64;
    case arch::i386: return audit_arch_i386;
    case arch::aarch64: return audit_arch_aarch64;
    }
    return 0;
}

/// Numbers as they appear in seccomp_data.nr: x32 numbers carry x32_syscall_bit.
[[nodiscard]] constexpr std::uint32_t nr_bias(arch a) noexcept {
    return a == arch::x32 ? x32_syscall_bit : 0u;
}

[[nodiscard]] constexpr std::string_view arch_name(arch a) noexcept {
    switch (a) {
    case arch::x86_64: return "x86_64";
    case arch::i386: return "i386";
    case arch::x32: return "x32";
    case arch::aarch64: return "aarch64";
    }
    return "?";
}

/// Accepts our names, the kernel/uname names and the OCI/Docker names (SCMP_ARCH_X86_64,
/// amd64, x86, arm64, ...).
[[nodiscard]] inline std::optional<arch> parse_arch(std::string_view s) noexcept {
    if (s.starts_with("SCMP_ARCH_")) s.remove_prefix(10);
    auto eq = [&](std::string_view a) {
        if (a.size() != s.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i) {
            char c = s[i];
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            if (c != a[i]) return false;
        }
        return true;
    };
    if (eq("x86_64") || eq("amd64")) return arch::x86_64;
    if (eq("i386") || eq("x86") || eq("i686")) return arch::i386;
    if (eq("x32")) return arch::x32;
    if (eq("aarch64") || eq("arm64")) return arch::aarch64;
    return std::nullopt;
}

/// The architecture this program was compiled for, if it is one of ours.
[[nodiscard]] constexpr std::optional<arch> native_arch() noexcept {
#if defined(__x86_64__) && defined(__ILP32__)
    return arch::x32;
#elif defined(__x86_64__)
    return arch::x86_64;
#elif defined(__i386__)
    return arch::i386;
#elif defined(__aarch64__)
    return arch::aarch64;
#else
    return std::nullopt;
#endif
}

/// One architecture's syscall table.
struct syscall_table {
    std::span<const detail::syscall_entry> by_name; ///< sorted by name
    std::span<const std::int16_t> index_by_nr;      ///< number -> index into by_name, or -1
    std::uint32_t max_nr;                           ///< highest number (without bias)

    /// The number of `name` (without the x32 bit), or nullopt.
    [[nodiscard]] std::optional<std::uint32_t> find(std::string_view name) const noexcept {
        auto it = std::lower_bound(by_name.begin(), by_name.end(), name,
                                   [](const detail::syscall_entry& e, std::string_view n) {
                                       return e.name < n;
                                   });
        if (it == by_name.end() || it->name != name) return std::nullopt;
        return it->nr;
    }
    /// The name of number `nr` (without the x32 bit), or an empty view.
    [[nodiscard]] std::string_view name(std::uint32_t nr) const noexcept {
        if (nr >= index_by_nr.size()) return {};
        auto i = index_by_nr[nr];
        return i < 0 ? std::string_view{} : by_name[static_cast<std::size_t>(i)].name;
    }
};

[[nodiscard]] inline syscall_table table(arch a) noexcept {
    using namespace detail;
    switch (a) {
    case arch::x86_64: return {x86_64_syscalls, x86_64_index_by_nr, x86_64_max_nr};
    case arch::i386: return {i386_syscalls, i386_index_by_nr, i386_max_nr};
    case arch::x32: return {x32_syscalls, x32_index_by_nr, x32_max_nr};
    case arch::aarch64: return {aarch64_syscalls, aarch64_index_by_nr, aarch64_max_nr};
    }
    return {x86_64_syscalls, x86_64_index_by_nr, x86_64_max_nr};
}

/// The number of `name` on `a` (without the x32 bit); not_found names the syscall.
[[nodiscard]] inline result<std::uint32_t> resolve(arch a, std::string_view name) {
    if (auto nr = table(a).find(name)) return *nr;
    return std::move(error(errc::not_found, "seccomp: resolve syscall")
                         .value(name)
                         .note(std::string("no such syscall on ") + std::string(arch_name(a))));
}

/// True when `name` is a syscall of some architecture in our tables.
[[nodiscard]] inline bool known_anywhere(std::string_view name) noexcept {
    for (arch a : all_arches)
        if (table(a).find(name)) return true;
    return false;
}

/// True when `name` is a syscall only of architectures we have no table for (arm EABI,
/// powerpc, s390, ...), listed in syscall_table.hpp.
[[nodiscard]] inline bool other_arch_only(std::string_view name) noexcept {
    for (auto n : detail::other_arch_syscall_names)
        if (n == name) return true;
    return false;
}

/// True when `name` is a syscall newer than the headers our tables come from (listed in
/// syscall_table.hpp); its number is above the table, where filters answer ENOSYS.
[[nodiscard]] inline bool newer_than_table(std::string_view name) noexcept {
    for (auto n : detail::newer_syscall_names)
        if (n == name) return true;
    return false;
}

} // namespace seccomp
BULKHEAD_NAMESPACE_END
