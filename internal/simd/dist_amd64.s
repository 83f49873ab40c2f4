//go:build amd64 && !purego

#include "textflag.h"

// func dot4x24(x *float32, xs int, ct *float32, cs int, d int, bias *float32, out *float32, os int)
//
// out[r*os+j] = bias[j] + Σ_{i<d} x[r*xs+i]·ct[i*cs+j] for r<4, j<24.
// Twelve ymm accumulators (4 rows × 3 lane groups), the three ct lane groups
// of row i held in Y12–Y14, the broadcast x element in Y15.
TEXT ·dot4x24(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ xs+8(FP), R8
	SHLQ $2, R8
	MOVQ ct+16(FP), DI
	MOVQ cs+24(FP), R9
	SHLQ $2, R9
	MOVQ d+32(FP), CX
	MOVQ bias+40(FP), BX
	MOVQ out+48(FP), DX
	MOVQ os+56(FP), R10
	SHLQ $2, R10
	LEAQ (SI)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13

	VMOVUPS (BX), Y0
	VMOVUPS 32(BX), Y1
	VMOVUPS 64(BX), Y2
	VMOVAPS Y0, Y3
	VMOVAPS Y1, Y4
	VMOVAPS Y2, Y5
	VMOVAPS Y0, Y6
	VMOVAPS Y1, Y7
	VMOVAPS Y2, Y8
	VMOVAPS Y0, Y9
	VMOVAPS Y1, Y10
	VMOVAPS Y2, Y11
	XORQ AX, AX

loop24:
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	VMOVUPS 64(DI), Y14
	VBROADCASTSS (SI)(AX*4), Y15
	VFMADD231PS Y12, Y15, Y0
	VFMADD231PS Y13, Y15, Y1
	VFMADD231PS Y14, Y15, Y2
	VBROADCASTSS (R11)(AX*4), Y15
	VFMADD231PS Y12, Y15, Y3
	VFMADD231PS Y13, Y15, Y4
	VFMADD231PS Y14, Y15, Y5
	VBROADCASTSS (R12)(AX*4), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VFMADD231PS Y14, Y15, Y8
	VBROADCASTSS (R13)(AX*4), Y15
	VFMADD231PS Y12, Y15, Y9
	VFMADD231PS Y13, Y15, Y10
	VFMADD231PS Y14, Y15, Y11
	ADDQ R9, DI
	INCQ AX
	CMPQ AX, CX
	JLT  loop24

	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	ADDQ    R10, DX
	VMOVUPS Y3, (DX)
	VMOVUPS Y4, 32(DX)
	VMOVUPS Y5, 64(DX)
	ADDQ    R10, DX
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	VMOVUPS Y8, 64(DX)
	ADDQ    R10, DX
	VMOVUPS Y9, (DX)
	VMOVUPS Y10, 32(DX)
	VMOVUPS Y11, 64(DX)
	VZEROUPPER
	RET

// func dot4x8(x *float32, xs int, ct *float32, cs int, d int, bias *float32, out *float32, os int)
//
// out[r*os+j] = bias[j] + Σ_{i<d} x[r*xs+i]·ct[i*cs+j] for r<4, j<8.
// Two accumulators per row (even and odd i) to hide the FMA latency.
TEXT ·dot4x8(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ xs+8(FP), R8
	SHLQ $2, R8
	MOVQ ct+16(FP), DI
	MOVQ cs+24(FP), R9
	SHLQ $2, R9
	MOVQ d+32(FP), CX
	MOVQ bias+40(FP), BX
	MOVQ out+48(FP), DX
	MOVQ os+56(FP), R10
	SHLQ $2, R10
	LEAQ (SI)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13

	VMOVUPS (BX), Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	XORQ    AX, AX
	MOVQ    CX, R14
	SHRQ    $1, R14
	JZ      tail8

pair8:
	VMOVUPS      (DI), Y8
	VMOVUPS      (DI)(R9*1), Y9
	VBROADCASTSS (SI)(AX*4), Y10
	VBROADCASTSS 4(SI)(AX*4), Y11
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y11, Y4
	VBROADCASTSS (R11)(AX*4), Y10
	VBROADCASTSS 4(R11)(AX*4), Y11
	VFMADD231PS  Y8, Y10, Y1
	VFMADD231PS  Y9, Y11, Y5
	VBROADCASTSS (R12)(AX*4), Y10
	VBROADCASTSS 4(R12)(AX*4), Y11
	VFMADD231PS  Y8, Y10, Y2
	VFMADD231PS  Y9, Y11, Y6
	VBROADCASTSS (R13)(AX*4), Y10
	VBROADCASTSS 4(R13)(AX*4), Y11
	VFMADD231PS  Y8, Y10, Y3
	VFMADD231PS  Y9, Y11, Y7
	LEAQ         (DI)(R9*2), DI
	ADDQ         $2, AX
	DECQ         R14
	JNZ          pair8

tail8:
	TESTQ $1, CX
	JZ    done8
	VMOVUPS      (DI), Y8
	VBROADCASTSS (SI)(AX*4), Y10
	VFMADD231PS  Y8, Y10, Y0
	VBROADCASTSS (R11)(AX*4), Y10
	VFMADD231PS  Y8, Y10, Y1
	VBROADCASTSS (R12)(AX*4), Y10
	VFMADD231PS  Y8, Y10, Y2
	VBROADCASTSS (R13)(AX*4), Y10
	VFMADD231PS  Y8, Y10, Y3

done8:
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
	VADDPS  Y6, Y2, Y2
	VADDPS  Y7, Y3, Y3
	VMOVUPS Y0, (DX)
	ADDQ    R10, DX
	VMOVUPS Y1, (DX)
	ADDQ    R10, DX
	VMOVUPS Y2, (DX)
	ADDQ    R10, DX
	VMOVUPS Y3, (DX)
	VZEROUPPER
	RET

// func argminRows(s *float32, kpad int, rows int, idx *int32, val *float32)
//
// For each of rows rows of kpad scores (kpad a multiple of 8) stores the
// lowest index of the minimum into idx and the minimum into val. Rows whose
// minimum matches no lane (NaN) get index 0.
TEXT ·argminRows(SB), NOSPLIT, $0-40
	MOVQ s+0(FP), SI
	MOVQ kpad+8(FP), R9
	SHLQ $2, R9
	MOVQ rows+16(FP), R8
	MOVQ idx+24(FP), DI
	MOVQ val+32(FP), DX
	TESTQ R8, R8
	JZ    amdone

amrow:
	VMOVUPS (SI), Y0
	MOVQ    $32, AX

amloop:
	CMPQ   AX, R9
	JGE    amreduce
	VMINPS (SI)(AX*1), Y0, Y0
	ADDQ   $32, AX
	JMP    amloop

amreduce:
	VEXTRACTF128 $1, Y0, X1
	VMINPS       X1, X0, X0
	VPERMILPS    $0x4E, X0, X1
	VMINPS       X1, X0, X0
	VPERMILPS    $0xB1, X0, X1
	VMINPS       X1, X0, X0
	VMOVSS       X0, (DX)
	VBROADCASTSS X0, Y1
	XORQ         AX, AX

amfind:
	CMPQ      AX, R9
	JGE       amnone
	VCMPPS    $0, (SI)(AX*1), Y1, Y2
	VMOVMSKPS Y2, BX
	TESTL     BX, BX
	JNZ       amfound
	ADDQ      $32, AX
	JMP       amfind

amfound:
	BSFL BX, BX
	SHRQ $2, AX
	ADDQ BX, AX
	MOVL AX, (DI)
	JMP  amnext

amnone:
	MOVL $0, (DI)

amnext:
	ADDQ R9, SI
	ADDQ $4, DI
	ADDQ $4, DX
	DECQ R8
	JNZ  amrow

amdone:
	VZEROUPPER
	RET

// func addF32(s *float64, x *float32, n int)
//
// s[i] += float64(x[i]) for i < n.
TEXT ·addF32(SB), NOSPLIT, $0-24
	MOVQ s+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-8, BX

addloop8:
	CMPQ      AX, BX
	JGE       addtail
	VCVTPS2PD (SI)(AX*4), Y0
	VCVTPS2PD 16(SI)(AX*4), Y1
	VADDPD    (DI)(AX*8), Y0, Y0
	VADDPD    32(DI)(AX*8), Y1, Y1
	VMOVUPD   Y0, (DI)(AX*8)
	VMOVUPD   Y1, 32(DI)(AX*8)
	ADDQ      $8, AX
	JMP       addloop8

addtail:
	CMPQ     AX, CX
	JGE      adddone
	VCVTSS2SD (SI)(AX*4), X0, X0
	VADDSD    (DI)(AX*8), X0, X0
	VMOVSD    X0, (DI)(AX*8)
	INCQ      AX
	JMP       addtail

adddone:
	VZEROUPPER
	RET

// tailMask: eight -1 lanes then eight 0 lanes; loading 8 lanes at offset
// (8-r)*4 gives a mask of the first r lanes.
DATA tailMask<>+0(SB)/4, $-1
DATA tailMask<>+4(SB)/4, $-1
DATA tailMask<>+8(SB)/4, $-1
DATA tailMask<>+12(SB)/4, $-1
DATA tailMask<>+16(SB)/4, $-1
DATA tailMask<>+20(SB)/4, $-1
DATA tailMask<>+24(SB)/4, $-1
DATA tailMask<>+28(SB)/4, $-1
DATA tailMask<>+32(SB)/4, $0
DATA tailMask<>+36(SB)/4, $0
DATA tailMask<>+40(SB)/4, $0
DATA tailMask<>+44(SB)/4, $0
DATA tailMask<>+48(SB)/4, $0
DATA tailMask<>+52(SB)/4, $0
DATA tailMask<>+56(SB)/4, $0
DATA tailMask<>+60(SB)/4, $0
GLOBL tailMask<>(SB), RODATA|NOPTR, $64

// func dotRows2x4(x *float32, xs int, c *float32, cs int, d int, bias *float32, out *float32, os int)
//
// out[r*os+t] = bias[t] + Σ_{i<d} x[r*xs+i]·c[t*cs+i] for r<2, t<4: two
// points against four row-major centroids, vectorised along the dimension
// (eight accumulators, horizontal sums at the end, masked tail loads).
TEXT ·dotRows2x4(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ xs+8(FP), R8
	SHLQ $2, R8
	LEAQ (SI)(R8*1), R11
	MOVQ c+16(FP), DI
	MOVQ cs+24(FP), R9
	SHLQ $2, R9
	LEAQ (DI)(R9*1), R12
	LEAQ (R12)(R9*1), R13
	LEAQ (R13)(R9*1), R14
	MOVQ d+32(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ   AX, AX
	MOVQ   CX, BX
	ANDQ   $-8, BX

rloop:
	CMPQ        AX, BX
	JGE         rtail
	VMOVUPS     (SI)(AX*4), Y8
	VMOVUPS     (R11)(AX*4), Y9
	VMOVUPS     (DI)(AX*4), Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y4
	VMOVUPS     (R12)(AX*4), Y10
	VFMADD231PS Y10, Y8, Y1
	VFMADD231PS Y10, Y9, Y5
	VMOVUPS     (R13)(AX*4), Y10
	VFMADD231PS Y10, Y8, Y2
	VFMADD231PS Y10, Y9, Y6
	VMOVUPS     (R14)(AX*4), Y10
	VFMADD231PS Y10, Y8, Y3
	VFMADD231PS Y10, Y9, Y7
	ADDQ        $8, AX
	JMP         rloop

rtail:
	CMPQ        AX, CX
	JGE         rreduce
	MOVQ        CX, DX
	SUBQ        AX, DX
	NEGQ        DX
	ADDQ        $8, DX
	LEAQ        tailMask<>(SB), R10
	VMOVUPS     (R10)(DX*4), Y11
	VMASKMOVPS  (SI)(AX*4), Y11, Y8
	VMASKMOVPS  (R11)(AX*4), Y11, Y9
	VMASKMOVPS  (DI)(AX*4), Y11, Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y4
	VMASKMOVPS  (R12)(AX*4), Y11, Y10
	VFMADD231PS Y10, Y8, Y1
	VFMADD231PS Y10, Y9, Y5
	VMASKMOVPS  (R13)(AX*4), Y11, Y10
	VFMADD231PS Y10, Y8, Y2
	VFMADD231PS Y10, Y9, Y6
	VMASKMOVPS  (R14)(AX*4), Y11, Y10
	VFMADD231PS Y10, Y8, Y3
	VFMADD231PS Y10, Y9, Y7

rreduce:
	MOVQ         bias+40(FP), BX
	MOVQ         out+48(FP), DX
	MOVQ         os+56(FP), R10
	SHLQ         $2, R10
	VHADDPS      Y1, Y0, Y0
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VADDPS       (BX), X0, X0
	VMOVUPS      X0, (DX)
	VHADDPS      Y5, Y4, Y4
	VHADDPS      Y7, Y6, Y6
	VHADDPS      Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS       X5, X4, X4
	VADDPS       (BX), X4, X4
	VMOVUPS      X4, (DX)(R10*1)
	VZEROUPPER
	RET

// func sqDiffF64(x *float32, mu *float64, n int) float64
//
// Σ_{i<n} (float64(x[i]) − mu[i])².
TEXT ·sqDiffF64(SB), NOSPLIT, $0-32
	MOVQ   x+0(FP), SI
	MOVQ   mu+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	XORQ   AX, AX
	MOVQ   CX, BX
	ANDQ   $-8, BX

sqloop:
	CMPQ        AX, BX
	JGE         sqreduce
	VCVTPS2PD   (SI)(AX*4), Y2
	VCVTPS2PD   16(SI)(AX*4), Y3
	VSUBPD      (DI)(AX*8), Y2, Y2
	VSUBPD      32(DI)(AX*8), Y3, Y3
	VFMADD231PD Y2, Y2, Y0
	VFMADD231PD Y3, Y3, Y1
	ADDQ        $8, AX
	JMP         sqloop

sqreduce:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0

sqtail:
	CMPQ        AX, CX
	JGE         sqdone
	VCVTSS2SD   (SI)(AX*4), X2, X2
	VSUBSD      (DI)(AX*8), X2, X2
	VFMADD231SD X2, X2, X0
	INCQ        AX
	JMP         sqtail

sqdone:
	VMOVSD X0, ret+24(FP)
	VZEROUPPER
	RET

// func sqDistF32(a *float32, b *float32, n int) float64
//
// Σ_{i<n} (float64(a[i]) − float64(b[i]))².
TEXT ·sqDistF32(SB), NOSPLIT, $0-32
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	XORQ   AX, AX
	MOVQ   CX, BX
	ANDQ   $-8, BX

sdloop:
	CMPQ        AX, BX
	JGE         sdreduce
	VCVTPS2PD   (SI)(AX*4), Y2
	VCVTPS2PD   16(SI)(AX*4), Y3
	VCVTPS2PD   (DI)(AX*4), Y4
	VCVTPS2PD   16(DI)(AX*4), Y5
	VSUBPD      Y4, Y2, Y2
	VSUBPD      Y5, Y3, Y3
	VFMADD231PD Y2, Y2, Y0
	VFMADD231PD Y3, Y3, Y1
	ADDQ        $8, AX
	JMP         sdloop

sdreduce:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0

sdtail:
	CMPQ        AX, CX
	JGE         sddone
	VCVTSS2SD   (SI)(AX*4), X2, X2
	VCVTSS2SD   (DI)(AX*4), X3, X3
	VSUBSD      X3, X2, X2
	VFMADD231SD X2, X2, X0
	INCQ        AX
	JMP         sdtail

sddone:
	VMOVSD X0, ret+24(FP)
	VZEROUPPER
	RET
