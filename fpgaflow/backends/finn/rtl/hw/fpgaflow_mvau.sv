// fpgaflow hardware library: a portable matrix-vector unit for FINN's MVAU without activation
// (noActivation = 1, thresholds in a layer of their own), behavioural multiplies that
// synthesis maps where the part has them (LUTs for narrow products), no vendor primitive.
// finn-plus' MVAU_rtl takes 4..8-bit operands and instantiates Xilinx DSPs and LUT6_2;
// narrower layers (2-bit weights) have only its HLS MVAU.
//
// y = x W for each input vector x of MW elements, W (MW x MH) folded as FINN folds it:
// PE output channels in parallel, SIMD input elements per beat. Input: MW/SIMD beats of SIMD
// lanes (IN_BITS, element sf*SIMD + s in lane s of beat sf). Output: MH/PE beats of PE lanes
// (OUT_BITS, channel nf*PE + p in lane p of beat nf). Lanes packed LSB first, the streams
// padded to whole bytes (FINN's packing). The vector is kept for the later output folds.
// WEIGHT_FILE: one hex line per (nf, sf), nf major, PE*SIMD weights of W_BITS packed with
// lane p*SIMD + s = W[sf*SIMD + s][nf*PE + p]. One (nf, sf) tile per cycle: MW/SIMD * MH/PE
// cycles per vector, as FINN estimates its MVAU. The weight memory is read into a register
// first (one pipeline stage), so its read does not set the clock.
module fpgaflow_mvau #(
	parameter int unsigned  MW = 8,
	parameter int unsigned  MH = 4,
	parameter int unsigned  SIMD = 2,
	parameter int unsigned  PE = 2,
	parameter int unsigned  IN_BITS = 2,
	parameter bit  IN_SIGNED = 0,
	parameter int unsigned  W_BITS = 2,
	parameter bit  W_SIGNED = 1,
	parameter int unsigned  OUT_BITS = 8,
	parameter  WEIGHT_FILE = "",
	localparam int unsigned  ACC_BITS = IN_BITS + W_BITS + $clog2(MW) + 2,   // any sum of MW products
	localparam int unsigned  SF = MW/SIMD,
	localparam int unsigned  NF = MH/PE,
	localparam int unsigned  IN_WIDTH = (SIMD*IN_BITS + 7)/8*8,
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
	typedef logic [PE*SIMD*W_BITS-1:0]  tile_t;
	typedef logic [SIMD*IN_BITS-1:0]  beat_t;

	tile_t  Weights[NF*SF];
	initial  $readmemh(WEIGHT_FILE, Weights);
	beat_t  Vector[SF];            // the input vector, kept for output folds 1 .. NF-1

	// stage 1: the tile and the input beat of step (Nf, Sf) are read into registers
	logic [$clog2(NF+1)-1:0]  Nf = 0;
	logic [$clog2(SF+1)-1:0]  Sf = 0;
	logic  V1 = 0, Last1 = 0;   // a step in stage 1; it ends its output fold
	logic [$clog2(SF+1)-1:0]  Sf1 = 0;   // the step in stage 1: its input fold
	tile_t  W1;
	beat_t  X1;
	// stage 2: the accumulators; Out holds a finished output beat
	acc_t  Acc[PE];
	acc_t  Out[PE];
	logic  OValid = 0;

	// a step can leave stage 1 unless it finishes a fold while the output beat is still held
	wire  advance = !(V1 && Last1 && OValid && !out0_V_TREADY);
	wire  need_input = Nf == 0;    // output fold 0 reads the stream, later folds the kept vector
	wire  take = advance && (!need_input || in0_V_TVALID);
	assign	in0_V_TREADY = advance && need_input;
	assign	out0_V_TVALID = OValid;
	always_comb begin
		out0_V_TDATA = '0;
		for(int unsigned  p = 0; p < PE; p++)  out0_V_TDATA[p*OUT_BITS +: OUT_BITS] = Out[p][OUT_BITS-1:0];
	end

	function automatic acc_t element(beat_t x, int unsigned s);
		automatic logic [IN_BITS-1:0]  v = x[s*IN_BITS +: IN_BITS];
		return  IN_SIGNED? acc_t'($signed(v)) : acc_t'($signed({1'b0, v}));
	endfunction : element

	function automatic acc_t weight(tile_t w, int unsigned p, int unsigned s);
		automatic logic [W_BITS-1:0]  v = w[(p*SIMD + s)*W_BITS +: W_BITS];
		return  W_SIGNED? acc_t'($signed(v)) : acc_t'($signed({1'b0, v}));
	endfunction : weight

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			Nf <= 0;  Sf <= 0;
			V1 <= 0;  Last1 <= 0;
			OValid <= 0;
		end
		else begin
			if(out0_V_TREADY)  OValid <= 0;
			if(advance) begin
				// stage 2: accumulate the step in stage 1
				if(V1) begin
					automatic acc_t  a[PE];
					for(int unsigned  p = 0; p < PE; p++) begin
						automatic acc_t  dot = 0;
						for(int unsigned  s = 0; s < SIMD; s++)  dot += element(X1, s) * weight(W1, p, s);
						a[p] = (Sf1 == 0? acc_t'(0) : Acc[p]) + dot;
					end
					Acc <= a;
					if(Last1) begin
						Out <= a;
						OValid <= 1;
					end
				end
				// stage 1: the next step's operands
				V1 <= take;
				if(take) begin
					automatic beat_t  x = need_input? beat_t'(in0_V_TDATA) : Vector[Sf];
					if(need_input)  Vector[Sf] <= x;
					X1 <= x;
					W1 <= Weights[Nf*SF + Sf];
					Sf1 <= Sf;
					Last1 <= Sf == SF-1;
					if(Sf == SF-1) begin
						Sf <= 0;
						Nf <= Nf == NF-1? 0 : Nf + 1;
					end
					else  Sf <= Sf + 1;
				end
			end
		end
	end

endmodule : fpgaflow_mvau
