// vec_avx2.h — small 8-lane float helpers shared by the AVX2 kernels: the lane mask of a
// vector tail, partial loads / stores of the first `left` lanes (plain moves when the
// vector is whole: vmaskmovps costs more, its stores most of all on AMD Zen), and the
// horizontal sum. Included inside an anonymous namespace by *_avx2.cpp units only (they
// are compiled with -mavx2 -mfma; each unit gets its own internal-linkage copy).

// All-ones lanes 0 .. left - 1 (left clamped to 0 .. 8), for maskload / maskstore / blendv.
inline __m256i lane_mask(int64_t left) {
  const int n = static_cast<int>(left < 0 ? 0 : (left > 8 ? 8 : left));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Lanes 0 .. left - 1 of x (the rest zero).
inline __m256 load_partial(const float* x, int64_t left) {
  return left >= 8 ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, lane_mask(left));
}

// Writes lanes 0 .. left - 1 of v to x; nothing past them is touched.
inline void store_partial(float* x, int64_t left, __m256 v) {
  if (left >= 8)
    _mm256_storeu_ps(x, v);
  else
    _mm256_maskstore_ps(x, lane_mask(left), v);
}

inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
