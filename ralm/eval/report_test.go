package eval

import (
	"bytes"
	"encoding/json"
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

func TestReportPlot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auc.png")
	if err := sampleReport().WritePlot(path); err != nil {
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
