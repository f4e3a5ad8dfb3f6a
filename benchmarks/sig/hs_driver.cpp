// Benchmark-only Hyperscan driver (block mode): compile the patterns of gen_sigs.py's sigs.hs,
// load every corpus file into memory, scan each file once, print figures as key=value.
// Built by side_by_side.sh with -lhs; the library never links Hyperscan.
#include <hs/hs.h>

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
    std::vector<std::string> pats;
    std::vector<unsigned> ids, flags;
    std::ifstream pf(argv[1]);
    std::string line;
    while (std::getline(pf, line)) {
        auto c = line.find(":/");
        auto e = line.rfind('/');
        if (c == std::string::npos || e <= c + 1) continue;
        ids.push_back(static_cast<unsigned>(std::stoul(line.substr(0, c))));
        pats.push_back(line.substr(c + 2, e - c - 2));
        flags.push_back(HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH);
    }
    std::vector<const char*> cp;
    for (auto& p : pats) cp.push_back(p.c_str());
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    auto t0 = std::chrono::steady_clock::now();
    if (hs_compile_multi(cp.data(), flags.data(), ids.data(), static_cast<unsigned>(cp.size()), HS_MODE_BLOCK,
                         nullptr, &db, &err) != HS_SUCCESS) {
        std::fprintf(stderr, "hs_compile_multi: %s (pattern %d)\n", err->message, err->expression);
        return 2;
    }
    double compile_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<std::string> files;
    std::size_t total = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(argv[2])) {
        if (!e.is_regular_file()) continue;
        std::ifstream in(e.path(), std::ios::binary);
        files.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        total += files.back().size();
    }
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
    std::printf("tool=hyperscan patterns=%zu files=%zu bytes=%zu compile_s=%.3f scan_s=%.3f mbps=%.1f hits=%zu\n",
                pats.size(), files.size(), total, compile_s, best, double(total) / 1048576.0 / best, hits);
    hs_free_scratch(scratch);
    hs_free_database(db);
    return 0;
}
