package graphop

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/chewxy/hm"
	"github.com/ralmlab/ralm/internal/cputime"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// failOp fails while *fail is set and otherwise doubles its input; it
// records the goroutine it runs on in *gid.
type failOp struct {
	OpBase
	fail *bool
	gid  *string
}

// goroutineID is the calling goroutine's number, from its stack trace.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := bytes.Fields(buf)
	if len(f) < 2 {
		return ""
	}
	return string(f[1]) // "goroutine N [running]:"
}

func (op failOp) Arity() int    { return 1 }
func (op failOp) Type() hm.Type { return FnType(1, 1) }
func (op failOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op failOp) DiffWRT(int) []bool { return []bool{false} }
func (op failOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, errors.New("not differentiable")
}
func (op failOp) Do(v ...G.Value) (G.Value, error) {
	*op.gid = goroutineID()
	if *op.fail {
		return nil, errors.New("planted failure")
	}
	out := NewLike(v[0], v[0].Shape()...)
	for i, x := range v[0].Data().([]float64) {
		out.Data().([]float64)[i] = 2 * x
	}
	return out, nil
}

// TestTapeRun: a Tape runs its program on the calling goroutine (not
// through RunAll) with the same results run after run, reports an op's
// error with the graph's name, and runs normally again after a failed run.
func TestTapeRun(t *testing.T) {
	g := G.NewGraph()
	xv := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{1, 2, 3}))
	x := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("x"), G.WithValue(xv))
	fail, gid := false, ""
	y := G.Must(G.ApplyOp(failOp{OpBase{Name: "fail"}, &fail, &gid}, x))
	var sum G.Value
	s := G.Must(G.Sum(y))
	tape, err := CompileTape(g, "test graph", nil, map[*G.Node]*tensor.Dense{x: xv}, G.Nodes{G.Read(s, &sum)})
	if err != nil {
		t.Fatal(err)
	}
	defer tape.Close()
	for run := 0; run < 3; run++ {
		fail = run == 1
		err := tape.Run()
		switch {
		case fail && (err == nil || !strings.Contains(err.Error(), "run test graph") || !strings.Contains(err.Error(), "planted failure")):
			t.Fatalf("run %d: error %v, want the planted failure in the test graph", run, err)
		case !fail && err != nil:
			t.Fatalf("run %d: %v", run, err)
		case !fail && Float(sum) != 12:
			t.Fatalf("run %d: sum %v, want 12", run, Float(sum))
		case gid != goroutineID():
			t.Fatalf("run %d: the op ran on goroutine %s, not on the caller's %s", run, gid, goroutineID())
		}
		xv.Data().([]float64)[0] = 1 // inputs stay bound between runs
	}
	if _, err := NewTape(G.NewLispMachine(g), "lisp"); err == nil {
		t.Error("NewTape took a machine that is not a tape machine")
	}
	if !gorgoniaChecked() {
		t.Errorf("the test binary does not link gorgonia %s", gorgoniaVersion)
	}
}

// BenchmarkRunTwoTapes runs two tapes (a 3-layer 256×256 network each, a
// few ms per run) at the same time, one per goroutine, through gorgonia's
// RunAll (locked-thread) and through Tape.Run (on the caller), and reports
// the cores in use: the hand-over of every RunAll leaves cores idle.
func BenchmarkRunTwoTapes(b *testing.B) {
	build := func() (*Tape, G.VM) {
		g := G.NewGraph()
		x := G.NewMatrix(g, tensor.Float32, G.WithShape(256, 256), G.WithName("x"), G.WithInit(G.Gaussian(0, 1)))
		h := x
		var ws G.Nodes
		for i := 0; i < 3; i++ {
			w := G.NewMatrix(g, tensor.Float32, G.WithShape(256, 256), G.WithName(string(rune('a'+i))), G.WithInit(G.Gaussian(0, 0.05)))
			ws = append(ws, w)
			h = G.Must(G.Tanh(G.Must(MatMul(h, w))))
		}
		loss := G.Must(G.Sum(h))
		if _, err := G.Grad(loss, ws...); err != nil {
			b.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		tape, err := NewTape(vm, "bench")
		if err != nil {
			b.Fatal(err)
		}
		return tape, vm
	}
	for _, mode := range []string{"RunAll", "Tape.Run"} {
		b.Run(mode, func(b *testing.B) {
			var tapes [2]*Tape
			var vms [2]G.VM
			for i := range tapes {
				tapes[i], vms[i] = build()
				defer tapes[i].Close()
			}
			c0 := cputime.Process()
			b.ResetTimer()
			done := make(chan error, 2)
			for i := range tapes {
				go func() {
					for n := 0; n < b.N; n++ {
						var err error
						if mode == "RunAll" {
							err = vms[i].RunAll()
							vms[i].Reset()
						} else {
							err = tapes[i].Run()
						}
						if err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}()
			}
			for range tapes {
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cputime.Process()-c0)/float64(b.Elapsed()), "cores")
		})
	}
}
