// fpgaflow hardware library: a portable depthwise (vector-vector) unit for FINN's VVAU without
// activation (noActivation = 1) and SIMD = 1, behavioural products, no vendor primitive:
// finn-plus' VVAU_rtl needs a Versal part (DSP58), so depthwise convs had only its HLS VVAU.
//
// Each output channel c is the sum over its kernel window of x[c, k] * W[c, k]. Input stream,
// per output pixel: for each of CHANNELS/PE channel folds, K2 beats (the kernel positions) of
// PE lanes (the depthwise sliding-window generator's order, as for fpgaflow_maxpool). Output:
// one beat of PE lanes (OUT_BITS) per channel fold. WEIGHT_FILE: one hex line per (channel
// fold, kernel position), fold major, PE weights of W_BITS packed with lane p = W[fold*PE + p][k].
// One input beat per cycle: K2 cycles per output beat, FINN's estimate for its VVAU at SIMD 1.
// The weight memory is read into a register one cycle ahead (a pipeline stage of its own).
module fpgaflow_vvau #(
	parameter int unsigned  CHANNELS = 4,
	parameter int unsigned  K2 = 9,
	parameter int unsigned  PE = 2,
	parameter int unsigned  IN_BITS = 4,
	parameter bit  IN_SIGNED = 0,
	parameter int unsigned  W_BITS = 4,
	parameter bit  W_SIGNED = 1,
	parameter int unsigned  OUT_BITS = 12,
	parameter  WEIGHT_FILE = "",
	localparam int unsigned  ACC_BITS = IN_BITS + W_BITS + $clog2(K2) + 2,   // any window's sum
	localparam int unsigned  CF = CHANNELS/PE,
	localparam int unsigned  IN_WIDTH = (PE*IN_BITS + 7)/8*8,
	localparam int unsigned  OUT_WIDTH = (PE*OUT_BITS + 7)/8*8
)(
	input	logic  ap_clk,
	input	logic  ap_rst_n,

	input	logic [IN_WIDTH-1:0]  in0_V_TDATA,
	input	logic  in0_V_TVALID,
	output	logic  in0_V_TREADY,

	output	logic [OUT_WIDTH-1:0]  out0_V_TDATA,
	output	logic  out0_V_TVALID,
	input	logic  out0_V_TREADY
);
	typedef logic signed [ACC_BITS-1:0]  acc_t;
	typedef logic [PE*W_BITS-1:0]  tile_t;
	typedef logic [PE*IN_BITS-1:0]  beat_t;

	tile_t  Weights[CF*K2];
	initial  $readmemh(WEIGHT_FILE, Weights);

	// stage 1: the input beat and the weights of its (fold, kernel position)
	logic [$clog2(CF+1)-1:0]  Cf = 0;
	logic [$clog2(K2+1)-1:0]  K = 0;
	logic  V1 = 0, First1 = 0, Last1 = 0;
	tile_t  W1;
	beat_t  X1;
	// stage 2: the running sums; Out holds a finished output beat
	acc_t  Acc[PE];
	acc_t  Out[PE];
	logic  OValid = 0;

	wire  advance = !(V1 && Last1 && OValid && !out0_V_TREADY);
	assign	in0_V_TREADY = advance;
	assign	out0_V_TVALID = OValid;
	always_comb begin
		out0_V_TDATA = '0;
		for(int unsigned  p = 0; p < PE; p++)  out0_V_TDATA[p*OUT_BITS +: OUT_BITS] = Out[p][OUT_BITS-1:0];
	end

	function automatic acc_t element(beat_t x, int unsigned p);
		automatic logic [IN_BITS-1:0]  v = x[p*IN_BITS +: IN_BITS];
		return  IN_SIGNED? acc_t'($signed(v)) : acc_t'($signed({1'b0, v}));
	endfunction : element

	function automatic acc_t weight(tile_t w, int unsigned p);
		automatic logic [W_BITS-1:0]  v = w[p*W_BITS +: W_BITS];
		return  W_SIGNED? acc_t'($signed(v)) : acc_t'($signed({1'b0, v}));
	endfunction : weight

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			Cf <= 0;  K <= 0;
			V1 <= 0;  First1 <= 0;  Last1 <= 0;
			OValid <= 0;
		end
		else begin
			if(out0_V_TREADY)  OValid <= 0;
			if(advance) begin
				if(V1) begin
					automatic acc_t  a[PE];
					for(int unsigned  p = 0; p < PE; p++)
						a[p] = (First1? acc_t'(0) : Acc[p]) + element(X1, p) * weight(W1, p);
					Acc <= a;
					if(Last1) begin
						Out <= a;
						OValid <= 1;
					end
				end
				V1 <= in0_V_TVALID;
				if(in0_V_TVALID) begin
					X1 <= in0_V_TDATA[PE*IN_BITS-1:0];
					W1 <= Weights[Cf*K2 + K];
					First1 <= K == 0;
					Last1 <= K == K2-1;
					if(K == K2-1) begin
						K <= 0;
						Cf <= Cf == CF-1? 0 : Cf + 1;
					end
					else  K <= K + 1;
				end
			end
		end
	end

endmodule : fpgaflow_vvau
