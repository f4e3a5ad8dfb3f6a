#include <bulkhead/bulkhead.hpp>

#include <cstdio>
#include <cstring>

int main() {
    auto r = bulkhead::read_file("/proc/self/comm");
    if (!r) return 1;
    std::printf("consumer: bulkhead %s, comm=%s", bulkhead::version.string, r->c_str());
    return std::strcmp(bulkhead::version.string, BULKHEAD_VERSION_STRING) == 0 ? 0 : 2;
}
