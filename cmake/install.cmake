# Install rules: headers, an exported target with a relocatable config package, and a
# pkg-config file. Everything goes to arch-independent locations (the library is headers only).
include(CMakePackageConfigHelpers)

set(BULKHEAD_CMAKE_DIR "${CMAKE_INSTALL_DATADIR}/cmake/bulkhead"
    CACHE STRING "Where bulkheadConfig.cmake is installed")
set(BULKHEAD_PKGCONFIG_DIR "${CMAKE_INSTALL_DATADIR}/pkgconfig"
    CACHE STRING "Where bulkhead.pc is installed")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/bulkhead"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" FILES_MATCHING PATTERN "*.hpp" PATTERN "*.inl")
install(TARGETS bulkhead EXPORT bulkheadTargets)
install(EXPORT bulkheadTargets NAMESPACE bulkhead:: DESTINATION "${BULKHEAD_CMAKE_DIR}")

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/bulkheadConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/bulkheadConfig.cmake" INSTALL_DESTINATION "${BULKHEAD_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/bulkheadConfigVersion.cmake"
  COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/bulkheadConfig.cmake"
              "${PROJECT_BINARY_DIR}/bulkheadConfigVersion.cmake"
        DESTINATION "${BULKHEAD_CMAKE_DIR}")

# Build-tree export: find_package(bulkhead) works against a build directory too.
export(EXPORT bulkheadTargets NAMESPACE bulkhead::
       FILE "${PROJECT_BINARY_DIR}/bulkheadTargets.cmake")

configure_file("${PROJECT_SOURCE_DIR}/cmake/bulkhead.pc.in"
               "${PROJECT_BINARY_DIR}/bulkhead.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/bulkhead.pc" DESTINATION "${BULKHEAD_PKGCONFIG_DIR}")
