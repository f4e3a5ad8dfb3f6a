// Fuzzes the .cvd/.cld container reader (header, gzip, tar) with a small inflate limit.
#include "bulkhead/sig.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    bulkhead::sig::database db;
    (void)bulkhead::sig::load_container("fuzz.cvd", {data, size}, db, 1 << 20);
    return 0;
}
