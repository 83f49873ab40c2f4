package lookalike

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, pooling := range []Pooling{PoolingAttention, PoolingAvg, "attention+prior", "attention+prior+prop"} {
		t.Run(string(pooling), func(t *testing.T) {
			m := testModel(t, pooling, 12, 8, 5, 9)
			path := filepath.Join(t.TempDir(), "la.model")
			if err := m.Save(path); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := m.encode()
			b, _ := got.encode()
			if !bytes.Equal(a, b) {
				t.Fatal("reloaded model encodes differently")
			}
			if got.Config() != m.Config() || got.Dim() != 12 || got.Hidden() != 8 {
				t.Fatalf("config %+v dims %d/%d", got.Config(), got.Dim(), got.Hidden())
			}
			// same scores through both models
			rng := newRNG(1, 1)
			seeds := make([]float32, 30*12)
			for i := range seeds {
				seeds[i] = float32(rng.NormFloat64())
			}
			user := seeds[:12]
			s1, err := m.BuildItem(context.Background(), seeds, nil)
			if err != nil {
				t.Fatal(err)
			}
			s2, err := got.BuildItem(context.Background(), seeds, nil)
			if err != nil {
				t.Fatal(err)
			}
			o1, o2 := make([]float32, 1), make([]float32, 1)
			m.Score(user, []*ItemState{s1}, o1)
			got.Score(user, []*ItemState{s2}, o2)
			if o1[0] != o2[0] {
				t.Fatalf("scores %v and %v differ", o1[0], o2[0])
			}
			// no temporary files left behind
			ents, _ := os.ReadDir(filepath.Dir(path))
			if len(ents) != 1 {
				t.Fatalf("%d files in the output folder", len(ents))
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	m := testModel(t, PoolingAttention, 6, 4, 3, 1)
	good, err := m.encode()
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	version := bytes.Clone(good)
	binary.LittleEndian.PutUint32(version[len(modelMagic):], FileVersion+1)
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotModel},
		{"other file", []byte("PAR1 this is a parquet file, honestly"), ErrNotModel},
		{"magic only", []byte(modelMagic), ErrCorrupt},
		{"version", version, ErrVersion},
		{"truncated", good[:len(good)/2], ErrCorrupt},
		{"truncated checksum", good[:len(good)-1], ErrCorrupt},
		{"flipped weight", flip(len(good) - 40), ErrCorrupt},
		{"flipped config", flip(30), ErrCorrupt},
		{"trailing", append(bytes.Clone(good), 0), ErrCorrupt},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Load: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if err := m.Save(filepath.Join(dir, "no", "such", "dir", "m")); err == nil {
		t.Fatal("save into a missing folder succeeded")
	}
	if err := (*Model)(nil).Save(filepath.Join(dir, "nil")); err == nil {
		t.Fatal("saving a nil model succeeded")
	}
}

func TestMarshalUnmarshal(t *testing.T) {
	m := testModel(t, PoolingAvg, 6, 8, 3, 2)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := got.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Fatal("round trip changed the encoding")
	}
	if _, err := Unmarshal(b[:len(b)-3]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated: %v", err)
	}
}

// TestLoadBeforePropensity reads a model file whose config has no
// propensity fields (written before the term existed): it loads as the
// paper's score.
func TestLoadBeforePropensity(t *testing.T) {
	m := testModel(t, "attention+prior", 6, 4, 3, 2)
	buf, err := m.encode()
	if err != nil {
		t.Fatal(err)
	}
	// header: magic, version, d, h, config length, config JSON
	off := len(modelMagic) + 12
	n := int(binary.LittleEndian.Uint32(buf[off:]))
	cfg := string(buf[off+4 : off+4+n])
	old := strings.Replace(strings.Replace(cfg, `"propensity":"off",`, "", 1), `"propensity_hidden":5,`, "", 1)
	if old == cfg || strings.Contains(old, "propensity") {
		t.Fatalf("config %s: propensity fields not found", cfg)
	}
	body := append([]byte(nil), buf[:off]...)
	body = binary.LittleEndian.AppendUint32(body, uint32(len(old)))
	body = append(body, old...)
	body = append(body, buf[off+4+n:len(buf)-sha256.Size]...)
	sum := sha256.Sum256(body)
	got, err := Unmarshal(append(body, sum[:]...))
	if err != nil {
		t.Fatal(err)
	}
	if got.HasPropensity() || got.Config().Propensity != PropensityOff {
		t.Fatalf("old file loads with propensity %q", got.Config().Propensity)
	}
}
