// Package shard holds the data-parallel worker pool both trainers share:
// cutting a batch into equal shards and running one worker per shard.
package shard

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Split returns the shard size and the number of workers for a batch of
// rows rows on threads workers (0 or less: GOMAXPROCS), with shards of at
// least minSize rows. No worker gets an empty shard.
func Split(rows, threads, minSize int) (size, n int) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = max(1, min(threads, rows))
	size = max(minSize, (rows+threads-1)/threads)
	return size, (rows + size - 1) / size
}

// Run calls f(0), …, f(n-1) concurrently and returns when all have
// returned; with n = 1 it calls f on the calling goroutine.
func Run(n int, f func(i int)) {
	if n == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}

// Chunks cuts n rows into chunks of size rows and runs them on up to
// GOMAXPROCS goroutines, each taking the next chunk until none is left.
// work is called once per goroutine and returns that goroutine's chunk
// function (so it may own buffers). The context is checked before every
// chunk; its error reads "<what> interrupted: …". The first error of a
// goroutine stops it, and a chunk error stops the others too; the errors
// are joined in goroutine order.
func Chunks(ctx context.Context, what string, n, size int, work func() func(lo, hi int) error) error {
	chunks := (n + size - 1) / size
	workers := min(runtime.GOMAXPROCS(0), chunks)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := work()
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				if err := ctx.Err(); err != nil {
					errs[w] = fmt.Errorf("%s interrupted: %w", what, err)
					return
				}
				if err := f(c*size, min((c+1)*size, n)); err != nil {
					errs[w] = err
					next.Store(int64(chunks))
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
