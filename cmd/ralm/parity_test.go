package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/ralm/eval"
	"github.com/ralmlab/ralm/ralm/serve"
	"github.com/ralmlab/ralm/ralm/server"
)

// parityWorld is a model folder trained by the CLI, opened as a bundle and
// as a serving engine (no click ingested), with a few warm items, one with
// fewer than --min-seeds seeds, an unknown item and a few users.
type parityWorld struct {
	model string
	b     *bundle.Bundle
	e     *serve.Engine
	items []string // warm..., cold, unknown
	warm  []string
	users []string
	attrs string // the items table the model was trained with
}

func newParityWorld(t *testing.T) *parityWorld {
	t.Helper()
	w := newTrainedWorld(t)
	b, err := bundle.Open(t.Context(), w.model)
	if err != nil {
		t.Fatal(err)
	}
	warm := itemsBySeeds(b, bundle.DefaultMinSeeds, 1<<30)
	few := itemsBySeeds(b, 1, bundle.DefaultMinSeeds)
	if len(warm) < 3 || len(few) == 0 {
		t.Fatalf("test data: %d warm items, %d with few seeds", len(warm), len(few))
	}
	e, err := serve.Open(t.Context(), w.model, serve.Options{DataDir: t.TempDir(), MinSeeds: bundle.DefaultMinSeeds,
		ReclusterInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	u := b.Embeddings.Users
	return &parityWorld{model: w.model, b: b, e: e, warm: warm[:3],
		items: append(slices.Clone(warm[:3]), few[0], "987654"),
		users: []string{u.ID(0), u.ID(7), u.ID(int32(u.Len() - 1))}, attrs: w.path(itemsFile)}
}

// cliScores runs `ralm score -o json` and returns its rows.
func cliScores(t *testing.T, model, user string, items []string, flags ...string) []bundle.ItemScore {
	t.Helper()
	out := mustRun(t, append([]string{"score", "--model", model, "--user", user, "--items", strings.Join(items, ","), "-o", "json"}, flags...)...)
	var rows []struct {
		ItemID string   `json:"item_id"`
		Score  *float64 `json:"score"`
		Status string   `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("ralm score -o json: %v\n%s", err, out)
	}
	res := make([]bundle.ItemScore, len(rows))
	for i, r := range rows {
		res[i] = bundle.ItemScore{ItemID: r.ItemID, Status: bundle.Status(r.Status)}
		if r.Score != nil {
			// a float32 printed as a float64: exact both ways
			res[i].Score = float32(*r.Score)
		}
	}
	return res
}

// TestOfflineOnlineParity checks that the four readers of one model folder
// agree bit for bit, as issue #10 asks: `ralm score` (the cobra command),
// `ralm expand`, the serving engine's Score and Audience (no click
// ingested), and ralm/eval's "ralm" scorer (built by eval.Scorers) give the
// same scores for the same (user, item), and the same audience rankings
// (score descending, then user id) with the same scores: for warm items and
// for a cold one (issue #13: the same look-alike score over its few seeds).
// Then, with attributes (`--attributes` offline, SetItemAttributes in the
// engine), the cold item and a fresh item without clicks are features
// items, bit-identical in `ralm score`, `ralm expand` and the engine, and
// equal to eval's zero-seed "ralm-features" scorer on the look-alike scale.
func TestOfflineOnlineParity(t *testing.T) {
	ctx := t.Context()
	p := newParityWorld(t)
	b := p.b

	// ralm score vs the engine's Score: warm, cold and unknown items
	cli := map[[2]string]float32{} // (user, item) → score of a warm item
	for _, u := range p.users {
		got := cliScores(t, p.model, u, p.items)
		want, err := p.e.Score(ctx, u, p.items)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("user %s: ralm score %+v, engine %+v", u, got, want)
		}
		wantStatus := []bundle.Status{bundle.StatusOK, bundle.StatusOK, bundle.StatusOK, bundle.StatusCold, bundle.StatusUnknownItem}
		for i, r := range got {
			if r.Status != wantStatus[i] {
				t.Fatalf("user %s item %s: status %s, want %s", u, r.ItemID, r.Status, wantStatus[i])
			}
			if r.Status == bundle.StatusOK || r.Status == bundle.StatusCold {
				cli[[2]string{u, r.ItemID}] = r.Score
			}
		}
	}

	// ralm/eval's "ralm" scorer over every user of the folder
	users := b.Embeddings.Users
	tie, err := users.Ranks()
	if err != nil {
		t.Fatal(err)
	}
	known := make([]int32, users.Len())
	for i := range known {
		known[i] = int32(i)
	}
	proto := &eval.Protocol{Universe: eval.Universe{Known: known, TieRank: tie}, TrainClicks: make([]int32, users.Len())}
	scorers, err := eval.Scorers(proto, users, b.Seeds.Items, eval.Models{Embeddings: b.Embeddings, RALM: b.LookAlike})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(scorers, func(s eval.Scorer) bool { return s.Name() == "ralm" })
	if i < 0 {
		t.Fatal("eval.Scorers has no ralm scorer")
	}
	ralm := scorers[i]

	const n = 25
	cold := p.items[len(p.warm)]
	for _, item := range append(slices.Clone(p.warm), cold) {
		status := bundle.StatusOK
		if item == cold {
			status = bundle.StatusCold
		}
		seedIDs, _ := offlineSeeds(t, b, item)
		c := &eval.Case{Item: item, ItemIndex: -1, Seeds: seedIDs}
		out := make([]float32, len(known))
		if err := ralm.Score(ctx, c, known, out); err != nil {
			t.Fatal(err)
		}
		for _, u := range p.users {
			r, _ := users.Index(u)
			if want, ok := cli[[2]string{u, item}]; !ok || math.Float32bits(out[r]) != math.Float32bits(want) {
				t.Fatalf("user %s item %s: eval %v, ralm score %v", u, item, out[r], want)
			}
		}
		// the eval's ranking of the non-seeds, with the one tie rule
		isSeed := make([]bool, len(known))
		for _, s := range seedIDs {
			isSeed[s] = true
		}
		var order []int32
		for _, u := range known {
			if !isSeed[u] {
				order = append(order, u)
			}
		}
		slices.SortFunc(order, func(a, b int32) int {
			if c := cmp.Compare(out[b], out[a]); c != 0 {
				return c
			}
			return cmp.Compare(tie[a], tie[b])
		})
		want := make([]bundle.ScoredUser, n)
		for r, u := range order[:n] {
			want[r] = bundle.ScoredUser{UserID: users.ID(u), Score: out[u]}
		}

		// ralm expand
		path := filepath.Join(t.TempDir(), "top.parquet")
		mustRun(t, "expand", "--model", p.model, "--item", item, "--n", strconv.Itoa(n), "--out", path, "-q")
		ids, scores, _ := readAudience(t, path)
		got := make([]bundle.ScoredUser, len(ids))
		for r := range ids {
			got[r] = bundle.ScoredUser{UserID: ids[r], Score: float32(scores[r])}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("item %s: ralm expand %v, eval ranking %v", item, got, want)
		}
		// the engine's Audience
		a, err := p.e.Audience(ctx, item, n)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != status || a.Seeds != len(seedIDs) || !slices.Equal(a.Users, want) {
			t.Fatalf("item %s: engine audience %s, %d seeds, %v; eval %d seeds, %v", item, a.Status, a.Seeds, a.Users, len(seedIDs), want)
		}
	}

	// features: the cold item and a fresh item (no click in the model), with
	// the attributes of the training items table
	tab, err := data.ReadTable(ctx, p.attrs, data.ColItemID, data.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fresh := ""
	for _, id := range tab.Keys.IDs() {
		if _, ok := b.Seeds.Items.Index(id); !ok {
			fresh = id
			break
		}
	}
	if fresh == "" || b.ColdStart == nil {
		t.Fatalf("test data: fresh item %q, cold-start model %v", fresh, b.ColdStart != nil)
	}
	feat := []string{cold, fresh}
	for _, id := range feat {
		r, _ := tab.Keys.Index(id)
		if _, err := p.e.SetItemAttributes(ctx, id, rowValues(tab, int(r))); err != nil {
			t.Fatal(err)
		}
	}
	items := append(slices.Clone(p.items[:len(p.items)-1]), fresh, p.items[len(p.items)-1])
	zs := eval.ColdStart{Model: b.ColdStart, Emb: b.Embeddings.Vecs}
	for _, u := range p.users {
		got := cliScores(t, p.model, u, items, "--attributes", p.attrs)
		want, err := p.e.Score(ctx, u, items)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("user %s: ralm score --attributes %+v, engine %+v", u, got, want)
		}
		r, _ := users.Index(u)
		for _, res := range got {
			if !slices.Contains(feat, res.ItemID) {
				if res.Status == bundle.StatusFeatures {
					t.Fatalf("item %s: features without attributes", res.ItemID)
				}
				continue
			}
			if res.Status != bundle.StatusFeatures {
				t.Fatalf("user %s item %s: status %s, want features", u, res.ItemID, res.Status)
			}
			// eval's zero-seed scorer gives the cold-start logit (batched by
			// coldstart.Model.Logits, whose float32 rounding may differ in
			// the last bit from Logit's): on the look-alike scale it is the
			// same score
			ti, _ := tab.Keys.Index(res.ItemID)
			a, _, err := b.ColdStart.Encoder().Row(tab, int(ti))
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float32, 1)
			if err := zs.Score(ctx, &eval.Case{Item: res.ItemID, ItemIndex: -1, ZeroSeed: true, Attrs: a}, []int32{r}, out); err != nil {
				t.Fatal(err)
			}
			if e := b.LookAlike.ScoreOfLogit(out[0]); math.Abs(float64(e-res.Score)) > 1e-5*max(1, math.Abs(float64(e))) {
				t.Fatalf("user %s item %s: features score %v, eval ralm-features on the look-alike scale %v", u, res.ItemID, res.Score, e)
			}
		}
	}
	for _, item := range feat {
		path := filepath.Join(t.TempDir(), "top.parquet")
		mustRun(t, "expand", "--model", p.model, "--item", item, "--attributes", p.attrs, "--n", strconv.Itoa(n), "--out", path, "-q")
		ids, scores, _ := readAudience(t, path)
		a, err := p.e.Audience(ctx, item, n)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != bundle.StatusFeatures || len(a.Users) != len(ids) {
			t.Fatalf("item %s: engine audience %s of %d users, ralm expand %d users", item, a.Status, len(a.Users), len(ids))
		}
		for r := range ids {
			if ids[r] != a.Users[r].UserID || float32(scores[r]) != a.Users[r].Score {
				t.Fatalf("item %s rank %d: ralm expand %s %v, engine %+v", item, r+1, ids[r], scores[r], a.Users[r])
			}
		}
	}
}

// rowValues is row r of an items table as SetItemAttributes takes it.
func rowValues(t *data.Table, r int) map[string][]string {
	out := map[string][]string{}
	for _, c := range t.Columns {
		if c.Kind == data.ColumnContinuous {
			out[c.Name] = []string{strconv.FormatFloat(c.Floats[r], 'g', -1, 64)}
			continue
		}
		for _, code := range c.Row(r) {
			out[c.Name] = append(out[c.Name], c.Values.ID(code))
		}
	}
	return out
}

// offlineSeeds returns the embedding rows of an item's distinct seeds.
func offlineSeeds(t *testing.T, b *bundle.Bundle, item string) ([]int32, []string) {
	t.Helper()
	it, ok := b.Seeds.Items.Index(item)
	if !ok {
		t.Fatalf("item %s has no seeds", item)
	}
	seen := map[int32]bool{}
	var rows []int32
	var ids []string
	for k, i := range b.Seeds.Item {
		if i != it {
			continue
		}
		id := b.Seeds.Users.ID(b.Seeds.User[k])
		r, ok := b.Embeddings.Users.Index(id)
		if ok && !seen[r] {
			seen[r] = true
			rows, ids = append(rows, r), append(ids, id)
		}
	}
	return rows, ids
}

// TestScoreMatchesHTTP checks the README's claim that `ralm score` and
// `POST /v1/score` of `ralm serve` (the ralm/server handler) print the same
// scores and statuses for the same model folder: the -o json rows equal
// the HTTP reply bit for bit, and each text line is the reply's score with
// six decimals.
func TestScoreMatchesHTTP(t *testing.T) {
	p := newParityWorld(t)
	srv := httptest.NewServer(server.New(p.e, server.Config{}).Handler())
	defer srv.Close()
	for _, u := range p.users {
		body := fmt.Sprintf(`{"user_id": %s, "item_ids": [%s]}`, u, strings.Join(p.items, ","))
		resp, err := http.Post(srv.URL+"/v1/score", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var reply struct {
			UserID json.Number `json:"user_id"`
			Scores []struct {
				ItemID json.Number `json:"item_id"`
				Score  float32     `json:"score"`
				Status string      `json:"status"`
			} `json:"scores"`
		}
		var raw bytes.Buffer
		err = json.NewDecoder(io.TeeReader(resp.Body, &raw)).Decode(&reply)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /v1/score %s: %d %v\n%s", body, resp.StatusCode, err, raw.String())
		}
		if reply.UserID.String() != u || len(reply.Scores) != len(p.items) {
			t.Fatalf("reply %s", raw.String())
		}
		got := cliScores(t, p.model, u, p.items)
		text := mustRun(t, "score", "--model", p.model, "--user", u, "--items", strings.Join(p.items, ","))
		lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
		for i, s := range reply.Scores {
			if s.ItemID.String() != got[i].ItemID || s.Status != string(got[i].Status) ||
				math.Float32bits(s.Score) != math.Float32bits(got[i].Score) {
				t.Fatalf("user %s item %s: HTTP %v %s, ralm score %v %s", u, p.items[i], s.Score, s.Status, got[i].Score, got[i].Status)
			}
			want := "-"
			if s.Status != string(bundle.StatusUnknownItem) {
				want = strconv.FormatFloat(float64(s.Score), 'f', 6, 32)
			}
			if f := strings.Fields(lines[i]); len(f) != 3 || f[0] != p.items[i] || f[1] != want || f[2] != s.Status {
				t.Fatalf("ralm score line %q, HTTP %s %s %s", lines[i], p.items[i], want, s.Status)
			}
		}
	}
}
