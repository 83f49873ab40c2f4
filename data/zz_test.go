package data

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestZZ(t *testing.T) {
	seeds := fuzzSeeds(t, func(p string) {
		c := testClicks(IDString, IDInt64, 40, false)
		WriteClicks(p, c)
	})
	seeds = append(seeds, fuzzSeeds(t, func(p string) {
		writeCols(t, p, FormatFromPath(p),
			strCol("user_id", "a", "b", "c"),
			strCol("g", "x", nil, "y"),
			f64Col("age", 1.0, nil, 3.0),
			listStrCol("tags", []string{"p", "q"}, nil, []string{}),
			listI64Col("n", []int64{1}, []int64{2, 3}, nil))
	})...)
	rng := rand.New(rand.NewSource(1))
	dir := t.TempDir()
	path := filepath.Join(dir, "in")
	var worst time.Duration
	ok := 0
	deadline := time.Now().Add(150 * time.Second)
	n := 0
	for ; time.Now().Before(deadline); n++ {
		b := append([]byte(nil), seeds[rng.Intn(len(seeds))]...)
		for k := rng.Intn(4) + 1; k > 0 && len(b) > 0; k-- {
			switch rng.Intn(3) {
			case 0:
				b[rng.Intn(len(b))] = byte(rng.Intn(256))
			case 1:
				i := rng.Intn(len(b))
				b[i] ^= 1 << rng.Intn(8)
			case 2:
				i := rng.Intn(len(b))
				v := []byte{0xff, 0x7f, 0, 0x80}[rng.Intn(4)]
				for j := i; j < len(b) && j < i+4; j++ {
					b[j] = v
				}
			}
		}
		os.WriteFile(path, b, 0o600)
		st := time.Now()
		_, err1 := ReadClicks(context.Background(), path, ReadOptions{AllowEmpty: true, BatchSize: 16})
		_, err2 := ReadTable(context.Background(), path, ColUserID, TableOptions{AllowEmpty: true, BatchSize: 2})
		_, err3 := ReadEmbeddings(context.Background(), path)
		if d := time.Since(st); d > worst {
			worst = d
			os.WriteFile("/tmp/slowest", b, 0o600)
		}
		if err1 == nil || err2 == nil || err3 == nil {
			ok++
		}
	}
	t.Log("inputs", n, "some ok", ok, "worst", worst)
}
