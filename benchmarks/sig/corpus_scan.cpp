// bulkhead's side of the side-by-side: the same shape as hs_driver (files in memory, each file
// scanned once as a block, best of 3), plus compile, save/load and memory figures, and thread
// scaling over the same in-memory files.
#include "bulkhead/sig.hpp"

#include "driver_util.hpp"

#include <atomic>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace sig = bulkhead::sig;
using clk = std::chrono::steady_clock;

static long rss_kb() {
    std::ifstream s("/proc/self/status");
    std::string k;
    long v = 0;
    while (s >> k) {
        if (k == "VmRSS:") { s >> v; return v; }
        std::getline(s, k);
    }
    return v;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: corpus_scan DB CORPUSDIR [THREADS...]\n");
        return 2;
    }
    if (std::string(argv[1]) == "--rss") {
        // Resident memory of a loaded database in a fresh process: RSS before the load, then
        // after mapping it (the loader's checks read every record) and making one scan_state
        // and scanning with it. The 64 KiB probe buffer is scanned data, allocated first.
        std::string probe(1 << 16, 'x');
        long before = rss_kb();
        auto l = sig::compiled_db::load(argv[2]);
        if (!l) return 2;
        sig::scan_state st(*l);
        (void)sig::scan_memory(st, {reinterpret_cast<const unsigned char*>(probe.data()), probe.size()});
        long after_scan = rss_kb();
        volatile unsigned char sink = 0;
        std::ifstream f(argv[2], std::ios::binary);
        std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        (void)all;
        (void)sink;
        std::printf("rss_after_load_and_scan_kb=%ld rss_per_sig_bytes=%.1f mapped_bytes_per_sig=%.1f\n",
                    after_scan - before, double(after_scan - before) * 1024.0 / double(l->signature_count()),
                    double(l->bytes()) / double(l->signature_count()));
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
