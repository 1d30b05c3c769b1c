// fpgaflow: integer dense kernels for C-simulation only (never synthesized).
//
// hls4ml's dense kernels spend almost all C-sim time in ap_fixed multiply-accumulates. The
// kernels here compute the same numbers with native integers, exactly:
//   stock:  acc = (accum_t)bias;  acc += (accum_t)(x * w) for every weight;  y = cast(acc)
// Every term is on accum_t's grid and accum_t wraps (AP_WRAP), so the sum modulo 2^W is the
// same in any order: the integer kernel adds the raw terms in 64 bits (or 32 where the bound
// allows) and wraps once at the end. A product with more fraction bits than accum_t is
// floored term by term first, as AP_TRN does. The bias and the final cast use the stock ap
// types. Anything outside these conditions (saturating or rounding accumulators, other
// product functions, too wide types) falls back to the stock kernel at compile time.
//
// Which stock weight belongs to which (input, output) pair depends on the kernel's loop
// structure; each Walk below replays that structure's index arithmetic once per layer, and
// the first call checks that every pair is covered exactly once.
#ifndef FPGAFLOW_FAST_DENSE_H_
#define FPGAFLOW_FAST_DENSE_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <vector>

#include "ap_fixed.h"
#include "ap_int.h"
#include "nnet_utils/nnet_dense.h"

namespace fpgaflow {

template <class T> struct fixed {
    static const bool ok = false;
};
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N> struct fixed<ap_fixed<W, I, Q, O, N>> {
    static const bool ok = true, is_signed = true;
    static const int width = W, frac = W - I;
    static const ap_q_mode q = Q;
    static const ap_o_mode o = O;
    static const int n = N;
};
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N> struct fixed<ap_ufixed<W, I, Q, O, N>> {
    static const bool ok = true, is_signed = false;
    static const int width = W, frac = W - I;
    static const ap_q_mode q = Q;
    static const ap_o_mode o = O;
    static const int n = N;
};
template <int W> struct fixed<ap_int<W>> {
    static const bool ok = true, is_signed = true;
    static const int width = W, frac = 0;
    static const ap_q_mode q = AP_TRN;
    static const ap_o_mode o = AP_WRAP;
    static const int n = 0;
};
template <int W> struct fixed<ap_uint<W>> {
    static const bool ok = true, is_signed = false;
    static const int width = W, frac = 0;
    static const ap_q_mode q = AP_TRN;
    static const ap_o_mode o = AP_WRAP;
    static const int n = 0;
};

// the two's complement integer a value's bits stand for
template <class T> inline int64_t raw(const T &v) {
    const int W = fixed<T>::width;
    uint64_t bits = v.range(W - 1, 0).to_uint64();
    if (fixed<T>::is_signed && W < 64 && ((bits >> (W - 1)) & 1))
        bits |= ~((uint64_t(1) << W) - 1);
    return int64_t(bits);
}

// the value whose bits are the low width bits of r (this is the wrap)
template <class T> inline T from_raw(int64_t r) {
    const int W = fixed<T>::width;
    T v;
    v.range(W - 1, 0) = ap_uint<W>((unsigned long long)r);
    return v;
}

constexpr int ceil_log2(long n) { return n <= 1 ? 0 : 1 + ceil_log2((n + 1) / 2); }

// ---- weight layouts of the stock kernels: call f(w_index, in_index, out_index) for each weight
template <class CONFIG_T> struct WalkLatency {
    template <class F> static void walk(F f) {
        for (int i = 0; i < (int)CONFIG_T::n_in; i++)
            for (int o = 0; o < (int)CONFIG_T::n_out; o++)
                f(i * CONFIG_T::n_out + o, i, o);
    }
};

template <class CONFIG_T> struct WalkResourceLeqNin {
    template <class F> static void walk(F f) {
        const int rf = CONFIG_T::reuse_factor, nin = CONFIG_T::n_in, nout = CONFIG_T::n_out;
        const int multfactor = nin < rf ? nin : rf;
        const int multiplier_limit = (nin * nout + multfactor - 1) / multfactor;
        const int block_factor = (nin * nout + rf - 1) / rf;
        const int multscale = multiplier_limit / nout;
        for (int ir = 0; ir < rf; ir++) {
            int w = ir, in = ir, out = 0, step = 0;
            for (int im = 0; im < block_factor; im++) {
                f(w, in, out);
                w += rf;
                in += rf;
                if (in >= nin)
                    in = ir;
                if (step + 1 >= multscale) {
                    step = 0;
                    out++;
                } else {
                    step++;
                }
            }
        }
    }
};

template <class CONFIG_T> struct WalkResourceGtNinRem0 {
    template <class F> static void walk(F f) {
        const int nin = CONFIG_T::n_in, nout = CONFIG_T::n_out;
        const int rf = (int)CONFIG_T::reuse_factor < nin * nout ? (int)CONFIG_T::reuse_factor : nin * nout;
        const int block_factor = (nin * nout + CONFIG_T::reuse_factor - 1) / CONFIG_T::reuse_factor;
        const int outscale = rf / nin;
        int in = 0, outstep = 0;
        for (int ir = 0; ir < rf; ir++) {
            int w = ir, out = outstep;
            for (int im = 0; im < block_factor; im++) {
                f(w, in, out);
                w += rf;
                if (w >= nin * nout)
                    break;
                out += outscale;
            }
            if ((ir + 1) % nin == 0)
                outstep++;
            in++;
            if (in >= nin)
                in = 0;
        }
    }
};

template <class Stock, template <class> class Walk, class data_T, class res_T, class CONFIG_T> class Dense {
    typedef typename CONFIG_T::weight_t weight_t;
    typedef typename CONFIG_T::accum_t accum_t;
    typedef fixed<data_T> D;
    typedef fixed<weight_t> Wt;
    typedef fixed<accum_t> A;
    static const int prod_frac = D::frac + Wt::frac;
    // bits of one raw product, and of a sum of n_in of them
    static const int prod_bits = D::width + Wt::width + 1;
    static const int sum_bits = prod_bits + ceil_log2(CONFIG_T::n_in);
    static const bool uses_mult =
        std::is_same<typename CONFIG_T::template product<data_T, weight_t>, nnet::product::mult<data_T, weight_t>>::value;

  public:
    static const bool eligible = D::ok && Wt::ok && A::ok && uses_mult && A::o == AP_WRAP && A::n == 0 &&
                                 A::width <= 62 && D::width <= 31 && Wt::width <= 31 && prod_bits <= 40 &&
                                 (prod_frac <= A::frac ? sum_bits + (A::frac - prod_frac) <= 62 : A::q == AP_TRN);

  private:
    struct Layout {
        const weight_t *weights = nullptr;
        std::vector<int32_t> w; // [out][in]
    };

    static const Layout &layout(const weight_t *weights) {
        static Layout l;
        if (l.weights == weights)
            return l;
        const int nin = CONFIG_T::n_in, nout = CONFIG_T::n_out;
        l.w.assign((size_t)nin * nout, 0);
        std::vector<int> seen((size_t)nin * nout, 0);
        Walk<CONFIG_T>::walk([&](int wi, int in, int out) {
            if (wi < 0 || wi >= nin * nout || in < 0 || in >= nin || out < 0 || out >= nout) {
                std::fprintf(stderr, "fpgaflow fast C-sim: weight walk out of range\n");
                std::abort();
            }
            l.w[(size_t)out * nin + in] = int32_t(raw(weights[wi]));
            seen[(size_t)out * nin + in]++;
        });
        for (int s : seen)
            if (s != 1) {
                std::fprintf(stderr, "fpgaflow fast C-sim: weight walk does not match the kernel\n");
                std::abort();
            }
        l.weights = weights;
        return l;
    }

    template <class S> static void mac(const int32_t *x, const Layout &l, typename CONFIG_T::bias_t biases[], res_T res[]) {
        const int nin = CONFIG_T::n_in;
        for (int o = 0; o < (int)CONFIG_T::n_out; o++) {
            const int32_t *w = &l.w[(size_t)o * nin];
            int64_t acc = raw(accum_t(biases[o]));
            if (prod_frac <= A::frac) {
                S s = 0;
                for (int i = 0; i < nin; i++)
                    s += S(x[i]) * S(w[i]);
                acc += int64_t(s) * (int64_t(1) << (prod_frac <= A::frac ? A::frac - prod_frac : 0));
            } else {
                const int drop = prod_frac > A::frac ? prod_frac - A::frac : 0;
                for (int i = 0; i < nin; i++)
                    acc += (int64_t(x[i]) * int64_t(w[i])) >> drop; // arithmetic shift = floor = AP_TRN
            }
            res[o] = nnet::cast<data_T, res_T, CONFIG_T>(from_raw<accum_t>(acc));
        }
    }

  public:
    static void dense(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out], weight_t weights[CONFIG_T::n_in * CONFIG_T::n_out],
                      typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
        if constexpr (!eligible) {
            Stock::dense(data, res, weights, biases);
        } else {
            const Layout &l = layout(weights);
            int32_t x[CONFIG_T::n_in];
            for (int i = 0; i < (int)CONFIG_T::n_in; i++)
                x[i] = int32_t(raw(data[i]));
            if (sum_bits <= 31)
                mac<int32_t>(x, l, biases, res);
            else
                mac<int64_t>(x, l, biases, res);
        }
    }
};

} // namespace fpgaflow

#endif
