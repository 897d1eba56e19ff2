// cpu_features.h — run-time CPU feature detection and ISA selection for CPU kernels.
//
// Kernels compiled with ISA flags (files named *_avx2.cpp, *_avx512.cpp, ...) must only
// run when both the CPU and the OS (XSAVE state enabled, checked with xgetbv) support
// them. active_isa() is the best supported ISA, unless NN_CORE_ISA=generic|avx2|avx512
// in the environment (read once) or set_isa_override() asks for another one. An
// override that asks for an unsupported ISA falls back to the best supported one; the
// result is visible through isa_name(active_isa()).
#pragma once

#include <optional>
#include <vector>

namespace nn {
namespace cpu {

enum class Isa { Generic, Avx2, Avx512 };

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512_bf16 = false;
  bool avx512_vnni = false;
  bool amx_bf16 = false;  // AMX-TILE + AMX-BF16 with OS tile state (XCR0 bits 17, 18)
  bool amx_int8 = false;  // AMX-TILE + AMX-INT8 with OS tile state
};

// Detected once; all false on non-x86 builds.
const CpuFeatures& features();

// Best ISA the CPU and OS support ("Avx2" also needs fma+f16c; "Avx512" needs f/bw/vl/dq).
Isa best_supported_isa();
bool isa_supported(Isa isa);
std::vector<Isa> supported_isas();  // the ISAs this machine runs, Generic first

// The ISA kernels should use now (override, clamped to what is supported).
Isa active_isa();

// Tests force a path with this; std::nullopt restores the default (env or best).
void set_isa_override(std::optional<Isa> isa);

const char* isa_name(Isa isa);  // "generic", "avx2", "avx512"
std::optional<Isa> parse_isa(const char* name);  // the inverse of isa_name; nullopt for other names

// bf16 dot-product instructions (vdpbf16ps) usable; implies Avx512 is supported.
bool has_avx512_bf16();
bool has_avx512_vnni();

// AMX bf16 tiles usable: CPU + XCR0 support, Avx512 active, and (on Linux) the kernel
// granted this process the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM, asked once).
bool has_amx_bf16();
// AMX int8 tiles usable (same conditions as has_amx_bf16, with AMX-INT8).
bool has_amx_int8();
// Tests turn AMX off to reach the AVX512-BF16 / VNNI kernels; true restores the default.
void set_amx_enabled(bool enabled);

}  // namespace cpu
}  // namespace nn
