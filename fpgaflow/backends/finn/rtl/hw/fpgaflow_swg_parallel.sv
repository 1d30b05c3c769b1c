// fpgaflow hardware library: a sliding-window generator for FINN's ConvolutionInputGenerator
// in parallel-window mode with all channels in one word (SIMD = channels, dilation 1): one
// output beat holds a whole window, lanes (K_H, K_W, SIMD) with the oldest row and column
// first, FINN's order. The folding picks it where one window a cycle is not enough (lenet's
// first convolution at 1-channel input).
//
// Line buffers, as the classic streaming window: a memory of IFM_W entries holds the K_H-1 rows
// above each column; every input word reads its column's entry (prefetched a word ahead, so the
// block RAM's slow output only feeds registers), the column {input, rows above} shifts into a
// K_W-column window, and the entry is written back shifted by a row one cycle later. A window is
// emitted with the input word that completes it (row and column past the kernel, on the
// stride); frames follow each other without a gap (the rows of the previous frame left in the
// buffer are never emitted). One input word per cycle while the output is taken.
//
// Finished windows go through a queue of Q_DEPTH entries: a word is taken only with an entry
// reserved for the window it may finish, so the window's registers never wait on the output's
// ready and the input's ready is a register (as in fpgaflow_mvau, where an enable from the
// output's ready over lenet_w2a2's 1,000-bit fc1 vector ran it at 47.7 MHz on an ECP5; here
// lenet_w2a2's conv2 window is 1,000 bits). Three entries: a window taken at cycle t is queued
// at t+1 and can leave at t+2, so a window a cycle needs three in flight.
module fpgaflow_swg_parallel #(
	parameter int unsigned  SIMD = 1,
	parameter int unsigned  BITS = 8,
	parameter int unsigned  IFM_H = 5,
	parameter int unsigned  IFM_W = 5,          // at least 3: the buffer's read and delayed write never meet
	parameter int unsigned  K_H = 3,
	parameter int unsigned  K_W = 3,
	parameter int unsigned  S_H = 1,
	parameter int unsigned  S_W = 1,
	localparam int unsigned  MW = SIMD*BITS,
	localparam int unsigned  IN_WIDTH = (MW + 7)/8*8,
	localparam int unsigned  OUT_WIDTH = (K_H*K_W*MW + 7)/8*8
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
	typedef logic [MW-1:0]  word_t;
	typedef logic [K_H*MW-1:0]  column_t;       // rows, newest (the input's) in the lowest word
	localparam int unsigned  XW = $clog2(IFM_W);
	localparam int unsigned  YW = $clog2(IFM_H) > 0? $clog2(IFM_H) : 1;

	// the positions where a window ends: past the kernel and on the stride
	function automatic logic [IFM_W-1:0] col_ends();
		for(int unsigned  x = 0; x < IFM_W; x++)  col_ends[x] = x >= K_W-1 && (x-(K_W-1)) % S_W == 0;
	endfunction
	function automatic logic [IFM_H-1:0] row_ends();
		for(int unsigned  y = 0; y < IFM_H; y++)  row_ends[y] = y >= K_H-1 && (y-(K_H-1)) % S_H == 0;
	endfunction
	localparam logic [IFM_W-1:0]  COL_ENDS = col_ends();
	localparam logic [IFM_H-1:0]  ROW_ENDS = row_ends();

	// the input word's position, and whether a window ends there (registered with it)
	logic [XW-1:0]  X = 0, XNext = 1 % IFM_W;
	logic [YW-1:0]  Y = 0;
	logic  XLast = IFM_W == 1, YLast = IFM_H == 1;
	logic  ColEnd = COL_ENDS[0], RowEnd = ROW_ENDS[0];

	localparam int unsigned  Q_DEPTH = 3;
	logic  InReady = 1;             // windows queued or about to be (QCount + Done) < Q_DEPTH, registered
	logic  Done = 0;                // the last word taken finished a window
	assign	in0_V_TREADY = InReady;
	wire  take = in0_V_TVALID && InReady;
	wire  finishes = take && ColEnd && RowEnd;
	typedef logic [K_H*K_W*MW-1:0]  lanes_t;
	lanes_t  Q[Q_DEPTH];
	logic [1:0]  QWr = 0, QRd = 0, QCount = 0;
	assign	out0_V_TVALID = QCount != 0;
	wire  pop = out0_V_TVALID && out0_V_TREADY;

	column_t  Window[K_W];          // Window[0]: the newest column
	word_t  in_word;
	assign	in_word = in0_V_TDATA[MW-1:0];

	if(K_H > 1) begin : genBuffer
		typedef logic [(K_H-1)*MW-1:0]  rows_t;     // the rows above, y-1 in the lowest word
		rows_t  Buffer[IFM_W];
		rows_t  Above;                 // Buffer[X], read when the previous word was taken
		rows_t  WData;
		logic [XW-1:0]  WAddr;
		logic  WEn = 0;
		always_ff @(posedge ap_clk) begin
			if(take)  Above <= Buffer[XNext];
			if(WEn)  Buffer[WAddr] <= WData;
		end
		always_ff @(posedge ap_clk) begin
			if(!ap_rst_n)  WEn <= 0;
			else  WEn <= take;
			if(take) begin
				WAddr <= X;
				WData <= rows_t'({ Above, in_word });   // the input becomes row y-1 of the next row
			end
		end
		always_ff @(posedge ap_clk) begin
			if(take)  Window[0] <= { Above, in_word };
		end
	end : genBuffer
	else begin : genRow
		always_ff @(posedge ap_clk) begin
			if(take)  Window[0] <= in_word;
		end
	end : genRow

	always_ff @(posedge ap_clk) begin
		if(take)  for(int unsigned  i = 1; i < K_W; i++)  Window[i] <= Window[i-1];
	end

	always_ff @(posedge ap_clk) begin
		if(!ap_rst_n) begin
			X <= 0;  XNext <= 1 % IFM_W;  Y <= 0;
			XLast <= IFM_W == 1;  YLast <= IFM_H == 1;
			ColEnd <= COL_ENDS[0];  RowEnd <= ROW_ENDS[0];
			InReady <= 1;  Done <= 0;
		end
		else begin
			// the windows queued or about to be after this cycle: QCount's next value plus Done's
			automatic logic [1:0]  r = QCount + Done - pop + finishes;
			InReady <= r < Q_DEPTH;
			Done <= finishes;
			if(take) begin
				X <= XNext;
				XNext <= XNext == IFM_W-1? 0 : XNext + 1;
				XLast <= XNext == IFM_W-1;
				ColEnd <= COL_ENDS[XNext];
				if(XLast) begin
					Y <= YLast? 0 : Y + 1;
					YLast <= YLast? IFM_H == 1 : Y == IFM_H-2;
					RowEnd <= ROW_ENDS[YLast? 0 : Y + 1];
				end
			end
		end
	end

	// lane (kh*K_W + kw)*SIMD + s: row kh from the top of the window, column kw from its left
	lanes_t  finished;
	always_comb begin
		for(int unsigned  kh = 0; kh < K_H; kh++)
			for(int unsigned  kw = 0; kw < K_W; kw++)
				finished[(kh*K_W + kw)*MW +: MW] = Window[K_W-1-kw][(K_H-1-kh)*MW +: MW];
	end

	// the queue of finished windows
	always_ff @(posedge ap_clk) begin
		if(Done)  Q[QWr] <= finished;
		if(!ap_rst_n) begin
			QWr <= 0;  QRd <= 0;  QCount <= 0;
		end
		else begin
			if(Done)  QWr <= QWr == Q_DEPTH-1? 0 : QWr + 1;
			if(pop)  QRd <= QRd == Q_DEPTH-1? 0 : QRd + 1;
			QCount <= QCount + Done - pop;
		end
	end
	always_comb begin
		out0_V_TDATA = '0;
		out0_V_TDATA[K_H*K_W*MW-1:0] = Q[QRd];
	end

endmodule : fpgaflow_swg_parallel
