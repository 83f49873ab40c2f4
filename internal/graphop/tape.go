package graphop

import (
	"fmt"
	"sort"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Tape is a compiled step graph: a tape machine that runs only the part of
// the graph its outputs need, on the calling goroutine (see runall.go).
type Tape struct {
	vm   G.VM
	sync *syncRunner // runs vm on the calling goroutine (runall.go)
	name string      // in Run's errors: "run <name>: …"
}

// ReadGrads differentiates loss with respect to wrt and appends a Read of
// every gradient to outputs. The gradient values of the last run land in
// the returned values slice, in wrt order.
func ReadGrads(loss *G.Node, wrt, outputs G.Nodes) (grads G.Nodes, values []G.Value, outs G.Nodes, err error) {
	grads, err = G.Grad(loss, wrt...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("gradients: %w", err)
	}
	values = make([]G.Value, len(grads))
	for i, gn := range grads {
		outputs = append(outputs, G.Read(gn, &values[i]))
	}
	return grads, values, outputs, nil
}

// CompileTape compiles only what outputs need, with the parameters and the
// data inputs (the keys of data) as the program's inputs: gorgonia's
// full-graph compile would also run the gradients of the data inputs, which
// nobody reads. The inputs are sorted by node ID so every build of the same
// graph compiles the same program. name names the graph in Run's errors.
func CompileTape(g *G.ExprGraph, name string, params G.Nodes, data map[*G.Node]*tensor.Dense, outputs G.Nodes) (*Tape, error) {
	inputs := append(G.Nodes(nil), params...)
	for n := range data {
		inputs = append(inputs, n)
	}
	sort.Slice(inputs, func(a, b int) bool { return inputs[a].ID() < inputs[b].ID() })
	prog, locMap, err := G.CompileFunction(g, inputs, outputs)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	return NewTape(G.NewTapeMachine(g, G.WithPrecompiled(prog, locMap)), name)
}

// NewTape wraps a gorgonia tape machine (one that binds no dual values) as
// a Tape. name names the graph in Run's errors.
func NewTape(vm G.VM, name string) (*Tape, error) {
	r := newSyncRunner(vm)
	if r == nil {
		return nil, fmt.Errorf("compile %s: %T is not the tape machine of gorgonia %s", name, vm, gorgoniaVersion)
	}
	return &Tape{vm: vm, sync: r, name: name}, nil
}

// Run executes the tape once (forward, and backward when it holds
// gradients) and resets the machine for the next run.
func (t *Tape) Run() error {
	err := t.sync.run()
	t.vm.Reset()
	if err != nil {
		return fmt.Errorf("run %s: %w", t.name, err)
	}
	return nil
}

// Close releases the machine; a nil Tape is a no-op.
func (t *Tape) Close() {
	if t != nil && t.vm != nil {
		t.vm.Close()
	}
}

// Slice returns the backing array of a value read from a graph: the
// tensor's data, or a one-element slice for a scalar. ok is false for any
// other kind of value.
func Slice(v G.Value) (data any, ok bool) {
	switch g := v.(type) {
	case *G.F32:
		return []float32{float32(*g)}, true
	case *G.F64:
		return []float64{float64(*g)}, true
	case tensor.Tensor:
		return g.Data(), true
	}
	return nil, false
}

// Float returns a scalar value read from a graph as a float64 (0 for any
// other kind of value).
func Float(v G.Value) float64 {
	switch x := v.Data().(type) {
	case float32:
		return float64(x)
	case float64:
		return x
	}
	return 0
}
