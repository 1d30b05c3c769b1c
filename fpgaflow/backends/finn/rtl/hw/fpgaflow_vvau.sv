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
// Pipelined as fpgaflow_mvau: the weights read (1) and registered again (2), the products
// (3, fpgaflow_product), the running sums (4).
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
	localparam int unsigned  P_BITS = IN_BITS + W_BITS + 1,              // fpgaflow_product's width
	localparam int unsigned  ACC_BITS = P_BITS + $clog2(K2) + 1,         // any window's sum
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
	typedef struct packed { logic  valid, first, last; }  step_t;   // a step in a stage: it starts / ends a window

	tile_t  Weights[CF*K2];
	initial  $readmemh(WEIGHT_FILE, Weights);

	logic [$clog2(CF+1)-1:0]  Cf = 0;
	logic [$clog2(K2+1)-1:0]  K = 0;
	logic [$clog2(CF*K2+1)-1:0]  Wa = 0;   // the tile's address, Cf*K2 + K (tiles are stored in step order)
	step_t  S1 = '0, S2 = '0, S3 = '0;   // the steps in stages 1-3
	tile_t  W1, W2;
	beat_t  X1, X2;
	logic signed [P_BITS-1:0]  Prod[PE];
	logic signed [P_BITS-1:0]  Prod3[PE];
	acc_t  Acc[PE];
	acc_t  Out[PE];
	logic  OValid = 0;

	wire  advance = !(S3.valid && S3.last && OValid && !out0_V_TREADY);
	assign	in0_V_TREADY = advance;
	assign	out0_V_TVALID = OValid;
	always_comb begin
		out0_V_TDATA = '0;
		for(int unsigned  p = 0; p < PE; p++)  out0_V_TDATA[p*OUT_BITS +: OUT_BITS] = Out[p][OUT_BITS-1:0];
	end

	for(genvar  p = 0; p < PE; p++) begin : gen_pe
		fpgaflow_product #(.A_BITS(IN_BITS), .A_SIGNED(IN_SIGNED), .B_BITS(W_BITS), .B_SIGNED(W_SIGNED)) product (
			.a(X2[p*IN_BITS +: IN_BITS]), .b(W2[p*W_BITS +: W_BITS]), .p(Prod[p])
		);
	end : gen_pe

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			Cf <= 0;  K <= 0;  Wa <= 0;
			S1 <= '0;  S2 <= '0;  S3 <= '0;
			OValid <= 0;
		end
		else begin
			if(out0_V_TREADY)  OValid <= 0;
			if(advance) begin
				// stage 4: the running sums
				if(S3.valid) begin
					automatic acc_t  a[PE];
					for(int unsigned  p = 0; p < PE; p++)  a[p] = (S3.first? acc_t'(0) : Acc[p]) + acc_t'(Prod3[p]);
					Acc <= a;
					if(S3.last) begin
						Out <= a;
						OValid <= 1;
					end
				end
				// stage 3: the products
				S3 <= S2;
				Prod3 <= Prod;
				// stage 2: the operands again, in the fabric
				S2 <= S1;
				W2 <= W1;
				X2 <= X1;
				// stage 1: the input beat and the weights of its (fold, kernel position)
				S1 <= '{valid: in0_V_TVALID, first: K == 0, last: K == K2-1};
				if(in0_V_TVALID) begin
					X1 <= in0_V_TDATA[PE*IN_BITS-1:0];
					W1 <= Weights[Wa];
					Wa <= Wa == CF*K2-1? 0 : Wa + 1;
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
