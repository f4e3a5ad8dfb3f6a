// The shared-code prewarm: ldd output parsing (unit), and against this machine's real ldd,
// nginx and PHP-FPM: the list holds the executables, their libraries and PHP's extensions.
#include "config.hpp"
#include "prewarm.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>

using sitehost::parse_ldd;

TEST_CASE("ldd output gives the absolute paths of the libraries", "[unit][sitehost]") {
    const char* out = "\tlinux-vdso.so.1 (0x00007ffd4b1f0000)\n"
                      "\tlibcrypt.so.1 => /lib/x86_64-linux-gnu/libcrypt.so.1 (0x00007f3c1a000000)\n"
                      "\tlibmissing.so.3 => not found\n"
                      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3c19e00000)\n"
                      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f3c1a2b0000)\n"
                      "\tstatically linked\n"
                      "=> \n"
                      "/\n";
    auto p = parse_ldd(out);
    REQUIRE(p.size() == 3);
    CHECK(p[0] == "/lib/x86_64-linux-gnu/libcrypt.so.1");
    CHECK(p[1] == "/lib/x86_64-linux-gnu/libc.so.6");
    CHECK(p[2] == "/lib64/ld-linux-x86-64.so.2");
    CHECK(parse_ldd("").empty());
    CHECK(parse_ldd("no newline at the end => /x/libz.so.1").size() == 1);
}

TEST_CASE("the servers' shared code is found and read", "[unit][sitehost]") {
    if (::access(sitehost::nginx_path, X_OK) != 0 || ::access("/usr/bin/ldd", X_OK) != 0) {
        WARN("nginx or ldd is not installed: skipped");
        return;
    }
    auto files = sitehost::shared_code({std::string(sitehost::nginx_path), "/nonexistent/binary"}, {"/nonexistent/dir"});
    REQUIRE(files.size() >= 3);
    CHECK(files.front() == sitehost::nginx_path);
    bool libc = false;
    for (const auto& f : files) {
        CHECK(f.front() == '/');
        if (f.find("/libc.so.6") != std::string::npos) libc = true;
    }
    CHECK(libc);
    auto r = sitehost::read_files(files);
    CHECK(r.files >= 3);
    CHECK(r.bytes > 1000000); // nginx and libc alone are well over 1 MB

    auto dirs = sitehost::php_extension_dirs();
    if (!dirs.empty()) {
        auto php = sitehost::shared_code({}, dirs);
        bool opcache = false;
        for (const auto& f : php) opcache = opcache || f.find("/opcache.so") != std::string::npos;
        CHECK(opcache);
    }
}

TEST_CASE("read_files skips what is missing or not a regular file", "[unit][sitehost]") {
    char dir[] = "/tmp/bulkhead-prewarm.XXXXXX";
    REQUIRE(::mkdtemp(dir));
    std::string f = std::string(dir) + "/a";
    { std::ofstream(f) << std::string(5000, 'x'); }
    auto r = sitehost::read_files({f, f, dir, std::string(dir) + "/missing", "/dev/null"});
    CHECK(r.files == 1);
    CHECK(r.bytes == 5000);
    std::remove(f.c_str());
    ::rmdir(dir);
}
