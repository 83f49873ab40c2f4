package prefetch

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
)

// TestRun: every step is filled and used once, in order, and no buffer is
// filled while it is in use, with one to three buffers.
func TestRun(t *testing.T) {
	for _, nbuf := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("buffers=%d", nbuf), func(t *testing.T) {
			const n = 200
			bufs := make([]*[1]int, nbuf)
			inUse := make([]atomic.Bool, nbuf)
			for i := range bufs {
				bufs[i] = &[1]int{i}
			}
			var filledOrder, usedOrder []int
			fill := func(s int, b *[1]int) (int, error) {
				if inUse[b[0]].Load() {
					t.Errorf("step %d: buffer %d filled while in use", s, b[0])
				}
				filledOrder = append(filledOrder, s)
				return 10 * s, nil
			}
			use := func(s int, b *[1]int, v int) error {
				inUse[b[0]].Store(true)
				defer inUse[b[0]].Store(false)
				if v != 10*s {
					t.Errorf("step %d: value %d, want %d", s, v, 10*s)
				}
				usedOrder = append(usedOrder, s)
				return nil
			}
			if err := Run(n, bufs, fill, use); err != nil {
				t.Fatal(err)
			}
			want := make([]int, n)
			for i := range want {
				want[i] = i
			}
			if !slices.Equal(filledOrder, want) || !slices.Equal(usedOrder, want) {
				t.Errorf("filled %v, used %v; want 0..%d in order", filledOrder[:5], usedOrder[:5], n-1)
			}
		})
	}
}

// TestRunErrors: an error of fill stops Run when its step is due, after
// the steps before it were used; an error of use stops it at once.
func TestRunErrors(t *testing.T) {
	errFill, errUse := errors.New("fill"), errors.New("use")
	tests := []struct {
		name           string
		failFill       int
		failUse        int
		want           error
		wantUsedBefore int
	}{
		{"fill fails", 5, -1, errFill, 5},
		{"use fails", -1, 7, errUse, 7},
		{"first fill fails", 0, -1, errFill, 0},
	}
	for _, tt := range tests {
		for _, nbuf := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/buffers=%d", tt.name, nbuf), func(t *testing.T) {
				used := 0
				fill := func(s int, _ int) (struct{}, error) {
					if s == tt.failFill {
						return struct{}{}, errFill
					}
					return struct{}{}, nil
				}
				use := func(s int, _ int, _ struct{}) error {
					if s == tt.failUse {
						return errUse
					}
					used++
					return nil
				}
				err := Run(20, make([]int, nbuf), fill, use)
				if !errors.Is(err, tt.want) || used != tt.wantUsedBefore {
					t.Errorf("err %v after %d uses, want %v after %d", err, used, tt.want, tt.wantUsedBefore)
				}
			})
		}
	}
}

func ExampleRun() {
	bufs := []*[]int{new([]int), new([]int)}
	sum := 0
	_ = Run(3, bufs,
		func(s int, b *[]int) (int, error) { // the next batch, built ahead
			*b = append((*b)[:0], s, s*s)
			return len(*b), nil
		},
		func(s int, b *[]int, n int) error { // the current batch, used
			for _, v := range *b {
				sum += v
			}
			fmt.Println("step", s, "uses", n, "values")
			return nil
		})
	fmt.Println("sum", sum)
	// Output:
	// step 0 uses 2 values
	// step 1 uses 2 values
	// step 2 uses 2 values
	// sum 8
}
