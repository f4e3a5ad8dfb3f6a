#!/usr/bin/env bash
# Consumption tests: what Conan, vcpkg and distributions rely on.
#  1. cmake --install into a temporary prefix; the tree holds only headers, the CMake package
#     (arch-independent: share/) and bulkhead.pc.
#  2. find_package against the install prefix, and against the build tree's export.
#  3. add_subdirectory of the source tree (tests/examples stay off for a non-top project).
#  4. pkg-config --cflags, compiling by hand.
#  5. The Conan recipe compiles with python3, the vcpkg manifest parses with its fields, and
#     both agree with config.hpp's version.
# usage: consume.sh SOURCE_DIR CXX
set -euo pipefail
src=$1
cxx=$2
work=$(mktemp -d /tmp/bulkhead-consume.XXXXXX)
trap 'rm -rf "$work"' EXIT
gen=(-G "Unix Makefiles" -DCMAKE_CXX_COMPILER="$cxx")
step() { printf '== %s\n' "$*"; }

step "install into a temporary prefix"
cmake -S "$src" -B "$work/build" "${gen[@]}" -DBULKHEAD_BUILD_TESTS=OFF \
  -DBULKHEAD_BUILD_EXAMPLES=OFF -DBULKHEAD_BUILD_BENCHMARKS=OFF -DBULKHEAD_BUILD_VM_TESTS=OFF \
  -DBULKHEAD_INSTALL=ON -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
cmake --install "$work/build" >/dev/null
test -f "$work/prefix/share/cmake/bulkhead/bulkheadConfig.cmake"
test -f "$work/prefix/share/cmake/bulkhead/bulkheadConfigVersion.cmake"
test -f "$work/prefix/share/pkgconfig/bulkhead.pc"
# ARCH_INDEPENDENT: the version file must not reject a consumer of another pointer size.
if ! grep -A1 'requested no architecture check' \
     "$work/prefix/share/cmake/bulkhead/bulkheadConfigVersion.cmake" | grep -q 'if("TRUE")'; then
  echo "bulkheadConfigVersion.cmake is not arch-independent"; exit 1
fi
if [ -d "$work/prefix/lib" ] || [ -d "$work/prefix/bin" ]; then
  echo "install tree has arch-specific directories:"; find "$work/prefix" -maxdepth 2; exit 1
fi
diff <(cd "$src/include" && find bulkhead -name '*.hpp' | sort) \
     <(cd "$work/prefix/include" && find bulkhead -name '*.hpp' | sort)

step "find_package against the install prefix"
cmake -S "$src/tests/package/consumer" -B "$work/c1" "${gen[@]}" \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/c1" >/dev/null
"$work/c1/consumer"

step "find_package against the build tree export"
cmake -S "$src/tests/package/consumer" -B "$work/c2" "${gen[@]}" \
  -Dbulkhead_DIR="$work/build" >/dev/null
cmake --build "$work/c2" >/dev/null
"$work/c2/consumer"

step "find_package refuses another major version"
cat > "$work/major.cmake" <<CM
cmake_minimum_required(VERSION 3.20)
project(m LANGUAGES CXX)
find_package(bulkhead 1 CONFIG)
if(bulkhead_FOUND)
  message(FATAL_ERROR "0.x must not satisfy a request for 1")
endif()
CM
mkdir -p "$work/m" && cp "$work/major.cmake" "$work/m/CMakeLists.txt"
cmake -S "$work/m" -B "$work/m/b" "${gen[@]}" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null

step "add_subdirectory of the source tree"
cmake -S "$src/tests/package/consumer" -B "$work/c3" "${gen[@]}" -DMODE=add_subdirectory \
  -DBULKHEAD_SOURCE="$src" >/dev/null
cmake --build "$work/c3" >/dev/null
"$work/c3/consumer"

step "pkg-config"
cflags=$(PKG_CONFIG_PATH="$work/prefix/share/pkgconfig" pkg-config --cflags bulkhead)
ver=$(PKG_CONFIG_PATH="$work/prefix/share/pkgconfig" pkg-config --modversion bulkhead)
# shellcheck disable=SC2086
"$cxx" $cflags -Wall -Wextra -Werror "$src/tests/package/consumer/main.cpp" -o "$work/pc"
"$work/pc"

step "Conan recipe and vcpkg port"
want=$(sed -n 's/^#define BULKHEAD_VERSION_STRING "\(.*\)"/\1/p' "$src/include/bulkhead/config.hpp")
[ "$ver" = "$want" ] || { echo "pkg-config version $ver != $want"; exit 1; }
python3 - "$src" "$want" <<'PY'
import ast, json, py_compile, sys
src, want = sys.argv[1], sys.argv[2]
for f in ("conan/conanfile.py", "conan/test_package/conanfile.py"):
    py_compile.compile(f"{src}/{f}", doraise=True)
tree = ast.parse(open(f"{src}/conan/conanfile.py").read())
cls = [n for n in tree.body if isinstance(n, ast.ClassDef)][0]
attrs = {t.id: n.value for n in cls.body if isinstance(n, ast.Assign) for t in n.targets
         if isinstance(t, ast.Name)}
assert ast.literal_eval(attrs["package_type"]) == "header-library", "package_type"
assert ast.literal_eval(attrs["name"]) == "bulkhead", "name"
methods = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
for m in ("package_id", "validate", "package", "package_info", "layout"):
    assert m in methods, f"conanfile lacks {m}()"
body = ast.unparse([n for n in cls.body if getattr(n, "name", "") == "package_id"][0])
assert "self.info.clear()" in body, "package id must be cleared for a header library"
v = json.load(open(f"{src}/ports/bulkhead/vcpkg.json"))
for k in ("name", "version", "description", "license", "supports"):
    assert k in v, f"vcpkg.json lacks {k}"
assert v["name"] == "bulkhead" and v["version"] == want, (v["version"], want)
port = open(f"{src}/ports/bulkhead/portfile.cmake").read()
for needle in ("vcpkg_cmake_configure", "vcpkg_cmake_install", "vcpkg_cmake_config_fixup"):
    assert needle in port, needle
print("conan recipe and vcpkg port: ok")
PY
echo "consumption tests: ok"
