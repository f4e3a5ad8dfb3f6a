// Benchmark-only: bulkhead and Hyperscan (block mode) alternated in one process, five rounds,
// best thread-CPU time of each, so a busy neighbour on the machine cannot favour one side.
// bulkhead runs under every prefilter instruction set this CPU has (AVX-512, AVX2, scalar).
//
//   g++ -std=c++20 -O2 -DNDEBUG -Iinclude benchmarks/sig/interleaved.cpp -o interleaved -lhs
//   ./interleaved SETDIR CORPUSDIR      (SETDIR as written by gen_sigs.py: sigs.ndb, sigs.hs)
#include "bulkhead/sig.hpp"

#include <hs/hs.h>

#include "driver_util.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace sig = bulkhead::sig;

static double thread_cpu() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: interleaved SETDIR CORPUSDIR\n");
        return 2;
    }
    std::string dir = argv[1];
    std::size_t total = 0;
    std::vector<std::string> files = read_corpus(argv[2], total);
    sig::database db;
    if (auto r = sig::load_path(dir + "/sigs.ndb", db); !r) {
        std::fprintf(stderr, "%s\n", r.error().message().c_str());
        return 2;
    }
    auto c = sig::compiled_db::compile(db);
    if (!c) return 2;

    std::size_t npats = 0;
    std::string error;
    hs_database_t* hdb = compile_hs_patterns(dir + "/sigs.hs", npats, error);
    if (!hdb) {
        std::fprintf(stderr, "hs_compile_multi: %s\n", error.c_str());
        return 2;
    }
    hs_scratch_t* scratch = nullptr;
    hs_alloc_scratch(hdb, &scratch);
    auto on_match = [](unsigned, unsigned long long, unsigned long long, unsigned, void* n) -> int {
        ++*static_cast<std::size_t*>(n);
        return 0;
    };

    double hs_best = 1e9, bh_best[3] = {1e9, 1e9, 1e9};
    std::size_t hs_hits = 0, bh_hits[3] = {0, 0, 0};
    for (int round = 0; round < 5; ++round) {
        std::size_t n = 0;
        double t = thread_cpu();
        for (auto& f : files) hs_scan(hdb, f.data(), static_cast<unsigned>(f.size()), 0, scratch, on_match, &n);
        hs_best = std::min(hs_best, thread_cpu() - t);
        hs_hits = n;
        for (int isa = 2; isa >= 0; --isa) {
            sig::detail::prefilter_isa_limit() = isa;
            sig::scan_state st(*c);
            sig::scan_options so;
            so.normalize = false;
            n = 0;
            t = thread_cpu();
            for (auto& f : files)
                n += sig::scan_memory(st, {reinterpret_cast<const unsigned char*>(f.data()), f.size()}, so).matches.size();
            bh_best[isa] = std::min(bh_best[isa], thread_cpu() - t);
            bh_hits[isa] = n;
        }
    }
    double mb = double(total) / 1048576.0;
    std::printf("hyperscan_mbps=%.0f bulkhead_mbps=%.0f ratio=%.2f avx2_path_mbps=%.0f scalar_path_mbps=%.0f "
                "hits=%zu/%zu/%zu/%zu (the AVX-512 and AVX2 figures fall back to slower paths where the CPU lacks them)\n",
                mb / hs_best, mb / bh_best[2], hs_best / bh_best[2], mb / bh_best[1], mb / bh_best[0], hs_hits,
                bh_hits[2], bh_hits[1], bh_hits[0]);
    hs_free_scratch(scratch);
    hs_free_database(hdb);
    return 0;
}
