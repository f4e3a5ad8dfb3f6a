// Fuzzes the saved-database loader (compiled_db::load): a .bhdb file is input like any other
// (a damaged download, a planted file), and the loader promises that whatever it accepts can
// be scanned with, unchecked. So every database it accepts is scanned (raw and normalized
// passes, hashes, all matches, streamed too) over a fixed sample and over the input itself.
// Seeds: fuzz/corpus/fuzz_sig_db/, written by compiled_db::save from small .ndb/.ldb/.hdb sets.
#include "bulkhead/sig.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <sys/mman.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace sig = bulkhead::sig;
    // One memfd for the whole run: load() reads a path, and /proc/self/fd/N is one.
    static const int fd = ::memfd_create("fuzz_sig_db", MFD_CLOEXEC);
    static const std::string path = "/proc/self/fd/" + std::to_string(fd);
    if (fd < 0 || ::ftruncate(fd, 0) != 0) return 0;
    std::size_t done = 0;
    while (done < size) {
        ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
        if (n <= 0) return 0;
        done += static_cast<std::size_t>(n);
    }
    auto db = sig::compiled_db::load(path);
    if (!db) {
        if (db.error().message().empty()) __builtin_trap(); // a refusal must say why
        return 0;
    }
    static constexpr std::string_view sample =
        "<?php eval(base64_decode('aGVsbG8=')); system('id'); system('ls'); ?>\n"
        "hello  world  SHELL_EXEC this is a long anchor literal of many bytes AB\xde\xad\xbe\xef"
        "ABCE ABDE ABxC\n\x7f" "ELF\x02\x01 trailing bytes before the end ABC";
    sig::scan_state st(*db);
    sig::scan_options all;
    all.all_matches = true;
    std::size_t names = 0;
    for (std::span<const unsigned char> buf :
         {std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(sample.data()), sample.size()),
          std::span<const unsigned char>(data, size)}) {
        for (int isa = 2; isa >= 0; --isa) {
            sig::detail::prefilter_isa_limit() = isa;
            auto rep = sig::scan_memory(st, buf, all);
            for (const auto& m : rep.matches) names += m.name.size();
        }
        sig::match_options mo;
        mo.all_matches = true;
        sig::stream s(st, sig::pass_raw, mo, buf.size());
        for (std::size_t i = 0; i < buf.size(); i += 7) s.feed(buf.subspan(i, std::min<std::size_t>(7, buf.size() - i)));
        s.finish();
    }
    sig::detail::prefilter_isa_limit() = 2;
    (void)names;
    return 0;
}
