package coldstart

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// smallWorld is a small planted world (120 users, 60 items), its encoder
// (4 bins) and every item's attributes.
func smallWorld(t *testing.T) (*planted, *Encoder, []Attrs) {
	t.Helper()
	p := newPlanted(5, 120, 60, 4)
	enc, err := NewEncoder(p.table, 4)
	if err != nil {
		t.Fatal(err)
	}
	attrs := make([]Attrs, 60)
	for i := range attrs {
		if attrs[i], _, err = enc.Row(p.table, i); err != nil {
			t.Fatal(err)
		}
	}
	return p, enc, attrs
}

// smallModel trains a quick model on smallWorld.
func smallModel(t *testing.T, seed int64) (*Model, *planted, []Attrs) {
	t.Helper()
	p, enc, attrs := smallWorld(t)
	m, _, err := Train(context.Background(), p.emb, p.dim, p.clickers, attrs, enc, Config{Epochs: 2, Hidden: 8, Dim: 4, Batch: 32, Seed: seed}, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m, p, attrs
}

func TestSaveLoadAndReproducible(t *testing.T) {
	m, p, attrs := smallModel(t, 7)
	path := filepath.Join(t.TempDir(), "coldstart.bin")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		a, _ := m.Item(attrs[i])
		b, _ := got.Item(attrs[i])
		u := p.emb[i*p.dim : (i+1)*p.dim]
		if x, y := m.Logit(u, a), got.Logit(u, b); x != y {
			t.Errorf("item %d: logit %v before saving, %v after loading", i, x, y)
		}
	}
	b1, _ := m.MarshalBinary()
	again, _, _ := smallModel(t, 7)
	b2, _ := again.MarshalBinary()
	if !bytes.Equal(b1, b2) {
		t.Error("two runs with the same seed give different weights")
	}
	other, _, _ := smallModel(t, 8)
	b3, _ := other.MarshalBinary()
	if bytes.Equal(b1, b3) {
		t.Error("runs with seeds 7 and 8 give the same weights")
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"other file", []byte("RALMLOOK...."), ErrNotModel},
		{"flipped byte", func() []byte { c := slices.Clone(b1); c[len(c)/2] ^= 1; return c }(), ErrCorrupt},
		{"truncated", b1[:len(b1)-7], ErrCorrupt},
	} {
		if _, err := Unmarshal(tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestEncode(t *testing.T) {
	p := newPlanted(5, 20, 30, 4)
	enc, err := NewEncoder(p.table, 4)
	if err != nil {
		t.Fatal(err)
	}
	row, unknown, err := enc.Row(p.table, 3)
	if err != nil || unknown != 0 {
		t.Fatal(err, unknown)
	}
	// The same item given as raw values, as POST /v1/items carries them.
	vals := map[string][]string{}
	for _, c := range p.table.Columns {
		switch c.Name {
		case "year":
			vals["year"] = []string{formatFloat(c.Floats[3])}
		default:
			for _, code := range c.Row(3) {
				vals[c.Name] = append(vals[c.Name], c.Values.ID(code))
			}
		}
	}
	got, unknown, err := enc.Encode(vals)
	if err != nil || unknown != 0 {
		t.Fatal(err, unknown)
	}
	for f := range row {
		r := slices.Clone(row[f])
		slices.Sort(r)
		r = slices.Compact(r)
		g := slices.Clone(got[f])
		slices.Sort(g)
		if !slices.Equal(r, g) {
			t.Errorf("field %s: Row %v, Encode %v", enc.Fields[f].Name, row[f], got[f])
		}
	}
	for _, tc := range []struct {
		name   string
		vals   map[string][]string
		errSub string
		unk    int
	}{
		{"unknown field", map[string][]string{"colour": {"red"}}, `"colour": not a field`, 0},
		{"two categories", map[string][]string{"category": {"c0", "c1"}}, "2 values", 0},
		{"bad number", map[string][]string{"year": {"soon"}}, "not a finite number", 0},
		{"unseen value", map[string][]string{"tags": {"t0", "brand-new"}}, "", 1},
		{"empty", map[string][]string{}, "", 0},
	} {
		_, unk, err := enc.Encode(tc.vals)
		switch {
		case tc.errSub != "" && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.errSub))):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.errSub)
		case tc.errSub == "" && (err != nil || unk != tc.unk):
			t.Errorf("%s: error %v, %d unknown values (want %d)", tc.name, err, unk, tc.unk)
		}
	}
}

// formatFloat writes a continuous value as Encode parses it.
func formatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
