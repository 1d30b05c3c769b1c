// fpgaflow: a behavioural model of the Lattice ECP5 DP16KD block RAM, for simulating the netlists
// Yosys' synth_ecp5 writes (Yosys ships DP16KD only as a black box). It models what synth_ecp5
// instantiates: DATA_WIDTH 1/2/4/9/18 per port and 36 (port A writes, port B reads: the
// pseudo-dual-port mode, data {DIB, DIA} in and {DOB, DOA} out), REGMODE NOREG/OUTREG,
// WRITEMODE NORMAL (the output keeps its value on a write), WRITETHROUGH, READBEFOREWRITE, the
// output latch's reset SYNC or ASYNC, chip select decode 0b000 (CS tied low), CLKxMUX CLKx/INV;
// any other setting stops the simulation at time 0 rather than simulate it wrongly.
// Layout (the order Yosys' ECP5 BRAM mapping writes INITVAL in): INITVAL_xx holds 18-bit words
// 16*xx .. 16*xx+15, each in 20 bits. x36: word pair (2a, 2a+1) at ADx[13:5], ADA[3:0] byte
// enables; x18: word ADx[13:4], ADA[1:0] byte enables (byte 0 = bits 8:0); x9: ADx[13:3], the
// half of word a/2 at bit 9*(a%2); x4/x2/x1: the 16 Kb without parity bits, memory bit b at
// bit 9*((b/8)%2) + b%8 of word b/16, the address ADx[13:log2(width)].
// Cross-port collisions (a word written on one port and read on the other in the same cycle)
// are not modelled: FINN's memories do not have them.
/* verilator lint_off MULTIDRIVEN */
/* verilator lint_off UNUSEDPARAM */
/* verilator lint_off UNUSEDSIGNAL */
/* verilator lint_off WIDTHTRUNC */
/* verilator lint_off WIDTHEXPAND */
module DP16KD(
	input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
	input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
	input CEA, OCEA, CLKA, WEA, RSTA,
	input CSA2, CSA1, CSA0,
	output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
	input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
	input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
	input CEB, OCEB, CLKB, WEB, RSTB,
	input CSB2, CSB1, CSB0,
	output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
	parameter DATA_WIDTH_A = 18;
	parameter DATA_WIDTH_B = 18;
	parameter REGMODE_A = "NOREG";
	parameter REGMODE_B = "NOREG";
	parameter RESETMODE = "SYNC";
	parameter ASYNC_RESET_RELEASE = "SYNC";
	parameter CSDECODE_A = "0b000";
	parameter CSDECODE_B = "0b000";
	parameter WRITEMODE_A = "NORMAL";
	parameter WRITEMODE_B = "NORMAL";
	parameter CLKAMUX = "CLKA";
	parameter CLKBMUX = "CLKB";
	parameter GSR = "ENABLED";
	parameter [319:0] INITVAL_00 = 320'h0;
	parameter [319:0] INITVAL_01 = 320'h0;
	parameter [319:0] INITVAL_02 = 320'h0;
	parameter [319:0] INITVAL_03 = 320'h0;
	parameter [319:0] INITVAL_04 = 320'h0;
	parameter [319:0] INITVAL_05 = 320'h0;
	parameter [319:0] INITVAL_06 = 320'h0;
	parameter [319:0] INITVAL_07 = 320'h0;
	parameter [319:0] INITVAL_08 = 320'h0;
	parameter [319:0] INITVAL_09 = 320'h0;
	parameter [319:0] INITVAL_0A = 320'h0;
	parameter [319:0] INITVAL_0B = 320'h0;
	parameter [319:0] INITVAL_0C = 320'h0;
	parameter [319:0] INITVAL_0D = 320'h0;
	parameter [319:0] INITVAL_0E = 320'h0;
	parameter [319:0] INITVAL_0F = 320'h0;
	parameter [319:0] INITVAL_10 = 320'h0;
	parameter [319:0] INITVAL_11 = 320'h0;
	parameter [319:0] INITVAL_12 = 320'h0;
	parameter [319:0] INITVAL_13 = 320'h0;
	parameter [319:0] INITVAL_14 = 320'h0;
	parameter [319:0] INITVAL_15 = 320'h0;
	parameter [319:0] INITVAL_16 = 320'h0;
	parameter [319:0] INITVAL_17 = 320'h0;
	parameter [319:0] INITVAL_18 = 320'h0;
	parameter [319:0] INITVAL_19 = 320'h0;
	parameter [319:0] INITVAL_1A = 320'h0;
	parameter [319:0] INITVAL_1B = 320'h0;
	parameter [319:0] INITVAL_1C = 320'h0;
	parameter [319:0] INITVAL_1D = 320'h0;
	parameter [319:0] INITVAL_1E = 320'h0;
	parameter [319:0] INITVAL_1F = 320'h0;
	parameter [319:0] INITVAL_20 = 320'h0;
	parameter [319:0] INITVAL_21 = 320'h0;
	parameter [319:0] INITVAL_22 = 320'h0;
	parameter [319:0] INITVAL_23 = 320'h0;
	parameter [319:0] INITVAL_24 = 320'h0;
	parameter [319:0] INITVAL_25 = 320'h0;
	parameter [319:0] INITVAL_26 = 320'h0;
	parameter [319:0] INITVAL_27 = 320'h0;
	parameter [319:0] INITVAL_28 = 320'h0;
	parameter [319:0] INITVAL_29 = 320'h0;
	parameter [319:0] INITVAL_2A = 320'h0;
	parameter [319:0] INITVAL_2B = 320'h0;
	parameter [319:0] INITVAL_2C = 320'h0;
	parameter [319:0] INITVAL_2D = 320'h0;
	parameter [319:0] INITVAL_2E = 320'h0;
	parameter [319:0] INITVAL_2F = 320'h0;
	parameter [319:0] INITVAL_30 = 320'h0;
	parameter [319:0] INITVAL_31 = 320'h0;
	parameter [319:0] INITVAL_32 = 320'h0;
	parameter [319:0] INITVAL_33 = 320'h0;
	parameter [319:0] INITVAL_34 = 320'h0;
	parameter [319:0] INITVAL_35 = 320'h0;
	parameter [319:0] INITVAL_36 = 320'h0;
	parameter [319:0] INITVAL_37 = 320'h0;
	parameter [319:0] INITVAL_38 = 320'h0;
	parameter [319:0] INITVAL_39 = 320'h0;
	parameter [319:0] INITVAL_3A = 320'h0;
	parameter [319:0] INITVAL_3B = 320'h0;
	parameter [319:0] INITVAL_3C = 320'h0;
	parameter [319:0] INITVAL_3D = 320'h0;
	parameter [319:0] INITVAL_3E = 320'h0;
	parameter [319:0] INITVAL_3F = 320'h0;

	reg [17:0] mem [0:1023];

	task automatic load(input integer row, input [319:0] v);
		integer i;
		for (i = 0; i < 16; i = i + 1)  mem[row*16 + i] = v[i*20 +: 18];
	endtask
	initial begin
		load(0, INITVAL_00);
		load(1, INITVAL_01);
		load(2, INITVAL_02);
		load(3, INITVAL_03);
		load(4, INITVAL_04);
		load(5, INITVAL_05);
		load(6, INITVAL_06);
		load(7, INITVAL_07);
		load(8, INITVAL_08);
		load(9, INITVAL_09);
		load(10, INITVAL_0A);
		load(11, INITVAL_0B);
		load(12, INITVAL_0C);
		load(13, INITVAL_0D);
		load(14, INITVAL_0E);
		load(15, INITVAL_0F);
		load(16, INITVAL_10);
		load(17, INITVAL_11);
		load(18, INITVAL_12);
		load(19, INITVAL_13);
		load(20, INITVAL_14);
		load(21, INITVAL_15);
		load(22, INITVAL_16);
		load(23, INITVAL_17);
		load(24, INITVAL_18);
		load(25, INITVAL_19);
		load(26, INITVAL_1A);
		load(27, INITVAL_1B);
		load(28, INITVAL_1C);
		load(29, INITVAL_1D);
		load(30, INITVAL_1E);
		load(31, INITVAL_1F);
		load(32, INITVAL_20);
		load(33, INITVAL_21);
		load(34, INITVAL_22);
		load(35, INITVAL_23);
		load(36, INITVAL_24);
		load(37, INITVAL_25);
		load(38, INITVAL_26);
		load(39, INITVAL_27);
		load(40, INITVAL_28);
		load(41, INITVAL_29);
		load(42, INITVAL_2A);
		load(43, INITVAL_2B);
		load(44, INITVAL_2C);
		load(45, INITVAL_2D);
		load(46, INITVAL_2E);
		load(47, INITVAL_2F);
		load(48, INITVAL_30);
		load(49, INITVAL_31);
		load(50, INITVAL_32);
		load(51, INITVAL_33);
		load(52, INITVAL_34);
		load(53, INITVAL_35);
		load(54, INITVAL_36);
		load(55, INITVAL_37);
		load(56, INITVAL_38);
		load(57, INITVAL_39);
		load(58, INITVAL_3A);
		load(59, INITVAL_3B);
		load(60, INITVAL_3C);
		load(61, INITVAL_3D);
		load(62, INITVAL_3E);
		load(63, INITVAL_3F);
		if (!(RESETMODE == "SYNC" || RESETMODE == "ASYNC") || CSDECODE_A != "0b000" || CSDECODE_B != "0b000" ||
		    !(REGMODE_A == "NOREG" || REGMODE_A == "OUTREG") || !(REGMODE_B == "NOREG" || REGMODE_B == "OUTREG")) begin
			$fwrite(32'h80000002, "DP16KD: a setting fpgaflow's model does not simulate (RESETMODE %s, CSDECODE %s/%s, REGMODE %s/%s)\n",
			         RESETMODE, CSDECODE_A, CSDECODE_B, REGMODE_A, REGMODE_B);
			$stop;
		end
	end

	function automatic bit_of(input integer b);
		bit_of = mem[b/16][9*((b/8)%2) + b%8];
	endfunction
	function automatic [35:0] read(input integer width, input [13:0] ad);
		integer a, b;
		begin
			read = 36'b0;
			case (width)
				36: begin a = ad[13:5]; read = {mem[2*a+1], mem[2*a]}; end
				18: read[17:0] = mem[ad[13:4]];
				9:  begin a = ad[13:3]; read[8:0] = mem[a/2][9*(a%2) +: 9]; end
				default: for (b = 0; b < width; b = b + 1) read[b] = bit_of((ad >> $clog2(width)) * width + b);
			endcase
		end
	endfunction
	task automatic write(input integer width, input [13:0] ad, input [35:0] d);
		integer a, b;
		begin
			case (width)
				36: begin
					a = ad[13:5];
					if (ad[0]) mem[2*a][8:0] = d[8:0];
					if (ad[1]) mem[2*a][17:9] = d[17:9];
					if (ad[2]) mem[2*a+1][8:0] = d[26:18];
					if (ad[3]) mem[2*a+1][17:9] = d[35:27];
				end
				18: begin
					if (ad[0]) mem[ad[13:4]][8:0] = d[8:0];
					if (ad[1]) mem[ad[13:4]][17:9] = d[17:9];
				end
				9:  begin a = ad[13:3]; mem[a/2][9*(a%2) +: 9] = d[8:0]; end
				default: for (b = 0; b < width; b = b + 1) begin
					a = (ad >> $clog2(width)) * width + b;
					mem[a/16][9*((a/8)%2) + a%8] = d[b];
				end
			endcase
		end
	endtask

	wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0}, adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
	wire [17:0] dia18 = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0}, dib18 = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
	wire [35:0] dia = DATA_WIDTH_A == 36 ? {dib18, dia18} : {18'b0, dia18};
	wire [35:0] dib = {18'b0, dib18};
	wire arsta = RESETMODE == "ASYNC" && RSTA, arstb = RESETMODE == "ASYNC" && RSTB;   // ASYNC: the reset acts at once
	wire clka = CLKAMUX == "INV" ? ~CLKA : CLKA;
	wire clkb = CLKBMUX == "INV" ? ~CLKB : CLKB;
	reg [35:0] qa = 36'b0, qb = 36'b0, ra = 36'b0, rb = 36'b0;   // each port's read latch and output register

	always @(posedge clka or posedge arsta) begin
		if (RSTA) qa <= 36'b0;
		else if (CEA) begin
			if (WEA) begin
				if (WRITEMODE_A == "READBEFOREWRITE") qa <= read(DATA_WIDTH_A, ada);
				else if (WRITEMODE_A == "WRITETHROUGH") qa <= dia;
				write(DATA_WIDTH_A, ada, dia);
			end
			else qa <= read(DATA_WIDTH_A, ada);
		end
		if (RSTA) ra <= 36'b0;
		else if (OCEA) ra <= qa;
	end
	always @(posedge clkb or posedge arstb) begin
		if (RSTB) qb <= 36'b0;
		else if (CEB) begin
			if (WEB) begin
				if (WRITEMODE_B == "READBEFOREWRITE") qb <= read(DATA_WIDTH_B, adb);
				else if (WRITEMODE_B == "WRITETHROUGH") qb <= dib;
				write(DATA_WIDTH_B, adb, dib);
			end
			else qb <= read(DATA_WIDTH_B, adb);
		end
		if (RSTB) rb <= 36'b0;
		else if (OCEB) rb <= qb;
	end
	wire [35:0] oa = REGMODE_A == "OUTREG" ? ra : qa;
	wire [35:0] ob = REGMODE_B == "OUTREG" ? rb : qb;
	// x36 reads come out of port B on both ports' pins
	assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = DATA_WIDTH_B == 36 ? ob[17:0] : oa[17:0];
	assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = DATA_WIDTH_B == 36 ? ob[35:18] : ob[17:0];
endmodule
