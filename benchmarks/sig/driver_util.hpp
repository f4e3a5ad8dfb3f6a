// Shared by the benchmark drivers (corpus_scan, hs_driver, interleaved); C++17, since
// hs_driver is built with it. Benchmark-only: the library never links Hyperscan.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

/// Every regular file below `dir`, read into memory; `total` gets the byte count.
inline std::vector<std::string> read_corpus(const char* dir, std::size_t& total) {
    std::vector<std::string> files;
    total = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        std::ifstream in(e.path(), std::ios::binary);
        files.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        total += files.back().size();
    }
    return files;
}

#ifdef HS_FLAG_DOTALL
/// gen_sigs.py's sigs.hs ("id:/regex/flags" lines) compiled for block mode; null with `error` set.
inline hs_database_t* compile_hs_patterns(const std::string& path, std::size_t& count, std::string& error) {
    std::vector<std::string> pats;
    std::vector<unsigned> ids, flags;
    std::ifstream pf(path);
    for (std::string line; std::getline(pf, line);) {
        auto colon = line.find(":/");
        auto slash = line.rfind('/');
        if (colon == std::string::npos || slash <= colon + 1) continue;
        ids.push_back(static_cast<unsigned>(std::stoul(line.substr(0, colon))));
        pats.push_back(line.substr(colon + 2, slash - colon - 2));
        flags.push_back(HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH);
    }
    count = pats.size();
    std::vector<const char*> cp;
    for (auto& p : pats) cp.push_back(p.c_str());
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(cp.data(), flags.data(), ids.data(), static_cast<unsigned>(cp.size()), HS_MODE_BLOCK,
                         nullptr, &db, &err) != HS_SUCCESS) {
        error = std::string(err->message) + " (pattern " + std::to_string(err->expression) + ")";
        hs_free_compile_error(err);
        return nullptr;
    }
    return db;
}
#endif
