package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestProgressRows: the Progress callbacks of data writers drive one bar
// over several files in a row (the bar counts the rows of all of them) and
// show the rate.
func TestProgressRows(t *testing.T) {
	buf := &syncWriter{}
	p := startProgress(context.Background(), buf, 100000+40, "writing", 0)
	rows := p.rows()
	first, second := rows.report("writing a.parquet"), rows.report("writing b.parquet")
	for _, tc := range []struct {
		report      func(done, total int64, rate float64)
		done, total int64
		want        []string
	}{
		{first, 65536, 100000, []string{"writing a.parquet 66.0k rows/s", "(65536/100040)"}},
		{first, 100000, 100000, []string{"(100000/100040)"}},
		{second, 20, 40, []string{"writing b.parquet 66.0k rows/s", "(100020/100040)"}},
	} {
		tc.report(tc.done, tc.total, 66000)
		time.Sleep(150 * time.Millisecond) // past the bar's redraw throttle
		_ = p.bar.Add64(0)
		s := buf.String()
		for _, w := range tc.want {
			if !strings.Contains(s, w) {
				t.Errorf("after %d/%d: bar output %q lacks %q", tc.done, tc.total, s, w)
			}
		}
	}
	p.Finish()
	var silent *progress
	if silent.rows().report("x") != nil {
		t.Error("a nil bar reports progress")
	}
}
