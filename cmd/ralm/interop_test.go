package main

import (
	"encoding/json"
	"math"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/auc"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/offline"
)

// interopDir holds the independent Parquet reader of TestParquetInterop:
// hyparquet (pure JavaScript, not Arrow) run by node. Install it with
// npm ci --prefix testdata/interop (.ci/run does).
const interopDir = "../../testdata/interop"

// jsTable is a Parquet file as testdata/interop/read.mjs prints it.
type jsTable struct {
	Schema []struct {
		Name        string  `json:"name"`
		Type        *string `json:"type"`
		LogicalType *string `json:"logical_type"`
	} `json:"schema"`
	NumRows int              `json:"num_rows"`
	Rows    []map[string]any `json:"rows"`
}

// readJS reads a Parquet file with the independent reader.
func readJS(t *testing.T, path string) jsTable {
	t.Helper()
	cmd := osexec.Command("node", "read.mjs", path)
	cmd.Dir = interopDir
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*osexec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("hyparquet cannot read %s: %v\n%s", path, err, stderr)
	}
	var tab jsTable
	if err := json.Unmarshal(out, &tab); err != nil {
		t.Fatalf("read.mjs output: %v", err)
	}
	if tab.NumRows != len(tab.Rows) {
		t.Fatalf("%s: %d rows read, metadata says %d", path, len(tab.Rows), tab.NumRows)
	}
	return tab
}

// TestParquetInterop reads the Parquet files users get from ralm —
// embeddings, an expansion, evaluation scores — with a reader that shares
// no code with ours (hyparquet, JavaScript) and checks every value against
// what ralm computed, so pandas/pyarrow/DuckDB-style consumers can rely on
// the files. It skips, saying how to enable it, when node or the npm
// package is missing, except under CI=true, where it must run.
func TestParquetInterop(t *testing.T) {
	_, nodeErr := osexec.LookPath("node")
	_, pkgErr := os.Stat(filepath.Join(interopDir, "node_modules", "hyparquet"))
	if nodeErr != nil || pkgErr != nil {
		msg := "the independent Parquet reader is not installed: needs node (20+) and `npm ci --prefix testdata/interop`"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: .ci/run installs it)")
		}
		t.Skip(msg)
	}
	w := newTrainedWorld(t)
	ctx := t.Context()
	b, err := bundle.Open(ctx, w.model)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("embeddings", func(t *testing.T) {
		path := filepath.Join(w.model, bundle.EmbeddingsFile)
		js := readJS(t, path)
		emb, err := data.ReadEmbeddings(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if len(js.Rows) != emb.Users.Len() {
			t.Fatalf("%d rows, want %d users", len(js.Rows), emb.Users.Len())
		}
		for r, row := range js.Rows {
			if row["user_id"] != emb.Users.ID(int32(r)) {
				t.Fatalf("row %d: user_id %v, want %s", r, row["user_id"], emb.Users.ID(int32(r)))
			}
			vec, _ := row["embedding"].([]any)
			if len(vec) != emb.Dim {
				t.Fatalf("row %d: embedding of %d values, want %d", r, len(vec), emb.Dim)
			}
			for j, x := range vec {
				if f, _ := x.(float64); float32(f) != emb.Vecs[r*emb.Dim+j] {
					t.Fatalf("row %d value %d: %v, want %v", r, j, x, emb.Vecs[r*emb.Dim+j])
				}
			}
		}
	})

	t.Run("expand", func(t *testing.T) {
		item := itemsBySeeds(b, bundle.DefaultMinSeeds, 1<<30)[0]
		path := filepath.Join(t.TempDir(), "audience.parquet")
		mustRun(t, "expand", "--model", w.model, "--item", item, "--n", "50", "--out", path, "-q")
		js := readJS(t, path)
		e, err := offline.ExpandItem(ctx, b, item, 50, offline.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(js.Rows) != len(e.Users) {
			t.Fatalf("%d rows, want %d", len(js.Rows), len(e.Users))
		}
		types := map[string]string{}
		for _, s := range js.Schema {
			if s.Type != nil {
				types[s.Name] = *s.Type
			}
		}
		if types["user_id"] != "INT64" || types["score"] != "FLOAT" || types["rank"] != "INT32" {
			t.Fatalf("column types %v, want user_id INT64, score FLOAT, rank INT32", types)
		}
		for i, row := range js.Rows {
			score, _ := row["score"].(float64)
			rank, _ := row["rank"].(float64)
			if row["user_id"] != e.Users[i].UserID || float32(score) != e.Users[i].Score || int(rank) != i+1 {
				t.Fatalf("row %d: %v, want user %s score %v rank %d", i, row, e.Users[i].UserID, e.Users[i].Score, i+1)
			}
		}
	})

	t.Run("eval scores", func(t *testing.T) {
		dir := t.TempDir()
		scores, report := filepath.Join(dir, "scores.parquet"), filepath.Join(dir, "report.json")
		mustRun(t, "eval", "--model", w.model, "--split", w.dir, "--scores", scores, "--report", report, "-q")
		js := readJS(t, scores)
		fresh := map[string]bool{}
		fs, err := data.ReadClicks(ctx, w.path(freshSeedsFile), data.ReadOptions{AllowEmpty: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range fs.Item {
			fresh[fs.Items.ID(it)] = true
		}
		// Recompute every model's warm and fresh AUC (the mean per-item
		// AUC) from the scores as read by hyparquet.
		type key struct{ model, item string }
		cands := map[key]struct {
			s []float32
			p []bool
		}{}
		var order []key
		for _, row := range js.Rows {
			k := key{row["model"].(string), row["item_id"].(string)}
			c, seen := cands[k]
			if !seen {
				order = append(order, k)
			}
			s, _ := row["score"].(float64)
			l, _ := row["label"].(float64)
			c.s, c.p = append(c.s, float32(s)), append(c.p, l == 1)
			cands[k] = c
		}
		sum, n := map[string]float64{}, map[string]int{}
		for _, k := range order {
			a := auc.Labeled(cands[k].s, cands[k].p)
			if math.IsNaN(a) {
				continue
			}
			bucket := k.model + "/warm"
			if fresh[k.item] {
				bucket = k.model + "/fresh"
			}
			sum[bucket] += a
			n[bucket]++
		}
		var rep struct {
			Models map[string]map[string]struct {
				AUC    *float64 `json:"auc"`
				NItems int      `json:"n_items"`
			} `json:"models"`
		}
		rb, _ := os.ReadFile(report)
		if err := json.Unmarshal(rb, &rep); err != nil {
			t.Fatal(err)
		}
		checked := 0
		for model, buckets := range rep.Models {
			for _, bucket := range []string{"warm", "fresh"} {
				m, ok := buckets[bucket]
				if !ok || m.AUC == nil {
					continue
				}
				k := model + "/" + bucket
				got := sum[k] / float64(n[k])
				if n[k] != m.NItems || math.Abs(got-*m.AUC) > 1e-9 {
					t.Errorf("%s: %d items, AUC %s from the scores file; the report says %d, %v", k, n[k], strconv.FormatFloat(got, 'f', 6, 64), m.NItems, *m.AUC)
				}
				checked++
			}
		}
		if checked < 4 {
			t.Fatalf("only %d (model, bucket) AUCs checked", checked)
		}
	})
}
