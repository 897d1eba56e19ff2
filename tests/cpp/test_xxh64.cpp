// test_xxh64.cpp — XXH64 (csrc/core/xxhash64.h) against known digests, without Python.
//   * The reference implementation's published vectors: the empty input, "a", "abc", ...
//     and xxhsum's sanity buffer (bytes from a multiplicative generator) at lengths
//     0, 1, 4, 14, 222 with seeds 0 and PRIME32 = 2654435761.
//   * The same buffer at lengths around every boundary of the algorithm: the 4- and 8-byte
//     tail steps, the 32-byte stripe (31 / 32 / 33, 63 / 64 / 65) and long inputs. These
//     digests were computed with python-xxhash 4.1.0 (which wraps the reference C library).
//   * Streaming: every two-piece split, three-piece splits, byte-at-a-time and empty
//     pieces all give the one-shot digest; digest() leaves the state usable.
// Exits non-zero (and prints every mismatch) on failure.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/xxhash64.h"

namespace {

constexpr uint64_t kPrime32 = 2654435761ULL;
constexpr uint64_t kPrime64 = 11400714785074694797ULL;

int g_failures = 0;

void expect(uint64_t got, uint64_t want, const char* what, size_t len, uint64_t seed) {
  if (got == want) return;
  ++g_failures;
  std::printf("FAIL %s: len=%zu seed=0x%" PRIx64 ": got 0x%016" PRIX64 ", expected 0x%016" PRIX64 "\n", what, len,
              seed, got, want);
}

// xxhsum's sanity buffer: byte i is the top byte of PRIME32 * PRIME64^i (mod 2^64).
std::vector<unsigned char> sanity_buffer(size_t n) {
  std::vector<unsigned char> out(n);
  uint64_t gen = kPrime32;
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<unsigned char>(gen >> 56);
    gen *= kPrime64;
  }
  return out;
}

struct StringVector {
  const char* text;
  uint64_t digest;  // seed 0
};

struct BufferVector {
  size_t len;
  uint64_t seed0, seed_prime32;
};

const StringVector kStrings[] = {
    {"", 0xEF46DB3751D8E999ULL},
    {"a", 0xD24EC4F1A98C6E5BULL},
    {"abc", 0x44BC2CF5AD770999ULL},
    {"message digest", 0x066ED728FCEEB3BEULL},
    {"abcdefghijklmnopqrstuvwxyz", 0xCFE1F278FA89835CULL},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 0xAAA46907D3047814ULL},
    {"12345678901234567890123456789012345678901234567890123456789012345678901234567890", 0xE04A477F19EE145DULL},
};

const BufferVector kBuffers[] = {
    // xxhsum's own sanity checks
    {0, 0xEF46DB3751D8E999ULL, 0xAC75FDA2929B17EFULL},
    {1, 0xE934A84ADB052768ULL, 0x5014607643A9B4C3ULL},
    {4, 0x9136A0DCA57457EEULL, 0xCAAB286BD8E9FDB5ULL},
    {14, 0x8282DCC4994E35C8ULL, 0xC3BD6BF63DEB6DF0ULL},
    {222, 0xB641AE8CB691C174ULL, 0x20CB8AB7AE10C14AULL},
    // tail (1-, 4- and 8-byte steps) and stripe boundaries
    {3, 0xFF7E1959CB50794AULL, 0xAA8584E83660F7D1ULL},
    {5, 0x9B046FB1397F09A5ULL, 0x2AF5249930F984ECULL},
    {7, 0x6C83909A9F01ED25ULL, 0xF98D03B1AD6F9293ULL},
    {8, 0xCDBCF538E71D1348ULL, 0xFE0C047A5353CDACULL},
    {9, 0x554B1AE991EDA6B6ULL, 0x7908265248F6D73FULL},
    {12, 0x0723BF50086EAD9AULL, 0x8252819F4E506951ULL},
    {15, 0x180719316D622D84ULL, 0xD61105C20E91F99FULL},
    {16, 0x98C90B57FDFCB55CULL, 0xC900AD2D536B607EULL},
    {24, 0xF75A6DEA42DC5BF4ULL, 0x8B7C67EB59778E22ULL},
    {31, 0x299B39A290E6D783ULL, 0xDA673D5FEB5C1D79ULL},
    {32, 0x18B216492BB44B70ULL, 0xB3F33BDF93ADE409ULL},
    {33, 0x55C8DC3E578F5B59ULL, 0xE92C292F64BC3071ULL},
    {35, 0xCB0AA8E2A7A29707ULL, 0xECE3515C236504C7ULL},
    {36, 0x0AE67584084DC6A4ULL, 0x57C73F9E3A6FC2C6ULL},
    {40, 0x23B3810D7D8B1731ULL, 0x5A57F246772BC540ULL},
    {47, 0x84A42E167CBD1FEFULL, 0xA474B31A5132A541ULL},
    {63, 0xA9EFBE0FA0F3F4E7ULL, 0x6C911FADB05B6FC2ULL},
    {64, 0xEF558F8ACAC2B5CDULL, 0xB5EEBA99264CC44FULL},
    {65, 0xDE0F20DC2631AF7AULL, 0xD3F6FF3941E310CAULL},
    {100, 0x4BFE019CD91D9EA4ULL, 0x4853706DC9625CAEULL},
    {127, 0x3C7A21119AA662B0ULL, 0xB0D6DC189C06CEEDULL},
    {128, 0x90CA021457D96DC5ULL, 0xED9340A202BCD1CFULL},
    {129, 0x41C280132D697ABAULL, 0x1668B87489935FF5ULL},
    {1000, 0x52BD1358F22E9EF7ULL, 0x72751A2408017E26ULL},
    {2367, 0xA82418DDEC0EA581ULL, 0xA36A93C18052673AULL},
};

void test_known_vectors() {
  for (const StringVector& v : kStrings) {
    const size_t n = std::strlen(v.text);
    expect(nn::xxh64(v.text, n), v.digest, "string one-shot", n, 0);
  }
  const std::vector<unsigned char> buf = sanity_buffer(2367);
  for (const BufferVector& v : kBuffers) {
    expect(nn::xxh64(buf.data(), v.len, 0), v.seed0, "sanity buffer", v.len, 0);
    expect(nn::xxh64(buf.data(), v.len, kPrime32), v.seed_prime32, "sanity buffer", v.len, kPrime32);
  }
  expect(nn::xxh64(nullptr, 0), 0xEF46DB3751D8E999ULL, "null pointer, zero length", 0, 0);
}

uint64_t streamed(const std::vector<unsigned char>& buf, size_t n, uint64_t seed, const std::vector<size_t>& cuts) {
  nn::Xxh64 h(seed);
  size_t at = 0;
  for (size_t cut : cuts) {
    h.update(buf.data() + at, cut - at);
    at = cut;
  }
  h.update(buf.data() + at, n - at);
  return h.digest();
}

void test_streaming() {
  const std::vector<unsigned char> buf = sanity_buffer(2367);
  for (const BufferVector& v : kBuffers) {
    for (uint64_t seed : {uint64_t{0}, kPrime32}) {
      const uint64_t want = seed == 0 ? v.seed0 : v.seed_prime32;
      if (v.len <= 130) {
        for (size_t cut = 0; cut <= v.len; ++cut) expect(streamed(buf, v.len, seed, {cut}), want, "two pieces", v.len, seed);
        for (size_t a = 0; a <= v.len; a += 5)
          for (size_t b = a; b <= v.len; b += 7) expect(streamed(buf, v.len, seed, {a, b}), want, "three pieces", v.len, seed);
      }
      nn::Xxh64 bytes(seed);
      for (size_t i = 0; i < v.len; ++i) {
        bytes.update(buf.data() + i, 1);
        bytes.update(nullptr, 0);  // empty pieces change nothing
      }
      expect(bytes.digest(), want, "byte at a time", v.len, seed);
    }
  }
  // digest() does not consume the state: a digest midway, then more bytes.
  nn::Xxh64 h(0);
  h.update(buf.data(), 40);
  expect(h.digest(), 0x23B3810D7D8B1731ULL, "midway digest", 40, 0);
  h.update(buf.data() + 40, 60);
  expect(h.digest(), 0x4BFE019CD91D9EA4ULL, "digest after midway digest", 100, 0);
}

}  // namespace

int main() {
  test_known_vectors();
  test_streaming();
  if (g_failures != 0) {
    std::printf("test_xxh64: %d failure(s)\n", g_failures);
    return 1;
  }
  std::printf("test_xxh64: all XXH64 vectors and streaming splits match\n");
  return 0;
}
