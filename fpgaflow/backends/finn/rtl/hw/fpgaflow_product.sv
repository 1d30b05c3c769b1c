// fpgaflow hardware library: one product of two integers, for fpgaflow_mvau and fpgaflow_vvau.
// A narrow product (an operand of at most LUT_BITS bits) is the sum of the other operand shifted
// by each set bit of the narrow one (the top bit subtracted where it is signed): adders in LUTs.
// A wider one is a `*` that synthesis maps to the part's multipliers (DSP48, MULT18X18D). Why:
// Yosys' synth_ecp5 maps every `*` of 2 bits or more to a whole 18x18 multiplier (finn-rtllib's
// behavioural MVU took 272 MULT18X18D for lenet, the LFE5U-85F has 156), and a 4-bit operand
// costs a few LUT adders.
module fpgaflow_product #(
	parameter int unsigned  A_BITS = 4,
	parameter bit  A_SIGNED = 0,
	parameter int unsigned  B_BITS = 4,
	parameter bit  B_SIGNED = 1,
	parameter int unsigned  LUT_BITS = 4,                  // at most 4: the shifted terms' sum below
	localparam int unsigned  P_BITS = A_BITS + B_BITS + 1   // any product, signed
)(
	input	logic [A_BITS-1:0]  a,
	input	logic [B_BITS-1:0]  b,
	output	logic signed [P_BITS-1:0]  p
);
	typedef logic signed [P_BITS-1:0]  p_t;
	localparam bit  SHIFT_B = B_BITS <= LUT_BITS;            // b is narrow: shift a by b's bits
	localparam bit  SHIFT_A = !SHIFT_B && A_BITS <= LUT_BITS;
	localparam int unsigned  N = SHIFT_B? B_BITS : A_BITS;   // the narrow operand's bits
	localparam bit  N_SIGNED = SHIFT_B? B_SIGNED : A_SIGNED;

	if(LUT_BITS > 4) begin : gen_check
		$error("fpgaflow_product: LUT_BITS %0d above 4 (the shifted terms are summed four at most)", LUT_BITS);
	end : gen_check

	wire p_t  ax = A_SIGNED? p_t'($signed(a)) : p_t'($signed({1'b0, a}));
	wire p_t  bx = B_SIGNED? p_t'($signed(b)) : p_t'($signed({1'b0, b}));

	if(SHIFT_B || SHIFT_A) begin : gen_shift_add
		// up to four terms, summed as a balanced pair of pairs (a chain of three adders was the
		// slowest path of jets' first layer on an ECP5)
		wire p_t  wide = SHIFT_B? ax : bx;
		wire [N-1:0]  narrow = SHIFT_B? b : a;
		p_t  t[4];
		always_comb begin
			for(int unsigned  i = 0; i < 4; i++)
				t[i] = i >= N || !narrow[i]? p_t'(0) : N_SIGNED && i == N-1? -(wide <<< i) : wide <<< i;
			p = (t[0] + t[1]) + (t[2] + t[3]);
		end
	end : gen_shift_add
	else begin : gen_multiply
		assign  p = ax * bx;
	end : gen_multiply

endmodule : fpgaflow_product
