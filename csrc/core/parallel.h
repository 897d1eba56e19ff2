// parallel.h — the library's one threading primitive.
//
// parallel_for(begin, end, grain, fn) splits [begin, end) into contiguous chunks of at
// least `grain` iterations and calls fn(chunk_begin, chunk_end) on OpenMP threads.
// Below 2*grain iterations, or when already inside a parallel region, it runs fn on the
// calling thread. The split depends only on (begin, end, grain, thread count), so a
// kernel that writes disjoint outputs per chunk is deterministic.
#pragma once
#include <cstdint>
#include <functional>

namespace nn {

int get_num_threads();
void set_num_threads(int n);  // ValueError unless n >= 1
bool in_parallel_region();

// Runs fn(chunk_begin, chunk_end) over [begin, end). fn must not throw across threads:
// exceptions are caught and the first one is rethrown on the calling thread.
void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

// Number of chunks parallel_for would use for this range (useful to size per-thread
// scratch buffers or partial sums).
int64_t parallel_chunks(int64_t begin, int64_t end, int64_t grain);

}  // namespace nn
