// sitehost's ldd-output reader on arbitrary bytes: never crashes; every path it returns is
// absolute, has no whitespace or '(' and came from the input.
#include "../examples/sitehost/prewarm.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    for (const auto& p : sitehost::parse_ldd(in)) {
        if (p.size() < 2 || p.front() != '/') std::abort();
        if (p.find_first_of(" \t\n(") != std::string::npos) std::abort();
        if (in.find(p) == std::string_view::npos) std::abort();
    }
    return 0;
}
