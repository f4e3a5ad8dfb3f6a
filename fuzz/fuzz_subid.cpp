// Fuzz target: /etc/subuid and /etc/subgid parsing, id-map specs and the allocator fed with
// whatever the parser accepted.
#include "bulkhead/ns/idmap.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto r = bulkhead::ns::parse_subid(text, "fuzz");
    if (r) {
        bulkhead::ns::subid_allocator a(*r, "root", "0");
        for (int i = 0; i < 4; ++i) (void)a.allocate(65536);
        for (const auto& e : *r) (void)a.reserve(e.start, e.count);
    } else {
        (void)r.error().message();
    }
    auto m = bulkhead::ns::id_map::parse_spec(text);
    if (m) (void)m->to_proc_text();
    return 0;
}
