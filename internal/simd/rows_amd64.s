//go:build amd64 && !purego

#include "textflag.h"

// Constants of the tanh rational approximation and of the exp polynomial
// (float32 bit patterns; see Tanh and expUnit in rows.go).
DATA kconst<>+0(SB)/4, $0x40fcf84f  // tanh clamp 7.90531110763549805
DATA kconst<>+4(SB)/4, $0xc0fcf84f  // -clamp
DATA kconst<>+8(SB)/4, $0xa59f25c0  // alpha13
DATA kconst<>+12(SB)/4, $0x2a61337e // alpha11
DATA kconst<>+16(SB)/4, $0xaebd37ff // alpha9
DATA kconst<>+20(SB)/4, $0x335c0041 // alpha7
DATA kconst<>+24(SB)/4, $0x3779434a // alpha5
DATA kconst<>+28(SB)/4, $0x3a270ded // alpha3
DATA kconst<>+32(SB)/4, $0x3ba059dc // alpha1
DATA kconst<>+36(SB)/4, $0x35a0d3d8 // beta6
DATA kconst<>+40(SB)/4, $0x38f895d6 // beta4
DATA kconst<>+44(SB)/4, $0x3b14aa05 // beta2
DATA kconst<>+48(SB)/4, $0x3ba059dd // beta0
DATA kconst<>+52(SB)/4, $0x3638ef1d // 1/9!
DATA kconst<>+56(SB)/4, $0x37d00d01 // 1/8!
DATA kconst<>+60(SB)/4, $0x39500d01 // 1/7!
DATA kconst<>+64(SB)/4, $0x3ab60b61 // 1/6!
DATA kconst<>+68(SB)/4, $0x3c088889 // 1/5!
DATA kconst<>+72(SB)/4, $0x3d2aaaab // 1/4!
DATA kconst<>+76(SB)/4, $0x3e2aaaab // 1/3!
DATA kconst<>+80(SB)/4, $0x3f000000 // 1/2
DATA kconst<>+84(SB)/4, $0x3f800000 // 1
GLOBL kconst<>(SB), RODATA|NOPTR, $88

// func dot2AVX(rows *float32, n, nq, h int, q, u, outQ, outU, pf *float32, pfLines int)
// For each of the n rows of width h (h a multiple of 8):
// outU[r] = row·u, and outQ[r] = row·q for r < nq. Meanwhile it prefetches
// pfLines cache lines from pf (the next item's rows), four per row.
TEXT ·dot2AVX(SB), NOSPLIT, $0-80
	MOVQ rows+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ nq+16(FP), DX
	MOVQ h+24(FP), BX
	MOVQ q+32(FP), R8
	MOVQ u+40(FP), R9
	MOVQ outQ+48(FP), R10
	MOVQ outU+56(FP), R11
	MOVQ BX, R13
	SHLQ $2, R13
	XORQ R12, R12

rowloop:
	CMPQ R12, CX
	JGE  done
	MOVQ pfLines+72(FP), DI
	CMPQ DI, $0
	JLE  nopf
	SUBQ $4, DI
	MOVQ DI, pfLines+72(FP)
	MOVQ pf+64(FP), DI
	PREFETCHT0 (DI)
	PREFETCHT0 64(DI)
	PREFETCHT0 128(DI)
	PREFETCHT0 192(DI)
	ADDQ $256, DI
	MOVQ DI, pf+64(FP)

nopf:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ AX, AX
	CMPQ R12, DX
	JGE  uloop16

bloop16:
	MOVQ BX, DI
	SUBQ AX, DI
	CMPQ DI, $16
	JL   bloop8
	VMOVUPS (SI)(AX*4), Y4
	VMOVUPS 32(SI)(AX*4), Y5
	VFMADD231PS (R8)(AX*4), Y4, Y0
	VFMADD231PS 32(R8)(AX*4), Y5, Y1
	VFMADD231PS (R9)(AX*4), Y4, Y2
	VFMADD231PS 32(R9)(AX*4), Y5, Y3
	ADDQ $16, AX
	JMP  bloop16

bloop8:
	CMPQ DI, $8
	JL   bdone
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (R8)(AX*4), Y4, Y0
	VFMADD231PS (R9)(AX*4), Y4, Y2

bdone:
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X4
	VADDPS       X4, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, (R10)(R12*4)
	JMP          ureduce

uloop16:
	MOVQ BX, DI
	SUBQ AX, DI
	CMPQ DI, $16
	JL   uloop8
	VMOVUPS (SI)(AX*4), Y4
	VMOVUPS 32(SI)(AX*4), Y5
	VFMADD231PS (R9)(AX*4), Y4, Y2
	VFMADD231PS 32(R9)(AX*4), Y5, Y3
	ADDQ $16, AX
	JMP  uloop16

uloop8:
	CMPQ DI, $8
	JL   ureduce
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (R9)(AX*4), Y4, Y2

ureduce:
	VADDPS       Y3, Y2, Y2
	VEXTRACTF128 $1, Y2, X4
	VADDPS       X4, X2, X2
	VHADDPS      X2, X2, X2
	VHADDPS      X2, X2, X2
	VMOVSS       X2, (R11)(R12*4)
	ADDQ         R13, SI
	INCQ         R12
	JMP          rowloop

done:
	VZEROUPPER
	RET

// func tanhAVX(x *float32, n int, exp bool)
// x[i] = tanh(x[i]), or exp(tanh(x[i])) when exp is set, for n values, n a
// multiple of 8.
TEXT ·tanhAVX(SB), NOSPLIT, $0-17
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVBLZX exp+16(FP), DX
	XORQ AX, AX

loop:
	CMPQ AX, CX
	JGE  done
	VMOVUPS      (SI)(AX*4), Y0
	VBROADCASTSS kconst<>+0(SB), Y1
	VMINPS       Y1, Y0, Y0
	VBROADCASTSS kconst<>+4(SB), Y1
	VMAXPS       Y1, Y0, Y0
	VMULPS       Y0, Y0, Y2             // x2

	// numerator p = x * poly(x2)
	VBROADCASTSS kconst<>+8(SB), Y3
	VBROADCASTSS kconst<>+12(SB), Y4
	VFMADD213PS  Y4, Y2, Y3             // Y3 = Y3*x2 + alpha11
	VBROADCASTSS kconst<>+16(SB), Y4
	VFMADD213PS  Y4, Y2, Y3
	VBROADCASTSS kconst<>+20(SB), Y4
	VFMADD213PS  Y4, Y2, Y3
	VBROADCASTSS kconst<>+24(SB), Y4
	VFMADD213PS  Y4, Y2, Y3
	VBROADCASTSS kconst<>+28(SB), Y4
	VFMADD213PS  Y4, Y2, Y3
	VBROADCASTSS kconst<>+32(SB), Y4
	VFMADD213PS  Y4, Y2, Y3
	VMULPS       Y0, Y3, Y3

	// denominator q
	VBROADCASTSS kconst<>+36(SB), Y5
	VBROADCASTSS kconst<>+40(SB), Y4
	VFMADD213PS  Y4, Y2, Y5
	VBROADCASTSS kconst<>+44(SB), Y4
	VFMADD213PS  Y4, Y2, Y5
	VBROADCASTSS kconst<>+48(SB), Y4
	VFMADD213PS  Y4, Y2, Y5
	VDIVPS       Y5, Y3, Y0             // y = tanh(x)
	TESTL        DX, DX
	JNZ          exppoly
	VMOVUPS      Y0, (SI)(AX*4)
	ADDQ         $8, AX
	JMP          loop

exppoly:

	// exp(y) by Horner
	VBROADCASTSS kconst<>+52(SB), Y3
	VBROADCASTSS kconst<>+56(SB), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS kconst<>+60(SB), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS kconst<>+64(SB), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS kconst<>+68(SB), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS kconst<>+72(SB), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS kconst<>+76(SB), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS kconst<>+80(SB), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS kconst<>+84(SB), Y4
	VFMADD213PS  Y4, Y0, Y3
	VFMADD213PS  Y4, Y0, Y3
	VMOVUPS      Y3, (SI)(AX*4)
	ADDQ         $8, AX
	JMP          loop

done:
	VZEROUPPER
	RET

// func wsumAVX(rows *float32, k, h int, w, dst *float32)
// dst = Σ_c w[c]·rows[c] for k rows of width h (a multiple of 8).
TEXT ·wsumAVX(SB), NOSPLIT, $0-40
	MOVQ rows+0(FP), SI
	MOVQ k+8(FP), CX
	MOVQ h+16(FP), BX
	MOVQ w+24(FP), R8
	MOVQ dst+32(FP), DI
	MOVQ BX, R13
	SHLQ $2, R13
	XORQ AX, AX

col32:
	MOVQ BX, DX
	SUBQ AX, DX
	CMPQ DX, $32
	JL   col8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	LEAQ   (SI)(AX*4), R9
	XORQ   R12, R12

r32:
	CMPQ         R12, CX
	JGE          st32
	VBROADCASTSS (R8)(R12*4), Y4
	VFMADD231PS  (R9), Y4, Y0
	VFMADD231PS  32(R9), Y4, Y1
	VFMADD231PS  64(R9), Y4, Y2
	VFMADD231PS  96(R9), Y4, Y3
	ADDQ         R13, R9
	INCQ         R12
	JMP          r32

st32:
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ    $32, AX
	JMP     col32

col8:
	CMPQ   DX, $8
	JL     done
	VXORPS Y0, Y0, Y0
	LEAQ   (SI)(AX*4), R9
	XORQ   R12, R12

r8:
	CMPQ         R12, CX
	JGE          st8
	VBROADCASTSS (R8)(R12*4), Y4
	VFMADD231PS  (R9), Y4, Y0
	ADDQ         R13, R9
	INCQ         R12
	JMP          r8

st8:
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	MOVQ    BX, DX
	SUBQ    AX, DX
	JMP     col8

done:
	VZEROUPPER
	RET

// func linearAVX(x *float32, n, d, h int, w, b, z *float32)
// z[r] = b + Σ_k x[r,k]·w[k] for n rows: x (n,d), w (d,h), z (n,h); h a
// multiple of 8.
TEXT ·linearAVX(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ d+16(FP), DX
	MOVQ h+24(FP), BX
	MOVQ w+32(FP), R8
	MOVQ b+40(FP), R9
	MOVQ z+48(FP), DI
	MOVQ BX, R13
	SHLQ $2, R13
	MOVQ DX, R14
	SHLQ $2, R14

lrow:
	TESTQ CX, CX
	JZ    ldone
	XORQ  AX, AX

lcol64:
	MOVQ BX, R10
	SUBQ AX, R10
	CMPQ R10, $64
	JL   lcol8
	VMOVUPS (R9)(AX*4), Y0
	VMOVUPS 32(R9)(AX*4), Y1
	VMOVUPS 64(R9)(AX*4), Y2
	VMOVUPS 96(R9)(AX*4), Y3
	VMOVUPS 128(R9)(AX*4), Y5
	VMOVUPS 160(R9)(AX*4), Y6
	VMOVUPS 192(R9)(AX*4), Y7
	VMOVUPS 224(R9)(AX*4), Y8
	LEAQ    (R8)(AX*4), R11
	XORQ    R12, R12

lk64:
	CMPQ         R12, DX
	JGE          lst64
	VBROADCASTSS (SI)(R12*4), Y4
	VFMADD231PS  (R11), Y4, Y0
	VFMADD231PS  32(R11), Y4, Y1
	VFMADD231PS  64(R11), Y4, Y2
	VFMADD231PS  96(R11), Y4, Y3
	VFMADD231PS  128(R11), Y4, Y5
	VFMADD231PS  160(R11), Y4, Y6
	VFMADD231PS  192(R11), Y4, Y7
	VFMADD231PS  224(R11), Y4, Y8
	ADDQ         R13, R11
	INCQ         R12
	JMP          lk64

lst64:
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	VMOVUPS Y5, 128(DI)(AX*4)
	VMOVUPS Y6, 160(DI)(AX*4)
	VMOVUPS Y7, 192(DI)(AX*4)
	VMOVUPS Y8, 224(DI)(AX*4)
	ADDQ    $64, AX
	JMP     lcol64

lcol8:
	CMPQ    R10, $8
	JL      lnext
	VMOVUPS (R9)(AX*4), Y0
	LEAQ    (R8)(AX*4), R11
	XORQ    R12, R12

lk8:
	CMPQ         R12, DX
	JGE          lst8
	VBROADCASTSS (SI)(R12*4), Y4
	VFMADD231PS  (R11), Y4, Y0
	ADDQ         R13, R11
	INCQ         R12
	JMP          lk8

lst8:
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	MOVQ    BX, R10
	SUBQ    AX, R10
	JMP     lcol8

lnext:
	ADDQ R14, SI
	ADDQ R13, DI
	DECQ CX
	JMP  lrow

ldone:
	VZEROUPPER
	RET

// func linear4x16(k int, x *float32, ldx int, w *float32, ldw int, b, z *float32, ldz int)
// z[r, 0:16] = b[0:16] + Σ_l x[r,l]·w[l, 0:16] for the 4 rows r of x
// (stride ldx) and z (stride ldz), w with stride ldw: the four rows share
// each load of w. Every element is accumulated from b in the order of l
// with one fused multiply-add per term, as linearAVX does, so the two give
// the same bits.
TEXT ·linear4x16(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), R8
	MOVQ w+24(FP), DI
	MOVQ ldw+32(FP), R9
	MOVQ b+40(FP), AX
	MOVQ z+48(FP), DX
	MOVQ ldz+56(FP), R10
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R10
	LEAQ (SI)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y1, Y3
	VMOVAPS Y0, Y4
	VMOVAPS Y1, Y5
	VMOVAPS Y0, Y6
	VMOVAPS Y1, Y7
	TESTQ CX, CX
	JEQ   l4store

l4loop:
	VMOVUPS      (DI), Y8
	VMOVUPS      32(DI), Y9
	VBROADCASTSS (SI), Y10
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y10, Y1
	VBROADCASTSS (R11), Y11
	VFMADD231PS  Y8, Y11, Y2
	VFMADD231PS  Y9, Y11, Y3
	VBROADCASTSS (R12), Y12
	VFMADD231PS  Y8, Y12, Y4
	VFMADD231PS  Y9, Y12, Y5
	VBROADCASTSS (R13), Y13
	VFMADD231PS  Y8, Y13, Y6
	VFMADD231PS  Y9, Y13, Y7
	ADDQ         $4, SI
	ADDQ         $4, R11
	ADDQ         $4, R12
	ADDQ         $4, R13
	ADDQ         R9, DI
	DECQ         CX
	JNZ          l4loop

l4store:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ    R10, DX
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, 32(DX)
	ADDQ    R10, DX
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	ADDQ    R10, DX
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	VZEROUPPER
	RET
