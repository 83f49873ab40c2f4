package eval

import (
	"context"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"

	"github.com/ralmlab/ralm/internal/chart"
)

// chanceAUC is the AUC of a random ranking.
const chanceAUC = 0.5

// WritePlot saves a grouped bar chart of AUC by bucket (x axis) and model
// (one distinct colour per model, legend beside the chart) as a PNG file,
// written atomically. The AUC axis is zoomed to the data: it starts at the
// chance level 0.5 (drawn as a dashed line), or lower when a bar is below
// it, and every bar is labelled with its value. A bucket without items has
// no bar.
func (r *Report) WritePlot(path string) error {
	p := plot.New()
	p.Title.Text = "Look-alike AUC by item bucket"
	p.Y.Label.Text = "mean per-item AUC"
	legend := plot.NewLegend()
	w := vg.Points(64 / float64(max(1, len(r.Order))))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, m := range r.Order {
		vals := make(plotter.Values, len(Buckets))
		var labels plotter.XYLabels
		for j, b := range Buckets {
			x, ok := r.Models[m][b]
			if !ok || x.NItems == 0 || math.IsNaN(x.AUC) {
				vals[j] = math.NaN()
				continue
			}
			vals[j] = x.AUC
			lo, hi = math.Min(lo, x.AUC), math.Max(hi, x.AUC)
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(j), Y: x.AUC})
			labels.Labels = append(labels.Labels, fmt.Sprintf("%.3f", x.AUC))
		}
		bars, err := plotter.NewBarChart(plotter.Values(nanToZero(vals)), w)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		bars.LineStyle.Width = 0
		bars.Color = chart.Color(i)
		bars.Offset = w * vg.Length(float64(i)-float64(len(r.Order)-1)/2)
		p.Add(bars)
		legend.Add(m, bars)
		if len(labels.XYs) > 0 {
			l, err := plotter.NewLabels(labels)
			if err != nil {
				return fmt.Errorf("plot %s: %w", path, err)
			}
			for k := range l.TextStyle {
				l.TextStyle[k].Rotation = math.Pi / 2
				l.TextStyle[k].XAlign, l.TextStyle[k].YAlign = text.XLeft, text.YCenter
				l.TextStyle[k].Font.Size = vg.Points(7)
				l.TextStyle[k].Color = color.Black
			}
			l.Offset = vg.Point{X: bars.Offset, Y: 2}
			p.Add(l)
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = chanceAUC, 1
	}
	p.Y.Min, p.Y.Max = aucAxis(lo, hi)
	chance, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: chanceAUC}, {X: float64(len(Buckets)) - 0.5, Y: chanceAUC}})
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	chance.Color = color.Gray{Y: 0x60}
	chance.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	chance.Width = vg.Points(1)
	p.Add(chance)
	legend.Add("chance (0.5)", chance)
	p.NominalX(Buckets...)
	p.X.Min, p.X.Max = -0.5, float64(len(Buckets))-0.5
	grid := plotter.NewGrid()
	grid.Vertical.Width = 0
	p.Add(grid)
	if err := chart.SavePNG(context.Background(), p, &legend, 9*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// aucAxis returns the AUC axis range for values in [lo, hi]: from the chance
// level (or the next 0.05 below lo when lo is under it) to a little above hi
// (room for the value labels), at most 1.
func aucAxis(lo, hi float64) (float64, float64) {
	min := chanceAUC
	if lo < min {
		min = math.Max(0, math.Floor(lo*20)/20)
	}
	max := math.Min(1, math.Ceil((hi+0.06)*20)/20)
	if max <= min {
		max = math.Min(1, min+0.1)
	}
	return min, max
}

func nanToZero(v plotter.Values) plotter.Values {
	for i, x := range v {
		if math.IsNaN(x) {
			v[i] = 0
		}
	}
	return v
}
