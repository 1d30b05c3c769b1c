// fpgaflow's Verilator testbench for the stitched FINN accelerator (fpgaflow_top).
//
//   harness <input.hex> <frames> <tap_frames> <ready_percent> <seed> <outdir> [valid_percent [pace [stall_limit]]]
//
// Streams the frames' input beats (one hex word per line) into the first stream as fast as the
// design takes them (with valid_percent < 100, a beat not on offer is offered on that share of
// the cycles, and an offered beat stays until taken, as AXI-Stream requires; with pace > 0, at
// most one frame's beats per `pace` cycles, evenly: a source at that throughput), drives the
// output's ready from a seeded pseudo-random sequence (ready_percent % of the cycles:
// back-pressure), and records every beat of every stream for the first tap_frames frames
// (outdir/s<i>.hex) and every output beat (outdir/out.hex). Per layer it counts the cycles it
// was busy: neither starved (its first input ready with nothing valid; for a block that holds
// its ready until every input is offered, an input not offered) nor blocked (its first output
// valid and not taken), also at the first frame's end so the steady state can be told
// apart; per FIFO the most beats it held (beats in minus beats out: its occupancy, which sizes
// it). Summary as JSON in outdir/summary.json; one line a finished frame on stderr (the
// progress bar). Stops when every output beat has arrived, or when no stream moved for
// stall_limit cycles (a deadlock, reported with each stream's beat count and the streams left
// waiting: valid, not taken).
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>
#include "Vfpgaflow_top.h"
#include "verilated.h"
#include "streams.h"

static const long STALL_LIMIT = 1000000;   // the default: no stream moved for this many cycles

static void put_hex(FILE* f, const uint32_t* w, int width) {
    int digits = (width + 3) / 4;
    std::string s(digits, '0');
    for (int d = 0; d < digits; d++) {
        int nib = (w[d / 8] >> ((d % 8) * 4)) & 0xf;
        s[digits - 1 - d] = "0123456789abcdef"[nib];
    }
    fprintf(f, "%s\n", s.c_str());
}

int main(int argc, char** argv) {
    if (argc < 7 || argc > 10) {
        fprintf(stderr, "usage: harness input.hex frames tap_frames ready_percent seed outdir [valid_percent [pace [stall_limit]]]\n");
        return 2;
    }
    const int valid_percent = argc >= 8 ? atoi(argv[7]) : 100;
    const long pace = argc >= 9 ? atol(argv[8]) : 0;
    const long stall_limit = argc == 10 ? atol(argv[9]) : STALL_LIMIT;
    const long frames = atol(argv[2]), tap_frames = atol(argv[3]);
    const int ready_percent = atoi(argv[4]);
    uint32_t lfsr = (uint32_t)atol(argv[5]) | 1u;
    const std::string outdir = argv[6];

    const int in_words = (STREAMS[0].width + 31) / 32;
    std::vector<std::vector<uint32_t>> input;
    {
        FILE* f = fopen(argv[1], "r");
        if (!f) { fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }
        char line[4096];
        while (fgets(line, sizeof line, f)) {
            std::string s(line);
            while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
            if (s.empty()) continue;
            std::vector<uint32_t> w(in_words, 0);
            for (int d = 0; d < (int)s.size(); d++) {
                int pos = (int)s.size() - 1 - d;
                char c = s[pos];
                uint32_t nib = (c <= '9') ? c - '0' : (c | 0x20) - 'a' + 10;
                if (d / 8 < in_words) w[d / 8] |= nib << ((d % 8) * 4);
            }
            input.push_back(w);
        }
        fclose(f);
    }
    const long in_total = frames * STREAMS[0].beats;
    if ((long)input.size() != in_total) {
        fprintf(stderr, "%s: %zu beats, expected %ld (%ld frames x %ld)\n", argv[1], input.size(), in_total, frames,
                STREAMS[0].beats);
        return 2;
    }
    const int last = N_STREAMS - 1;
    const long out_total = frames * STREAMS[last].beats;

    Verilated::commandArgs(argc, argv);
    Vfpgaflow_top* t = new Vfpgaflow_top;
    std::vector<FILE*> taps(N_STREAMS);
    for (int i = 0; i < N_STREAMS; i++)
        taps[i] = fopen((outdir + "/" + STREAMS[i].name + ".hex").c_str(), "w");
    FILE* out = fopen((outdir + "/out.hex").c_str(), "w");
    std::vector<long> beats(N_STREAMS, 0), busy(N_LAYERS, 0), held(N_LAYERS, 0);
    std::vector<long> frame_done, busy_first;   // cycle at which each output frame's last beat was taken
    std::vector<uint32_t> w(1024);
    bool taken = false;
    long cycle = 0, in_pos = 0, first_in = -1, first_out = -1, idle = 0;

    t->ap_clk = 0; t->ap_rst_n = 0; set_in_valid(t, false); set_ready(t, false);
    for (int i = 0; i < 16; i++) { t->ap_clk = 0; t->eval(); t->ap_clk = 1; t->eval(); }
    t->ap_rst_n = 1;
    while (beats[last] < out_total) {
        // drive this cycle's inputs: the next input beat, the output's ready
        lfsr ^= lfsr << 13; lfsr ^= lfsr >> 17; lfsr ^= lfsr << 5;
        if (!in_valid(t)) set_in_valid(t, in_pos < in_total && (int)((lfsr >> 8) % 100) < valid_percent &&
                                          (pace == 0 || in_pos * pace <= cycle * STREAMS[0].beats));
        if (in_pos < in_total) set_in_data(t, input[in_pos].data(), in_words);
        set_ready(t, (int)(lfsr % 100) < ready_percent);
        t->ap_clk = 0; t->eval();
        // sample the handshakes before the rising edge
        bool moved = false;
        for (int l = 0; l < N_LAYERS; l++) {
            const StreamPort &in = STREAMS[LAYER_IO[l][0]], &out = STREAMS[LAYER_IO[l][1]];
            bool starved = LAYER_IO[l][3] ? !in.valid(t) || (LAYER_IO[l][4] >= 0 && !STREAMS[LAYER_IO[l][4]].valid(t))
                                          : in.ready(t) && !in.valid(t);
            bool blocked = out.valid(t) && !out.ready(t);
            if (!starved && !blocked) busy[l]++;
        }
        for (int i = 0; i < N_STREAMS; i++) {
            bool v = STREAMS[i].valid(t), r = STREAMS[i].ready(t);
            if (!(v && r)) continue;
            moved = true;
            if (beats[i] < tap_frames * STREAMS[i].beats || i == last) {
                STREAMS[i].data(t, w.data());
                if (beats[i] < tap_frames * STREAMS[i].beats) put_hex(taps[i], w.data(), STREAMS[i].width);
                if (i == last) put_hex(out, w.data(), STREAMS[i].width);
            }
            beats[i]++;
            if (i == 0) { if (first_in < 0) first_in = cycle; in_pos++; taken = true; }
            if (i == last) {
                if (first_out < 0) first_out = cycle;
                if (beats[i] % STREAMS[i].beats == 0) {
                    frame_done.push_back(cycle);
                    fprintf(stderr, "frame %zu\n", frame_done.size());   // progress, read by sim.py
                    if (frame_done.size() == 1) busy_first = busy;
                }
            }
        }
        for (int l = 0; l < N_LAYERS; l++)
            if (LAYER_IO[l][2]) held[l] = std::max(held[l], beats[LAYER_IO[l][0]] - beats[LAYER_IO[l][1]]);
        t->ap_clk = 1; t->eval();
        if (taken) { set_in_valid(t, false); taken = false; }
        cycle++;
        idle = moved ? 0 : idle + 1;
        if (idle > stall_limit) break;
    }
    for (auto f : taps) fclose(f);
    fclose(out);
    FILE* sf = fopen((outdir + "/summary.json").c_str(), "w");
    fprintf(sf, "{\"stall_limit\": %ld, \"cycles\": %ld, \"first_input_cycle\": %ld, \"first_output_cycle\": %ld, \"deadlock\": %s,\n",
           stall_limit, cycle, first_in, first_out, beats[last] < out_total ? "true" : "false");
    fprintf(sf, " \"beats\": [");
    for (int i = 0; i < N_STREAMS; i++) fprintf(sf, "%s%ld", i ? ", " : "", beats[i]);
    fprintf(sf, "],\n \"waiting\": [");   // streams valid and not taken when the run ended
    for (int i = 0, n = 0; i < N_STREAMS; i++)
        if (STREAMS[i].valid(t) && !STREAMS[i].ready(t)) fprintf(sf, "%s%d", n++ ? ", " : "", i);
    fprintf(sf, "],\n \"fifo_held\": {");
    for (int l = 0, n = 0; l < N_LAYERS; l++)
        if (LAYER_IO[l][2]) fprintf(sf, "%s\"%s\": %ld", n++ ? ", " : "", LAYERS[l], held[l]);
    fprintf(sf, "},\n \"busy\": [");
    for (int i = 0; i < N_LAYERS; i++) fprintf(sf, "%s%ld", i ? ", " : "", busy[i]);
    fprintf(sf, "],\n \"busy_at_first_frame\": [");
    for (size_t i = 0; i < busy_first.size(); i++) fprintf(sf, "%s%ld", i ? ", " : "", busy_first[i]);
    fprintf(sf, "],\n \"frame_done\": [");
    for (size_t i = 0; i < frame_done.size(); i++) fprintf(sf, "%s%ld", i ? ", " : "", frame_done[i]);
    fprintf(sf, "]}\n");
    fclose(sf);
    t->final();
    delete t;
    return beats[last] < out_total ? 3 : 0;
}
