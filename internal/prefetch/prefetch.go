// Package prefetch runs a producer one step ahead of its consumer: while
// the consumer uses the buffer of one step, the next step is filled into
// another. The trainers use it to build a batch while the one before it
// trains.
package prefetch

// Run fills and uses the steps 0, …, n-1, both in step order. fill(s, b)
// writes step s into buffer b and returns what use needs of it; use(s, b,
// v) gets that buffer and value on the calling goroutine. A buffer is filled
// again only after the use of its last step has returned, so fill and use
// never share one.
//
// With one buffer every fill runs just before its use on the calling
// goroutine. With more, fill runs on one other goroutine, up to len(bufs)-1
// steps ahead of use; it must not touch what use changes (and so fills are
// what they would be just before their use, given that fill alone carries
// state from one step to the next).
//
// Run returns the first error of use, or of the fill of a step that would
// be used next, after stopping the other goroutine. It panics without a
// buffer.
func Run[B, V any](n int, bufs []B, fill func(s int, b B) (V, error), use func(s int, b B, v V) error) error {
	if len(bufs) == 0 {
		panic("prefetch: no buffers")
	}
	if len(bufs) == 1 {
		for s := range n {
			v, err := fill(s, bufs[0])
			if err != nil {
				return err
			}
			if err := use(s, bufs[0], v); err != nil {
				return err
			}
		}
		return nil
	}
	type filled struct {
		b   B
		v   V
		err error
	}
	free := make(chan B, len(bufs))
	for _, b := range bufs {
		free <- b
	}
	ready := make(chan filled)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for s := range n {
			var f filled
			select {
			case f.b = <-free:
			case <-stop:
				return
			}
			f.v, f.err = fill(s, f.b)
			select {
			case ready <- f:
			case <-stop:
				return
			}
			if f.err != nil {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()
	for s := range n {
		f := <-ready
		if f.err != nil {
			return f.err
		}
		if err := use(s, f.b, f.v); err != nil {
			return err
		}
		free <- f.b // never blocks: it holds every buffer
	}
	return nil
}
