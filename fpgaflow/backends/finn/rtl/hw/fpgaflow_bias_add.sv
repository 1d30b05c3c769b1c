// fpgaflow hardware library: adds a constant per channel to a stream, for FINN's
// ElementwiseAdd with a constant right-hand side (the final layer's integer bias), whose RTL
// in finn-plus needs Versal DSP58s (and takes floats only).
//
// Each beat carries PE channels (lanes packed LSB first, IN_BITS wide in, OUT_BITS wide out,
// streams padded to whole bytes); the channel fold counts beats modulo CHANNELS/PE. BIAS_FILE
// holds one line per fold: the fold's PE biases, OUT_BITS each, as one hex word (lane 0 in the
// low bits). One beat per cycle, registered output.
module fpgaflow_bias_add #(
	parameter int unsigned  PE = 1,
	parameter int unsigned  CHANNELS = 10,
	parameter int unsigned  IN_BITS = 16,
	parameter int unsigned  OUT_BITS = 17,
	parameter bit  SIGNED = 1,            // the input's signedness (the bias and sum are signed)
	parameter  BIAS_FILE = "bias.dat",
	localparam int unsigned  FOLDS = CHANNELS/PE,
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
	logic [PE*OUT_BITS-1:0]  Bias[FOLDS];
	initial  $readmemh(BIAS_FILE, Bias);

	logic [$clog2(FOLDS+1)-1:0]  Fold = 0;
	logic [PE*OUT_BITS-1:0]  Sum;
	logic  OValid = 0;

	assign	in0_V_TREADY = !OValid || out0_V_TREADY;
	assign	out0_V_TVALID = OValid;
	assign	out0_V_TDATA = OUT_WIDTH'(Sum);

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			Fold <= 0;
			OValid <= 0;
		end
		else begin
			if(out0_V_TREADY)  OValid <= 0;
			if(in0_V_TVALID && in0_V_TREADY) begin
				for(int unsigned  i = 0; i < PE; i++) begin
					automatic logic signed [OUT_BITS:0]  x = SIGNED?
						$signed(in0_V_TDATA[i*IN_BITS +: IN_BITS]) : $signed({1'b0, in0_V_TDATA[i*IN_BITS +: IN_BITS]});
					automatic logic signed [OUT_BITS:0]  b = $signed(Bias[Fold][i*OUT_BITS +: OUT_BITS]);
					Sum[i*OUT_BITS +: OUT_BITS] <= OUT_BITS'(x + b);
				end
				OValid <= 1;
				Fold <= (Fold == FOLDS-1)? 0 : Fold + 1;
			end
		end
	end

endmodule : fpgaflow_bias_add
