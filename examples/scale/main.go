// Command scale measures how ralm's pipeline grows with the number of
// users. For every N in -users it synthesizes N users (N/10 items, 20 clicks
// per user on average), then runs and times each stage in a fresh child
// process: synth, write and read the click log, split, features, train the
// user model, embed, train the look-alike model, write the model folder,
// eval (sampled negatives), serve start, score, expand. It reports per stage
// the wall time, the rate and the peak RSS, as a markdown table with the
// growth exponent of each stage (the log-log slope of time against N; 1 is
// linear), and a PNG plot of time against N.
//
//	go run ./examples/scale -users 100000,300000,1000000 -epochs 1 -out /tmp/scale
//
// Peak RSS is per stage where the kernel lets a process reset its
// high-water mark (writing 5 to /proc/self/clear_refs); otherwise it is the
// process's peak so far, and the table says so.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/split"
	"github.com/ralmlab/ralm/data/synth"
	"github.com/ralmlab/ralm/internal/chart"
	"github.com/ralmlab/ralm/ralm"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/eval"
	"github.com/ralmlab/ralm/ralm/serve"
)

// Stage is one measured stage of one run.
type Stage struct {
	Users   int     `json:"users"`
	Name    string  `json:"stage"`
	Seconds float64 `json:"seconds"`
	Count   int     `json:"count"` // what the rate counts
	Unit    string  `json:"unit"`
	PeakMB  float64 `json:"peak_rss_mb"`
	PerStep bool    `json:"peak_per_stage"` // false: peak of the process so far
}

func main() {
	users := flag.String("users", "100000,300000,1000000", "comma-separated user counts")
	epochs := flag.Int("epochs", 1, "epochs of each training stage")
	out := flag.String("out", "scale-out", "folder for the results (and the runs' scratch files)")
	child := flag.Int("child", 0, "internal: run the stages for this many users and print them as JSON lines")
	seed := flag.Int64("seed", 1, "random seed")
	withEval := flag.Bool("eval", true, "run the eval stage (sampled evaluation is the slowest stage at large N; -eval=false leaves it out)")
	evalMaxSeeds := flag.Int("eval-max-seeds", 1000, "the eval stage's --max-seeds: each item's latest seeds the seed-based models see (keeps the knn baseline linear in N)")
	flag.Parse()
	ctx := context.Background()
	var err error
	if *child > 0 {
		err = runChild(ctx, *child, *epochs, *seed, *out, *withEval, *evalMaxSeeds, os.Stdout)
	} else {
		err = runParent(ctx, *users, *epochs, *seed, *out, *withEval, *evalMaxSeeds)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func runParent(ctx context.Context, list string, epochs int, seed int64, out string, withEval bool, evalMaxSeeds int) error {
	var ns []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 100 {
			return fmt.Errorf("-users: %q is not a user count of at least 100", s)
		}
		ns = append(ns, n)
	}
	sort.Ints(ns)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("-out %s: %w", out, err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	loadBefore := loadavg()
	var all []Stage
	var stopped error // a run that did not finish; what it measured is kept
	for _, n := range ns {
		fmt.Fprintf(os.Stderr, "scale: %d users...\n", n)
		cmd := exec.CommandContext(ctx, exe, "-child", strconv.Itoa(n), "-epochs", strconv.Itoa(epochs),
			"-seed", strconv.FormatInt(seed, 10), "-out", out, "-eval="+strconv.FormatBool(withEval), "-eval-max-seeds="+strconv.Itoa(evalMaxSeeds))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var s Stage
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				return fmt.Errorf("child %d: bad line %q: %w", n, sc.Text(), err)
			}
			fmt.Fprintf(os.Stderr, "  %-18s %8.2f s  %s\n", s.Name, s.Seconds, rate(s))
			all = append(all, s)
		}
		if err := cmd.Wait(); err != nil {
			last := "none"
			if len(all) > 0 && all[len(all)-1].Users == n {
				last = all[len(all)-1].Name
			}
			stopped = fmt.Errorf("run for %d users stopped after stage %q: %w", n, last, err)
			fmt.Fprintln(os.Stderr, "scale:", stopped, "(writing what was measured)")
			break
		}
	}
	md := table(all, ns, epochs, loadBefore, loadavg())
	if stopped != nil {
		md += fmt.Sprintf("\nIncomplete: the %s; its later stages and any larger N are missing (\"-\").\n", stopped)
	}
	fmt.Print(md)
	if err := os.WriteFile(filepath.Join(out, "scale.md"), []byte(md), 0o644); err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(all, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "scale.json"), raw, 0o644); err != nil {
		return err
	}
	if err := plotTimes(ctx, all, filepath.Join(out, "scale.png")); err != nil {
		return err
	}
	return stopped
}

func rate(s Stage) string {
	if s.Count == 0 || s.Seconds == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f %s/s", float64(s.Count)/s.Seconds, s.Unit)
}

// exponent is the least-squares slope of log(seconds) against log(users).
func exponent(xs, ys []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	var mx, my float64
	for i := range xs {
		mx += math.Log(xs[i]) / float64(len(xs))
		my += math.Log(ys[i]) / float64(len(xs))
	}
	var sxy, sxx float64
	for i := range xs {
		dx := math.Log(xs[i]) - mx
		sxy += dx * (math.Log(ys[i]) - my)
		sxx += dx * dx
	}
	return sxy / sxx
}

// stageOrder lists the stage names in run order.
func stageOrder(all []Stage) []string {
	var names []string
	seen := map[string]bool{}
	for _, s := range all {
		if !seen[s.Name] {
			seen[s.Name] = true
			names = append(names, s.Name)
		}
	}
	return names
}

func table(all []Stage, ns []int, epochs int, loadBefore, loadAfter string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %d cores (GOMAXPROCS %d), load average (1/5/15 min) %s before, %s after; %d epoch(s) per training stage.\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), loadBefore, loadAfter, epochs)
	b.WriteString("| stage |")
	for _, n := range ns {
		fmt.Fprintf(&b, " %d users: time, rate, peak RSS |", n)
	}
	b.WriteString(" growth exponent |\n|---|")
	for range ns {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	by := map[string]map[int]Stage{}
	perStage := true
	for _, s := range all {
		if by[s.Name] == nil {
			by[s.Name] = map[int]Stage{}
		}
		by[s.Name][s.Users] = s
		perStage = perStage && s.PerStep
	}
	for _, name := range stageOrder(all) {
		fmt.Fprintf(&b, "| %s |", name)
		var xs, ys []float64
		for _, n := range ns {
			s, ok := by[name][n]
			if !ok {
				b.WriteString(" - |")
				continue
			}
			fmt.Fprintf(&b, " %.2f s, %s, %.0f MB |", s.Seconds, rate(s), s.PeakMB)
			if s.Seconds > 0 {
				xs, ys = append(xs, float64(n)), append(ys, s.Seconds)
			}
		}
		if e := exponent(xs, ys); math.IsNaN(e) {
			b.WriteString(" - |\n")
		} else {
			fmt.Fprintf(&b, " %.2f |\n", e)
		}
	}
	if !perStage {
		b.WriteString("\nPeak RSS is the process's peak so far (the kernel did not let the high-water mark be reset per stage).\n")
	}
	return b.String()
}

func plotTimes(ctx context.Context, all []Stage, path string) error {
	p := plot.New()
	p.Title.Text = "ralm stage time vs users (log-log)"
	p.X.Label.Text = "users"
	p.Y.Label.Text = "seconds"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	legend := plot.NewLegend()
	for i, name := range stageOrder(all) {
		var pts plotter.XYs
		for _, s := range all {
			if s.Name == name && s.Seconds > 0 {
				pts = append(pts, plotter.XY{X: float64(s.Users), Y: s.Seconds})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, sc.Color = chart.Color(i), chart.Color(i)
		if i >= 8 {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(l, sc)
		legend.Add(name, l, sc)
	}
	return chart.SavePNG(ctx, p, &legend, 22*vg.Centimeter, 14*vg.Centimeter, path)
}

// meter times stages and reads the peak RSS.
type meter struct {
	users   int
	w       io.Writer
	perStep bool
}

func (m *meter) stage(name string, count int, unit string, fn func() error) error {
	m.resetPeak()
	start := time.Now()
	if err := fn(); err != nil {
		return fmt.Errorf("%d users: %s: %w", m.users, name, err)
	}
	return m.emit(name, time.Since(start), count, unit)
}

func (m *meter) emit(name string, d time.Duration, count int, unit string) error {
	s := Stage{Users: m.users, Name: name, Seconds: d.Seconds(), Count: count, Unit: unit, PeakMB: peakMB(), PerStep: m.perStep}
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(m.w, "%s\n", raw)
	return err
}

// resetPeak resets the process's RSS high-water mark (Linux ≥ 4.0).
func (m *meter) resetPeak() {
	m.perStep = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakMB is VmHWM from /proc/self/status, in MB.
func peakMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return math.NaN()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return math.NaN()
}

func runChild(ctx context.Context, n, epochs int, seed int64, out string, withEval bool, evalMaxSeeds int, w io.Writer) error {
	m := &meter{users: n, w: w}
	dir := filepath.Join(out, fmt.Sprintf("run-%d", n))
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var ds *synth.Dataset
	sc := synth.DefaultConfig()
	sc.Users, sc.Items, sc.Seed = n, max(n/10, 100), seed
	if err := m.stage("synth", n, "users", func() (err error) {
		ds, err = synth.Generate(ctx, sc)
		return err
	}); err != nil {
		return err
	}
	nClicks := ds.Clicks.Len()
	clicksPath := filepath.Join(dir, "clicks.parquet")
	if err := m.stage("write clicks", nClicks, "clicks", func() error {
		return data.WriteClicks(ctx, clicksPath, ds.Clicks)
	}); err != nil {
		return err
	}
	var clicks *data.Clicks
	if err := m.stage("read clicks", nClicks, "clicks", func() (err error) {
		clicks, err = data.ReadClicks(ctx, clicksPath, data.ReadOptions{})
		return err
	}); err != nil {
		return err
	}
	splitDir := filepath.Join(dir, "split")
	var sp *split.Result
	if err := m.stage("split", nClicks, "clicks", func() (err error) {
		if sp, err = split.Split(clicks, split.DefaultOptions()); err != nil {
			return err
		}
		if err := os.MkdirAll(splitDir, 0o755); err != nil {
			return err
		}
		for _, f := range []struct {
			name string
			c    *data.Clicks
		}{{eval.SplitTrainFile, sp.Train}, {eval.SplitHeldoutFile, sp.Heldout}, {eval.SplitFreshSeedsFile, sp.FreshSeeds}, {eval.SplitFreshHeldoutFile, sp.FreshHeldout}} {
			if err := data.WriteClicks(ctx, filepath.Join(splitDir, f.name), f.c); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}

	// Training: ralm.Train reports its stages; features come first.
	cfg := ralm.DefaultTrainConfig()
	cfg.UserRep.Epochs, cfg.LookAlike.Epochs = epochs, epochs // the cold-start network keeps its default epochs (as ralm train --epochs-user/--epochs-la)
	cfg.SetSeed(seed)
	// the training clicks with the vocabularies ralm train gives train.parquet
	// (only ids with a training click), as eval.Run trains
	train := sp.Train.Compact()
	trainClicks := train.Len()
	units := map[string]struct {
		label, unit string
		count       int
	}{
		"":          {"features", "clicks", trainClicks},
		"userrep":   {"train userrep", "clicks", trainClicks * epochs},
		"embed":     {"embed", "users", train.Users.Len()},
		"lookalike": {"train lookalike", "clicks", trainClicks * epochs},
		"coldstart": {"train cold-start", "clicks", trainClicks},
	}
	cur, start := "", time.Now()
	m.resetPeak()
	var stageErr error
	finish := func(next string) {
		u, ok := units[cur]
		if !ok && stageErr == nil {
			stageErr = fmt.Errorf("%d users: training stage %q has no row in the table", n, cur)
		}
		if err := m.emit(u.label, time.Since(start), u.count, u.unit); err != nil && stageErr == nil {
			stageErr = err
		}
		cur, start = next, time.Now()
		m.resetPeak()
	}
	t, err := ralm.Train(ctx, ralm.TrainData{Clicks: train, Users: ds.Users, Items: ds.Items}, cfg, ralm.TrainOptions{Stage: finish})
	if err != nil {
		return fmt.Errorf("%d users: train: %w", n, err)
	}
	finish("")
	if stageErr != nil {
		return stageErr
	}

	folder := filepath.Join(dir, "model")
	if err := m.stage("write folder", t.Embeddings.Users.Len(), "users", func() error {
		return bundle.Write(folder, t.Bundle())
	}); err != nil {
		return err
	}
	t = nil
	runtime.GC()
	if withEval {
		if err := m.stage(fmt.Sprintf("eval (100 negatives, latest %d seeds)", evalMaxSeeds), len(sp.WarmItems)+len(sp.FreshItems), "items", func() error {
			_, _, err := eval.RunModel(ctx, folder, splitDir, eval.Options{Candidates: 100, MaxSeeds: evalMaxSeeds, Seed: seed})
			return err
		}); err != nil {
			return err
		}
	}
	var eng *serve.Engine
	if err := m.stage("serve start", n, "users", func() (err error) {
		eng, err = serve.Open(ctx, folder, serve.Options{DataDir: filepath.Join(dir, "state")})
		return err
	}); err != nil {
		return err
	}
	defer eng.Close()
	items := ds.Clicks.Items.IDs()[:min(100, ds.Clicks.Items.Len())]
	const scoreUsers = 1000
	if err := m.stage("score (1000 users x 100 items)", scoreUsers*len(items), "pairs", func() error {
		for i := 0; i < scoreUsers; i++ {
			id := ds.Clicks.Users.ID(int32(i * n / scoreUsers))
			if _, err := eng.Score(ctx, id, items); err != nil {
				if errors.Is(err, bundle.ErrUnknownUser) { // no training click after the split
					continue
				}
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return m.stage("expand (1 item, top 1000)", n, "users", func() error {
		_, err := eng.Audience(ctx, items[0], 1000)
		return err
	})
}
