// xxhash64.h — XXH64, the 64-bit xxHash checksum, implemented from its public specification
// (64-bit lanes, 32-byte stripes, 4 accumulators). The result equals the reference
// implementation's XXH64 (and python-xxhash's xxh64), so checkpoint files can be checked
// with other tools. A neutral utility: no tensors, no Python.
//
// Streaming: Xxh64 h(seed); h.update(p1, n1); h.update(p2, n2); h.digest() equals
// xxh64(concatenation of p1 and p2, seed) for any split, empty pieces included.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nn {

class Xxh64 {
 public:
  explicit Xxh64(uint64_t seed = 0);
  // Appends n bytes; p may be null when n is 0.
  void update(const void* p, size_t n);
  // The hash of every byte appended so far; the state is unchanged (more updates may follow).
  uint64_t digest() const;

 private:
  void stripe(const unsigned char* p);

  uint64_t seed_;
  uint64_t v_[4];
  unsigned char buf_[32] = {};  // bytes of an incomplete stripe
  size_t fill_ = 0;
  uint64_t total_ = 0;
};

// One-shot XXH64 of n bytes at p.
uint64_t xxh64(const void* p, size_t n, uint64_t seed = 0);

}  // namespace nn
