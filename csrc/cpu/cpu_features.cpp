// cpu_features.cpp — cpuid/xgetbv detection and the ISA override (see cpu_features.h).
#include "cpu/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#define NN_CPU_FEATURES_X86 1
#endif

namespace nn {
namespace cpu {
namespace {

#if defined(NN_CPU_FEATURES_X86)
// Extended control register 0: which register states the OS saves on context switch.
unsigned long long read_xcr0() {
  unsigned int eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if defined(NN_CPU_FEATURES_X86)
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx >> 27) & 1;
  const bool cpu_avx = (ecx >> 28) & 1;
  const bool cpu_fma = (ecx >> 12) & 1;
  const bool cpu_f16c = (ecx >> 29) & 1;
  if (!osxsave || !cpu_avx) return f;
  const unsigned long long xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;   // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!os_ymm) return f;
  f.fma = cpu_fma;
  f.f16c = cpu_f16c;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  f.avx2 = (ebx >> 5) & 1;
  if (os_zmm) {
    f.avx512f = (ebx >> 16) & 1;
    f.avx512dq = (ebx >> 17) & 1;
    f.avx512bw = (ebx >> 30) & 1;
    f.avx512vl = (ebx >> 31) & 1;
    f.avx512_vnni = (ecx >> 11) & 1;
    unsigned int eax1 = 0, ebx1 = 0, ecx1 = 0, edx1 = 0;
    __cpuid_count(7, 1, eax1, ebx1, ecx1, edx1);
    f.avx512_bf16 = (eax1 >> 5) & 1;
  }
  const bool os_tiles = (xcr0 & 0x60000) == 0x60000;  // XTILECFG + XTILEDATA
  f.amx_bf16 = os_tiles && ((edx >> 22) & 1) && ((edx >> 24) & 1);
  f.amx_int8 = os_tiles && ((edx >> 25) & 1) && ((edx >> 24) & 1);
#endif
  return f;
}

// -1: no override; otherwise static_cast<int>(Isa).
std::atomic<int> g_override{-2};  // -2: not yet read from the environment

int env_override() {
  const char* s = std::getenv("NN_CORE_ISA");
  if (s == nullptr) return -1;
  const std::optional<Isa> isa = parse_isa(s);
  return isa ? static_cast<int>(*isa) : -1;  // unknown names mean "no override"
}

}  // namespace

const CpuFeatures& features() {
  static const CpuFeatures f = detect();
  return f;
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = features();
  switch (isa) {
    case Isa::Generic:
      return true;
    case Isa::Avx2:
      return f.avx2 && f.fma && f.f16c;
    case Isa::Avx512:
      return isa_supported(Isa::Avx2) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
  }
  return false;
}

Isa best_supported_isa() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Generic;
}

Isa active_isa() {
  int o = g_override.load(std::memory_order_relaxed);
  if (o == -2) {
    o = env_override();
    int expected = -2;
    g_override.compare_exchange_strong(expected, o);
    o = g_override.load(std::memory_order_relaxed);
  }
  if (o < 0) return best_supported_isa();
  const Isa wanted = static_cast<Isa>(o);
  return isa_supported(wanted) ? wanted : best_supported_isa();
}

void set_isa_override(std::optional<Isa> isa) {
  g_override.store(isa ? static_cast<int>(*isa) : env_override(), std::memory_order_relaxed);
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Generic:
      return "generic";
    case Isa::Avx2:
      return "avx2";
    case Isa::Avx512:
      return "avx512";
  }
  return "unknown";
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

std::optional<Isa> parse_isa(const char* name) {
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (std::strcmp(name, isa_name(isa)) == 0) return isa;
  return std::nullopt;
}

bool has_avx512_bf16() { return isa_supported(Isa::Avx512) && features().avx512_bf16; }
bool has_avx512_vnni() { return isa_supported(Isa::Avx512) && features().avx512_vnni; }

namespace {
std::atomic<bool> g_amx_enabled{true};

bool request_amx_permission() {
#if defined(NN_CPU_FEATURES_X86) && defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}
}  // namespace

static bool amx_tiles_granted() {
  static const bool granted = request_amx_permission();
  return granted;
}

bool has_amx_bf16() {
  if (!g_amx_enabled.load(std::memory_order_relaxed)) return false;
  if (active_isa() != Isa::Avx512 || !features().amx_bf16) return false;
  return amx_tiles_granted();
}

bool has_amx_int8() {
  if (!g_amx_enabled.load(std::memory_order_relaxed)) return false;
  if (active_isa() != Isa::Avx512 || !features().amx_int8) return false;
  return amx_tiles_granted();
}

void set_amx_enabled(bool enabled) { g_amx_enabled.store(enabled, std::memory_order_relaxed); }

}  // namespace cpu
}  // namespace nn
