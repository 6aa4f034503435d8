#!/usr/bin/env bash
# Set up, build and run every test (what CI runs):
#   1. the normal build's tests (ctest in ./build);
#   2. with STOA_CI_FUZZ_SECONDS > 0, a short run of every fuzz target
#      (deploy/fuzz.sh, ./build-fuzz: a third build, with clang). The seed
#      corpora and kept crashes replay through every target as ordinary
#      tests of steps 1 and 3 (FuzzReplay.*) in any case;
#   3. the tests under ASan + UBSan (deploy/sanitize-test.sh, ./build-asan),
#      whose build runs at idle priority beside step 1.
# Ends with one "N passed, N failed" line over all three.
# Env: STOA_TEST_JOBS (ctest -j), STOA_CI_FUZZ_SECONDS (per fuzz target,
# default 0: skipped), STOA_CI_SANITIZE (ci = every test but those
# with an open finding, see docs/fuzzing.md (default) | all | 0 skips step 3).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh

logs=$(mktemp -d)
sanitize="${STOA_CI_SANITIZE:-ci}"
sanitize_build=
# Stops the background sanitized build (its own session: cmake, make, g++).
stop_sanitize_build() {
  [ -z "$sanitize_build" ] || kill -- "-$sanitize_build" 2>/dev/null || true
}
trap 'stop_sanitize_build; rm -rf "$logs"' EXIT
deploy/build.sh
if [ "$sanitize" != 0 ]; then
  # The sanitized build compiles while the normal tests run, at idle CPU
  # priority (SCHED_IDLE, nice 19): it gets the part of the two cores the
  # tests leave idle while they wait on timers, processes and sockets. Not
  # beside the normal build: four compilers on two cores took longer than
  # the two builds one after the other (docs/benchmarks.md, "Build time").
  echo "==== sanitize build: in the background, at idle priority ($logs/sanitize-build.log)"
  idle=(nice -n 19)
  if command -v chrt >/dev/null 2>&1; then
    idle=(chrt --idle 0 nice -n 19)
  fi
  # In a session of its own, so that it can be stopped whole (cmake, make,
  # g++). With the kernel's autogroups on, a session is also a scheduling
  # group that shares the CPU evenly with the others whatever its tasks'
  # priority: the new session lowers its own group to nice 19 first.
  setsid bash -c 'echo 19 >/proc/self/autogroup 2>/dev/null || true; exec "$@"' sanitize-build \
    "${idle[@]}" deploy/sanitize-test.sh --build-only >"$logs/sanitize-build.log" 2>&1 &
  sanitize_build=$!
fi

passed=0
failed=0
failures=()

# count <name> <log>: adds the counts of ctest's or fuzz.sh's summary line.
count() {
  local line p f t
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$2" | tail -1 || true)
  if [ -n "$line" ]; then
    f=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$line")
    t=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    p=$((t - f))
  else
    line=$(grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed' "$2" | tail -1 || true)
    [ -n "$line" ] || { failed=$((failed + 1)); failures+=("$1 (no summary)"); return; }
    p=$(sed -E 's/^fuzz: ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  fi
  passed=$((passed + p))
  failed=$((failed + f))
}

# run <name> <command...>: runs a step, keeps going on failure.
run() {
  local name=$1 rc
  shift
  echo "==== $name: $*"
  local start=$SECONDS
  set +e
  "$@" 2>&1 | tee "$logs/$name.log"
  rc=${PIPESTATUS[0]}
  set -e
  echo "==== $name: exit $rc after $((SECONDS - start)) s"
  count "$name" "$logs/$name.log"
  if [ "$rc" -ne 0 ]; then
    failures+=("$name")
  fi
}

run tests bash -c 'cd build && ctest --output-on-failure --timeout 300 -j"${STOA_TEST_JOBS:-2}"'
if [ ${#failures[@]} -ne 0 ]; then
  # The normal tests come first and decide on their own.
  echo "tests: $passed passed, $failed failed"
  exit 1
fi
if [ -n "$sanitize_build" ]; then
  start=$SECONDS
  if ! wait "$sanitize_build"; then
    cat "$logs/sanitize-build.log"
    echo "test.sh: the sanitized build failed" >&2
    echo "all: $passed passed, 1 failed"
    exit 1
  fi
  sanitize_build=
  echo "==== sanitize build: done $((SECONDS - start)) s after the normal tests; $(grep 'build took' "$logs/sanitize-build.log")"
fi
fuzz_seconds="${STOA_CI_FUZZ_SECONDS:-0}"
if [ "$fuzz_seconds" != 0 ]; then
  run fuzz deploy/fuzz.sh --seconds="$fuzz_seconds"
fi
case "$sanitize" in
  0) ;;
  all) run sanitize deploy/sanitize-test.sh ;;
  *) run sanitize deploy/sanitize-test.sh --ci ;;
esac

if [ ${#failures[@]} -ne 0 ]; then
  echo "test.sh: failed: ${failures[*]}" >&2
  [ "$failed" -gt 0 ] || failed=${#failures[@]}
fi
echo "all: $passed passed, $failed failed"
[ ${#failures[@]} -eq 0 ]
