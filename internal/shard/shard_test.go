package shard

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

func TestChunks(t *testing.T) {
	for _, c := range []struct{ n, size int }{{0, 4}, {1, 4}, {10, 4}, {12, 4}, {100, 7}} {
		seen := make([]atomic.Int32, c.n)
		err := Chunks(context.Background(), "test", c.n, c.size, func() func(lo, hi int) error {
			return func(lo, hi int) error {
				if hi-lo > c.size || hi <= lo {
					return fmt.Errorf("chunk [%d, %d) for size %d", lo, hi, c.size)
				}
				for i := lo; i < hi; i++ {
					seen[i].Add(1)
				}
				return nil
			}
		})
		if err != nil {
			t.Fatalf("Chunks(%d, %d): %v", c.n, c.size, err)
		}
		for i := range seen {
			if got := seen[i].Load(); got != 1 {
				t.Errorf("Chunks(%d, %d): row %d done %d times", c.n, c.size, i, got)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Chunks(ctx, "job", 10, 2, func() func(lo, hi int) error { return func(lo, hi int) error { return nil } })
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "job interrupted") {
		t.Errorf("cancelled Chunks: %v, want a \"job interrupted\" context.Canceled", err)
	}
	boom := errors.New("boom")
	if err := Chunks(context.Background(), "job", 10, 2, func() func(lo, hi int) error {
		return func(lo, hi int) error { return boom }
	}); !errors.Is(err, boom) {
		t.Errorf("failing Chunks: %v, want boom", err)
	}
}
