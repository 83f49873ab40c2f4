package lookalike

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
)

// Dropout masks drawn in parallel. A step's masks (the seed slots', then the
// target slots') are one run of the dropout generator, four mask values per
// draw (16 bits each). Any stretch of that run can be computed from the
// generator's state at the step's start, moved ahead by the number of
// draws before the stretch (math/rand/v2's PCG is a 128-bit linear
// congruential generator, which jumps n steps in O(log n)), so each worker
// draws its rows' masks itself, with the same bits as one pass over the
// batch.

// pcgState is the 128-bit state of a math/rand/v2 PCG.
type pcgState struct{ hi, lo uint64 }

// stateOf returns p's state.
func stateOf(p *rand.PCG) pcgState {
	b, _ := p.MarshalBinary() // "pcg:" + hi + lo, big-endian
	return pcgState{binary.BigEndian.Uint64(b[4:]), binary.BigEndian.Uint64(b[12:])}
}

// setState sets p's state to s.
func setState(p *rand.PCG, s pcgState) {
	b := make([]byte, 0, 20)
	b = append(b, "pcg:"...)
	b = binary.BigEndian.AppendUint64(b, s.hi)
	b = binary.BigEndian.AppendUint64(b, s.lo)
	if err := p.UnmarshalBinary(b); err != nil {
		panic(fmt.Sprintf("lookalike: set PCG state: %v", err)) // the encoding above is PCG's own
	}
}

// The multiplier and increment of math/rand/v2's PCG (pcg.go, next).
var (
	pcgMul = pcgState{2549297995355413924, 4865540595714422341}
	pcgInc = pcgState{6364136223846793005, 1442695040888963407}
)

// mul returns a·b mod 2¹²⁸.
func (a pcgState) mul(b pcgState) pcgState {
	hi, lo := bits.Mul64(a.lo, b.lo)
	hi += a.hi*b.lo + a.lo*b.hi
	return pcgState{hi, lo}
}

// add returns a+b mod 2¹²⁸.
func (a pcgState) add(b pcgState) pcgState {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, _ := bits.Add64(a.hi, b.hi, c)
	return pcgState{hi, lo}
}

// jump returns the state n draws after s (F. Brown, "Random number
// generation with arbitrary strides", 1994).
func (s pcgState) jump(n uint64) pcgState {
	accMul, accAdd := pcgState{0, 1}, pcgState{}
	curMul, curAdd := pcgMul, pcgInc
	for ; n > 0; n >>= 1 {
		if n&1 == 1 {
			accMul = accMul.mul(curMul)
			accAdd = accAdd.mul(curMul).add(curAdd)
		}
		curAdd = curMul.add(pcgState{0, 1}).mul(curAdd)
		curMul = curMul.mul(curMul)
	}
	return accMul.mul(s).add(accAdd)
}

// dropoutValues is the number of mask values per draw.
const dropoutValues = 4

// dropoutDraws is the number of draws of a mask of n values.
func dropoutDraws(n int) uint64 { return uint64((n + dropoutValues - 1) / dropoutValues) }

// fillDropout writes an inverted-dropout mask (0 with probability p, else
// 1/(1-p)) into dst: values from the from-th on of the mask whose first
// draw is the one after state start. It uses src as scratch.
func fillDropout(src *rand.PCG, start pcgState, from int, dst []float32, p float32) {
	setState(src, start.jump(uint64(from/dropoutValues)))
	keep := 1 / (1 - p)
	thr := uint32(float64(p) * (1 << 16))
	skip := from % dropoutValues // values of the first draw before from
	for i := 0; i < len(dst); {
		r := src.Uint64() >> (16 * skip)
		for k := skip; k < dropoutValues && i < len(dst); k++ {
			if uint32(r&0xffff) < thr {
				dst[i] = 0
			} else {
				dst[i] = keep
			}
			r >>= 16
			i++
		}
		skip = 0
	}
}
