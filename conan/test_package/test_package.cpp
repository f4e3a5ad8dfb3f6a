// Proves a consumer can include the headers and use the core types.
#include <bulkhead/bulkhead.hpp>

#include <cstdio>

int main() {
    bulkhead::result<int> r = bulkhead::error(bulkhead::errc::not_found, "test_package");
    std::printf("bulkhead %s: %s\n", bulkhead::version.string, r.error().message().c_str());
    auto p = bulkhead::make_pipe();
    return p && !r ? 0 : 1;
}
