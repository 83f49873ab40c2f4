package main

// ralm plot: training curves from a --log file.

import (
	"errors"
	"fmt"
	"image/color"
	"os"

	"github.com/spf13/cobra"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/ralmlab/ralm/internal/chart"
)

// Stages of a training log, in plot order, with their panel titles and
// validation metric.
var plotStages = []struct {
	name, title, metric, none string
	value                     func(trainLogRecord) *float64
}{
	{"userrep", "user model", "held-out AUC", "no held-out users",
		func(r trainLogRecord) *float64 { return r.HeldOutAUC }},
	{"lookalike", "look-alike model", "validation AUC", "no validation (train with --valid-la)",
		func(r trainLogRecord) *float64 { return r.ValidAUC }},
}

func newPlotCmd() *cobra.Command {
	var logPath, out string
	cmd := &cobra.Command{
		Use:   "plot --log FILE --out FILE.png",
		Short: "Plot training curves (loss and validation metric per epoch) from a --log file",
		Long: `Draw the training curves of a JSON-lines log written by 'ralm train --log' (or
'ralm train userrep --log', 'ralm train lookalike --log', 'ralm eval --log'): for
each stage in the log, the training loss (every step, light, and each epoch's mean,
dark) and the validation metric per epoch (user model: the held-out AUC; look-alike
model: the validation AUC of --valid-la). The log may still be written: a run in
progress is plotted up to its last complete line.`,
		Example: `  ralm train --clicks split/train.parquet --out model --valid-la 0.1 --log train.jsonl
  ralm plot --log train.jsonl --out curves.png`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if logPath == "" || out == "" {
				return errors.New("--log and --out must not be empty")
			}
			if err := checkOutputs(cmd); err != nil {
				return err
			}
			f, err := os.Open(logPath)
			if err != nil {
				return fmt.Errorf("--log: %w", err)
			}
			defer f.Close()
			recs, err := readTrainLog(f, logPath)
			if err != nil {
				return err
			}
			n, err := writeCurves(cmd, recs, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(summaryOut(cmd), "plotted %d stage(s) of %s into %s\n", n, logPath, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&logPath, "log", "", "JSON-lines training log (--log of ralm train)")
	cmd.Flags().StringVar(&out, "out", "", "PNG file to write")
	markOutputFile(cmd, "out") // --log is the input
	_ = cmd.MarkFlagRequired("log")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// writeCurves draws a column per stage in recs (loss above, validation
// metric below) and returns the number of stages drawn.
func writeCurves(cmd *cobra.Command, recs []trainLogRecord, out string) (int, error) {
	var cols [][2]*plot.Plot
	for _, st := range plotStages {
		var steps, epochs []trainLogRecord
		for _, r := range recs {
			stage := r.Stage
			if stage == "" {
				stage = "userrep" // ralm train userrep writes no stage
			}
			if stage != st.name {
				continue
			}
			switch r.Type {
			case "step":
				steps = append(steps, r)
			case "epoch":
				epochs = append(epochs, r)
			}
		}
		if len(steps) == 0 && len(epochs) == 0 {
			continue
		}
		loss, metric, err := stagePlots(st.title, st.metric, st.none, st.value, steps, epochs)
		if err != nil {
			return 0, fmt.Errorf("plot %s: %w", out, err)
		}
		cols = append(cols, [2]*plot.Plot{loss, metric})
	}
	if len(cols) == 0 {
		return 0, errors.New("--log has no step or epoch record of a training stage")
	}
	rows := [][]*plot.Plot{make([]*plot.Plot, len(cols)), make([]*plot.Plot, len(cols))}
	for j, c := range cols {
		rows[0][j], rows[1][j] = c[0], c[1]
	}
	w := vg.Length(len(cols)) * 5 * vg.Inch
	if err := chart.SaveGrid(cmd.Context(), rows, w, 6*vg.Inch, out); err != nil {
		return 0, err
	}
	return len(cols), nil
}

// stagePlots draws one stage's loss and metric panels. Steps are spread
// evenly over their epoch (x: epochs, fractional).
func stagePlots(title, metric, none string, value func(trainLogRecord) *float64, steps, epochs []trainLogRecord) (*plot.Plot, *plot.Plot, error) {
	loss := plot.New()
	loss.Title.Text = title + ": training loss"
	loss.X.Label.Text = "epoch"
	loss.Y.Label.Text = "loss"
	perEpoch := map[int]int{}
	for _, s := range steps {
		perEpoch[s.Epoch]++
	}
	var sxy plotter.XYs
	seen := map[int]int{}
	for _, s := range steps {
		seen[s.Epoch]++
		if s.Loss != nil {
			sxy = append(sxy, plotter.XY{X: float64(s.Epoch-1) + float64(seen[s.Epoch])/float64(perEpoch[s.Epoch]), Y: *s.Loss})
		}
	}
	if len(sxy) > 0 {
		l, err := plotter.NewLine(sxy)
		if err != nil {
			return nil, nil, err
		}
		l.Color = color.RGBA{0xB0, 0xC4, 0xDE, 0xFF}
		l.Width = vg.Points(0.5)
		loss.Add(l)
		loss.Legend.Add("step", l)
	}
	var exy, mxy plotter.XYs
	for _, e := range epochs {
		if e.Loss != nil {
			exy = append(exy, plotter.XY{X: float64(e.Epoch), Y: *e.Loss})
		}
		if v := value(e); v != nil {
			mxy = append(mxy, plotter.XY{X: float64(e.Epoch), Y: *v})
		}
	}
	if len(exy) > 0 {
		l, pts, err := plotter.NewLinePoints(exy)
		if err != nil {
			return nil, nil, err
		}
		l.Color, pts.Color = chart.Color(0), chart.Color(0)
		loss.Add(l, pts)
		loss.Legend.Add("epoch mean", l, pts)
	}
	loss.Legend.Top = true
	loss.Add(plotter.NewGrid())

	m := plot.New()
	m.Title.Text = title + ": " + metric
	m.X.Label.Text = "epoch"
	m.Y.Label.Text = metric
	if len(mxy) == 0 {
		m.Title.Text = title + ": " + none
	} else {
		l, pts, err := plotter.NewLinePoints(mxy)
		if err != nil {
			return nil, nil, err
		}
		l.Color, pts.Color = chart.Color(5), chart.Color(5)
		m.Add(l, pts, plotter.NewGrid())
		labels, err := plotter.NewLabels(plotter.XYLabels{XYs: mxy, Labels: formatAll(mxy)})
		if err != nil {
			return nil, nil, err
		}
		labels.Offset = vg.Point{X: 3, Y: 3}
		m.Add(labels)
	}
	n := max(len(epochs), 1)
	for _, s := range steps {
		n = max(n, s.Epoch)
	}
	loss.X.Min, loss.X.Max = 0, float64(n)
	m.X.Min, m.X.Max = 0.5, float64(n)+0.5
	loss.X.Tick.Marker, m.X.Tick.Marker = epochTicks(n), epochTicks(n)
	return loss, m, nil
}

// epochTicks labels the epochs 1..n (at most about 10 labels).
func epochTicks(n int) plot.ConstantTicks {
	every := max(1, (n+9)/10)
	var t plot.ConstantTicks
	for e := 1; e <= n; e++ {
		label := ""
		if e%every == 0 || e == 1 {
			label = fmt.Sprint(e)
		}
		t = append(t, plot.Tick{Value: float64(e), Label: label})
	}
	return t
}

func formatAll(xy plotter.XYs) []string {
	s := make([]string, len(xy))
	for i, p := range xy {
		s[i] = fmt.Sprintf("%.3f", p.Y)
	}
	return s
}
