// Package cputime reads the CPU time of the process, for benchmarks that
// report rates per CPU-second beside rates per wall-clock second (robust to
// other load on a shared machine; with GOMAXPROCS=1, the one-core rate).
package cputime
