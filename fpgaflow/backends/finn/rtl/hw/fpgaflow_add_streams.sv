// fpgaflow hardware library: the elementwise sum of two streams (a residual add), for FINN's
// ElementwiseAdd with both operands streamed, whose RTL in finn-plus needs Versal DSP58s and
// operands of one width and signedness.
//
// Each beat carries PE lanes of each operand (packed LSB first, A_BITS / B_BITS wide, each
// signed or not as its data type; streams padded to whole bytes); the sum is OUT_BITS wide,
// which FINN's type inference makes wide enough for any two operands. A beat is consumed from
// both inputs at once, one per cycle, registered output.
module fpgaflow_add_streams #(
	parameter int unsigned  PE = 1,
	parameter int unsigned  A_BITS = 8,
	parameter bit  A_SIGNED = 1,
	parameter int unsigned  B_BITS = 8,
	parameter bit  B_SIGNED = 1,
	parameter int unsigned  OUT_BITS = 9,
	localparam int unsigned  A_WIDTH = (PE*A_BITS + 7)/8*8,
	localparam int unsigned  B_WIDTH = (PE*B_BITS + 7)/8*8,
	localparam int unsigned  OUT_WIDTH = (PE*OUT_BITS + 7)/8*8,
	localparam int unsigned  W = (A_BITS > B_BITS? A_BITS : B_BITS) + 2   // any operand, signed
)(
	input	logic  ap_clk,
	input	logic  ap_rst_n,

	input	logic [A_WIDTH-1:0]  in0_V_TDATA,
	input	logic  in0_V_TVALID,
	output	logic  in0_V_TREADY,

	input	logic [B_WIDTH-1:0]  in1_V_TDATA,
	input	logic  in1_V_TVALID,
	output	logic  in1_V_TREADY,

	output	logic [OUT_WIDTH-1:0]  out0_V_TDATA,
	output	logic  out0_V_TVALID,
	input	logic  out0_V_TREADY
);
	// a lane, sign- or zero-extended to W bits
	function automatic logic signed [W-1:0] extend(input logic [31:0] v, input int unsigned bits, input bit sgn);
		automatic logic signed [W-1:0]  x = 0;
		for(int unsigned  b = 0; b < W; b++)  x[b] = b < bits? v[b] : (sgn && v[bits-1]);
		return  x;
	endfunction

	logic [PE*OUT_BITS-1:0]  Sum;
	logic  OValid = 0;
	uwire  space = !OValid || out0_V_TREADY;
	uwire  take = space && in0_V_TVALID && in1_V_TVALID;

	assign	in0_V_TREADY = take;
	assign	in1_V_TREADY = take;
	assign	out0_V_TVALID = OValid;
	assign	out0_V_TDATA = OUT_WIDTH'(Sum);

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n)  OValid <= 0;
		else begin
			if(out0_V_TREADY)  OValid <= 0;
			if(take) begin
				for(int unsigned  i = 0; i < PE; i++) begin
					automatic logic signed [W-1:0]  a = extend(32'(in0_V_TDATA[i*A_BITS +: A_BITS]), A_BITS, A_SIGNED);
					automatic logic signed [W-1:0]  b = extend(32'(in1_V_TDATA[i*B_BITS +: B_BITS]), B_BITS, B_SIGNED);
					Sum[i*OUT_BITS +: OUT_BITS] <= OUT_BITS'(a + b);
				end
				OValid <= 1;
			end
		end
	end

endmodule : fpgaflow_add_streams
