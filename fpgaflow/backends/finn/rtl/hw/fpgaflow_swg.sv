// fpgaflow hardware library: a sliding-window generator (im2col) for FINN's
// ConvolutionInputGenerator with one SIMD group per beat (parallel_window 0, M 1), standard and
// depthwise, built for the clock an ECP5 reaches. finn-rtllib's window generator decides each
// read with a chain of compares around its newest buffered element, which bound lenet at
// 61-75 MHz on an LFE5U-85F; here every decision is a registered flag.
//
// Input: a frame's pixels in order, CHANNELS/SIMD beats of SIMD lanes each (FINN's NHWC
// folding). A frame is written whole into one of two banks while the window reads run over the
// other, so reading never waits on a row and frames overlap (the memory: two frames, not K_H
// rows; small for the images FINN builds here: lenet's largest is 24 x 24 x 20 x 4 bits).
// Output: the words of each window in FINN's order, (OFM_H, OFM_W, K_H, K_W, C/SIMD) or,
// depthwise, (OFM_H, OFM_W, C/SIMD, K_H, K_W). The order is five nested loops over the bank,
// innermost first: loop i runs N<i> times, and when it advances (the loops inside it wrapping
// to 0) the read address moves by INC<i> words (blocks.py computes both from the geometry).
// One output beat per cycle while the bank is full and the output is taken.
module fpgaflow_swg #(
	parameter int unsigned  SIMD = 1,
	parameter int unsigned  BITS = 8,           // lane width
	parameter int unsigned  FRAME = 4,          // words (pixels x channel folds) per input frame
	parameter int unsigned  N0 = 1, N1 = 1, N2 = 1, N3 = 1, N4 = 1,
	parameter int  INC0 = 1, INC1 = 0, INC2 = 0, INC3 = 0, INC4 = 0,
	localparam int unsigned  WIDTH = (SIMD*BITS + 7)/8*8
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
	localparam int unsigned  MW = SIMD*BITS;
	localparam int unsigned  AW = $clog2(2*FRAME) > 0? $clog2(2*FRAME) : 1;
	localparam int unsigned  N[5] = '{ N0, N1, N2, N3, N4 };
	localparam int  INC[5] = '{ INC0, INC1, INC2, INC3, INC4 };
	localparam int unsigned  CW = $clog2(N0 + N1 + N2 + N3 + N4 + 1);
	// output FIFO entries: reads are issued only into free (or reserved) entries, and 4 covers
	// the read's three cycles to the FIFO, so a consumer taking every beat is never starved
	localparam int unsigned  DEPTH = 4;

	typedef logic [MW-1:0]  word_t;
	typedef logic [AW-1:0]  addr_t;
	word_t  Mem[2*FRAME];

	//-----------------------------------------------------------------------
	// writer: fills bank WBank; a full bank is the reader's until it has read its last word
	addr_t  WAddr = 0;
	logic  WBank = 0;
	logic  WLast = FRAME == 1;       // WAddr is its bank's last word
	logic [1:0]  Full = '0;
	logic  Freed;                    // a bank's last word has been read: the writer may refill it
	logic  FreedBank;
	wire  write = in0_V_TVALID && !Full[WBank];
	assign	in0_V_TREADY = !Full[WBank];

	always_ff @(posedge ap_clk) begin
		if(write)  Mem[WAddr] <= in0_V_TDATA[MW-1:0];
	end

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			WAddr <= 0;
			WBank <= 0;
			WLast <= FRAME == 1;
			Full <= '0;
		end
		else begin
			if(Freed)  Full[FreedBank] <= 0;
			if(write) begin
				if(WLast) begin
					Full[WBank] <= 1;
					WBank <= !WBank;
					WAddr <= WBank? 0 : FRAME;
					WLast <= FRAME == 1;
				end
				else begin
					WAddr <= WAddr + 1;
					WLast <= WAddr == addr_t'(WBank? 2*FRAME-2 : FRAME-2);
				end
			end
		end
	end

	//-----------------------------------------------------------------------
	// reader: the five loops over the full bank RBank
	logic  Active = 0;
	logic  RBank = 0;
	addr_t  RAddr = 0;
	logic [CW-1:0]  Cnt[5];
	logic [4:0]  Last;               // Cnt[i] == N[i]-1, registered
	logic [$clog2(DEPTH+1)-1:0]  Pending = 0;   // FIFO entries + reads in flight
	wire  issue = Active && (Pending < DEPTH);
	logic  pop;

	// the innermost loop not at its last iteration advances; 5: every loop is, the frame ends
	logic [2:0]  step;
	always_comb begin
		step = 5;
		for(int i = 4; i >= 0; i--)  if(!Last[i])  step = i;
	end

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			Active <= 0;
			RBank <= 0;
			Pending <= 0;
		end
		else begin
			Pending <= Pending + issue - pop;
			if(!Active && Full[RBank]) begin
				Active <= 1;
				RAddr <= RBank? FRAME : 0;
				for(int i = 0; i < 5; i++) begin
					Cnt[i] <= 0;
					Last[i] <= N[i] == 1;
				end
			end
			if(issue) begin
				if(step == 5) begin
					Active <= 0;
					RBank <= !RBank;
				end
				else begin
					RAddr <= RAddr + addr_t'(INC[step]);
					for(int i = 0; i < 5; i++) begin
						if(i == step) begin
							Cnt[i] <= Cnt[i] + 1;
							Last[i] <= Cnt[i] == CW'(N[i]-2);
						end
						else if(i < step) begin
							Cnt[i] <= 0;
							Last[i] <= N[i] == 1;
						end
					end
				end
			end
		end
	end

	//-----------------------------------------------------------------------
	// read pipeline: (1) the memory's own read register (every cycle, from RAddr), (2) again in
	// the fabric (a block RAM's output is slow: 5.6 ns on ECP5), (3) into the FIFO
	word_t  RData, RData2;
	logic  V1 = 0, V2 = 0;
	logic  E1 = 0, B1 = 0;           // the bank's last read, and its bank
	always_ff @(posedge ap_clk)  RData <= Mem[RAddr];
	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			V1 <= 0;  V2 <= 0;  E1 <= 0;
		end
		else begin
			V1 <= issue;
			E1 <= issue && step == 5;
			B1 <= RBank;
			V2 <= V1;
		end
		RData2 <= RData;
	end
	// the bank is freed once its last word has left the memory (read at the edge E1 is set by)
	assign	Freed = E1;
	assign	FreedBank = B1;

	word_t  Q[DEPTH];
	logic [$clog2(DEPTH)-1:0]  QWr = 0, QRd = 0;
	logic [$clog2(DEPTH+1)-1:0]  QCount = 0;
	assign	out0_V_TVALID = QCount != 0;
	assign	pop = out0_V_TVALID && out0_V_TREADY;
	always_comb begin
		out0_V_TDATA = '0;
		out0_V_TDATA[MW-1:0] = Q[QRd];
	end
	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			QWr <= 0;  QRd <= 0;  QCount <= 0;
		end
		else begin
			if(V2) begin
				Q[QWr] <= RData2;
				QWr <= QWr + 1;
			end
			if(pop)  QRd <= QRd + 1;
			QCount <= QCount + V2 - pop;
		end
	end

endmodule : fpgaflow_swg
