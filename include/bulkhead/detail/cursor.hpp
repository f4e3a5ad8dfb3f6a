#pragma once
/// \file detail/cursor.hpp
/// A bounds-checked reader over untrusted bytes. Every read checks the remaining length first,
/// so parsers built on it cannot read out of bounds; failures leave the position unchanged and
/// parsers report `offset()` in their errors.

#include "bulkhead/config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

BULKHEAD_NAMESPACE_BEGIN
namespace detail {

class byte_cursor {
public:
    constexpr byte_cursor() noexcept = default;
    constexpr explicit byte_cursor(std::span<const std::uint8_t> data) noexcept : data_(data) {}
    byte_cursor(const void* p, std::size_t n) noexcept
        : data_(static_cast<const std::uint8_t*>(p), n) {}

    [[nodiscard]] constexpr std::size_t offset() const noexcept { return pos_; }
    [[nodiscard]] constexpr std::size_t size() const noexcept { return data_.size(); }
    [[nodiscard]] constexpr std::size_t remaining() const noexcept { return data_.size() - pos_; }
    [[nodiscard]] constexpr bool empty() const noexcept { return pos_ == data_.size(); }
    [[nodiscard]] constexpr std::span<const std::uint8_t> data() const noexcept { return data_; }
    [[nodiscard]] constexpr std::span<const std::uint8_t> rest() const noexcept {
        return data_.subspan(pos_);
    }

    /// Moves to absolute offset `off`; false (and no move) when past the end.
    constexpr bool seek(std::size_t off) noexcept {
        if (off > data_.size()) return false;
        pos_ = off;
        return true;
    }
    constexpr bool skip(std::size_t n) noexcept {
        if (n > remaining()) return false;
        pos_ += n;
        return true;
    }

    constexpr bool u8(std::uint8_t& out) noexcept {
        if (remaining() < 1) return false;
        out = data_[pos_++];
        return true;
    }
    constexpr bool u16be(std::uint16_t& out) noexcept {
        if (remaining() < 2) return false;
        out = static_cast<std::uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
        pos_ += 2;
        return true;
    }
    constexpr bool u32be(std::uint32_t& out) noexcept {
        if (remaining() < 4) return false;
        out = (std::uint32_t{data_[pos_]} << 24) | (std::uint32_t{data_[pos_ + 1]} << 16) |
              (std::uint32_t{data_[pos_ + 2]} << 8) | std::uint32_t{data_[pos_ + 3]};
        pos_ += 4;
        return true;
    }
    constexpr bool u16le(std::uint16_t& out) noexcept {
        if (remaining() < 2) return false;
        out = static_cast<std::uint16_t>(data_[pos_] | (data_[pos_ + 1] << 8));
        pos_ += 2;
        return true;
    }
    constexpr bool u32le(std::uint32_t& out) noexcept {
        if (remaining() < 4) return false;
        out = std::uint32_t{data_[pos_]} | (std::uint32_t{data_[pos_ + 1]} << 8) |
              (std::uint32_t{data_[pos_ + 2]} << 16) | (std::uint32_t{data_[pos_ + 3]} << 24);
        pos_ += 4;
        return true;
    }
    constexpr bool u64le(std::uint64_t& out) noexcept {
        std::uint32_t lo = 0, hi = 0;
        if (remaining() < 8) return false;
        u32le(lo);
        u32le(hi);
        out = (std::uint64_t{hi} << 32) | lo;
        return true;
    }
    /// A view of the next `n` bytes, consumed.
    constexpr bool bytes(std::size_t n, std::span<const std::uint8_t>& out) noexcept {
        if (n > remaining()) return false;
        out = data_.subspan(pos_, n);
        pos_ += n;
        return true;
    }
    /// The next byte without consuming it; false at the end.
    [[nodiscard]] constexpr bool peek(std::uint8_t& out) const noexcept {
        if (remaining() < 1) return false;
        out = data_[pos_];
        return true;
    }

private:
    std::span<const std::uint8_t> data_{};
    std::size_t pos_ = 0;
};

} // namespace detail
BULKHEAD_NAMESPACE_END
