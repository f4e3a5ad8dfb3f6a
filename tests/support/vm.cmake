# VM tier: static Catch2 test executables run inside a VM booted by scripts/vm/run.sh
# (Debian's linux-image-amd64 with cgroup_no_v1=all: a pure cgroup v2 hierarchy with every
# controller enabled in the root's subtree_control).
#
# bulkhead_vm_test(NAME n SOURCES f... [TIMEOUT s] [FILES host[:guest]...] [MODULES m...]
#                  [MEM mib] [LIBS l...] [ARGS a...])
#   Builds n as a -static executable (linked with a static Catch2 main built once) and
#   registers the ctest test n, label "vm", which boots the VM, runs `n --use-colour no ARGS`
#   with stdout on a pipe and passes only when the guest prints the run's exit marker with
#   status 0. FILES are copied into the guest (default guest path /bin/<name>); MODULES are
#   kernel modules loaded at boot (e.g. loop). Does nothing when BULKHEAD_BUILD_VM_TESTS is OFF.
set(BULKHEAD_VM_RUNNER "${PROJECT_SOURCE_DIR}/scripts/vm/run.sh" CACHE INTERNAL "")

if(BULKHEAD_BUILD_VM_TESTS)
  add_library(bulkhead_vm_catch_main STATIC "${CMAKE_CURRENT_LIST_DIR}/catch_main.cpp")
  target_link_libraries(bulkhead_vm_catch_main PUBLIC Catch2::Catch2)
  target_compile_features(bulkhead_vm_catch_main PUBLIC cxx_std_20)
endif()

function(bulkhead_vm_test)
  if(NOT BULKHEAD_BUILD_VM_TESTS)
    return()
  endif()
  cmake_parse_arguments(V "" "NAME;TIMEOUT;MEM" "SOURCES;FILES;MODULES;LIBS;ARGS" ${ARGN})
  if(NOT V_TIMEOUT)
    set(V_TIMEOUT 180)
  endif()
  if(NOT V_MEM)
    set(V_MEM 512)
  endif()
  add_executable(${V_NAME} ${V_SOURCES})
  target_link_libraries(${V_NAME} PRIVATE bulkhead::bulkhead bulkhead_warnings
                        bulkhead_vm_catch_main ${V_LIBS})
  target_include_directories(${V_NAME} PRIVATE "${BULKHEAD_TEST_SUPPORT_DIR}")
  target_link_options(${V_NAME} PRIVATE -static)
  set(_args --timeout ${V_TIMEOUT} --mem ${V_MEM} --add "$<TARGET_FILE:${V_NAME}>:/bin/${V_NAME}")
  foreach(_f IN LISTS V_FILES)
    list(APPEND _args --add "${_f}")
  endforeach()
  foreach(_m IN LISTS V_MODULES)
    list(APPEND _args --module "${_m}")
  endforeach()
  add_test(NAME ${V_NAME}
           COMMAND bash "${BULKHEAD_VM_RUNNER}" ${_args} -- /bin/${V_NAME} --use-colour no ${V_ARGS})
  math(EXPR _t "${V_TIMEOUT} + 30")
  set_tests_properties(${V_NAME} PROPERTIES LABELS vm TIMEOUT ${_t})
endfunction()
