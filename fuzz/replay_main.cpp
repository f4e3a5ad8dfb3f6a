// Replays every file of a corpus directory (or the files given) through a fuzz target, so
// the seed corpora run in every test-suite build, also with g++ and without libFuzzer.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

static int replay_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "replay: cannot open %s\n", p.c_str());
        return 1;
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // A copy in an exactly sized heap buffer, so ASan sees any read past the end.
    std::vector<std::uint8_t> buf(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(buf.empty() ? nullptr : buf.data(), buf.size());
    return 0;
}

int main(int argc, char** argv) {
    std::size_t n = 0;
    int failures = 0;
    for (int i = 1; i < argc; ++i) {
        std::filesystem::path p(argv[i]);
        if (std::filesystem::is_directory(p)) {
            for (const auto& e : std::filesystem::recursive_directory_iterator(p))
                if (e.is_regular_file()) {
                    failures += replay_file(e.path());
                    ++n;
                }
        } else {
            failures += replay_file(p);
            ++n;
        }
    }
    if (n == 0) {
        std::fprintf(stderr, "replay: no corpus files found\n");
        return 1;
    }
    std::printf("replayed %zu inputs\n", n);
    return failures ? 1 : 0;
}
