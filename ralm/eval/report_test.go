package eval

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ralmlab/ralm/internal/chart"
)

func sampleReport() *Report {
	res := &Result{Models: []string{"activity", "ralm"}}
	res.Items = []ItemResult{
		{Model: "activity", Item: "a", Bucket: BucketTail, AUC: 0.6, R10: 0.1, R50: 0.2},
		{Model: "ralm", Item: "a", Bucket: BucketTail, AUC: 0.8, R10: 0.3, R50: 0.5},
		{Model: "activity", Item: "b", Fresh: true, Bucket: BucketFresh, AUC: 0.7, R10: 0.2, R50: 0.4},
		{Model: "ralm", Item: "b", Fresh: true, Bucket: BucketFresh, AUC: 0.9, R10: 0.4, R50: 0.6},
	}
	res.Table = Aggregate(res.Items)
	return NewReport(res, map[string]any{"seed": 1}, map[string]any{"fresh": 0.1})
}

func TestReportJSONLayout(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Config map[string]any
		Split  map[string]any
		Models map[string]map[string]struct {
			AUC    float64 `json:"auc"`
			R10    float64 `json:"r10"`
			R50    float64 `json:"r50"`
			NItems int     `json:"n_items"`
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if m := got.Models["ralm"]["warm"]; m.AUC != 0.8 || m.R10 != 0.3 || m.R50 != 0.5 || m.NItems != 1 {
		t.Errorf("ralm warm = %+v", m)
	}
	if m := got.Models["activity"]["fresh"]; m.AUC != 0.7 || m.NItems != 1 {
		t.Errorf("activity fresh = %+v", m)
	}
	if got.Config["seed"] != 1.0 || got.Split["fresh"] != 0.1 {
		t.Errorf("config/split not carried: %v %v", got.Config, got.Split)
	}
}

func TestReportTable(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("table has %d lines, want header + 2 models:\n%s", len(lines), buf.String())
	}
	if !strings.HasPrefix(strings.TrimSpace(lines[2]), "ralm") || !strings.Contains(lines[2], "0.800") || !strings.Contains(lines[2], "0.900") {
		t.Errorf("ralm row %q lacks its warm and fresh AUC", lines[2])
	}
	if !strings.Contains(lines[2], "1/1/1/0/0") {
		t.Errorf("ralm row %q lacks item counts 1/1/1/0/0", lines[2])
	}
}

// plotImage writes rep's plot and decodes it.
func plotImage(t *testing.T, rep *Report) image.Image {
	t.Helper()
	path := filepath.Join(t.TempDir(), "auc.png")
	if err := rep.WritePlot(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("plot is not a PNG: %v", err)
	}
	return img
}

func TestReportPlot(t *testing.T) {
	img := plotImage(t, sampleReport())
	b := img.Bounds()
	if b.Dx() < 100 || b.Dy() < 100 {
		t.Fatalf("plot is %v, too small", b)
	}
	// Each model has its own colour, in the bars (left of the legend strip)
	// and in the legend (right of every bar).
	for i := range sampleReport().Order {
		want := chart.Color(i)
		inBars, inLegend := 0, 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if sameColor(img.At(x, y), want) {
					if x < b.Dx()*80/100 {
						inBars++
					} else {
						inLegend++
					}
				}
			}
		}
		if inBars < 50 || inLegend < 20 {
			t.Errorf("model %d colour: %d pixels in the bars, %d in the legend strip", i, inBars, inLegend)
		}
	}
}

func sameColor(a, b color.Color) bool {
	r1, g1, b1, _ := a.RGBA()
	r2, g2, b2, _ := b.RGBA()
	return r1>>8 == r2>>8 && g1>>8 == g2>>8 && b1>>8 == b2>>8
}

func TestAUCAxis(t *testing.T) {
	for _, tc := range []struct{ lo, hi, min, max float64 }{
		{0.84, 0.86, 0.5, 0.95}, // zoomed: from chance, room above for labels
		{0.62, 0.99, 0.5, 1},    // never above 1
		{0.43, 0.6, 0.4, 0.7},   // a bar under chance: from the next 0.05 below it
		{0.5, 0.5, 0.5, 0.6},
	} {
		min, max := aucAxis(tc.lo, tc.hi)
		if math.Abs(min-tc.min) > 1e-9 || math.Abs(max-tc.max) > 1e-9 {
			t.Errorf("aucAxis(%v, %v) = %v, %v; want %v, %v", tc.lo, tc.hi, min, max, tc.min, tc.max)
		}
	}
}

// TestReportPlotChanceAndLabels: the plot draws the chance line (dashed
// grey at AUC 0.5, across the bars) and labels every bar with its value
// (dark text just above the bar's top).
func TestReportPlotChanceAndLabels(t *testing.T) {
	rep := sampleReport()
	img := plotImage(t, rep)
	b := img.Bounds()
	legendX := b.Min.X + b.Dx()*80/100
	grey := func(x, y int, lo, hi uint32) bool {
		r, g, bl, _ := img.At(x, y).RGBA()
		r, g, bl = r>>8, g>>8, bl>>8
		return r == g && g == bl && r >= lo && r <= hi
	}
	// The chance line: a row of the bars' area with many mid-grey pixels
	// (the dashes, antialiased: about 320 here, 80 at most without the
	// line; the grid's lines are much lighter).
	chanceRow := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		n := 0
		for x := b.Min.X; x < legendX; x++ {
			if grey(x, y, 0x50, 0x90) {
				n++
			}
		}
		chanceRow = max(chanceRow, n)
	}
	if chanceRow < 200 {
		t.Errorf("chance line: at most %d grey pixels in a row of the bars' area, want 200 or more", chanceRow)
	}
	// Each bar: the columns of its colour, its top, and dark label pixels
	// in the few points above the top.
	for i, m := range rep.Order {
		want := chart.Color(i)
		top := map[int]int{} // x → topmost y of the colour
		for x := b.Min.X; x < legendX; x++ {
			for y := b.Min.Y; y < b.Max.Y; y++ {
				if sameColor(img.At(x, y), want) {
					top[x] = y
					break
				}
			}
		}
		var bars [][2]int // runs of columns [from, to]
		for x := b.Min.X; x < legendX; x++ {
			if _, ok := top[x]; !ok {
				continue
			}
			if n := len(bars); n > 0 && bars[n-1][1] == x-1 {
				bars[n-1][1] = x
			} else {
				bars = append(bars, [2]int{x, x})
			}
		}
		nonEmpty := 0 // the buckets with items have a bar each
		for _, bk := range Buckets {
			if x, ok := rep.Models[m][bk]; ok && x.NItems > 0 {
				nonEmpty++
			}
		}
		if len(bars) != nonEmpty || nonEmpty == 0 {
			t.Errorf("%s: %d bars, want %d", m, len(bars), nonEmpty)
			continue
		}
		for _, bar := range bars {
			mid := (bar[0] + bar[1]) / 2
			dark := 0
			for y := top[mid] - 40; y < top[mid]; y++ {
				for x := mid - 4; x <= mid+4; x++ {
					if grey(x, y, 0, 0x50) {
						dark++
					}
				}
			}
			if dark < 5 {
				t.Errorf("%s: bar at x %d (top %d) has %d dark label pixels above it", m, mid, top[mid], dark)
			}
		}
	}
}
