package graphop

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gradCheck builds loss = Σ (f(params) ⊙ R)² in float64 and compares the
// analytic gradient of every parameter from index from on with central
// differences (the earlier ones are data inputs).
func gradCheck(t *testing.T, shapes [][]int, from int, f func(p []*G.Node) (*G.Node, error)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	g := G.NewGraph()
	var params []*G.Node
	for i, s := range shapes {
		v := tensor.New(tensor.WithShape(s...), tensor.WithBacking(randData(rng, s)))
		params = append(params, G.NewTensor(g, tensor.Float64, len(s), G.WithShape(s...), G.WithValue(v), G.WithName(string(rune('a'+i)))))
	}
	out, err := f(params)
	if err != nil {
		t.Fatal(err)
	}
	os := out.Shape()
	r := G.NewTensor(g, tensor.Float64, os.Dims(), G.WithShape(os...), G.WithName("r"),
		G.WithValue(tensor.New(tensor.WithShape(os...), tensor.WithBacking(randData(rng, os)))))
	loss := G.Must(G.Sum(G.Must(G.Square(G.Must(G.HadamardProd(out, r))))))
	grads, err := G.Grad(loss, params[from:]...)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	run := func() float64 {
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		l := loss.Value().Data().(float64)
		vm.Reset()
		return l
	}
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	analytic := make([][]float64, len(grads))
	for i, gn := range grads {
		analytic[i] = append([]float64(nil), gn.Value().Data().([]float64)...)
	}
	vm.Reset()
	const eps = 1e-6
	for i, p := range params[from:] {
		data := p.Value().Data().([]float64)
		for j := range data {
			x := data[j]
			data[j] = x + eps
			lp := run()
			data[j] = x - eps
			lm := run()
			data[j] = x
			num := (lp - lm) / (2 * eps)
			if math.Abs(num-analytic[i][j]) > 1e-6*math.Max(1, math.Abs(num)) {
				t.Fatalf("param %d [%d]: analytic %v, numeric %v", i, j, analytic[i][j], num)
			}
		}
	}
}

func randData(rng *rand.Rand, s []int) []float64 {
	n := 1
	for _, d := range s {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func TestGradients(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shapes [][]int
		from   int
		f      func(p []*G.Node) (*G.Node, error)
	}{
		{"Reshape", [][]int{{2, 3, 4}}, 0, func(p []*G.Node) (*G.Node, error) { return Reshape(p[0], 6, 4) }},
		{"Tanh", [][]int{{3, 2, 4}}, 0, func(p []*G.Node) (*G.Node, error) { return Tanh(p[0]) }},
		{"SoftMax/0", [][]int{{3, 2, 4}}, 0, func(p []*G.Node) (*G.Node, error) { return SoftMax(p[0], 0) }},
		{"SoftMax/1", [][]int{{3, 4, 2}}, 0, func(p []*G.Node) (*G.Node, error) { return SoftMax(p[0], 1) }},
		{"SoftMax/2", [][]int{{2, 3, 4}}, 0, func(p []*G.Node) (*G.Node, error) { return SoftMax(p[0], 2) }},
		{"ConcatCols", [][]int{{4, 3}, {4, 2}}, 0, func(p []*G.Node) (*G.Node, error) { return ConcatCols(p[0], p[1]) }},
		{"MatMul", [][]int{{5, 3}, {3, 4}}, 0, func(p []*G.Node) (*G.Node, error) { return MatMul(p[0], p[1]) }},
		{"Affine", [][]int{{5, 3}, {3, 4}, {4}}, 0, func(p []*G.Node) (*G.Node, error) { return Affine(p[0], p[1], p[2]) }},
		{"Linear", [][]int{{5, 3}, {3, 4}, {4}}, 1, func(p []*G.Node) (*G.Node, error) {
			return Linear(p[0], p[1], p[2]) // X is a data input: no gradient
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { gradCheck(t, tc.shapes, tc.from, tc.f) })
	}
}

// TestReshapeCopies checks that the reshape does not alias its input (the
// bug it exists for): an in-place change of the output leaves x alone.
func TestReshapeCopies(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{1, 2, 3, 4, 5, 6}))))
	y := G.Must(Reshape(x, 3, 2))
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	yd := y.Value().Data().([]float64)
	if s := y.Shape(); !s.Eq(tensor.Shape{3, 2}) || yd[5] != 6 {
		t.Fatalf("reshape gave shape %v data %v", s, yd)
	}
	yd[0] = 100
	if x.Value().Data().([]float64)[0] != 1 {
		t.Fatal("the reshape's output aliases its input")
	}
}

// TestLinearFloat32 checks the float32 (kernel) path against float64 maths.
func TestLinearFloat32(t *testing.T) {
	const n, d, h = 7, 5, 16
	rng := rand.New(rand.NewPCG(3, 4))
	mk := func(s ...int) ([]float32, *tensor.Dense) {
		v := make([]float32, tensor.Shape(s).TotalSize())
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v, tensor.New(tensor.WithShape(s...), tensor.WithBacking(v))
	}
	g := G.NewGraph()
	xd, xt := mk(n, d)
	wd, wt := mk(d, h)
	bd, bt := mk(h)
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(n, d), G.WithName("x"), G.WithValue(xt))
	w := G.NewMatrix(g, tensor.Float32, G.WithShape(d, h), G.WithName("w"), G.WithValue(wt))
	b := G.NewVector(g, tensor.Float32, G.WithShape(h), G.WithName("b"), G.WithValue(bt))
	z := G.Must(Linear(x, w, b))
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	zd := z.Value().Data().([]float32)
	for i := 0; i < n; i++ {
		for j := 0; j < h; j++ {
			want := float64(bd[j])
			for k := 0; k < d; k++ {
				want += float64(xd[i*d+k]) * float64(wd[k*h+j])
			}
			if math.Abs(float64(zd[i*h+j])-want) > 1e-5*math.Max(1, math.Abs(want)) {
				t.Fatalf("z[%d,%d] = %v, want %v", i, j, zd[i*h+j], want)
			}
		}
	}
}

// TestSig checks the signature an op with an optional input gets from Sig
// and Opt: arity, type and differentiable inputs with and without it.
func TestSig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		present bool
		arity   int
		typ     string
		diff    []bool
	}{
		{"without the optional input", false, 2, "Matrix a → Vector a → Tensor-3 a", []bool{true, true}},
		{"with the optional input", true, 3, "Matrix a → Vector a → Matrix a → Tensor-3 a", []bool{true, true, false}},
	} {
		s := Sig{In: Opt([]int{2, 1}, tc.present, 2), Out: 3, Diff: []bool{true, true}}
		if s.Arity() != tc.arity {
			t.Errorf("%s: arity %d, want %d", tc.name, s.Arity(), tc.arity)
		}
		if got := s.Type().String(); got != tc.typ {
			t.Errorf("%s: type %s, want %s", tc.name, got, tc.typ)
		}
		if got := s.DiffWRT(s.Arity()); !slices.Equal(got, tc.diff) {
			t.Errorf("%s: DiffWRT %v, want %v", tc.name, got, tc.diff)
		}
	}
}

// TestApplyOptional checks that Apply leaves out a nil (absent) input.
func TestApplyOptional(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("x"))
	y, err := Apply(newReshapeCopy(tensor.Shape{2, 3}, tensor.Shape{3, 2}), x, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := y.Shape(); !s.Eq(tensor.Shape{3, 2}) {
		t.Fatalf("shape %v, want (3, 2)", s)
	}
}

// TestSoftMaxMatchesGorgonia: SoftMax and its gradient give the same bits as
// gorgonia's SoftMax, in float32 and float64, for the shapes and axes the
// models use (fields of (F,B,1) over axis 0; centroid slots of (B,K,1) and
// (B,K,T) over axis 1).
func TestSoftMaxMatchesGorgonia(t *testing.T) {
	for _, c := range []struct {
		shape []int
		axis  int
	}{{[]int{6, 128, 1}, 0}, {[]int{26, 20, 1}, 1}, {[]int{26, 20, 10}, 1}} {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			run := func(ours bool) (y, dx []float64) {
				rng := rand.New(rand.NewPCG(3, 4))
				g := G.NewGraph()
				x := G.NewTensor(g, dt, len(c.shape), G.WithShape(c.shape...), G.WithName("x"))
				w := G.NewTensor(g, dt, len(c.shape), G.WithShape(c.shape...), G.WithName("w"))
				for _, n := range []*G.Node{x, w} { // the same values for both runs
					var back any = randData(rng, c.shape)
					if dt == tensor.Float32 {
						back = toF32(back.([]float64))
					}
					if err := G.Let(n, tensor.New(tensor.WithShape(c.shape...), tensor.WithBacking(back))); err != nil {
						t.Fatal(err)
					}
				}
				var s *G.Node
				if ours {
					s = G.Must(SoftMax(x, c.axis))
				} else {
					s = G.Must(G.SoftMax(x, c.axis))
				}
				y, grads := valueAndGrads(t, g, s, w, x)
				return y, grads[0]
			}
			y0, dx0 := run(false)
			y1, dx1 := run(true)
			if !slices.Equal(y0, y1) || !slices.Equal(dx0, dx1) {
				t.Errorf("%v over axis %d, %v: SoftMax or its gradient differs from gorgonia's", c.shape, c.axis, dt)
			}
		}
	}
}

// valueAndGrads runs g once with the loss Σ out ⊙ w and returns out's
// value and the loss's gradients with respect to wrt, widened to float64:
// the probe of the tests that compare an op with gorgonia's own.
func valueAndGrads(t *testing.T, g *G.ExprGraph, out, w *G.Node, wrt ...*G.Node) (y []float64, grads [][]float64) {
	t.Helper()
	var ov G.Value
	G.Read(out, &ov)
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(out, w))))
	gs, err := G.Grad(loss, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	for _, gn := range gs {
		grads = append(grads, toF64(gn.Value().Data()))
	}
	return toF64(ov.Data()), grads
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// toF64 widens float32 or float64 data to float64 (exactly).
func toF64(d any) []float64 {
	switch v := d.(type) {
	case []float32:
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return slices.Clone(v)
	}
	return nil
}

// TestConcatColsIsConcat checks ConcatCols against gorgonia's Concat on
// axis 1, values and the gradients of both inputs, bit for bit, and that
// shapes it cannot join are refused.
func TestConcatColsIsConcat(t *testing.T) {
	run := func(join func(a, b *G.Node) (*G.Node, error)) (out []float64, grads [][]float64) {
		t.Helper()
		g := G.NewGraph()
		rng := rand.New(rand.NewPCG(3, 4))
		a := G.NewMatrix(g, tensor.Float64, G.WithShape(5, 3), G.WithName("a"),
			G.WithValue(tensor.New(tensor.WithShape(5, 3), tensor.WithBacking(randData(rng, []int{5, 3})))))
		b := G.NewMatrix(g, tensor.Float64, G.WithShape(5, 2), G.WithName("b"),
			G.WithValue(tensor.New(tensor.WithShape(5, 2), tensor.WithBacking(randData(rng, []int{5, 2})))))
		w := G.NewMatrix(g, tensor.Float64, G.WithShape(5, 5), G.WithName("w"),
			G.WithValue(tensor.New(tensor.WithShape(5, 5), tensor.WithBacking(randData(rng, []int{5, 5})))))
		return valueAndGrads(t, g, G.Must(join(a, b)), w, a, b)
	}
	gotOut, gotGrads := run(ConcatCols)
	wantOut, wantGrads := run(func(a, b *G.Node) (*G.Node, error) { return G.Concat(1, a, b) })
	if !slices.Equal(gotOut, wantOut) {
		t.Errorf("values differ from gorgonia's Concat:\n%v\n%v", gotOut, wantOut)
	}
	for i := range wantGrads {
		if !slices.Equal(gotGrads[i], wantGrads[i]) {
			t.Errorf("gradient %d differs from gorgonia's Concat", i)
		}
	}
	g := G.NewGraph()
	a := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("a"))
	b := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 3), G.WithName("b"))
	v := G.NewVector(g, tensor.Float64, G.WithShape(2), G.WithName("v"))
	for _, tc := range []struct {
		name string
		x, y *G.Node
	}{{"row counts differ", a, b}, {"a vector", a, v}} {
		if _, err := ConcatCols(tc.x, tc.y); err == nil {
			t.Errorf("%s: joined", tc.name)
		}
	}
}
