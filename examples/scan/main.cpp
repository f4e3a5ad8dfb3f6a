// bulkhead-scan: a multi-threaded, clamscan-compatible malware scanner over ClamAV databases.
#include "bulkhead/sig.hpp"
#include "bulkhead/detail/json.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace sig = bulkhead::sig;

static void usage(FILE* f) {
    std::fputs(
        "usage: bulkhead-scan -d DB [-d DB...] [options] PATH...\n"
        "\n"
        "Scans files with ClamAV signature databases; output and exit codes follow clamscan.\n"
        "\n"
        "  -d, --database DB     a database file (.hdb .hsb .ndb .ldb .fp .sfp .ign2 .cvd .cld),\n"
        "                        a directory of them, or a compiled database (.bhdb)\n"
        "  -r, --recursive       scan directories recursively\n"
        "  -i, --infected        print infected files only\n"
        "      --threads N       scanning threads (default: all cores)\n"
        "      --json            one JSON object per line per file, then a summary object\n"
        "      --no-summary      no summary block\n"
        "      --max-filesize N  skip files larger than N bytes\n"
        "      --no-normalize    do not scan the normalized form of text files\n"
        "      --raw-only-target0  run target-0 signatures on raw bytes only\n"
        "      --allmatch        report every matching signature\n"
        "      --cache FILE      verdict cache (dev, inode, size, mtime, ctime, db version)\n"
        "      --quarantine DIR  move infected files to DIR with a JSON sidecar\n"
        "      --save-db FILE    write the compiled database to FILE (.bhdb) and exit\n"
        "  -h, --help            this text\n"
        "\n"
        "Exit status: 0 no virus found, 1 virus(es) found, 2 an error occurred.\n",
        f);
}

int main(int argc, char** argv) {
    std::vector<std::string> dbs, paths;
    bool recursive = false, infected_only = false, json = false, summary = true;
    std::string cache_path, quarantine_dir, save_db;
    sig::tree_options topt;
    auto bad = [](const std::string& m) {
        std::fprintf(stderr, "bulkhead-scan: %s (try --help)\n", m.c_str());
        return 2;
    };
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&](const char* flag) -> const char* {
            if (i + 1 >= argc) return nullptr;
            (void)flag;
            return argv[++i];
        };
        auto eq = a.find('=');
        std::string key = a.substr(0, eq), inline_val = eq == std::string::npos ? "" : a.substr(eq + 1);
        auto val = [&](const char* flag) -> const char* {
            if (eq != std::string::npos && bulkhead::detail::starts_with(a, "--")) return argv[i] + eq + 1;
            return next(flag);
        };
        if (a == "-h" || a == "--help") { usage(stdout); return 0; }
        else if (a == "-d" || key == "--database") {
            auto v = val("-d");
            if (!v) return bad("-d needs a database path");
            dbs.push_back(v);
        } else if (a == "-r" || a == "--recursive") recursive = true;
        else if (a == "-i" || a == "--infected") infected_only = true;
        else if (a == "--json") json = true;
        else if (a == "--no-summary") summary = false;
        else if (a == "--no-normalize") topt.scan.normalize = false;
        else if (a == "--raw-only-target0") topt.scan.normalized_any = false;
        else if (a == "--allmatch" || a == "-z") topt.scan.all_matches = true;
        else if (key == "--threads") {
            auto v = val("--threads");
            auto n = v ? bulkhead::detail::parse_int<unsigned>(v) : std::nullopt;
            if (!n || *n == 0 || *n > 1024) return bad("--threads needs a number 1-1024");
            topt.threads = *n;
        } else if (key == "--max-filesize") {
            auto v = val("--max-filesize");
            auto n = v ? bulkhead::detail::parse_int<std::uint64_t>(v) : std::nullopt;
            if (!n) return bad("--max-filesize needs a byte count");
            topt.scan.max_file_size = *n;
        } else if (key == "--cache") {
            auto v = val("--cache");
            if (!v) return bad("--cache needs a file");
            cache_path = v;
        } else if (key == "--quarantine") {
            auto v = val("--quarantine");
            if (!v) return bad("--quarantine needs a directory");
            quarantine_dir = v;
        } else if (key == "--save-db") {
            auto v = val("--save-db");
            if (!v) return bad("--save-db needs a file");
            save_db = v;
        } else if (!a.empty() && a[0] == '-' && a != "-") {
            return bad("unknown option " + a);
        } else {
            paths.push_back(a);
        }
    }
    if (dbs.empty()) return bad("no database: give -d DB");
    if (paths.empty() && save_db.empty()) return bad("no path to scan");
    topt.recursive = recursive;

    auto t0 = std::chrono::steady_clock::now();
    sig::compiled_db cdb;
    sig::database db;
    bool have_compiled = false;
    for (auto& d : dbs) {
        if (d.size() > 5 && d.substr(d.size() - 5) == ".bhdb") {
            if (dbs.size() != 1) return bad("a compiled database (.bhdb) must be the only -d");
            auto l = sig::compiled_db::load(d);
            if (!l) {
                std::fprintf(stderr, "bulkhead-scan: %s\n", l.error().message().c_str());
                return 2;
            }
            cdb = std::move(*l);
            have_compiled = true;
            continue;
        }
        auto r = sig::load_path(d, db);
        if (!r) {
            std::fprintf(stderr, "bulkhead-scan: %s\n", r.error().message().c_str());
            return 2;
        }
    }
    if (!have_compiled) {
        auto c = sig::compiled_db::compile(db);
        if (!c) {
            std::fprintf(stderr, "bulkhead-scan: %s\n", c.error().message().c_str());
            return 2;
        }
        cdb = std::move(*c);
        for (auto& s : db.skipped)
            std::fprintf(stderr, "bulkhead-scan: skipped signature %s (%s): %s\n", s.name.c_str(), s.source.c_str(),
                         s.reason.c_str());
    }
    if (!save_db.empty()) {
        auto r = cdb.save(save_db);
        if (!r) {
            std::fprintf(stderr, "bulkhead-scan: %s\n", r.error().message().c_str());
            return 2;
        }
        std::fprintf(stderr, "bulkhead-scan: wrote %s (%zu signatures, %zu bytes)\n", save_db.c_str(),
                     cdb.signature_count(), cdb.bytes());
        if (paths.empty()) return 0;
    }
    sig::scan_cache cache;
    if (!cache_path.empty()) {
        if (::access(cache_path.c_str(), F_OK) == 0) {
            auto r = cache.load(cache_path);
            if (!r) {
                std::fprintf(stderr, "bulkhead-scan: %s\n", r.error().message().c_str());
                return 2;
            }
        }
        topt.cache = &cache;
    }

    std::size_t files = 0, infected = 0, errors = 0, dirs = 0;
    std::uint64_t bytes = 0;
    std::atomic<std::size_t> done{0};
    std::atomic<std::uint64_t> done_bytes{0};
    bool tty = !json && ::isatty(2);
    std::atomic<bool> stop_progress{false};
    std::jthread progress;
    if (tty) {
        progress = std::jthread([&] {
            auto start = std::chrono::steady_clock::now();
            bool shown = false;
            while (!stop_progress.load()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(250));
                if (std::chrono::steady_clock::now() - start < std::chrono::seconds(2)) continue;
                std::fprintf(stderr, "\r[bulkhead-scan] %zu files, %.1f MB scanned ", done.load(),
                             double(done_bytes.load()) / 1048576.0);
                shown = true;
            }
            if (shown) std::fputs("\r\033[K", stderr);
        });
    }
    for (auto& p : paths) {
        struct stat sb {};
        if (::lstat(p.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode)) ++dirs;
    }
    sig::scan_tree(cdb, paths, topt, [&](const sig::file_result& r) {
        ++done;
        done_bytes += r.size;
        bool is_err = r.kind == sig::file_result::error;
        if (r.kind == sig::file_result::clean || r.kind == sig::file_result::infected ||
            r.kind == sig::file_result::cached) {
            ++files;
            bytes += r.size;
        }
        if (is_err) ++errors;
        std::string qnote;
        if (r.kind == sig::file_result::infected) {
            ++infected;
            if (!quarantine_dir.empty()) {
                auto q = sig::quarantine(r.path, quarantine_dir, r.matches.front().name);
                if (q) qnote = q->stored_path;
                else {
                    ++errors;
                    std::fprintf(stderr, "bulkhead-scan: %s\n", q.error().message().c_str());
                }
            }
        }
        if (json) {
            bulkhead::detail::json::writer w;
            w.begin_object();
            w.field("path", r.path);
            static const char* kinds[] = {"clean", "infected", "error", "skipped", "cached"};
            w.field("status", kinds[r.kind]);
            if (!r.matches.empty()) {
                w.key("matches").begin_array();
                for (auto& m : r.matches) {
                    w.begin_object();
                    w.field("signature", m.name);
                    w.field("offset", m.offset);
                    w.field("normalized", m.pass == sig::pass_normalized);
                    w.end_object();
                }
                w.end_array();
            }
            if (!r.message.empty()) w.field("message", r.message);
            if (!qnote.empty()) w.field("quarantined", qnote);
            w.end_object();
            std::printf("%s\n", w.str().c_str());
            return;
        }
        if (tty) std::fputs("\r\033[K", stderr);
        switch (r.kind) {
        case sig::file_result::infected:
            for (auto& m : r.matches) std::printf("%s: %s FOUND\n", r.path.c_str(), m.name.c_str());
            break;
        case sig::file_result::clean:
        case sig::file_result::cached:
            if (!infected_only) std::printf("%s: OK\n", r.path.c_str());
            break;
        case sig::file_result::error:
            std::fprintf(stderr, "%s: %s ERROR\n", r.path.c_str(), r.message.c_str());
            break;
        case sig::file_result::skipped:
            if (!infected_only) std::fprintf(stderr, "%s: skipped (%s)\n", r.path.c_str(), r.message.c_str());
            break;
        }
        std::fflush(stdout);
    });
    stop_progress = true;
    if (progress.joinable()) progress.join();
    if (!cache_path.empty()) {
        auto r = cache.save(cache_path);
        if (!r) {
            std::fprintf(stderr, "bulkhead-scan: %s\n", r.error().message().c_str());
            ++errors;
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (json) {
        if (summary) {
            bulkhead::detail::json::writer w;
            w.begin_object();
            w.field("summary", true);
            w.field("known_viruses", static_cast<std::uint64_t>(cdb.signature_count()));
            w.field("scanned_files", static_cast<std::uint64_t>(files));
            w.field("infected_files", static_cast<std::uint64_t>(infected));
            w.field("errors", static_cast<std::uint64_t>(errors));
            w.field("data_scanned_bytes", bytes);
            w.field("seconds", secs);
            w.end_object();
            std::printf("%s\n", w.str().c_str());
        }
    } else if (summary) {
        std::printf("\n----------- SCAN SUMMARY -----------\n");
        std::printf("Known viruses: %zu\n", cdb.signature_count());
        std::printf("Engine version: bulkhead %s\n", BULKHEAD_VERSION_STRING);
        std::printf("Scanned directories: %zu\n", dirs);
        std::printf("Scanned files: %zu\n", files);
        std::printf("Infected files: %zu\n", infected);
        if (errors) std::printf("Total errors: %zu\n", errors);
        std::printf("Data scanned: %.2f MB\n", double(bytes) / 1048576.0);
        std::printf("Data read: %.2f MB (ratio 1.00:1)\n", double(bytes) / 1048576.0);
        std::printf("Time: %.3f sec (%d m %d s)\n", secs, int(secs) / 60, int(secs) % 60);
    }
    if (errors) return 2;
    return infected ? 1 : 0;
}
