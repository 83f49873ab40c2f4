package shard

import (
	"sync/atomic"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, c := range []struct{ rows, threads, minSize, size, n int }{
		{64, 4, 1, 16, 4},
		{10, 4, 1, 3, 4},
		{3, 8, 1, 1, 3},
		{3, 8, 2, 2, 2},
		{64, 1, 2, 64, 1},
		{5, 2, 2, 3, 2},
	} {
		size, n := Split(c.rows, c.threads, c.minSize)
		if size != c.size || n != c.n {
			t.Errorf("Split(%d, %d, %d) = %d, %d; want %d, %d", c.rows, c.threads, c.minSize, size, n, c.size, c.n)
		}
		if (n-1)*size >= c.rows {
			t.Errorf("Split(%d, %d, %d): worker %d gets an empty shard", c.rows, c.threads, c.minSize, n-1)
		}
	}
}

func TestRunCallsEveryWorkerOnce(t *testing.T) {
	for _, n := range []int{1, 2, 7} {
		calls := make([]atomic.Int32, n)
		Run(n, func(i int) { calls[i].Add(1) })
		for i := range calls {
			if got := calls[i].Load(); got != 1 {
				t.Errorf("Run(%d): worker %d called %d times", n, i, got)
			}
		}
	}
}
