// fpgaflow hardware library: the integer sum over the windows of a depthwise sliding-window
// generator, shifted right, for FINN's Pool layer with Function = QuantAvgPool (or AccPool:
// SHIFT 0), which finn-plus has only as HLS. fpgaflow maps an average pooling of 2^k pixels to
// it with every bit of the sum kept (SHIFT 0): the 1/2^k stays in the scale after it.
//
// Input stream, per output pixel: for each of CHANNELS/PE channel folds, K2 beats (the kernel
// positions) of PE lanes, IN_BITS each (the depthwise SWG's order, SIMD = PE, as for
// fpgaflow_maxpool). Output: one beat of PE lanes per channel fold, each the window's sum
// arithmetically shifted right by SHIFT (floor, as FINN's execution) and cut to OUT_BITS.
// ACC_BITS holds any sum of K2 lanes. Lanes packed LSB first, the stream padded to whole bytes.
module fpgaflow_sum_pool #(
	parameter int unsigned  PE = 1,
	parameter int unsigned  K2 = 4,
	parameter int unsigned  IN_BITS = 4,
	parameter int unsigned  OUT_BITS = 6,
	parameter int unsigned  SHIFT = 0,
	parameter bit  SIGNED = 0,
	localparam int unsigned  ACC_BITS = IN_BITS + $clog2(K2) + 1,
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
	acc_t  Sum[PE];       // the window's sum so far
	acc_t  Out[PE];
	logic [$clog2(K2+1)-1:0]  Pos = 0;
	logic  OValid = 0;

	assign	in0_V_TREADY = !OValid || out0_V_TREADY;
	assign	out0_V_TVALID = OValid;
	always_comb begin
		out0_V_TDATA = '0;
		for(int unsigned  i = 0; i < PE; i++)  out0_V_TDATA[i*OUT_BITS +: OUT_BITS] = Out[i] >>> SHIFT;
	end

	// a lane as a signed accumulator value (zero- or sign-extended)
	function automatic acc_t lane(logic [IN_BITS-1:0] x);
		return  SIGNED? acc_t'($signed(x)) : acc_t'({1'b0, x});
	endfunction : lane

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			Pos <= 0;
			OValid <= 0;
		end
		else begin
			if(out0_V_TREADY)  OValid <= 0;
			if(in0_V_TVALID && in0_V_TREADY) begin
				automatic acc_t  s[PE];
				for(int unsigned  i = 0; i < PE; i++)
					s[i] = lane(in0_V_TDATA[i*IN_BITS +: IN_BITS]) + (Pos == 0? acc_t'(0) : Sum[i]);
				Sum <= s;
				if(Pos == K2-1) begin
					Out <= s;
					OValid <= 1;
					Pos <= 0;
				end
				else  Pos <= Pos + 1;
			end
		end
	end

endmodule : fpgaflow_sum_pool
