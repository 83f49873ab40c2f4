package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// Report is the JSON report of an evaluation, laid out as
// {"config": {...}, "split": {...}, "models": {model: {bucket: metrics}}}.
type Report struct {
	Config map[string]any                `json:"config"`
	Split  map[string]any                `json:"split"`
	Models map[string]map[string]Metrics `json:"models"`
	Order  []string                      `json:"model_order"`
	// Scoring is "exact" or how the negatives were sampled (--candidates).
	Scoring string `json:"scoring"`
	// MaxSeeds is the cap on each item's latest seeds the seed-based
	// models saw (Options.MaxSeeds); 0 in reports written before it.
	MaxSeeds int `json:"max_seeds,omitempty"`
}

// NewReport builds the report of a result with the given config and split
// descriptions.
func NewReport(res *Result, config, split map[string]any) *Report {
	return &Report{Config: config, Split: split, Models: res.Table, Order: res.Models, Scoring: res.Scoring, MaxSeeds: res.MaxSeeds}
}

// WriteJSON writes the report as indented JSON. Undefined metrics (a bucket
// without items) are left out rather than written as NaN.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteTable writes the report as an aligned text table: one row per model,
// columns warm AUC / R@10 / R@50, fresh AUC / R@10 / R@50, tail / torso /
// head AUC and the item counts.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\twarm AUC\twarm R@10\twarm R@50\tfresh AUC\tfresh R@10\tfresh R@50\ttail AUC\ttorso AUC\thead AUC\titems w/f/t/t/h\t")
	for _, m := range r.Order {
		b := r.Models[m]
		if onlyZeroSeed(b) {
			continue // popularity, ralm-features: in the zero-seed table below
		}
		cell := func(bucket string, v func(Metrics) float64) string {
			x, ok := b[bucket]
			if !ok || math.IsNaN(v(x)) {
				return "-"
			}
			return fmt.Sprintf("%.3f", v(x))
		}
		auc := func(x Metrics) float64 { return x.AUC }
		r10 := func(x Metrics) float64 { return x.R10 }
		r50 := func(x Metrics) float64 { return x.R50 }
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d/%d/%d/%d\t\n", m,
			cell(BucketWarm, auc), cell(BucketWarm, r10), cell(BucketWarm, r50),
			cell(BucketFresh, auc), cell(BucketFresh, r10), cell(BucketFresh, r50),
			cell(BucketTail, auc), cell(BucketTorso, auc), cell(BucketHead, auc),
			b[BucketWarm].NItems, b[BucketFresh].NItems, b[BucketTail].NItems, b[BucketTorso].NItems, b[BucketHead].NItems)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := r.writeZeroSeed(w); err != nil {
		return err
	}
	if r.Scoring != "" && r.Scoring != "exact" {
		_, err := fmt.Fprintf(w, "candidates %s (AUC unbiased; recall@K overstated against exact scoring)\n", r.Scoring)
		return err
	}
	return nil
}

// writeZeroSeed writes the zero-seed bucket (fresh items scored from their
// attributes alone) as a second table, when the report has one.
func (r *Report) writeZeroSeed(w io.Writer) error {
	var rows []string
	for _, m := range r.Order {
		if _, ok := r.Models[m][BucketZeroSeed]; ok {
			rows = append(rows, m)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "zero-seed (attributes only)\tAUC\tR@10\tR@50\titems\t")
	for _, m := range rows {
		x := r.Models[m][BucketZeroSeed]
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%d\t\n", m, x.AUC, x.R10, x.R50, x.NItems)
	}
	return tw.Flush()
}

// onlyZeroSeed reports whether a model's metrics are all in the zero-seed
// bucket.
func onlyZeroSeed(b map[string]Metrics) bool {
	_, ok := b[BucketZeroSeed]
	return ok && len(b) == 1
}
