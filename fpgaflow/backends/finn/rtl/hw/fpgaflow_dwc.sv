// fpgaflow hardware library: a stream width converter for FINN's StreamingDataWidthConverter
// where neither width divides the other (2 lanes to 5, say). finn-rtllib's converter (vpc.sv)
// spends recovery cycles on such a ratio: lenet_w2a2's 4-bit to 10-bit one took 1,920 cycles for
// 1,600 input beats and bound the whole accelerator, whose slowest layer needs 1,600. Here a beat
// moves in and one out in the same cycle whenever the buffer holds enough.
//
// The bits flow through in order, LSB first, in units of G bits (gcd of the widths): a buffer of
// PI + PO - 1 units takes an input beat (PI units) while at most PO - 1 units are left after
// this cycle's output, and offers an output beat (PO units) while it holds PO.
module fpgaflow_dwc #(
	parameter int unsigned  IN_BITS = 4,
	parameter int unsigned  OUT_BITS = 10,
	parameter int unsigned  G = 2,              // the unit: gcd(IN_BITS, OUT_BITS)
	localparam int unsigned  PI = IN_BITS/G,
	localparam int unsigned  PO = OUT_BITS/G,
	localparam int unsigned  C = PI + PO - 1,
	localparam int unsigned  IN_WIDTH = (IN_BITS + 7)/8*8,
	localparam int unsigned  OUT_WIDTH = (OUT_BITS + 7)/8*8
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
	typedef logic [G-1:0]  unit_t;
	unit_t  Buf[C];
	logic [$clog2(C+1)-1:0]  Cnt = 0;       // units held
	logic  OValid = 0;                       // Cnt >= PO, registered

	wire  out = OValid && out0_V_TREADY;
	wire [$clog2(C+1)-1:0]  left = out? Cnt - PO : Cnt;
	assign	in0_V_TREADY = left < PO;
	wire  take = in0_V_TVALID && in0_V_TREADY;
	assign	out0_V_TVALID = OValid;
	always_comb begin
		out0_V_TDATA = '0;
		for(int unsigned  i = 0; i < PO; i++)  out0_V_TDATA[i*G +: G] = Buf[i];
	end

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			Cnt <= 0;
			OValid <= 0;
		end
		else begin
			automatic unit_t  b[C] = Buf;
			automatic int unsigned  n = left;
			if(out)  for(int unsigned  i = 0; i < C; i++)  b[i] = i + PO < C? Buf[i + PO] : unit_t'(0);
			if(take) begin
				for(int unsigned  j = 0; j < PI; j++)  b[n + j] = in0_V_TDATA[j*G +: G];
				n += PI;
			end
			Buf <= b;
			Cnt <= n;
			OValid <= n >= PO;
		end
	end

endmodule : fpgaflow_dwc
