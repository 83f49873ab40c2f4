package eval

import (
	"context"
	"fmt"
	"github.com/ralmlab/ralm/internal/atomicfile"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WritePlot saves a grouped bar chart of AUC by bucket (x axis) and model
// (one bar colour per model) as a PNG file. The file is written to a
// temporary name and renamed into place.
func (r *Report) WritePlot(path string) error {
	p := plot.New()
	p.Title.Text = "Look-alike AUC by item bucket"
	p.Y.Label.Text = "mean per-item AUC"
	w := vg.Points(60 / float64(max(1, len(r.Order))))
	for i, m := range r.Order {
		vals := make(plotter.Values, len(Buckets))
		for j, b := range Buckets {
			if x, ok := r.Models[m][b]; ok {
				vals[j] = x.AUC
			}
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(i)
		bars.Offset = w * vg.Length(float64(i)-float64(len(r.Order)-1)/2)
		p.Add(bars)
		p.Legend.Add(m, bars)
	}
	p.Y.Min, p.Y.Max = 0, 1.35 // headroom for the legend above the bars
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Color = color.Black
	p.NominalX(Buckets...)
	wt, err := p.WriterTo(8*vg.Inch, 4*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	err = atomicfile.Write(context.Background(), path, func(f *os.File) error {
		_, err := wt.WriteTo(f)
		return err
	})
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}
