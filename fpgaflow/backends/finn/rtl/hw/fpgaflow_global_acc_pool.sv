// fpgaflow hardware library: the sum of each channel over a frame's pixels, for FINN's
// GlobalAccPool (a global average pooling with its 1/pixels left to the output's scale), which
// finn-plus has only as HLS.
//
// Input stream, per pixel: CHANNELS/PE beats (channel folds) of PE lanes, IN_BITS wide each.
// Output: after a frame's last pixel, CHANNELS/PE beats of PE sums, OUT_BITS wide each (FINN's
// output type holds PIXELS times the input's extreme, so a sum never wraps). Lanes are packed
// LSB first, the stream padded to whole bytes (FINN's packing). One input beat per cycle, then
// one output beat per cycle: PIXELS*FOLDS + FOLDS cycles per frame, FINN's estimate.
module fpgaflow_global_acc_pool #(
	parameter int unsigned  PE = 1,
	parameter int unsigned  CHANNELS = 1,
	parameter int unsigned  PIXELS = 1,
	parameter int unsigned  IN_BITS = 4,
	parameter int unsigned  OUT_BITS = 8,
	parameter bit  SIGNED = 0,
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
	typedef logic [OUT_BITS-1:0]  sum_t;
	sum_t  Acc[FOLDS][PE];
	logic [$clog2(FOLDS+1)-1:0]  Fold = 0;     // channel fold of the next input (or output) beat
	logic [$clog2(PIXELS+1)-1:0]  Pixel = 0;   // pixel of the next input beat
	logic  Emit = 0;                            // the frame is summed: its sums go out

	assign	in0_V_TREADY = !Emit;
	assign	out0_V_TVALID = Emit;
	always_comb begin
		out0_V_TDATA = '0;
		for(int unsigned  i = 0; i < PE; i++)  out0_V_TDATA[i*OUT_BITS +: OUT_BITS] = Acc[Fold][i];
	end

	// a lane of the input, sign- or zero-extended to the sum's width
	function automatic sum_t widen(logic [IN_BITS-1:0] x);
		return  SIGNED? sum_t'($signed(x)) : sum_t'(x);
	endfunction : widen

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			Fold <= 0;
			Pixel <= 0;
			Emit <= 0;
		end
		else if(!Emit) begin
			if(in0_V_TVALID) begin
				for(int unsigned  i = 0; i < PE; i++) begin
					automatic sum_t  x = widen(in0_V_TDATA[i*IN_BITS +: IN_BITS]);
					Acc[Fold][i] <= (Pixel == 0)? x : Acc[Fold][i] + x;
				end
				if(Fold == FOLDS-1) begin
					Fold <= 0;
					if(Pixel == PIXELS-1) begin
						Pixel <= 0;
						Emit <= 1;
					end
					else  Pixel <= Pixel + 1;
				end
				else  Fold <= Fold + 1;
			end
		end
		else if(out0_V_TREADY) begin
			if(Fold == FOLDS-1) begin
				Fold <= 0;
				Emit <= 0;
			end
			else  Fold <= Fold + 1;
		end
	end

endmodule : fpgaflow_global_acc_pool
