#include "master/heap_tidy.hpp"

#include <malloc.h>

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace stoa::master {
namespace {

// glibc's malloc is measured: under AddressSanitizer, its own allocator
// serves malloc and mallinfo2() says nothing of fastbins.
#if defined(__SANITIZE_ADDRESS__)
#define SKIP_WITHOUT_GLIBC_MALLOC() GTEST_SKIP() << "AddressSanitizer replaces glibc's malloc"
#else
#define SKIP_WITHOUT_GLIBC_MALLOC() (void)0
#endif

// Bytes in the fastbins of every arena (the tests measure against a
// baseline: the other arenas' fastbins, unchanged while they run).
size_t fastbin_bytes() { return mallinfo2().fsmblks; }

// Small chunks freed in a burst wait in the arena's fastbins, unmerged;
// tidy_heap() merges them (the work a later large request would do all at
// once). On a thread of its own: a fresh arena, no other test's chunks.
TEST(HeapTidy, MergesTheFastbinsOfTheCallingThreadsArena) {
  SKIP_WITHOUT_GLIBC_MALLOC();
  size_t base = 0;
  size_t before_tidy = 0;
  size_t after_tidy = 0;
  std::thread([&] {
    tidy_heap();  // this thread's arena may be one an exited thread left
    base = fastbin_bytes();
    std::vector<void*> chunks;
    chunks.reserve(20000);
    for (int i = 0; i < 20000; ++i) {
      chunks.push_back(std::malloc(48));
      asm volatile("" : : "r"(chunks.back()) : "memory");
    }
    // Every other one: no two freed chunks are neighbours, so nothing
    // merges them on the way (the rest are freed after the measure).
    for (size_t i = 0; i < chunks.size(); i += 2) {
      std::free(chunks[i]);
    }
    before_tidy = fastbin_bytes();
    tidy_heap();
    after_tidy = fastbin_bytes();
    for (size_t i = 1; i < chunks.size(); i += 2) {
      std::free(chunks[i]);
    }
  }).join();
  EXPECT_GE(before_tidy, base + 9000u * 48) << "the freed chunks (beyond the thread cache's 7) wait in the fastbins";
  EXPECT_EQ(after_tidy, base) << "tidy_heap() merged them";
}

TEST(HeapTidy, AtMostOncePerPeriodPerThread) {
  SKIP_WITHOUT_GLIBC_MALLOC();
  std::thread([] {
    const auto t0 = std::chrono::steady_clock::now() + std::chrono::hours(1);  // past any earlier call
    tidy_heap();
    const size_t base = fastbin_bytes();
    std::vector<void*> chunks;
    auto burst = [&chunks] {
      chunks.clear();
      for (int i = 0; i < 4000; ++i) {
        chunks.push_back(std::malloc(48));
        asm volatile("" : : "r"(chunks.back()) : "memory");
      }
      for (void* c : chunks) {
        std::free(c);
      }
    };
    // The burst's chunks are freed in a row, so a tidy merges them.
    burst();
    tidy_heap_every(std::chrono::milliseconds(5), t0);
    EXPECT_EQ(fastbin_bytes(), base) << "the first call tidies";
    burst();
    const size_t waiting = fastbin_bytes();
    EXPECT_GT(waiting, base);
    tidy_heap_every(std::chrono::milliseconds(5), t0 + std::chrono::milliseconds(4));
    EXPECT_EQ(fastbin_bytes(), waiting) << "within the period: nothing done";
    tidy_heap_every(std::chrono::milliseconds(0), t0 + std::chrono::hours(1));
    EXPECT_EQ(fastbin_bytes(), waiting) << "a period of 0 turns it off";
    tidy_heap_every(std::chrono::milliseconds(5), t0 + std::chrono::milliseconds(5));
    EXPECT_EQ(fastbin_bytes(), base) << "once the period has passed";
  }).join();
}

TEST(HeapTidy, ThisProcessRunsGlibcsMalloc) {
  SKIP_WITHOUT_GLIBC_MALLOC();
  EXPECT_EQ(malloc_name(), "glibc") << "the test binaries link no other malloc";
}

}  // namespace
}  // namespace stoa::master
