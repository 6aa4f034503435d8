#pragma once
// Keeps glibc's malloc from saving up work for one unlucky allocation (#17).
//
// glibc puts a freed small chunk (up to 128 bytes here) on its arena's
// "fastbin" list without merging it with its free neighbours; the merging
// of all of them (malloc_consolidate) and the sorting of the merged chunks
// is left to the next request of at least 1 KiB from that arena. A master
// that frees hundreds of thousands of small chunks in a burst (a task's
// fragments and protobufs as 200,000 tasks change state) and then asks for
// one large block (a /master/state collect's glue and pieces, a refresh's
// joined run) paid all of it in that turn: 100-200 ms of CPU in a collect
// that takes 0.6 ms in memory, measured with perf on the live master at
// 20k slaves / 200k tasks (docs/benchmarks.md, "The heap's deferred work").
// Asking for such a block at most every few milliseconds on the master's
// thread keeps each payment small, and keeps the fastbins (turning them off,
// glibc.malloc.mxfast=0, also removed the stalls but cost ~20 % of the
// placement rate).

// Only glibc's malloc needs it: a process whose malloc is another one
// (stoa-master links jemalloc, STOA_MALLOC in CMakeLists.txt) does not tidy.

#include <chrono>
#include <string>

namespace stoa::master {

// Which malloc this process runs: "jemalloc <version>" when jemalloc's is
// linked in (found by its `mallctl`), else "glibc".
std::string malloc_name();

// How often a thread pays: at most once per period of its caller's turns.
// STOA_HEAP_TIDY_MS in the environment overrides it; 0 turns it off.
constexpr std::chrono::milliseconds HEAP_TIDY_EVERY{5};

// The period in force for this process (HEAP_TIDY_EVERY or the
// environment's; 0 when its malloc is not glibc's), read once.
std::chrono::milliseconds heap_tidy_period();

// Called at the start of each turn: tidies the calling thread's arena if
// `period` (> 0) has passed since this thread last did.
void tidy_heap_every(std::chrono::milliseconds period, std::chrono::steady_clock::time_point now);

// Tidies the calling thread's arena now: one request of HEAP_TIDY_BYTES,
// freed at once, which merges the arena's fastbin chunks and sorts up to
// glibc's 10,000 unsorted ones.
void tidy_heap();

}  // namespace stoa::master
