// Package adam is the one Adam optimiser of the project, with PyTorch's
// update rule (bias-corrected step size, ε added to the uncorrected square
// root): both trainers (userrep and lookalike) use it, dense and — for the
// embedding tables — lazily, one row at a time on the steps that touch it,
// with bias correction by the global step count.
//
// The optimiser holds the step count and coefficients; the caller owns the
// parameters and their moment buffers (m and v, zero at the start), so that
// sparse tables and graph parameters fit the same call.
package adam

import (
	"fmt"
	"math"

	"github.com/ralmlab/ralm/internal/simd"
)

// Defaults are PyTorch's.
const (
	DefaultBeta1 = 0.9
	DefaultBeta2 = 0.999
	DefaultEps   = 1e-8
)

// Adam is the optimiser state over element type T: the learning rate, the
// moment decays, ε and the number of steps begun.
type Adam[T simd.Float] struct {
	lr, b1, b2, eps float64
	t               int
	c               simd.AdamCoeffs[T]
}

// New returns Adam with learning rate lr and PyTorch's defaults
// (β1 0.9, β2 0.999, ε 1e-8).
func New[T simd.Float](lr float64) (*Adam[T], error) {
	if !(lr > 0) || math.IsInf(lr, 0) {
		return nil, fmt.Errorf("adam: learning rate %v, want a positive finite number", lr)
	}
	return &Adam[T]{lr: lr, b1: DefaultBeta1, b2: DefaultBeta2, eps: DefaultEps}, nil
}

// Steps is the number of steps begun.
func (a *Adam[T]) Steps() int { return a.t }

// SetSteps sets the number of steps begun, to continue a run whose moments
// were saved after n steps (the next Begin starts step n+1).
func (a *Adam[T]) SetSteps(n int) { a.t = n }

// Begin starts the next step: call it once before the step's updates.
func (a *Adam[T]) Begin() {
	a.t++
	t := float64(a.t)
	a.c = simd.AdamCoeffs[T]{
		B1:     T(a.b1),
		B2:     T(a.b2),
		Step:   T(a.lr / (1 - math.Pow(a.b1, t))),
		InvBC2: T(1 / math.Sqrt(1-math.Pow(a.b2, t))),
		Eps:    T(a.eps),
	}
}

// Update applies the current step to w with gradient g and moments m, v
// (all at least len(g) long):
//
//	m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//	w −= lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + ε)
func (a *Adam[T]) Update(w, g, m, v []T) {
	simd.AdamUpdate(w, g, m, v, a.c)
}
