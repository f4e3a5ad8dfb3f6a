// Fuzzes the .ldb line parser, then compiles and runs whatever parsed on the input itself.
#include "bulkhead/sig.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace sig = bulkhead::sig;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    sig::database db;
    auto r = sig::load_text("fuzz.ldb", text, db);
    if (!r) {
        if (r.error().line() == 0) __builtin_trap(); // every line error names its line
        return 0;
    }
    auto c = sig::compiled_db::compile(db);
    if (!c) return 0;
    sig::scan_state st(*c);
    sig::scan_options o;
    o.all_matches = true;
    (void)sig::scan_memory(st, {data, size}, o);
    return 0;
}
