// Fuzz target: rtnetlink reply parsing (messages, error replies with extended acks, nested
// attributes), as the kernel's answers are read by ns::rtnl.
#include "bulkhead/ns/netlink.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace {
void walk(std::span<const std::uint8_t> d, int depth) {
    if (depth > 4) return;
    auto attrs = bulkhead::ns::parse_rtattrs(d);
    if (!attrs) return;
    for (const auto& a : *attrs) walk(a.data, depth + 1);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const std::uint8_t> in(data, size);
    auto r = bulkhead::ns::parse_nl_replies(in);
    if (r) {
        for (const auto& m : *r) {
            if (m.payload.size() >= sizeof(ifinfomsg)) walk(m.payload.subspan(sizeof(ifinfomsg)), 0);
            walk(m.payload, 0);
        }
    }
    walk(in, 0);
    return 0;
}
