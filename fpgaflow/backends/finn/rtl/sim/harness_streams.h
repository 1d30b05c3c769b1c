// fpgaflow's Verilator testbench: how it reads a stream port of any width (see harness.cpp)
#pragma once
#include <cstdint>
#include <cstring>
#include "verilated.h"

template <std::size_t N>
static inline void words(const VlWide<N>& v, uint32_t* w, int n) { for (int i = 0; i < n; i++) w[i] = v[i]; }
static inline void words(uint64_t v, uint32_t* w, int n) {
    w[0] = (uint32_t)v;
    if (n > 1) w[1] = (uint32_t)(v >> 32);
}

// the input port from 32-bit words, whatever its C++ type
template <std::size_t N>
static inline void assign(VlWide<N>& v, const uint32_t* w, int n) { for (int i = 0; i < n; i++) v[i] = w[i]; }
template <typename T>
static inline void assign(T& v, const uint32_t* w, int n) {
    uint64_t x = w[0];
    if (n > 1) x |= (uint64_t)w[1] << 32;
    v = (T)x;
}

struct StreamPort {
    const char* name;
    int width;          // bits, padded to whole bytes
    long beats;         // per frame
    void (*data)(Vfpgaflow_top*, uint32_t*);
    bool (*valid)(Vfpgaflow_top*);
    bool (*ready)(Vfpgaflow_top*);
};
