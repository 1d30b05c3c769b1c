// fpgaflow standalone C-simulation testbench.
//
// Reads input vectors and expected outputs in the format of an hls4ml project's tb_data/
// files (one vector per line, numbers separated by spaces, printed so that they parse back
// exactly), runs the design through its bridge function on each line of [first, first+count)
// and compares every output with ==. Prints one line per mismatching vector (at most 10),
// writes the outputs it computed, and exits 1 on any mismatch (2 on bad input files).
//
// Build: g++ -DFPGAFLOW_TOP=<project>_double testbench.cpp firmware/<project>.cpp <project>_bridge.cpp
// Run:   testbench <inputs.dat> <expected.dat> <n_in> <n_out> [first count [outputs.dat]]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#ifndef FPGAFLOW_TOP
#error "define FPGAFLOW_TOP as the bridge's <project>_double function"
#endif

extern "C" void FPGAFLOW_TOP(double *in, double *out);

static std::vector<double> parse(const std::string &line) {
    std::istringstream s(line);
    std::vector<double> v;
    double x;
    while (s >> x)
        v.push_back(x);
    return v;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        std::cerr << "usage: " << argv[0] << " inputs.dat expected.dat n_in n_out [first count [outputs.dat]]\n";
        return 2;
    }
    std::ifstream fin(argv[1]), fexp(argv[2]);
    if (!fin || !fexp) {
        std::cerr << "cannot open " << (!fin ? argv[1] : argv[2]) << "\n";
        return 2;
    }
    const size_t n_in = std::strtoul(argv[3], nullptr, 10), n_out = std::strtoul(argv[4], nullptr, 10);
    const long first = argc > 5 ? std::strtol(argv[5], nullptr, 10) : 0;
    const long count = argc > 6 ? std::strtol(argv[6], nullptr, 10) : std::numeric_limits<long>::max();
    std::ofstream fout;
    if (argc > 7) {
        fout.open(argv[7]);
        fout << std::setprecision(17);
    }

    std::vector<double> out(n_out);
    std::string line_in, line_exp;
    long n = 0, mismatches = 0;
    for (long line = 0; n < count; line++) {
        bool got_in = bool(std::getline(fin, line_in)), got_exp = bool(std::getline(fexp, line_exp));
        if (!got_in && !got_exp)
            break; // both files ended
        if (line < first)
            continue;
        std::vector<double> in = parse(got_in ? line_in : ""), expected = parse(got_exp ? line_exp : "");
        if (in.size() != n_in || expected.size() != n_out) {
            std::cerr << "line " << line + 1 << ": expected " << n_in << " inputs and " << n_out << " outputs, got "
                      << in.size() << " and " << expected.size() << "\n";
            return 2;
        }
        FPGAFLOW_TOP(in.data(), out.data());
        bool same = true;
        for (size_t j = 0; j < n_out; j++)
            same = same && out[j] == expected[j];
        if (!same && ++mismatches <= 10) {
            std::cout << "MISMATCH vector " << line << " (C-sim | expected):" << std::setprecision(17);
            for (size_t j = 0; j < n_out; j++)
                std::cout << " " << out[j];
            std::cout << " |";
            for (size_t j = 0; j < n_out; j++)
                std::cout << " " << expected[j];
            std::cout << "\n";
        }
        if (fout.is_open()) {
            for (size_t j = 0; j < n_out; j++)
                fout << (j ? " " : "") << out[j];
            fout << "\n";
        }
        n++;
        if (fout.is_open() && n % 50 == 0)
            fout.flush(); // the caller counts written lines for its progress bar
    }
    std::cout << "n = " << n << ", mismatches = " << mismatches << std::endl;
    return mismatches ? 1 : 0;
}
