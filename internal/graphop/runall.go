package graphop

import (
	"errors"
	"reflect"
	"runtime/debug"
	"unsafe"

	G "gorgonia.org/gorgonia"
)

// Running a tape machine on the calling goroutine.
//
// gorgonia v0.9.18's tapeMachine.RunAll locks the calling goroutine to its
// OS thread (for CUDA), starts a goroutine that executes the program and
// waits for it on a channel. The program runs on the new goroutine while
// the locked thread sleeps, and every run ends with a hand-over back to
// that thread. With one graph per core (data-parallel training) these
// hand-overs leave cores idle: two workers running 3 ms steps this way use
// about 1.4 of 2 cores (measured: a Go program that does the same lock,
// start and wait around 3 ms of arithmetic reaches 1.3–1.5 cores, and 2.0
// without the lock; at 30 ms per run the loss falls to 5–8%). Our graphs run
// on the CPU only, where the lock serves nothing, so syncRunner.run calls the
// machine's program loop (the unexported runall, which RunAll starts on the
// goroutine) directly, with buffered channels for its final send.

//go:linkname tapeMachineRunall gorgonia.org/gorgonia.(*tapeMachine).runall
func tapeMachineRunall(m unsafe.Pointer, errChan chan error, doneChan chan struct{})

// syncRunner runs one gorgonia tape machine's program on the calling
// goroutine.
type syncRunner struct {
	m        unsafe.Pointer // the *tapeMachine
	closures reflect.Value  // its closureQueue (filled only with dual values bound)
	worker   interface{ DoWork() error }
	errc     chan error
	done     chan struct{}
}

// gorgoniaVersion is the gorgonia release whose runall tapeMachineRunall
// links to: another release may have another signature, so a binary built
// with one is refused (gorgoniaChecked).
const gorgoniaVersion = "v0.9.18"

// gorgoniaChecked reports whether the binary links gorgoniaVersion (true
// when it does not record its dependencies).
func gorgoniaChecked() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return true
	}
	for _, m := range bi.Deps {
		if m.Path == gorgoniaPkg {
			if m.Replace != nil {
				m = m.Replace
			}
			return m.Version == gorgoniaVersion
		}
	}
	return true
}

// newSyncRunner returns the runner of vm, or nil if vm is not a gorgonia
// v0.9.18 tape machine as runall expects it.
func newSyncRunner(vm G.VM) *syncRunner {
	if !gorgoniaChecked() {
		return nil
	}
	v := reflect.ValueOf(vm)
	if v.Kind() != reflect.Pointer || v.Type().String() != "*gorgonia.tapeMachine" || v.Type().Elem().PkgPath() != gorgoniaPkg {
		return nil
	}
	cq := v.Elem().FieldByName("closureQueue")
	w, ok := vm.(interface{ DoWork() error })
	if !cq.IsValid() || cq.Kind() != reflect.Slice || !ok {
		return nil
	}
	return &syncRunner{m: v.UnsafePointer(), closures: cq, worker: w, errc: make(chan error, 1), done: make(chan struct{}, 1)}
}

// run executes the program once, as RunAll does on the CPU.
func (r *syncRunner) run() error {
	tapeMachineRunall(r.m, r.errc, r.done)
	select {
	case err := <-r.errc:
		return err
	case <-r.done:
	}
	if r.closures.Len() > 0 {
		return errors.New("the machine queued dual-value closures, which only RunAll runs")
	}
	return r.worker.DoWork()
}

// gorgoniaPkg is the import path of gorgonia's own types.
var gorgoniaPkg = reflect.TypeOf(G.Nodes(nil)).PkgPath()
