#include <catch2/catch.hpp>

#include "bulkhead/sig.hpp"
#include "sig_test_util.hpp"

#include <map>
#include <sys/stat.h>

using namespace bulkhead::sig;

namespace {
compiled_db make_db() {
    database db;
    REQUIRE(load_text("t.ndb", "Tree.Evil:0:*:6576696c2d6d61726b6572\n", db));
    auto c = compiled_db::compile(db);
    REQUIRE(c);
    return std::move(*c);
}
} // namespace

TEST_CASE("tree scan: parallel, symlinks and special files skipped, size limit", "[unit]") {
    sigtest::temp_dir td;
    auto db = make_db();
    ::mkdir((td / "site").c_str(), 0755);
    ::mkdir((td / "site/sub").c_str(), 0755);
    ::mkdir((td / "outside").c_str(), 0755);
    for (int i = 0; i < 40; ++i)
        sigtest::write(td / ("site/sub/f" + std::to_string(i)), i % 10 == 3 ? "xx evil-marker yy" : "clean file");
    sigtest::write(td / "outside/secret", "evil-marker");
    sigtest::write(td / "site/big", std::string(5000, 'a') + "evil-marker");
    REQUIRE(::symlink((td / "outside/secret").c_str(), (td / "site/link").c_str()) == 0);
    REQUIRE(::symlink((td / "outside").c_str(), (td / "site/dirlink").c_str()) == 0);
    REQUIRE(::mkfifo((td / "site/fifo").c_str(), 0600) == 0);
    std::map<std::string, file_result> got;
    tree_options to;
    to.threads = 3;
    to.scan.max_file_size = 4096;
    scan_tree(db, {td / "site"}, to, [&](const file_result& r) { got[r.path] = r; });
    CHECK(got.size() == 44);
    int infected = 0;
    for (auto& [p, r] : got) infected += r.kind == file_result::infected;
    CHECK(infected == 4);
    CHECK(got[td / "site/link"].kind == file_result::skipped);
    CHECK(got[td / "site/dirlink"].kind == file_result::skipped);
    CHECK(got[td / "site/fifo"].kind == file_result::skipped);
    CHECK(got[td / "site/big"].kind == file_result::skipped);
    CHECK(got.count(td / "outside/secret") == 0);
    CHECK(got[td / "site/sub/f3"].matches.at(0).name == "Tree.Evil");
    CHECK(got[td / "site/sub/f3"].matches.at(0).offset == 3);
    // a symlink given as a root is followed (like clamscan's arguments), unless turned off
    std::vector<file_result> roots;
    scan_tree(db, {td / "site/link"}, to, [&](const file_result& r) { roots.push_back(r); });
    REQUIRE(roots.size() == 1);
    CHECK(roots[0].kind == file_result::infected);
    roots.clear();
    to.follow_root_symlinks = false;
    scan_tree(db, {td / "site/link"}, to, [&](const file_result& r) { roots.push_back(r); });
    REQUIRE(roots.size() == 1);
    CHECK(roots[0].kind == file_result::skipped);
}

TEST_CASE("cache skips unchanged files and notices changes", "[unit]") {
    sigtest::temp_dir td;
    auto db = make_db();
    scan_state st(db);
    scan_cache cache;
    std::string f = td / "a.php";
    sigtest::write(f, "harmless");
    CHECK(scan_file(st, f, {}, &cache).kind == file_result::clean);
    CHECK(scan_file(st, f, {}, &cache).kind == file_result::cached);
    sigtest::write(f, "now evil-marker");
    CHECK(scan_file(st, f, {}, &cache).kind == file_result::infected);
    CHECK(scan_file(st, f, {}, &cache).kind == file_result::infected); // never cached
    REQUIRE(cache.save(td / "cache"));
    scan_cache c2;
    REQUIRE(c2.load(td / "cache"));
    CHECK(c2.size() == cache.size());
    sigtest::write(td / "badcache", "1 2 3\n");
    CHECK(!c2.load(td / "badcache"));
}

TEST_CASE("quarantine moves the file and records its metadata", "[unit]") {
    sigtest::temp_dir td;
    std::string f = td / "shell.php";
    sigtest::write(f, "abc");
    ::chmod(f.c_str(), 0640);
    auto q = quarantine(f, td / "q", "Php.Shell");
    REQUIRE(q);
    CHECK(::access(f.c_str(), F_OK) != 0);
    struct stat sb {};
    REQUIRE(::stat(q->stored_path.c_str(), &sb) == 0);
    CHECK((sb.st_mode & 07777) == 0);
    auto js = bulkhead::detail::json::parse(sigtest::slurp(q->sidecar_path));
    REQUIRE(js);
    auto side = sigtest::slurp(q->sidecar_path);
    CHECK(side.find("\"original_path\":\"" + f + "\"") != std::string::npos);
    CHECK(side.find("Php.Shell") != std::string::npos);
    CHECK(side.find("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") != std::string::npos);
    CHECK(side.find("\"mode\":416") != std::string::npos);
    CHECK(!quarantine(td / "missing", td / "q", "X"));
}
