// bulkhead's side of the side-by-side: the same shape as hs_driver (files in memory, each file
// scanned once as a block, best of 3), plus compile, save/load and memory figures, and thread
// scaling over the same in-memory files.
#include "bulkhead/sig.hpp"

#include "driver_util.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sys/mman.h>

namespace sig = bulkhead::sig;
using clk = std::chrono::steady_clock;

/// A field of /proc/self/status in KiB (VmRSS: all resident pages; RssAnon: the heap's and
/// other private pages; RssFile: mapped files, the saved database among them).
static long status_kb(const char* field = "VmRSS:") {
    std::ifstream s("/proc/self/status");
    std::string k;
    long v = 0;
    while (s >> k) {
        if (k == field) { s >> v; return v; }
        std::getline(s, k);
    }
    return v;
}
static long rss_kb() { return status_kb(); }

/// The address range this process maps `path` at (the database's one mapping), or {0, 0}.
static std::pair<std::uintptr_t, std::uintptr_t> find_mapping(const char* path) {
    std::ifstream maps("/proc/self/maps");
    const std::string canon = std::filesystem::canonical(path).string();
    for (std::string line; std::getline(maps, line);)
        if (line.size() > canon.size() && line.compare(line.size() - canon.size(), canon.size(), canon) == 0) {
            const auto dash = line.find('-'), space = line.find(' ');
            return {std::stoull(line.substr(0, dash), nullptr, 16),
                    std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16)};
        }
    return {0, 0};
}

/// Drops this process's page-table entries for the mapped database (the pages stay in the page
/// cache): with RSS_DROP=1, what is resident afterwards is what the scan itself touched, not
/// what the loader's checks did.
static void drop_mapping(const char* path) {
    auto [lo, hi] = find_mapping(path);
    if (lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

/// Per array of the saved file: its size and how much of it is resident in this process's
/// mapping of the file (the present bit of /proc/self/pagemap, page by page).
static void print_present_pages(const char* path, double nsigs) {
    auto [lo, hi] = find_mapping(path);
    if (!lo) return;
    sig::detail::file_header h{};
    std::ifstream f(path, std::ios::binary);
    f.read(reinterpret_cast<char*>(&h), sizeof h);
    const std::size_t pg = 4096, npages = (hi - lo) / pg;
    std::vector<std::uint64_t> pm(npages);
    std::FILE* pf = std::fopen("/proc/self/pagemap", "rb");
    if (!pf) return;
    std::fseek(pf, static_cast<long>(lo / pg * 8), SEEK_SET);
    std::size_t got = std::fread(pm.data(), 8, npages, pf);
    std::fclose(pf);
    static const char* names[23] = {"entries", "parts", "prog", "strings", "tiers", "bitmaps", "buckets",
                                    "grams", "lsigs", "expr", "direct_abs", "direct_eof", "zero_lsigs",
                                    "hash_big", "allow_big", "hash_sizes", "ext", "md5", "sha1", "sha256",
                                    "allow_md5", "allow_sha1", "allow_sha256"};
    namespace d = sig::detail;
    static const std::size_t elem[23] = {16, 32, 1, 1, 32, 8, 4, 4, sizeof(d::lsig_rec), 12, 4, 4, 4,
                                         sizeof(d::hash_rec), sizeof(d::hash_rec), 8, 24,
                                         sizeof(d::hash_md5), sizeof(d::hash_sha1), sizeof(d::hash_sha256),
                                         sizeof(d::hash_md5), sizeof(d::hash_sha1), sizeof(d::hash_sha256)};
    static_assert(sizeof h.off / sizeof h.off[0] == 23);
    std::size_t present_total = 0;
    for (std::size_t p = 0; p < got; ++p) present_total += (pm[p] >> 63) & 1;
    std::printf("mapping: %zu pages, %zu present (%.1f B/sig)\n", npages, present_total,
                double(present_total * pg) / nsigs);
    for (int a = 0; a < 23; ++a) {
        std::size_t bytes = h.len[a] * elem[a];
        if (!bytes) continue;
        std::size_t p0 = h.off[a] / pg, p1 = (h.off[a] + bytes + pg - 1) / pg, present = 0;
        for (std::size_t p = p0; p < p1 && p < got; ++p) present += (pm[p] >> 63) & 1;
        std::printf("  %-10s %9zu bytes %6.1f B/sig  pages %5zu present %5zu\n", names[a], bytes,
                    double(bytes) / nsigs, p1 - p0, present);
    }
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: corpus_scan DB CORPUSDIR [THREADS...]\n");
        return 2;
    }
    if (std::string(argv[1]) == "--rss") {
        // Resident memory of a loaded database in a fresh process: RSS before the load, then
        // after loading it, making one scan_state and scanning with it: the corpus given (each
        // file once, read into memory before the first measurement), or a 64 KiB probe buffer.
        // Also which of the mapping's pages are present (from /proc/self/pagemap), by array.
        std::size_t total = 0;
        std::vector<std::string> files;
        if (argc > 3) files = read_corpus(argv[3], total);
        else files.emplace_back(std::string(1 << 16, 'x'));
        long before = rss_kb(), anon_before = status_kb("RssAnon:");
        auto l = sig::compiled_db::load(argv[2]);
        if (!l) return 2;
        if (std::getenv("RSS_DROP")) drop_mapping(argv[2]);
        long after_load = rss_kb();
        sig::scan_state st(*l);
        std::size_t hits = 0;
        for (auto& f : files)
            hits += sig::scan_memory(st, {reinterpret_cast<const unsigned char*>(f.data()), f.size()}).matches.size();
        long after_scan = rss_kb(), anon_after = status_kb("RssAnon:");
        const double n = double(l->signature_count());
        std::printf("rss_after_load_kb=%ld rss_after_load_and_scan_kb=%ld rss_per_sig_bytes=%.1f "
                    "mapped_bytes_per_sig=%.1f scanned_bytes=%zu hits=%zu\n",
                    after_load - before, after_scan - before, double(after_scan - before) * 1024.0 / n,
                    double(l->bytes()) / n, total, hits);
        std::printf("private (heap: derived filters, scan_state) %ld KiB, %.1f B/sig\n", anon_after - anon_before,
                    double(anon_after - anon_before) * 1024.0 / n);
        print_present_pages(argv[2], n);
        return 0;
    }
    auto t0 = clk::now();
    sig::database db;
    if (auto r = sig::load_path(argv[1], db); !r) {
        std::fprintf(stderr, "%s\n", r.error().message().c_str());
        return 2;
    }
    double parse_s = std::chrono::duration<double>(clk::now() - t0).count();
    auto t1 = clk::now();
    auto c = sig::compiled_db::compile(db);
    if (!c) return 2;
    double compile_s = std::chrono::duration<double>(clk::now() - t1).count();
    std::string saved = argc > 0 && std::getenv("CORPUS_SCAN_KEEP") ? std::getenv("CORPUS_SCAN_KEEP") : "/tmp/corpus_scan_db.bhdb";
    if (!c->save(saved)) return 2;
    std::size_t nsigs = c->signature_count();
    std::size_t bytes = c->bytes();
    *c = sig::compiled_db(); // drop the compiled copy; scan with the mapped one
    db = sig::database();
    long rss0 = rss_kb();
    auto t2 = clk::now();
    auto l = sig::compiled_db::load(saved);
    if (!l) return 2;
    double load_s = std::chrono::duration<double>(clk::now() - t2).count();
    std::size_t total = 0;
    std::vector<std::string> files = read_corpus(argv[2], total);
    long rss_files = rss_kb();
    sig::scan_options so;
    so.normalize = false; // the peers scan raw bytes only; see the normalized figure below
    auto scan_all = [&](unsigned threads, bool normalize) {
        std::atomic<std::size_t> next{0}, hits{0};
        sig::scan_options o = so;
        o.normalize = normalize;
        auto t = clk::now();
        {
            std::vector<std::jthread> ws;
            for (unsigned i = 0; i < threads; ++i)
                ws.emplace_back([&] {
                    sig::scan_state st(*l);
                    for (std::size_t k; (k = next++) < files.size();) {
                        auto& f = files[k];
                        auto r = sig::scan_memory(st, {reinterpret_cast<const unsigned char*>(f.data()), f.size()}, o);
                        hits += r.matches.size();
                    }
                });
        }
        return std::make_pair(std::chrono::duration<double>(clk::now() - t).count(), hits.load());
    };
    double best = 1e9;
    std::size_t hits = 0;
    for (int rep = 0; rep < 3; ++rep) {
        auto [s, h] = scan_all(1, false);
        best = std::min(best, s);
        hits = h;
    }
    long rss_scan = rss_kb();
    std::printf("tool=bulkhead sigs=%zu files=%zu bytes=%zu parse_s=%.3f compile_s=%.3f load_s=%.4f "
                "db_bytes=%zu bytes_per_sig=%.1f rss_db_kb=%ld scan_s=%.3f mbps=%.1f hits=%zu\n",
                nsigs, files.size(), total, parse_s, compile_s, load_s, bytes, double(bytes) / double(nsigs),
                rss_scan - rss_files + 0 * rss0, best, double(total) / 1048576.0 / best, hits);
    auto [ns, nh] = scan_all(1, true);
    std::printf("tool=bulkhead-normalized mbps=%.1f hits=%zu\n", double(total) / 1048576.0 / ns, nh);
    for (int i = 3; i < argc; ++i) {
        unsigned th = static_cast<unsigned>(std::stoul(argv[i]));
        auto [s, h] = scan_all(th, false);
        std::printf("tool=bulkhead threads=%u mbps=%.1f hits=%zu\n", th, double(total) / 1048576.0 / s, h);
    }
    if (!std::getenv("CORPUS_SCAN_KEEP")) std::remove(saved.c_str());
    return 0;
}
