//go:build amd64 && !purego

#include "textflag.h"

// PReLU kernels of prelu.go over rows×h8 values (h8 a multiple of 8 and
// > 0, rows > 0) in rows of stride floats; alpha is not advanced by row. A
// nil mask multiplies by one. Products and sums are rounded separately (no
// FMA), as the Go loops are. Operand order: VMAXPS b, a, d is Intel's
// d = a > b ? a : b and VMINPS b, a, d is d = a < b ? a : b.

DATA preluOne<>+0(SB)/4, $0x3f800000
GLOBL preluOne<>(SB), RODATA|NOPTR, $4

// func preluFwdAVX(y, z, alpha, mask *float32, rows, h8, stride int)
// y = (max(z,0) + alpha·min(z,0)) ⊙ mask.
TEXT ·preluFwdAVX(SB), NOSPLIT, $0-56
	MOVQ   y+0(FP), DI
	MOVQ   z+8(FP), SI
	MOVQ   alpha+16(FP), R8
	MOVQ   mask+24(FP), R9
	MOVQ   rows+32(FP), CX
	MOVQ   h8+40(FP), R10
	MOVQ   stride+48(FP), R11
	SHLQ   $2, R10
	SHLQ   $2, R11
	VXORPS Y0, Y0, Y0

fwdrow:
	XORQ AX, AX

fwdcol:
	VMOVUPS (SI)(AX*1), Y1
	VMAXPS  Y0, Y1, Y2         // z > 0 ? z : 0 (+0 for -0, as Go's max)
	VMINPS  Y1, Y0, Y3         // 0 < z ? 0 : z (-0 for -0, as Go's min)
	VMULPS  (R8)(AX*1), Y3, Y3
	VADDPS  Y3, Y2, Y2
	TESTQ   R9, R9
	JEQ     fwdstore
	VMULPS  (R9)(AX*1), Y2, Y2

fwdstore:
	VMOVUPS Y2, (DI)(AX*1)
	ADDQ    $32, AX
	CMPQ    AX, R10
	JNE     fwdcol
	ADDQ    R11, DI
	ADDQ    R11, SI
	TESTQ   R9, R9
	JEQ     fwdnext
	ADDQ    R11, R9

fwdnext:
	DECQ CX
	JNZ  fwdrow
	VZEROUPPER
	RET

// func preluGradZAVX(dst, z, alpha, grad, mask *float32, rows, h8, stride int)
// dst = g·(1 + (alpha−1)·signbit(z)) ⊙ mask.
TEXT ·preluGradZAVX(SB), NOSPLIT, $0-64
	MOVQ         dst+0(FP), DI
	MOVQ         z+8(FP), SI
	MOVQ         alpha+16(FP), R8
	MOVQ         grad+24(FP), DX
	MOVQ         mask+32(FP), R9
	MOVQ         rows+40(FP), CX
	MOVQ         h8+48(FP), R10
	MOVQ         stride+56(FP), R11
	SHLQ         $2, R10
	SHLQ         $2, R11
	VBROADCASTSS preluOne<>(SB), Y0

gzrow:
	XORQ AX, AX

gzcol:
	VMOVUPS   (SI)(AX*1), Y1
	VPSRLD    $31, Y1, Y1      // the sign bit as 0 or 1
	VCVTDQ2PS Y1, Y1
	VMOVUPS   (R8)(AX*1), Y2
	VSUBPS    Y0, Y2, Y2       // alpha − 1
	VMULPS    Y1, Y2, Y2
	VADDPS    Y0, Y2, Y2       // 1 + (alpha−1)·s
	VMULPS    (DX)(AX*1), Y2, Y2
	TESTQ     R9, R9
	JEQ       gzstore
	VMULPS    (R9)(AX*1), Y2, Y2

gzstore:
	VMOVUPS Y2, (DI)(AX*1)
	ADDQ    $32, AX
	CMPQ    AX, R10
	JNE     gzcol
	ADDQ    R11, DI
	ADDQ    R11, SI
	ADDQ    R11, DX
	TESTQ   R9, R9
	JEQ     gznext
	ADDQ    R11, R9

gznext:
	DECQ CX
	JNZ  gzrow
	VZEROUPPER
	RET

// func preluGradAlphaAVX(dst, z, grad, mask *float32, rows, h8, stride int)
// dst += g·min(z,0) ⊙ mask, one row after another.
TEXT ·preluGradAlphaAVX(SB), NOSPLIT, $0-56
	MOVQ   dst+0(FP), DI
	MOVQ   z+8(FP), SI
	MOVQ   grad+16(FP), DX
	MOVQ   mask+24(FP), R9
	MOVQ   rows+32(FP), CX
	MOVQ   h8+40(FP), R10
	MOVQ   stride+48(FP), R11
	SHLQ   $2, R10
	SHLQ   $2, R11
	VXORPS Y0, Y0, Y0

garow:
	XORQ AX, AX

gacol:
	VMOVUPS (SI)(AX*1), Y1
	VMINPS  Y1, Y0, Y1         // 0 < z ? 0 : z
	VMULPS  (DX)(AX*1), Y1, Y1
	TESTQ   R9, R9
	JEQ     gaadd
	VMULPS  (R9)(AX*1), Y1, Y1

gaadd:
	VADDPS  (DI)(AX*1), Y1, Y1
	VMOVUPS Y1, (DI)(AX*1)
	ADDQ    $32, AX
	CMPQ    AX, R10
	JNE     gacol
	ADDQ    R11, SI
	ADDQ    R11, DX
	TESTQ   R9, R9
	JEQ     ganext
	ADDQ    R11, R9

ganext:
	DECQ CX
	JNZ  garow
	VZEROUPPER
	RET
