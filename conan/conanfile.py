"""Conan 2 recipe for bulkhead, a header-only C++20 library for Linux.

Run from the repository root:  conan create conan/ --build=missing
"""
import os

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load

required_conan_version = ">=2.0"


def _version_from_config(root):
    text = load(None, os.path.join(root, "include", "bulkhead", "config.hpp"))
    for line in text.splitlines():
        if line.startswith("#define BULKHEAD_VERSION_STRING"):
            return line.split('"')[1]
    raise ConanInvalidConfiguration("BULKHEAD_VERSION_STRING not found in config.hpp")


class BulkheadConan(ConanFile):
    name = "bulkhead"
    description = ("Header-only C++20 isolation and security toolkit for Linux web hosting: "
                   "namespaces, cgroups v2, seccomp, malware signatures, DNS/CAA")
    license = "MIT"
    homepage = "https://example.invalid/bulkhead"
    url = homepage
    topics = ("sandbox", "namespaces", "cgroups", "seccomp", "hosting", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    no_copy_source = True
    exports_sources = ("../include/*", "../CMakeLists.txt", "../cmake/*", "../LICENSE")

    def set_version(self):
        self.version = self.version or _version_from_config(
            os.path.join(self.recipe_folder, ".."))

    def layout(self):
        cmake_layout(self, src_folder="..")

    def package_id(self):
        # Headers only: one package serves every configuration.
        self.info.clear()

    def validate(self):
        if self.settings.os != "Linux":
            raise ConanInvalidConfiguration("bulkhead uses Linux kernel interfaces only")
        if self.settings.get_safe("compiler.cppstd"):
            check_min_cppstd(self, 20)

    def generate(self):
        tc = CMakeToolchain(self)
        for opt in ("TESTS", "EXAMPLES", "BENCHMARKS", "FUZZERS", "VM_TESTS"):
            tc.cache_variables[f"BULKHEAD_BUILD_{opt}"] = False
        tc.cache_variables["BULKHEAD_INSTALL"] = True
        tc.generate()

    def build(self):
        pass

    def package(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.install()
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.set_property("cmake_file_name", "bulkhead")
        self.cpp_info.set_property("cmake_target_name", "bulkhead::bulkhead")
        self.cpp_info.set_property("pkg_config_name", "bulkhead")
