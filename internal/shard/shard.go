// Package shard holds the data-parallel worker pool both trainers share:
// cutting a batch into equal shards and running one worker per shard.
package shard

import (
	"runtime"
	"sync"
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
