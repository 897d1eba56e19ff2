// random.h — the library's random number generator: Philox4x32-10, a counter-based
// generator. Note [Counter-based RNG]: element i of a random op drawn at generator
// offset `base` uses the 128-bit block philox(key = seed, counter = base + i), so the
// numbers depend only on (seed, offset, i): not on the thread count or the split of work.
// Each op advances the offset by its element count.
#pragma once
#include <array>
#include <cstdint>

namespace nn {

inline std::array<uint32_t, 4> philox4x32_10(uint64_t counter, uint64_t key) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {c0, c1, c2, c3};
}

struct GeneratorState {
  uint64_t seed;
  uint64_t offset;
};

// Reserves `count` counters of the global generator and returns (seed, first counter).
GeneratorState reserve_random(uint64_t count);
void set_generator_state(GeneratorState s);
GeneratorState get_generator_state();

}  // namespace nn
