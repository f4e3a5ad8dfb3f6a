#pragma once
// Helpers shared by the test executables (not part of the library).

#include <cstdlib>
#include <string>

#include <unistd.h>

namespace bulkhead_test {

/// The repository's root (set by ctest), or the working directory's guess.
inline std::string source_dir() {
    if (const char* s = std::getenv("BULKHEAD_SOURCE_DIR")) return s;
    return ".";
}

/// ../shared next to the repository (reference data such as the Docker seccomp profile).
inline std::string shared_dir() {
    if (const char* s = std::getenv("BULKHEAD_SHARED_DIR")) return s;
    return source_dir() + "/../shared";
}

inline bool is_root() { return ::geteuid() == 0; }

} // namespace bulkhead_test
