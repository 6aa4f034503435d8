# stoa_library(<name> [DEPS ...])
#   One static library per folder from every *.cpp in the current folder
#   except *_test.cpp and *_main.cpp, plus one test binary <name>_tests from
#   every *_test.cpp, registered with CTest (each test has a TIMEOUT).
function(stoa_library name)
  cmake_parse_arguments(ARG "" "" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB _all CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  set(_srcs)
  set(_tests)
  foreach(_f IN LISTS _all)
    if(_f MATCHES "_test\\.cpp$")
      list(APPEND _tests ${_f})
    elseif(NOT _f MATCHES "_main\\.cpp$")
      list(APPEND _srcs ${_f})
    endif()
  endforeach()
  if(_srcs)
    add_library(${name} STATIC ${_srcs})
    target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  else()
    add_library(${name} INTERFACE)
    target_link_libraries(${name} INTERFACE ${ARG_DEPS})
  endif()
  if(_tests)
    stoa_test(${name}_tests ${_tests} DEPS ${name} ${ARG_TEST_DEPS})
  endif()
endfunction()

# stoa_test(<name> <sources...> DEPS ... [TIMEOUT s] [DISCOVER])
#   Each test of the binary is a CTest test of its own (gtest_discover_tests),
#   except in a sanitized build, where the binary runs as 4 shards (see below)
#   unless DISCOVER is given (the multi-process tests, which are long).
function(stoa_test name)
  cmake_parse_arguments(ARG "DISCOVER" "TIMEOUT" "DEPS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  # Under the sanitizers every process starts and runs several times
  # slower (on a paravirtualised VM where a page fault costs ~50 us, an
  # ASan executor's start alone: ClusterGc's 1,000 tasks took 158 s there
  # against 34 s unsanitized), so a test gets three times as long before
  # ctest calls it hung.
  if(STOA_SANITIZE OR STOA_FUZZ)
    math(EXPR ARG_TIMEOUT "${ARG_TIMEOUT} * 3")
  endif()
  add_executable(${name} ${ARG_UNPARSED_ARGUMENTS})
  # In a unity build (STOA_UNITY_BUILD) test files are batched 6 to a unit:
  # 6 of master/'s test files take 32 s as one unit against 69 s one by one.
  # Two test files of one binary must not define the same name at namespace
  # scope: a file whose helpers would clash keeps them in a namespace named
  # after the file (e.g. registrar/operations_test.cpp).
  set_target_properties(${name} PROPERTIES UNITY_BUILD ${STOA_UNITY_BUILD} UNITY_BUILD_BATCH_SIZE 6)
  # Test files are compiled for build time, not run time (what they test is
  # in the libraries, compiled as configured): -O0 (a batch of 6 of master/'s
  # test files: 25 s at -O0 against 34 s at -O1; under ASan 29 s against
  # 55 s). docs/benchmarks.md, "Build time".
  target_compile_options(${name} PRIVATE -O0)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  if(STOA_SANITIZE OR STOA_FUZZ)
    # tests/poll.hpp's SANITIZED_BUILD: test sizes that only matter for speed
    # (ClusterGc's 1,000 tasks) are the normal build's business; the
    # sanitized run looks for memory errors.
    target_compile_definitions(${name} PRIVATE STOA_SANITIZED_BUILD=1)
  endif()
  if((STOA_SANITIZE OR STOA_FUZZ) AND NOT ARG_DISCOVER)
    # An ASan test process takes ~0.3 s to start against ~0.04 s (a 100 MB
    # binary's shadow memory and relocations): a thousand one-test processes
    # cost ~250 s of CI's time budget. So a sanitized unit-test binary runs as
    # 4 shards (gtest's own sharding), each a process that runs its quarter of
    # the tests. A failure names the shard; its output names the test.
    foreach(_shard RANGE 0 3)
      set(_test "${name}.shard${_shard}")
      add_test(NAME ${_test} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
      set_tests_properties(${_test} PROPERTIES TIMEOUT 900
                           ENVIRONMENT "GTEST_TOTAL_SHARDS=4;GTEST_SHARD_INDEX=${_shard}")
    endforeach()
  else()
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
      PROPERTIES TIMEOUT ${ARG_TIMEOUT}
      WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  endif()
endfunction()

# stoa_binary(<name> <main.cpp> DEPS ...): added only once the file exists, so
# a folder can be laid out before its program is written.
function(stoa_binary name main)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${main})
    add_executable(${name} ${main})
    target_link_libraries(${name} PRIVATE ${ARG_DEPS})
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
  endif()
endfunction()

# stoa_daemon_malloc(<target>): links the daemons' allocator (STOA_MALLOC in
# the top CMakeLists.txt) into a program; nothing when it is glibc's. Linked
# ahead of libc (--no-as-needed: the program itself may call no jemalloc
# symbol), so every malloc and operator new of the process, its libraries'
# included, is jemalloc's.
function(stoa_daemon_malloc name)
  if(STOA_JEMALLOC_LIBRARY)
    target_link_libraries(${name} PRIVATE -Wl,--push-state,--no-as-needed ${STOA_JEMALLOC_LIBRARY} -Wl,--pop-state)
  endif()
endfunction()
