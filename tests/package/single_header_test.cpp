// Only the amalgamation is on the include path (no include/): it must stand alone.
#include "bulkhead.hpp"

#if __has_include("bulkhead/error.hpp")
#error "split headers are visible; this test must see only single_include/"
#endif

#include <cstdio>

int main() {
    bulkhead::result<int> r = 5;
    auto p = bulkhead::make_pipe();
    std::printf("single header: bulkhead %s\n", bulkhead::version.string);
    return r && *r == 5 && p ? 0 : 1;
}
