// fpgaflow hardware library: max-pooling over the windows of a depthwise sliding-window
// generator, for FINN's Pool layer (Function = MaxPool), which finn-plus has only as HLS.
//
// Input stream, per output pixel: for each of CHANNELS/PE channel folds, K2 beats (the kernel
// positions) of PE lanes; this is the depthwise SWG's order (OFM_H, OFM_W, C/SIMD, K_H, K_W,
// SIMD) with SIMD = PE. Output: one beat of PE lanes (the maxima) per channel fold.
// Lanes are packed LSB first, BITS wide each, the stream padded to whole bytes (FINN's packing).
// One input beat per cycle: K2 cycles per output beat, as FINN's estimate for Pool_hls.
module fpgaflow_maxpool #(
	parameter int unsigned  PE = 1,
	parameter int unsigned  K2 = 4,       // kernel positions per window
	parameter int unsigned  BITS = 4,     // lane width
	parameter bit  SIGNED = 0,
	localparam int unsigned  WIDTH = (PE*BITS + 7)/8*8
)(
	input	logic  ap_clk,
	input	logic  ap_rst_n,

	input	logic [WIDTH-1:0]  in0_V_TDATA,
	input	logic  in0_V_TVALID,
	output	logic  in0_V_TREADY,

	output	logic [WIDTH-1:0]  out0_V_TDATA,
	output	logic  out0_V_TVALID,
	input	logic  out0_V_TREADY
);
	typedef logic [BITS-1:0]  lane_t;
	lane_t  Max[PE];      // running maximum of the window so far
	lane_t  Out[PE];
	logic [$clog2(K2+1)-1:0]  Pos = 0;   // kernel position of the next input beat
	logic  OValid = 0;

	// a beat is taken whenever the output register is free or being emptied this cycle
	assign	in0_V_TREADY = !OValid || out0_V_TREADY;
	assign	out0_V_TVALID = OValid;
	always_comb begin
		out0_V_TDATA = '0;
		for(int unsigned  i = 0; i < PE; i++)  out0_V_TDATA[i*BITS +: BITS] = Out[i];
	end

	function automatic logic greater(lane_t a, lane_t b);
		return  SIGNED? $signed(a) > $signed(b) : a > b;
	endfunction : greater

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			Pos <= 0;
			OValid <= 0;
		end
		else begin
			if(out0_V_TREADY)  OValid <= 0;
			if(in0_V_TVALID && in0_V_TREADY) begin
				automatic lane_t  m[PE];
				for(int unsigned  i = 0; i < PE; i++) begin
					automatic lane_t  x = in0_V_TDATA[i*BITS +: BITS];
					m[i] = (Pos == 0) || greater(x, Max[i])? x : Max[i];
				end
				Max <= m;
				if(Pos == K2-1) begin
					Out <= m;
					OValid <= 1;
					Pos <= 0;
				end
				else  Pos <= Pos + 1;
			end
		end
	end

endmodule : fpgaflow_maxpool
