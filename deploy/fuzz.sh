#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, docs/fuzzing.md) with clang,
# ASan and UBSan into ./build-fuzz, then runs each of them from its seed
# corpus for a number of runs or seconds.
#
#   deploy/fuzz.sh                      # every target, 60 s each
#   deploy/fuzz.sh --seconds=20         # every target, 20 s each
#   deploy/fuzz.sh --runs=1000000 http  # one target, 10^6 executions
#   deploy/fuzz.sh --build-only
#
# New inputs are written to build-fuzz/corpus/<target>/ (the committed seeds
# in tests/fuzz/corpus/<target>/ are only read), crashes to
# build-fuzz/artifacts/<target>/ (copy a reproducer to
# tests/fuzz/crashes/<target>/ to keep it). Reproduce one with
#   build-fuzz/fuzz/stoa-fuzz-<target> <file>
# Exits non-zero if any target crashed. Env: STOA_FUZZ_JOBS (build jobs),
# STOA_FUZZ_FLAGS (extra libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=""
seconds=""
build_only=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --runs=*) runs="${arg#--runs=}" ;;
    --seconds=*) seconds="${arg#--seconds=}" ;;
    --build-only) build_only=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $arg" >&2; exit 2 ;;
    *) targets+=("$arg") ;;
  esac
done
if [ -z "$runs" ] && [ -z "$seconds" ]; then
  seconds=60
fi

if ! command -v clang++ >/dev/null; then
  deploy/setup.sh --fuzz
fi

dir=build-fuzz
jobs="${STOA_FUZZ_JOBS:-$(nproc)}"
# -O1, line tables only (readable stacks, quicker to build), no NDEBUG:
# assertions stay on. Clang may warn where g++ does not; warnings are the
# normal build's business.
CC=clang CXX=clang++ cmake -S . -B "$dir" -DSTOA_FUZZ=ON -DSTOA_WERROR=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" >/dev/null
nice -n 10 cmake --build "$dir" -j"$jobs" --target stoa_fuzzers
[ "$build_only" -eq 1 ] && exit 0

if [ ${#targets[@]} -eq 0 ]; then
  for f in "$dir"/fuzz/stoa-fuzz-*; do
    targets+=("${f##*/stoa-fuzz-}")
  done
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$PWD/deploy/ubsan.supp}"
passed=0
failed=0
failed_names=()
for t in "${targets[@]}"; do
  bin="$dir/fuzz/stoa-fuzz-$t"
  seeds="tests/fuzz/corpus/$t"
  work="$dir/corpus/$t"
  artifacts="$dir/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  opts=(-artifact_prefix="$artifacts/" -print_final_stats=1 -rss_limit_mb=4096 -timeout=25)
  [ -n "$runs" ] && opts+=(-runs="$runs")
  [ -n "$seconds" ] && opts+=(-max_total_time="$seconds")
  [ -f "tests/fuzz/dict/$t.dict" ] && opts+=(-dict="tests/fuzz/dict/$t.dict")
  # shellcheck disable=SC2206
  opts+=(${STOA_FUZZ_FLAGS:-})
  log="$dir/fuzz-$t.log"
  echo "fuzz: $t: $bin ${opts[*]} $work $seeds"
  start=$(date +%s)
  if nice -n 10 "$bin" "${opts[@]}" "$work" "$seeds" >"$log" 2>&1; then
    status=ok
    passed=$((passed + 1))
  else
    status=FAILED
    failed=$((failed + 1))
    failed_names+=("$t")
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  echo "fuzz: $t: $status, ${execs:-?} executions in $(( $(date +%s) - start )) s (log: $log)"
  if [ "$status" = FAILED ]; then
    grep -E "ERROR|runtime error|property violated|SUMMARY|Test unit written|^    #[0-9]+ " "$log" | head -40 >&2 || true
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: failed: ${failed_names[*]}" >&2
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
