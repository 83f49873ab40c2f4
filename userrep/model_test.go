package userrep

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ralmlab/ralm/data"
)

// tinyPlanted is a very small planted data set for fast end-to-end tests.
func tinyPlanted() *planted {
	return genPlanted(plantedSpec{users: 150, items: 60, communities: 4, clicksPerUser: 6, inCommunity: 0.8, seed: 3})
}

// quickConfig trains a small model in well under a second.
func quickConfig() Config {
	c := DefaultConfig()
	c.Dim = 8
	c.AttDim = 4
	c.Hidden = []int{12, 8}
	c.Negatives = 4
	c.Batch = 32
	c.Epochs = 2
	return c
}

// TestEndToEndGradCheck checks, in float64, the gradients of the loss of one
// batch with respect to every weight of the model — embedding tables, empty
// vectors, continuous-field layers, tower and output item vectors — as
// computed by gather, engine and scatter, against central differences.
func TestEndToEndGradCheck(t *testing.T) {
	p := tinyPlanted()
	{
		for _, merge := range []Merge{MergeAttention, MergeConcat} {
			t.Run(string(merge), func(t *testing.T) {
				cfg := quickConfig()
				cfg.Dim, cfg.AttDim, cfg.Hidden, cfg.Negatives, cfg.Batch = 3, 2, []int{4, 3}, 2, 6
				cfg.Merge = merge
				cfg.LogQ = merge == MergeConcat
				tr, err := newTrainer[float64](p.fb, p.clicks, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer tr.close()
				// five real examples (one padding row), including a user
				// with a single training click (empty item bag)
				ex := tr.epochExamples(nil)[:4]
				for u, uc := range tr.users {
					if len(uc.train) == 1 {
						ex = append(ex, example{int32(u), uc.train[0]})
						break
					}
				}
				n := len(ex)
				tr.loadBatch(ex)
				if _, err := tr.computeGrads(n); err != nil {
					t.Fatal(err)
				}
				dense := append([]float64(nil), tr.dense...)
				tabs := make([]map[int32][]float64, len(tr.tabGrad))
				for f, sg := range tr.tabGrad {
					if sg == nil {
						continue
					}
					tabs[f] = map[int32][]float64{}
					for k, r := range sg.rows {
						tabs[f][r] = append([]float64(nil), sg.g[k*sg.width:(k+1)*sg.width]...)
					}
				}
				outs := map[int32][]float64{}
				for k, r := range tr.outGrad.rows {
					w := tr.outGrad.width
					outs[r] = append([]float64(nil), tr.outGrad.g[k*w:(k+1)*w]...)
				}
				lossAt := func() float64 {
					l, err := tr.computeGrads(n)
					if err != nil {
						t.Fatal(err)
					}
					return l
				}
				check := func(name string, vals []float64, grad func(i int) float64) {
					t.Helper()
					worst := 0.0
					for i := range vals {
						orig := vals[i]
						const eps = 1e-6
						vals[i] = orig + eps
						lp := lossAt()
						vals[i] = orig - eps
						lm := lossAt()
						vals[i] = orig
						num := (lp - lm) / (2 * eps)
						r := relErr(grad(i), num)
						worst = math.Max(worst, r)
						if r > 1e-4 {
							t.Fatalf("%s[%d]: analytic %.10g numeric %.10g", name, i, grad(i), num)
						}
					}
					t.Logf("%s: max rel err %.3g", name, worst)
				}
				for _, s := range tr.lay.spans {
					check(s.name, tr.p.get(s), func(i int) float64 { return dense[s.off+i] })
				}
				rowGrad := func(m map[int32][]float64, width int) func(int) float64 {
					return func(i int) float64 {
						if g, ok := m[int32(i/width)]; ok {
							return g[i%width]
						}
						return 0
					}
				}
				for f, tab := range tr.p.tables {
					if tab != nil {
						check(tr.lay.fields[f].Name+".table", tab, rowGrad(tabs[f], tr.lay.m))
					}
				}
				check("items.out", tr.p.out, rowGrad(outs, tr.lay.d))
			})
		}
	}
}

// TestDeterminism trains twice with the same seed (byte-identical model
// files) and once with another seed (different weights), for both engines.
func TestDeterminism(t *testing.T) {
	p := tinyPlanted()
	{
		t.Run("graph", func(t *testing.T) {
			cfg := quickConfig()
			cfg.FieldDropout = 0.2
			enc := func(c Config) []byte {
				m, _, err := Train(context.Background(), p.fb, p.clicks, c, TrainOptions{})
				if err != nil {
					t.Fatal(err)
				}
				b, err := m.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			a, b := enc(cfg), enc(cfg)
			if !bytes.Equal(a, b) {
				t.Fatal("same seed gave different model files")
			}
			cfg.Seed++
			if bytes.Equal(a, enc(cfg)) {
				t.Fatal("different seeds gave identical model files")
			}
		})
	}
}

// trainedTiny returns a small trained model.
func trainedTiny(t *testing.T, edit func(*Config)) (*Model, *planted) {
	t.Helper()
	p := tinyPlanted()
	cfg := quickConfig()
	if edit != nil {
		edit(&cfg)
	}
	m, _, err := Train(context.Background(), p.fb, p.clicks, cfg, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m, p
}

// TestSaveLoad round-trips a model through a file: same config, fields,
// items and weights, and the same embeddings.
func TestSaveLoad(t *testing.T) {
	m, p := trainedTiny(t, func(c *Config) { c.Merge, c.Heads, c.FieldNorm = MergeAttention, 2, true })
	path := filepath.Join(t.TempDir(), "userrep.model")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Config(), m.Config(); got.Heads != want.Heads || !got.FieldNorm || got.Seed != want.Seed || got.Dim != want.Dim {
		t.Errorf("config: got %+v, want %+v", got, want)
	}
	if err := sameFields(m.Fields(), l.Fields()); err != nil {
		t.Error(err)
	}
	if l.Items().Len() != m.Items().Len() || l.Items().ID(5) != m.Items().ID(5) {
		t.Error("item vocabulary differs")
	}
	expectClose(t, "item vectors", l.ItemVectors(), m.ItemVectors(), 0)
	expectClose(t, "item bias", l.ItemBias(), m.ItemBias(), 0)
	var ft data.Features
	p.fb.Build("3", []int32{1, 2, 3}, &ft)
	e1, err := m.Embed(&ft)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := l.Embed(&ft)
	if err != nil {
		t.Fatal(err)
	}
	expectClose(t, "embedding", e2, e1, 0)
	if l.Features() != nil {
		t.Error("a builder without a binary form should load as nil")
	}
	b1, _ := m.MarshalBinary()
	b2, _ := l.MarshalBinary()
	if !bytes.Equal(b1, b2) {
		t.Error("re-encoding a loaded model changed its bytes")
	}
}

// TestLoadErrors covers corrupt, truncated, wrong-version and foreign files.
func TestLoadErrors(t *testing.T) {
	m, _ := trainedTiny(t, nil)
	good, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	flip := append([]byte(nil), good...)
	flip[len(flip)/2] ^= 0x40
	version := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(version[8:], FileVersion+1)
	// a consistent checksum over a header that lies about the item count
	hl := binary.LittleEndian.Uint32(good[12:])
	hdr := strings.Replace(string(good[16:16+hl]), `"num_items":60`, `"num_items":61`, 1)
	if hdr == string(good[16:16+hl]) {
		t.Fatal("test setup: num_items not found in the header")
	}
	lie := append([]byte(nil), good[:12]...)
	lie = binary.LittleEndian.AppendUint32(lie, uint32(len(hdr)))
	lie = append(lie, hdr...)
	lie = append(lie, good[16+hl:len(good)-sha256.Size]...)
	sum := sha256.Sum256(lie)
	lie = append(lie, sum[:]...)
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"inconsistent header", lie, "implies"},
		{"empty", nil, "not a userrep model"},
		{"foreign", []byte("PAR1 this is not a model file at all, not at all"), "not a userrep model"},
		{"corrupt", flip, "checksum"},
		{"truncated", good[:len(good)-100], "checksum"},
		{"header only", good[:20], "truncated"},
		{"version", version, "unsupported userrep model file version"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name)
			if err := os.WriteFile(path, c.b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load: %v, want an error containing %q", err, c.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file loaded")
	}
	if _, err := Unmarshal(nil); !errors.Is(err, ErrNotModel) {
		t.Errorf("Unmarshal(nil) = %v, want ErrNotModel", err)
	}
}

// TestEmbedParity compares Model.EmbedBatch (plain Go) with the gorgonia
// graph's forward pass on random float32 features: max abs diff < 1e-5.
func TestEmbedParity(t *testing.T) {
	for _, merge := range []Merge{MergeAttention, MergeConcat} {
		t.Run(string(merge), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Merge = merge
			p := genPlanted(plantedSpec{users: 40, items: 300, communities: 5, clicksPerUser: 10, inCommunity: 0.8, seed: 9})
			lay, err := newLayout(cfg, p.fb.Fields(), p.clicks.Items.Len())
			if err != nil {
				t.Fatal(err)
			}
			pr := newParams[float32](lay)
			pr.init(rand.New(rand.NewSource(5)))
			m, err := newModel(pr, p.fb, p.clicks.Items)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewSource(6))
			const B = 40
			fts := make([]data.Features, B)
			for b := range fts {
				clicked := make([]int32, rng.Intn(30))
				for i := range clicked {
					clicked[i] = int32(rng.Intn(300))
				}
				p.fb.Build(p.clicks.Users.ID(int32(b)), clicked, &fts[b])
			}
			got := make([]float32, B*m.Dim())
			if err := m.EmbedBatch(context.Background(), fts, got); err != nil {
				t.Fatal(err)
			}
			gn, err := newGraphNet(pr, B, false)
			if err != nil {
				t.Fatal(err)
			}
			defer gn.close()
			for b := range fts {
				if err := pr.pool(&fts[b], gn.x[b*lay.m:], B*lay.m); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := gn.run(nil, nil, nil); err != nil {
				t.Fatal(err)
			}
			expectClose(t, "embeddings", got, gn.embeddings(), 1e-5)
		})
	}
}

// TestEmbedConcurrent embeds from many goroutines at once (run with -race)
// and checks every result against a sequential one.
func TestEmbedConcurrent(t *testing.T) {
	m, p := trainedTiny(t, nil)
	users, _ := prepareClicks(p.clicks, 0)
	fts := make([]data.Features, len(users))
	for u := range users {
		p.fb.Build(p.clicks.Users.ID(int32(u)), users[u].train, &fts[u])
	}
	want := make([]float32, len(fts)*m.Dim())
	if err := m.EmbedBatch(context.Background(), fts, want); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			if g%2 == 0 {
				got := make([]float32, len(want))
				if err := m.EmbedBatch(context.Background(), fts, got); err != nil {
					errs <- err
					return
				}
				if !equalF32(got, want) {
					errs <- errors.New("concurrent EmbedBatch differs")
				}
				return
			}
			for u := g; u < len(fts); u += 8 {
				e, err := m.Embed(&fts[u])
				if err != nil {
					errs <- err
					return
				}
				if !equalF32(e, want[u*m.Dim():(u+1)*m.Dim()]) {
					errs <- errors.New("concurrent Embed differs from EmbedBatch")
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestEmbedErrors: bad inputs give errors, not panics.
func TestEmbedErrors(t *testing.T) {
	m, _ := trainedTiny(t, nil)
	if _, err := m.Embed(nil); err == nil {
		t.Error("nil features accepted")
	}
	bad := data.Features{Bags: [][]int32{{1000}}, Values: make([]float32, 6)}
	if _, err := m.Embed(&bad); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("out-of-range id: %v", err)
	}
	if _, err := m.Embed(&data.Features{}); err == nil {
		t.Error("features with no fields accepted")
	}
	if err := m.EmbedBatch(context.Background(), make([]data.Features, 2), make([]float32, 3)); err == nil {
		t.Error("short dst accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fts := make([]data.Features, 200)
	for i := range fts {
		fts[i] = data.Features{Bags: make([][]int32, 6), Values: make([]float32, 6)}
	}
	if err := m.EmbedBatch(ctx, fts, make([]float32, 200*m.Dim())); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestEmbedUsers embeds every user with a click, also through a click log
// whose item vocabulary is ordered differently from the model's.
func TestEmbedUsers(t *testing.T) {
	m, p := trainedTiny(t, nil)
	emb, err := m.EmbedUsers(context.Background(), p.clicks)
	if err != nil {
		t.Fatal(err)
	}
	if emb.Dim != m.Dim() || emb.Users.Len() == 0 || len(emb.Vecs) != emb.Users.Len()*emb.Dim {
		t.Fatalf("embeddings: %d users, dim %d, %d values", emb.Users.Len(), emb.Dim, len(emb.Vecs))
	}
	// features built in parallel = built one by one and embedded as a batch
	users, err := prepareClicks(p.clicks, 0)
	if err != nil {
		t.Fatal(err)
	}
	fts := make([]data.Features, emb.Users.Len())
	for i := range fts {
		u, _ := p.clicks.Users.Index(emb.Users.ID(int32(i)))
		p.fb.Build(emb.Users.ID(int32(i)), users[u].train, &fts[i])
	}
	serial := make([]float32, len(emb.Vecs))
	if err := m.EmbedBatch(context.Background(), fts, serial); err != nil {
		t.Fatal(err)
	}
	expectClose(t, "embeddings vs serially built features", emb.Vecs, serial, 0)
	// same clicks, item vocabulary in reverse order
	items := data.NewVocab(data.IDInt64)
	for i := p.clicks.Items.Len() - 1; i >= 0; i-- {
		items.MustAdd(p.clicks.Items.ID(int32(i)))
	}
	re := &data.Clicks{Users: p.clicks.Users, Items: items, User: p.clicks.User, TS: p.clicks.TS}
	for _, it := range p.clicks.Item {
		j, _ := items.Index(p.clicks.Items.ID(it))
		re.Item = append(re.Item, j)
	}
	emb2, err := m.EmbedUsers(context.Background(), re)
	if err != nil {
		t.Fatal(err)
	}
	expectClose(t, "remapped embeddings", emb2.Vecs, emb.Vecs, 0)
}

// TestFieldAttention: one weight per field and head, each head summing to
// 1; nil for the concat merge.
func TestFieldAttention(t *testing.T) {
	for _, c := range []struct {
		merge Merge
		heads int
	}{{MergeAttention, 2}, {MergeGated, 1}, {MergeConcat, 1}} {
		m, p := trainedTiny(t, func(cfg *Config) { cfg.Merge, cfg.Heads, cfg.Epochs = c.merge, c.heads, 1 })
		var ft data.Features
		p.fb.Build("2", []int32{4, 5}, &ft)
		w, err := m.FieldAttention(&ft)
		if err != nil {
			t.Fatal(err)
		}
		if c.merge == MergeConcat {
			if w != nil {
				t.Errorf("concat: weights %v", w)
			}
			continue
		}
		F := len(m.Fields())
		if len(w) != c.heads*F {
			t.Fatalf("%s: %d weights, want %d", c.merge, len(w), c.heads*F)
		}
		for h := 0; h < c.heads; h++ {
			var s float64
			for _, x := range w[h*F : (h+1)*F] {
				if x < 0 {
					t.Errorf("%s: negative weight %v", c.merge, x)
				}
				s += float64(x)
			}
			if math.Abs(s-1) > 1e-5 {
				t.Errorf("%s: head %d sums to %v", c.merge, h, s)
			}
		}
	}
}

// TestEmbedPositionIndependent checks that a user's embedding does not
// depend on which users are embedded with it: the same features embedded
// alone (Embed), in EmbedBatch over everyone (several 64-user chunks) and
// inside smaller batches at several offsets give identical bits, for every
// tower variant and for widths that are not multiples of the SIMD blocks.
func TestEmbedPositionIndependent(t *testing.T) {
	shapes := []struct {
		name          string
		dim, att, out int
	}{{"default", 64, 32, 64}, {"odd", 13, 21, 11}}
	for _, sh := range shapes {
		for _, v := range netVariants {
			t.Run(sh.name+"/"+v.name, func(t *testing.T) {
				cfg := DefaultConfig()
				v.edit(&cfg)
				cfg.Dim, cfg.AttDim = sh.dim, sh.att
				cfg.Hidden = append(append([]int(nil), cfg.Hidden[:len(cfg.Hidden)-1]...), sh.out)
				p := genPlanted(plantedSpec{users: 150, items: 300, communities: 5, clicksPerUser: 10, inCommunity: 0.8, seed: 9})
				lay, err := newLayout(cfg, p.fb.Fields(), p.clicks.Items.Len())
				if err != nil {
					t.Fatal(err)
				}
				pr := newParams[float32](lay)
				pr.init(rand.New(rand.NewSource(5)))
				m, err := newModel(pr, p.fb, p.clicks.Items)
				if err != nil {
					t.Fatal(err)
				}
				rng := rand.New(rand.NewSource(6))
				const n = 150
				fts := make([]data.Features, n)
				for b := range fts {
					clicked := make([]int32, rng.Intn(30))
					for i := range clicked {
						clicked[i] = int32(rng.Intn(300))
					}
					p.fb.Build(p.clicks.Users.ID(int32(b)), clicked, &fts[b])
				}
				d := m.Dim()
				all := make([]float32, n*d)
				if err := m.EmbedBatch(context.Background(), fts, all); err != nil {
					t.Fatal(err)
				}
				for _, u := range []int{0, 1, 5, 63, 64, 66, 130, 149} {
					want := all[u*d : (u+1)*d]
					alone, err := m.Embed(&fts[u])
					if err != nil {
						t.Fatal(err)
					}
					if !equalF32(alone, want) {
						t.Fatalf("user %d: Embed alone differs from its row in EmbedBatch", u)
					}
					// u at offset off of a batch of size size
					for _, bs := range [][2]int{{0, 2}, {1, 2}, {3, 7}, {5, 9}, {17, 64}, {63, 64}, {40, 100}} {
						off, size := bs[0], bs[1]
						lo := u - off
						if lo < 0 || lo+size > n {
							continue
						}
						got := make([]float32, size*d)
						if err := m.EmbedBatch(context.Background(), fts[lo:lo+size], got); err != nil {
							t.Fatal(err)
						}
						if !equalF32(got[off*d:(off+1)*d], want) {
							t.Fatalf("user %d at offset %d of a batch of %d differs from its row in EmbedBatch", u, off, size)
						}
					}
				}
			})
		}
	}
}
