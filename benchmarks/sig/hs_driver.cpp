// Benchmark-only Hyperscan driver (block mode): compile the patterns of gen_sigs.py's sigs.hs,
// load every corpus file into memory, scan each file once, print figures as key=value.
// Built by side_by_side.sh with -lhs; the library never links Hyperscan.
#include <hs/hs.h>

#include "driver_util.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: hs_driver PATTERNS.hs CORPUSDIR\n");
        return 2;
    }
    std::size_t npats = 0;
    std::string error;
    auto t0 = std::chrono::steady_clock::now();
    hs_database_t* db = compile_hs_patterns(argv[1], npats, error);
    if (!db) {
        std::fprintf(stderr, "hs_compile_multi: %s\n", error.c_str());
        return 2;
    }
    double compile_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::size_t total = 0;
    std::vector<std::string> files = read_corpus(argv[2], total);
    hs_scratch_t* scratch = nullptr;
    hs_alloc_scratch(db, &scratch);
    std::size_t hits = 0;
    auto cb = [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) -> int {
        ++*static_cast<std::size_t*>(ctx);
        return 0;
    };
    double best = 1e9;
    for (int rep = 0; rep < 3; ++rep) {
        hits = 0;
        auto t1 = std::chrono::steady_clock::now();
        for (auto& f : files) hs_scan(db, f.data(), static_cast<unsigned>(f.size()), 0, scratch, cb, &hits);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count());
    }
    // The database's own size and the per-thread scratch, beside bulkhead's bytes per signature.
    std::size_t db_bytes = 0, scratch_bytes = 0;
    hs_database_size(db, &db_bytes);
    hs_scratch_size(scratch, &scratch_bytes);
    std::printf("tool=hyperscan patterns=%zu files=%zu bytes=%zu compile_s=%.3f scan_s=%.3f mbps=%.1f hits=%zu "
                "db_bytes=%zu db_bytes_per_sig=%.1f scratch_bytes=%zu\n",
                npats, files.size(), total, compile_s, best, double(total) / 1048576.0 / best, hits, db_bytes,
                npats ? double(db_bytes) / double(npats) : 0.0, scratch_bytes);
    hs_free_scratch(scratch);
    hs_free_database(db);
    return 0;
}
