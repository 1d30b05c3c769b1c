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
// WEIGHT_FILES: the tiles, one hex line per (nf, sf), nf major, PE*SIMD weights of W_BITS
// packed with lane p*SIMD + s = W[sf*SIMD + s][nf*PE + p], in banks of BANK_DEPTH tiles, bank k
// in the file {WEIGHT_FILES}{k}.dat. A memory deeper than a block RAM is a cascade of them with
// a multiplexer after their (slow, unregistered) outputs: lenet_w2a2's 20,000-tile fc1 ran at
// 80.0 MHz on an ECP5, its slowest path that multiplexer. Banked, each bank is as deep as one
// block RAM of the tile's width holds (blocks.bank_depth), its output registered in the fabric
// before the banks are multiplexed: one stage more where there is more than one bank.
// One (nf, sf) tile per cycle: MW/SIMD * MH/PE cycles per vector, as FINN estimates its MVAU.
// Pipelined so that neither the weight memory nor the products nor a wide sum sets the clock:
// (1) the tile is read from memory (a block RAM's own read register) with its input beat, (2)
// both are registered again in the fabric (a block RAM's output is slow: 5.6 ns on ECP5), (3)
// the products (fpgaflow_product: LUTs for narrow operands), (4 ..) an adder tree summing FAN_IN
// terms a stage (a sum of SIMD = 100 products in one cycle ran lenet_w2a2 at 55.7 MHz on an
// LFE5U-85F), then the accumulator.
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
	parameter  WEIGHT_FILES = "",
	parameter int unsigned  BANK_DEPTH = 2048,
	localparam int unsigned  P_BITS = IN_BITS + W_BITS + 1,              // fpgaflow_product's width
	localparam int unsigned  ACC_BITS = P_BITS + $clog2(MW) + 1,         // any sum of MW products
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
	typedef struct packed { logic  valid, first, last; }  step_t;   // a step in a stage: it starts / ends a fold

	localparam int unsigned  FAN_IN = 4;                        // terms an adder-tree stage sums (a power of 4)
	localparam int unsigned  LEVELS = ($clog2(SIMD) + 1) / 2;   // the tree's stages: ceil(log4(SIMD))
	localparam int unsigned  TILES = NF*SF;
	localparam int unsigned  BANKS = (TILES + BANK_DEPTH - 1) / BANK_DEPTH;
	localparam int unsigned  BANKED = BANKS > 1;                // the banks' registered outputs: a stage
	localparam int unsigned  DEPTH = 3 + BANKED + LEVELS;       // stages before the accumulator
	// output FIFO entries: a step that ends a fold is issued only with an entry reserved for its
	// sum, so the pipeline never stops and no register waits on the output's ready (a stall
	// enable from out0_V_TREADY to every pipeline register, and the input's ready through it,
	// ran lenet_w2a2's 1,000-bit fc input at 47.7 MHz on an ECP5). DEPTH + 2 entries let a fold
	// end every cycle (SF = 1).
	localparam int unsigned  OUT_DEPTH = DEPTH + 2;

	beat_t  Vector[SF];            // the input vector, kept for output folds 1 .. NF-1

	logic [$clog2(NF+1)-1:0]  Nf = 0;
	logic [$clog2(SF+1)-1:0]  Sf = 0;
	// the tile's address, Nf*SF + Sf (tiles are stored in step order), as bank and offset
	logic [$clog2(BANKS+1)-1:0]  WBank = 0;
	logic [$clog2(BANK_DEPTH)-1:0]  WOff = 0;   // BANK_DEPTH: a power of two
	step_t  S[DEPTH];                      // the step in each stage: operands read (0), registered (1 ..), products, tree
	tile_t  W2;                            // the tile beside X2
	beat_t  X1, X2;
	logic  Keep1 = 0;                      // stage 1's beat is the input's, to be kept in Vector[Sf1]
	logic [$clog2(SF+1)-1:0]  Sf1 = 0;
	acc_t  Acc[PE];
	logic [$clog2(OUT_DEPTH+1)-1:0]  Reserved = 0;   // FIFO entries held or promised to steps in flight

	wire  need_input = Nf == 0;    // output fold 0 reads the stream, later folds the kept vector
	wire  ends_fold = Sf == SF-1;
	wire  can = !ends_fold || Reserved < OUT_DEPTH;
	wire  take = can && (!need_input || in0_V_TVALID);
	assign	in0_V_TREADY = can && need_input;
	// the beat kept one cycle late: with one step per fold (SF = 1) the next fold reads it at once
	wire beat_t  kept = SF == 1 && Keep1? X1 : Vector[Sf];

	// the products of stage 2's operands
	logic signed [P_BITS-1:0]  Prod[PE][SIMD];
	for(genvar  p = 0; p < PE; p++) begin : gen_pe
		for(genvar  s = 0; s < SIMD; s++) begin : gen_simd
			fpgaflow_product #(.A_BITS(IN_BITS), .A_SIGNED(IN_SIGNED), .B_BITS(W_BITS), .B_SIGNED(W_SIGNED)) product (
				.a(X2[s*IN_BITS +: IN_BITS]), .b(W2[(p*SIMD + s)*W_BITS +: W_BITS]), .p(Prod[p][s])
			);
		end : gen_simd
	end : gen_pe

	// the tree: level 0 the registered products, level l+1 sums of FAN_IN terms of level l
	// (ceil(SIMD / FAN_IN^l) terms at level l), each node a register of its own
	acc_t  Prod0[PE][SIMD];
	always_ff @(posedge ap_clk) begin
		for(int unsigned  p = 0; p < PE; p++)
			for(int unsigned  s = 0; s < SIMD; s++)  Prod0[p][s] <= acc_t'(Prod[p][s]);
	end
	acc_t  Dot[PE];   // the tree's root: the step's sum per output lane
	if(LEVELS == 0) begin : gen_no_tree
		always_comb  for(int unsigned  p = 0; p < PE; p++)  Dot[p] = Prod0[p][0];
	end : gen_no_tree
	else begin : gen_tree
		for(genvar  l = 0; l < LEVELS; l++) begin : gen_level
			localparam int unsigned  IN_TERMS = (SIMD + FAN_IN**l - 1) / FAN_IN**l;
			localparam int unsigned  OUT_TERMS = (SIMD + FAN_IN**(l+1) - 1) / FAN_IN**(l+1);
			acc_t  In[PE][IN_TERMS];
			acc_t  Sum[PE][OUT_TERMS];
			if(l == 0) begin : gen_from_products
				assign  In = Prod0;
			end : gen_from_products
			else begin : gen_from_level
				assign  In = gen_level[l-1].Sum;
			end : gen_from_level
			for(genvar  p = 0; p < PE; p++) begin : gen_pe
				for(genvar  j = 0; j < OUT_TERMS; j++) begin : gen_node
					acc_t  R;
					always_ff @(posedge ap_clk) begin
						automatic acc_t  t = 0;
						for(int unsigned  k = 0; k < FAN_IN; k++)
							if(j*FAN_IN + k < IN_TERMS)  t += In[p][j*FAN_IN + k];
						R <= t;
					end
					assign  Sum[p][j] = R;
				end : gen_node
			end : gen_pe
		end : gen_level
		always_comb  for(int unsigned  p = 0; p < PE; p++)  Dot[p] = gen_level[LEVELS-1].Sum[p][0];
	end : gen_tree

	// the output FIFO: the sums of finished folds, in order
	typedef logic [PE*OUT_BITS-1:0]  out_t;
	out_t  Q[OUT_DEPTH];
	logic [$clog2(OUT_DEPTH)-1:0]  QWr = 0, QRd = 0;
	logic [$clog2(OUT_DEPTH+1)-1:0]  QCount = 0;
	assign	out0_V_TVALID = QCount != 0;
	wire  pop = out0_V_TVALID && out0_V_TREADY;
	always_comb begin
		out0_V_TDATA = '0;
		out0_V_TDATA[PE*OUT_BITS-1:0] = Q[QRd];
	end

	// the operands, every cycle (a step is valid where S says so)
	// each bank's read (a block RAM's output); packed: an unpacked array of registers is a memory
	// to Yosys, and a ROM read into one is not a block RAM's registered read
	tile_t [BANKS-1:0]  W1;
	for(genvar  k = 0; k < BANKS; k++) begin : gen_bank
		localparam int unsigned  ENTRIES = k < BANKS-1? BANK_DEPTH : TILES - (BANKS-1)*BANK_DEPTH;
		// the address as wide as the bank: no read past its end
		localparam int unsigned  AW = ENTRIES > 1? $clog2(ENTRIES) : 1;
		tile_t  Weights[ENTRIES];
		initial  $readmemh($sformatf("%s%0d.dat", WEIGHT_FILES, k), Weights);
		always_ff @(posedge ap_clk)  W1[k] <= Weights[WOff[AW-1:0]];
	end : gen_bank
	always_ff @(posedge ap_clk) begin
		X1 <= need_input? beat_t'(in0_V_TDATA) : kept;
		Sf1 <= Sf;
		if(Keep1)  Vector[Sf1] <= X1;
	end
	if(BANKED) begin : gen_banked
		tile_t [BANKS-1:0]  WB;            // the banks' reads registered in the fabric
		beat_t  XB;
		logic [$clog2(BANKS+1)-1:0]  Bank1, BankB;
		always_ff @(posedge ap_clk) begin
			Bank1 <= WBank;
			WB <= W1;  XB <= X1;  BankB <= Bank1;
			W2 <= WB[BankB];  X2 <= XB;
		end
	end : gen_banked
	else begin : gen_one_bank
		always_ff @(posedge ap_clk) begin
			W2 <= W1[0];  X2 <= X1;
		end
	end : gen_one_bank

	wire step_t  last_step = S[DEPTH-1];
	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			Nf <= 0;  Sf <= 0;  WBank <= 0;  WOff <= 0;
			for(int unsigned  d = 0; d < DEPTH; d++)  S[d] <= '0;
			Keep1 <= 0;
			Reserved <= 0;
			QWr <= 0;  QRd <= 0;  QCount <= 0;
		end
		else begin
			automatic logic  push = last_step.valid && last_step.last;
			// the accumulator takes the step leaving the tree; a fold's sum goes to the FIFO
			if(last_step.valid) begin
				automatic acc_t  a[PE];
				automatic out_t  o;
				for(int unsigned  p = 0; p < PE; p++) begin
					a[p] = (last_step.first? acc_t'(0) : Acc[p]) + Dot[p];
					o[p*OUT_BITS +: OUT_BITS] = a[p][OUT_BITS-1:0];
				end
				Acc <= a;
				if(push)  Q[QWr] <= o;
			end
			if(push)  QWr <= QWr == OUT_DEPTH-1? 0 : QWr + 1;
			if(pop)  QRd <= QRd == OUT_DEPTH-1? 0 : QRd + 1;
			QCount <= QCount + push - pop;
			Reserved <= Reserved + (take && ends_fold) - pop;

			for(int unsigned  d = 1; d < DEPTH; d++)  S[d] <= S[d-1];
			S[0] <= '{valid: take, first: Sf == 0, last: ends_fold};
			Keep1 <= take && need_input;
			if(take) begin
				if(ends_fold && Nf == NF-1) begin
					WBank <= 0;  WOff <= 0;
				end
				else if(WOff == BANK_DEPTH-1) begin
					WBank <= WBank + 1;  WOff <= 0;
				end
				else  WOff <= WOff + 1;
				if(ends_fold) begin
					Sf <= 0;
					Nf <= Nf == NF-1? 0 : Nf + 1;
				end
				else  Sf <= Sf + 1;
			end
		end
	end

endmodule : fpgaflow_mvau
