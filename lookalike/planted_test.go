package lookalike

import (
	"math"
	"math/rand/v2"

	"github.com/ralmlab/ralm/internal/auc"
)

// planted is synthetic look-alike data with a known structure: users belong
// to communities and their embeddings are noisy community centres; an item
// is clicked by users of one to three communities plus a few random users.
type planted struct {
	dim      int
	emb      []float32 // users × dim
	comm     []int     // community of each user
	train    [][]int32 // clickers of training items
	test     [][]int32 // clickers of held-out items
	testComm [][]int   // communities of each held-out item
	act      []float64 // activity multiplier of each user (1 without skew)
}

type plantedSpec struct {
	users, comms, dim     int
	trainItems, testItems int
	noise                 float64 // embedding noise std relative to centre norm
	nuisance              int     // extra embedding dimensions carrying only noise
	nuisanceStd           float64 // their standard deviation
	clickRate             float64 // click probability of a member of an item's community
	randomRate            float64 // click probability of any other user
	// activitySkew, if positive, gives every user a log-normal activity
	// multiplier exp(σz − σ²/2) (σ = activitySkew) on both click rates
	// (capped at 1), and one more embedding dimension ±sqrt(multiplier)
	// with a random sign: the user model's view of how much a user clicks,
	// in a direction that similar users do not share (the mean of a group of
	// users is near zero on it), so a cosine with an item's seeds cannot
	// use it.
	activitySkew float64
	seed         uint64
}

func makePlanted(sp plantedSpec) *planted {
	rng := rand.New(rand.NewPCG(sp.seed, 1234))
	centres := make([]float64, sp.comms*sp.dim)
	for i := range centres {
		centres[i] = rng.NormFloat64()
	}
	full := sp.dim + sp.nuisance
	if sp.activitySkew > 0 {
		full++
	}
	p := &planted{dim: full, emb: make([]float32, sp.users*full), comm: make([]int, sp.users), act: make([]float64, sp.users)}
	members := make([][]int32, sp.comms)
	for u := 0; u < sp.users; u++ {
		c := rng.IntN(sp.comms)
		p.comm[u] = c
		members[c] = append(members[c], int32(u))
		scale := 0.5 + rng.Float64() // users differ in norm, as real embeddings do
		for j := 0; j < sp.dim; j++ {
			p.emb[u*full+j] = float32(scale * (centres[c*sp.dim+j] + sp.noise*rng.NormFloat64()))
		}
		for j := sp.dim; j < sp.dim+sp.nuisance; j++ {
			p.emb[u*full+j] = float32(sp.nuisanceStd * rng.NormFloat64())
		}
		p.act[u] = 1
		if s := sp.activitySkew; s > 0 {
			z := rng.NormFloat64()
			p.act[u] = math.Exp(s*z - s*s/2)
			sign := 1.0
			if rng.IntN(2) == 0 {
				sign = -1
			}
			p.emb[u*full+full-1] = float32(sign * math.Exp(s*z/2))
		}
	}
	item := func() ([]int32, []int) {
		nc := 1 + rng.IntN(3)
		cs := rng.Perm(sp.comms)[:nc]
		in := make(map[int]bool)
		for _, c := range cs {
			in[c] = true
		}
		var cl []int32
		for u := 0; u < sp.users; u++ {
			r := sp.randomRate
			if in[p.comm[u]] {
				r = sp.clickRate
			}
			if rng.Float64() < r*p.act[u] {
				cl = append(cl, int32(u))
			}
		}
		return cl, cs
	}
	for i := 0; i < sp.trainItems; i++ {
		cl, _ := item()
		p.train = append(p.train, cl)
	}
	for i := 0; i < sp.testItems; i++ {
		cl, cs := item()
		p.test = append(p.test, cl)
		p.testComm = append(p.testComm, cs)
	}
	return p
}

// heldOut evaluates a scorer on the held-out items: the first half of each
// item's clickers (in a fixed random order) are its seeds, the other half
// are positives, and every other user is a negative. It returns the mean
// per-item AUC.
func (p *planted) heldOut(seed uint64, score func(seeds []float32, users []int32) []float32) float64 {
	rng := rand.New(rand.NewPCG(seed, 77))
	users := len(p.comm)
	var sum float64
	n := 0
	for _, cl := range p.test {
		if len(cl) < 4 {
			continue
		}
		perm := append([]int32(nil), cl...)
		rng.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		ns := len(perm) / 2
		seedIDs, pos := perm[:ns], perm[ns:]
		clicked := make(map[int32]bool)
		for _, u := range cl {
			clicked[u] = true
		}
		var neg []int32
		for u := 0; u < users; u++ {
			if !clicked[int32(u)] {
				neg = append(neg, int32(u))
			}
		}
		seeds := make([]float32, 0, ns*p.dim)
		for _, u := range seedIDs {
			seeds = append(seeds, p.emb[int(u)*p.dim:(int(u)+1)*p.dim]...)
		}
		cand := append(append([]int32(nil), pos...), neg...)
		s := score(seeds, cand)
		sum += auc.PosNeg(s[:len(pos)], s[len(pos):])
		n++
	}
	return sum / float64(n)
}

// centroidScorer is the centroid-cosine baseline: cosine of the raw user
// embedding with the mean seed embedding.
func (p *planted) centroidScorer(seeds []float32, users []int32) []float32 {
	d := p.dim
	mean := make([]float64, d)
	ns := len(seeds) / d
	for s := 0; s < ns; s++ {
		for j := 0; j < d; j++ {
			mean[j] += float64(seeds[s*d+j]) / float64(ns)
		}
	}
	out := make([]float32, len(users))
	for i, u := range users {
		var dd, uu, mm float64
		for j := 0; j < d; j++ {
			x := float64(p.emb[int(u)*d+j])
			dd += x * mean[j]
			uu += x * x
			mm += mean[j] * mean[j]
		}
		out[i] = float32(dd / math.Sqrt(uu*mm+1e-12))
	}
	return out
}

// knnScorer is the mean of the 10 highest cosines between a user and the
// seeds (raw embeddings).
func (p *planted) knnScorer(seeds []float32, users []int32) []float32 {
	d := p.dim
	ns := len(seeds) / d
	norm := func(v []float32) []float64 {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		s = math.Sqrt(s + 1e-12)
		o := make([]float64, len(v))
		for i, x := range v {
			o[i] = float64(x) / s
		}
		return o
	}
	sn := make([][]float64, ns)
	for s := range sn {
		sn[s] = norm(seeds[s*d : (s+1)*d])
	}
	out := make([]float32, len(users))
	cs := make([]float64, ns)
	for i, u := range users {
		un := norm(p.emb[int(u)*d : (int(u)+1)*d])
		for s := range sn {
			var dd float64
			for j := range un {
				dd += un[j] * sn[s][j]
			}
			cs[s] = dd
		}
		sortDesc(cs)
		k := min(10, ns)
		var sum float64
		for _, c := range cs[:k] {
			sum += c
		}
		out[i] = float32(sum / float64(k))
	}
	return out
}

func sortDesc(x []float64) {
	for i := 1; i < len(x); i++ {
		for j := i; j > 0 && x[j] > x[j-1]; j-- {
			x[j], x[j-1] = x[j-1], x[j]
		}
	}
}
