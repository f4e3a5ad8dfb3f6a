// sitehost's sites-file reader on arbitrary bytes: never crashes; accepted configs are
// internally consistent (disjoint ids and /30s, every site has an address).
#include "../examples/sitehost/config.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto c = sitehost::parse_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    if (!c) return 0;
    for (std::size_t i = 0; i < c->sites.size(); ++i) {
        if (!c->sites[i].ids || c->sites[i].ipv4.empty()) std::abort();
        for (std::size_t j = i + 1; j < c->sites.size(); ++j)
            if (c->sites[i].ids->overlaps(*c->sites[j].ids)) std::abort();
    }
    return 0;
}
