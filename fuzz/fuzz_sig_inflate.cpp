// Fuzzes raw inflate and the gzip reader; output is capped so bombs stop early.
#include "bulkhead/sig.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<unsigned char> out;
    auto r = bulkhead::sig::inflate_raw({data, size}, out, 1 << 20);
    if (out.size() > (1u << 20)) __builtin_trap();
    if (r && *r > size) __builtin_trap();
    (void)bulkhead::sig::gunzip({data, size}, 1 << 20);
    return 0;
}
