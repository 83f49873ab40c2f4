package eval

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		t.Errorf("plot is %v, too small", b)
	}
}
