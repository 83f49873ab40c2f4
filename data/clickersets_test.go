package data

import (
	"fmt"
	"strings"
	"testing"
)

func ExampleClickerSets() {
	sets, known, err := ClickerSets([][]int32{{3, 1, 3}, {}, {1, 0}}, 5)
	fmt.Println(sets, known, err)
	// Output: [[1 3] [] [0 1]] [0 1 3] <nil>
}

func TestClickerSetsOutOfRange(t *testing.T) {
	for _, c := range []struct {
		clickers [][]int32
		want     string
	}{
		{[][]int32{{0}, {5}}, "item 1: clicker 5 out of range [0, 5)"},
		{[][]int32{{-1}}, "item 0: clicker -1 out of range [0, 5)"},
	} {
		if _, _, err := ClickerSets(c.clickers, 5); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ClickerSets(%v) error %v, want %q", c.clickers, err, c.want)
		}
	}
}
