// device.h — where a tensor's bytes live. Kernel lookup is keyed by DeviceType
// (see kernels/dispatch.h), so CUDA kernels slot in beside the CPU ones.
#pragma once
#include <ostream>
#include <string>

#include "core/errors.h"

namespace nn {

enum class DeviceType : uint8_t { CPU = 0, CUDA = 1 };
constexpr int kNumDeviceTypes = 2;

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const {
    return type == DeviceType::CPU ? std::string("cpu") : "cuda:" + std::to_string(index);
  }
  // Parses "cpu", "cuda", "cuda:N".
  static Device parse(const std::string& s) {
    if (s == "cpu") return {DeviceType::CPU, 0};
    if (s == "cuda") return {DeviceType::CUDA, 0};
    if (s.rfind("cuda:", 0) == 0) {
      try {
        size_t used = 0;
        const int idx = std::stoi(s.substr(5), &used);
        if (used == s.size() - 5 && idx >= 0) return {DeviceType::CUDA, idx};
      } catch (const std::exception&) {
      }
    }
    throw ValueError(nn::str("invalid device string '", s, "': expected 'cpu', 'cuda' or 'cuda:N'"));
  }
};
inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

}  // namespace nn
