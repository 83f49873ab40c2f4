// Package meter measures a training stage's throughput and time left, for
// progress bars, progress lines and logs.
package meter

import (
	"fmt"
	"strconv"
	"time"
)

// Meter measures one stage. The zero value is not ready: use Start.
type Meter struct {
	start time.Time
}

// Start returns a meter for a stage starting at now.
func Start(now time.Time) Meter { return Meter{start: now} }

// Started reports whether the meter was started.
func (m Meter) Started() bool { return !m.start.IsZero() }

// Elapsed returns the time since the stage started.
func (m Meter) Elapsed(now time.Time) time.Duration { return now.Sub(m.start) }

// Status is a stage's progress at one moment.
type Status struct {
	PerSec float64       // examples per second so far
	Left   time.Duration // estimated time left; 0 when unknown or done
}

// At returns the status after done of total steps and examples examples.
func (m Meter) At(now time.Time, done, total int, examples int64) Status {
	return status(m.Elapsed(now), done, total, examples)
}

// status extrapolates the time left from the steps so far (0 before the
// first step or after the last).
func status(elapsed time.Duration, done, total int, examples int64) Status {
	var s Status
	if elapsed > 0 {
		s.PerSec = float64(examples) / elapsed.Seconds()
	}
	if done > 0 && total > done {
		s.Left = time.Duration(float64(elapsed) * float64(total-done) / float64(done))
	}
	return s
}

// Format writes the status for people: "41.2k ex/s, ETA 1m20s" (unit "ex").
func (s Status) Format(unit string) string {
	out := fmt.Sprintf("%s %s/s", HumanCount(s.PerSec), unit)
	if s.Left > 0 {
		out += ", ETA " + s.Left.Round(time.Second).String()
	}
	return out
}

// HumanCount writes n with a k or M suffix: 950, 41.2k, 1.3M.
func HumanCount(n float64) string {
	switch {
	case n >= 1e6:
		return strconv.FormatFloat(n/1e6, 'f', 1, 64) + "M"
	case n >= 1e3:
		return strconv.FormatFloat(n/1e3, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(n, 'f', 0, 64)
}
