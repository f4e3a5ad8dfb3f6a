// Differential fuzzing of the matcher: input = "OFFSET:HEXSIG\n" + data. The compiled engine
// (whole buffer under every prefilter instruction set this CPU has, and streamed in chunks)
// must agree with the naive reference matcher.
#include "bulkhead/sig.hpp"
#include "../tests/sig/sig_test_util.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace sig = bulkhead::sig;
    std::string in(reinterpret_cast<const char*>(data), size);
    auto nl = in.find('\n');
    if (nl == std::string::npos || nl > 200) return 0;
    std::string line = in.substr(0, nl), body = in.substr(nl + 1);
    if (body.size() > 600 || line.find_first_of("\r") != std::string::npos) return 0;
    auto c1 = line.find(':');
    if (c1 == std::string::npos) return 0;
    sig::database db;
    if (!sig::load_text("f.ndb", "F:0:" + line + "\n", db) || db.bodies.size() != 1) return 0;
    for (auto& t : db.bodies[0].tokens)
        if (t.kind == sig::token::gap && t.gmax != sig::gap_unbounded && t.gmax > 64) return 0;
    if (db.bodies[0].tokens.size() > 40) return 0;
    auto c = sig::compiled_db::compile(db);
    if (!c || c->signature_count() != 1) return 0;
    sig::scan_state st(*c);
    sig::scan_options so;
    so.normalize = false;
    sigtest::naive nv(db.bodies[0].tokens, body);
    bool want = nv.any(db.bodies[0].offset);
    // 2: AVX-512 where present, 1: at most AVX2, 0: the scalar loops
    for (int isa = 2; isa >= 0; --isa) {
        sig::detail::prefilter_isa_limit() = isa;
        bool got = sig::scan_memory(st, sigtest::bytes(body), so).infected();
        if (got != want) __builtin_trap();
    }
    sig::detail::prefilter_isa_limit() = size % 3 == 0 ? 0 : 2;
    sig::match_options mo;
    sig::stream s(st, sig::pass_raw, mo, body.size());
    std::size_t ch = 1 + (size % 7);
    for (std::size_t i = 0; i < body.size(); i += ch) s.feed(sigtest::bytes(body.substr(i, ch)));
    s.finish();
    if (s.matches().empty() == want) __builtin_trap();
    return 0;
}
