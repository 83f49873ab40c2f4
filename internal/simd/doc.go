// Package simd holds the project's one set of float32 SIMD kernels: the
// AVX2+FMA assembly used by kmeans (distance scores, argmins, float64
// accumulation), lookalike (row dot products, attention weights, linear
// layers, PReLU and its gradients) and userrep (GEMM, dot, axpy, tanh, the
// Adam update).
//
// Every kernel has a pure-Go fallback next to its dispatching function; the
// fallback is the reference the tests compare the assembly with, and the
// only code compiled on other architectures or with the build tag purego.
// One CPU-feature check (AVX2 and FMA, from golang.org/x/sys/cpu) decides
// at start-up whether the assembly runs; Accelerated reports it.
package simd

// Float is the element type of the generic kernels. The float32
// instantiation uses the assembly; float64 (gradient checks) runs the Go
// loops.
type Float interface{ ~float32 | ~float64 }

// Accelerated reports whether the AVX2+FMA assembly kernels are in use.
func Accelerated() bool { return useAsm }
