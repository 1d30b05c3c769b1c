// fpgaflow hardware library: two streams joined along the channels (torch.cat on dim 1), for
// FINN's StreamingConcat, which finn-plus has only as HLS.
//
// Per pixel the output carries C0/SIMD beats of input 0, then C1/SIMD beats of input 1 (FINN's
// order: channels last). Each beat carries SIMD lanes (packed LSB first); an input's lanes are
// B0 / B1 bits wide, signed or not as its data type, and leave OUT_BITS wide (sign-extended
// where the input is signed). One beat per cycle, registered output.
module fpgaflow_concat #(
	parameter int unsigned  SIMD = 1,
	parameter int unsigned  C0 = 8,
	parameter int unsigned  C1 = 8,
	parameter int unsigned  B0 = 4,
	parameter bit  S0 = 0,
	parameter int unsigned  B1 = 4,
	parameter bit  S1 = 0,
	parameter int unsigned  OUT_BITS = 4,
	localparam int unsigned  WIDTH0 = (SIMD*B0 + 7)/8*8,
	localparam int unsigned  WIDTH1 = (SIMD*B1 + 7)/8*8,
	localparam int unsigned  OUT_WIDTH = (SIMD*OUT_BITS + 7)/8*8,
	localparam int unsigned  BEATS0 = C0/SIMD,
	localparam int unsigned  BEATS = (C0 + C1)/SIMD
)(
	input	logic  ap_clk,
	input	logic  ap_rst_n,

	input	logic [WIDTH0-1:0]  in0_V_TDATA,
	input	logic  in0_V_TVALID,
	output	logic  in0_V_TREADY,

	input	logic [WIDTH1-1:0]  in1_V_TDATA,
	input	logic  in1_V_TVALID,
	output	logic  in1_V_TREADY,

	output	logic [OUT_WIDTH-1:0]  out0_V_TDATA,
	output	logic  out0_V_TVALID,
	input	logic  out0_V_TREADY
);
	// a lane, sign- or zero-extended to OUT_BITS
	function automatic logic [OUT_BITS-1:0] extend(input logic [31:0] v, input int unsigned bits, input bit sgn);
		automatic logic [OUT_BITS-1:0]  x = 0;
		for(int unsigned  b = 0; b < OUT_BITS; b++)  x[b] = b < bits? v[b] : (sgn && v[bits-1]);
		return  x;
	endfunction

	logic [$clog2(BEATS+1)-1:0]  Beat = 0;   // this pixel's output beat: < BEATS0 from input 0
	logic [SIMD*OUT_BITS-1:0]  OData;
	logic  OValid = 0;
	uwire  first = Beat < BEATS0;
	uwire  space = !OValid || out0_V_TREADY;

	assign	in0_V_TREADY = space && first;
	assign	in1_V_TREADY = space && !first;
	assign	out0_V_TVALID = OValid;
	assign	out0_V_TDATA = OUT_WIDTH'(OData);

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			Beat <= 0;
			OValid <= 0;
		end
		else begin
			if(out0_V_TREADY)  OValid <= 0;
			if(first? in0_V_TVALID && in0_V_TREADY : in1_V_TVALID && in1_V_TREADY) begin
				for(int unsigned  i = 0; i < SIMD; i++)
					OData[i*OUT_BITS +: OUT_BITS] <= first? extend(32'(in0_V_TDATA[i*B0 +: B0]), B0, S0)
					                                       : extend(32'(in1_V_TDATA[i*B1 +: B1]), B1, S1);
				OValid <= 1;
				Beat <= (Beat == BEATS-1)? 0 : Beat + 1;
			end
		end
	end

endmodule : fpgaflow_concat
