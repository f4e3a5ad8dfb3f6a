#pragma once
/// \file sig/normalize.hpp
/// ClamAV's text normalization (libclamav textnorm), reproduced from its documented rules:
///  - bytes 0x09-0x0d and 0x20 are whitespace; a run of them becomes one space;
///  - 'A'-'Z' become 'a'-'z'; the other bytes 0x21-0x7e are copied;
///  - other control bytes (< 0x20) and every byte >= 0x7f are dropped, and dropping does not
///    end a whitespace run ("a \x01 b" -> "a b").
/// Target-type-7 signatures are matched against this form only; target-0 signatures are
/// matched against both the raw bytes and this form (switchable).
/// Which files count as text follows file(1)'s ASCII rule on the first 1 KiB: every byte is
/// BEL, BS, HT, LF, FF, CR, ESC or 0x20-0x7e.

#include "bulkhead/config.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

BULKHEAD_NAMESPACE_BEGIN
namespace sig {

/// Streaming normalizer: keeps the whitespace state across chunks.
class text_normalizer {
public:
    /// Appends the normalized form of `in` to `out`.
    void feed(std::span<const unsigned char> in, std::vector<unsigned char>& out) {
        for (unsigned char c : in) {
            if ((c >= 0x09 && c <= 0x0d) || c == 0x20) {
                if (!space_) out.push_back(' ');
                space_ = true;
            } else if (c > 0x20 && c < 0x7f) {
                out.push_back(static_cast<unsigned char>((c >= 'A' && c <= 'Z') ? c + 32 : c));
                space_ = false;
            }
        }
    }
    void reset() noexcept { space_ = false; }

private:
    bool space_ = false;
};

/// Bytes inspected by `is_text`.
inline constexpr std::size_t text_probe_bytes = 1024;

/// True when the start of a file looks like ASCII text (see the file comment).
[[nodiscard]] inline bool is_text(std::span<const unsigned char> head) noexcept {
    if (head.empty()) return false;
    std::size_t n = head.size() < text_probe_bytes ? head.size() : text_probe_bytes;
    for (std::size_t i = 0; i < n; ++i) {
        unsigned char c = head[i];
        bool t = (c >= 0x20 && c < 0x7f) || c == 7 || c == 8 || c == 9 || c == 10 || c == 12 ||
                 c == 13 || c == 27;
        if (!t) return false;
    }
    return true;
}

} // namespace sig
BULKHEAD_NAMESPACE_END
