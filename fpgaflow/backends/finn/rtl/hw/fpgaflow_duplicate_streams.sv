// fpgaflow hardware library: one stream read by two layers (a fork: the start of a skip
// connection), for FINN's DuplicateStreams, which finn-plus has only as HLS.
//
// Each input beat is offered on both outputs; an output that has taken it waits (its flag Sent)
// until the other has too, and only then is the input beat consumed. So either reader may run
// ahead by one beat, never more: how far the branches drift apart is the FIFOs' business.
// Data unchanged, WIDTH bits (padded to whole bytes).
module fpgaflow_duplicate_streams #(
	parameter int unsigned  WIDTH = 8
)(
	input	logic  ap_clk,
	input	logic  ap_rst_n,

	input	logic [WIDTH-1:0]  in0_V_TDATA,
	input	logic  in0_V_TVALID,
	output	logic  in0_V_TREADY,

	output	logic [WIDTH-1:0]  out0_V_TDATA,
	output	logic  out0_V_TVALID,
	input	logic  out0_V_TREADY,

	output	logic [WIDTH-1:0]  out1_V_TDATA,
	output	logic  out1_V_TVALID,
	input	logic  out1_V_TREADY
);
	logic  Sent0 = 0, Sent1 = 0;   // this input beat already taken by output 0 / 1
	uwire  take0 = out0_V_TVALID && out0_V_TREADY;
	uwire  take1 = out1_V_TVALID && out1_V_TREADY;

	assign	out0_V_TDATA = in0_V_TDATA;
	assign	out1_V_TDATA = in0_V_TDATA;
	assign	out0_V_TVALID = in0_V_TVALID && !Sent0;
	assign	out1_V_TVALID = in0_V_TVALID && !Sent1;
	assign	in0_V_TREADY = (Sent0 || take0) && (Sent1 || take1);

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n || (in0_V_TVALID && in0_V_TREADY)) begin
			Sent0 <= 0;
			Sent1 <= 0;
		end
		else begin
			if(take0)  Sent0 <= 1;
			if(take1)  Sent1 <= 1;
		end
	end

endmodule : fpgaflow_duplicate_streams
