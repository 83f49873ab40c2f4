package meter

import (
	"testing"
	"time"
)

func TestStatus(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		elapsed     time.Duration
		done, total int
		examples    int64
		perSec      float64
		left        time.Duration
		text        string
	}{
		{"quarter done", 10 * time.Second, 25, 100, 412_000, 41_200, 30 * time.Second, "41.2k ex/s, ETA 30s"},
		{"done", 10 * time.Second, 100, 100, 950, 95, 0, "95 ex/s"},
		{"not started", 0, 0, 100, 0, 0, 0, "0 ex/s"},
		{"millions", 2 * time.Second, 1, 3, 2_600_000, 1_300_000, 4 * time.Second, "1.3M ex/s, ETA 4s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(t0).At(t0.Add(tc.elapsed), tc.done, tc.total, tc.examples)
			if s.PerSec != tc.perSec || s.Left != tc.left || s.Format("ex") != tc.text {
				t.Fatalf("got %+v %q, want %v/s left %v %q", s, s.Format("ex"), tc.perSec, tc.left, tc.text)
			}
		})
	}
}
