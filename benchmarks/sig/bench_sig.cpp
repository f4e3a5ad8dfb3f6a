// Google Benchmark figures for the sig module: hash and inflate throughput, compile and
// saved-database load time for 1k/10k body signatures, scan throughput on mixed buffers.
#include "bulkhead/sig.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>

namespace sig = bulkhead::sig;

namespace {

std::string random_sigs(std::size_t n) {
    std::mt19937 rng(7);
    std::string out;
    static const char* hx = "0123456789abcdef";
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t len = 12 + rng() % 21;
        std::string h;
        for (std::size_t k = 0; k < len; ++k) {
            unsigned c = (i % 2) ? rng() % 256 : 'a' + rng() % 26;
            h += hx[c >> 4];
            h += hx[c & 15];
        }
        unsigned r = rng() % 10;
        if (r < 2) h.insert(8, "??");
        else if (r < 3) h.insert(8, "{2-9}");
        out += "Bench.Sig." + std::to_string(i) + ":0:*:" + h + "\n";
    }
    return out;
}

std::vector<unsigned char> mixed_buffer(std::size_t n) {
    std::mt19937 rng(1);
    static const char* words[] = {"the ", "of ", "function ", "$this->", "echo ", "array(", "return ", "\n", "    "};
    std::vector<unsigned char> b;
    while (b.size() < n) {
        if (rng() % 5 == 0)
            for (int i = 0; i < 64; ++i) b.push_back(static_cast<unsigned char>(rng()));
        else
            for (const char* c = words[rng() % 9]; *c; ++c) b.push_back(static_cast<unsigned char>(*c));
    }
    b.resize(n);
    return b;
}

template <class H>
void BM_hash(benchmark::State& st) {
    auto buf = mixed_buffer(1 << 20);
    for (auto _ : st) benchmark::DoNotOptimize(sig::hash_of<H>(buf.data(), buf.size()));
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(buf.size()));
}
BENCHMARK_TEMPLATE(BM_hash, sig::md5);
BENCHMARK_TEMPLATE(BM_hash, sig::sha1);
BENCHMARK_TEMPLATE(BM_hash, sig::sha256);

void BM_inflate(benchmark::State& st) {
    // A stored-block-free stream from our own fixed-Huffman encoder is not available, so
    // inflate a gzip file made by gzip(1) when present; otherwise skip.
    FILE* p = ::popen("head -c 4000000 /usr/share/dict/words 2>/dev/null || true; "
                      "printf ''", "r");
    std::string plain;
    char b[65536];
    std::size_t k;
    while (p && (k = std::fread(b, 1, sizeof b, p)) > 0) plain.append(b, k);
    if (p) ::pclose(p);
    if (plain.empty()) {
        auto m = mixed_buffer(4 << 20);
        plain.assign(m.begin(), m.end());
    }
    std::FILE* f = std::fopen("/tmp/bench_sig_inflate.txt", "wb");
    std::fwrite(plain.data(), 1, plain.size(), f);
    std::fclose(f);
    if (std::system("gzip -n -f /tmp/bench_sig_inflate.txt") != 0) {
        st.SkipWithError("gzip failed");
        return;
    }
    std::string gz;
    f = std::fopen("/tmp/bench_sig_inflate.txt.gz", "rb");
    while ((k = std::fread(b, 1, sizeof b, f)) > 0) gz.append(b, k);
    std::fclose(f);
    std::remove("/tmp/bench_sig_inflate.txt.gz");
    for (auto _ : st) {
        auto r = sig::gunzip({reinterpret_cast<const unsigned char*>(gz.data()), gz.size()});
        benchmark::DoNotOptimize(r);
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(plain.size()));
}
BENCHMARK(BM_inflate)->Unit(benchmark::kMillisecond);

void BM_compile(benchmark::State& st) {
    auto text = random_sigs(static_cast<std::size_t>(st.range(0)));
    for (auto _ : st) {
        sig::database db;
        (void)sig::load_text("b.ndb", text, db);
        auto c = sig::compiled_db::compile(db);
        benchmark::DoNotOptimize(c);
    }
}
BENCHMARK(BM_compile)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_load_saved(benchmark::State& st) {
    auto text = random_sigs(static_cast<std::size_t>(st.range(0)));
    sig::database db;
    (void)sig::load_text("b.ndb", text, db);
    auto c = sig::compiled_db::compile(db);
    (void)c->save("/tmp/bench_sig.bhdb");
    for (auto _ : st) {
        auto l = sig::compiled_db::load("/tmp/bench_sig.bhdb");
        benchmark::DoNotOptimize(l);
    }
    st.counters["bytes_per_sig"] = double(c->bytes()) / double(st.range(0));
    std::remove("/tmp/bench_sig.bhdb");
}
BENCHMARK(BM_load_saved)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_scan(benchmark::State& st) {
    auto text = random_sigs(static_cast<std::size_t>(st.range(0)));
    sig::database db;
    (void)sig::load_text("b.ndb", text, db);
    auto c = sig::compiled_db::compile(db);
    sig::scan_state s(*c);
    auto buf = mixed_buffer(8 << 20);
    sig::scan_options o;
    o.normalize = st.range(1) != 0;
    for (auto _ : st) benchmark::DoNotOptimize(sig::scan_memory(s, buf, o));
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(buf.size()));
}
BENCHMARK(BM_scan)->Args({1000, 0})->Args({10000, 0})->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
