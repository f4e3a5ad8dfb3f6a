# vcpkg overlay port for bulkhead (header-only). Use from a checkout:
#   vcpkg install bulkhead --overlay-ports=<repo>/ports
# SOURCE_PATH is the repository this port lives in, so the port builds exactly that tree.
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

set(VCPKG_BUILD_TYPE release) # headers only: one configuration is enough

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DBULKHEAD_BUILD_TESTS=OFF
        -DBULKHEAD_BUILD_EXAMPLES=OFF
        -DBULKHEAD_BUILD_BENCHMARKS=OFF
        -DBULKHEAD_BUILD_FUZZERS=OFF
        -DBULKHEAD_BUILD_VM_TESTS=OFF
        -DBULKHEAD_INSTALL=ON
        -DBULKHEAD_CMAKE_DIR=share/bulkhead
        -DBULKHEAD_PKGCONFIG_DIR=share/pkgconfig
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME bulkhead CONFIG_PATH share/bulkhead)
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
