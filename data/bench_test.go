package data

import (
	"context"
	"math/rand"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchClicks makes n clicks by nUsers users on nItems items with
// popularity skew, ids of the given kind, times in whole seconds.
func benchClicks(n, nUsers, nItems int, kind IDKind) *Clicks {
	rng := rand.New(rand.NewSource(1))
	c := &Clicks{Users: NewVocab(kind), Items: NewVocab(kind), User: make([]int32, n), Item: make([]int32, n), TS: make([]int64, n)}
	id := func(prefix string, i int) string {
		if kind == IDInt64 {
			return strconv.Itoa(1_000_000_007 + i*7919)
		}
		return prefix + strconv.Itoa(i)
	}
	for i := 0; i < nUsers; i++ {
		c.Users.Add(id("user-", i))
	}
	for i := 0; i < nItems; i++ {
		c.Items.Add(id("item-", i))
	}
	t := int64(1_700_000_000)
	for i := range c.User {
		c.User[i] = int32(rng.Intn(nUsers))
		f := rng.Float64()
		c.Item[i] = int32(f * f * float64(nItems))
		t += int64(rng.Intn(3))
		c.TS[i] = t * 1e9
	}
	return c
}

// memProbe samples the heap while fn runs and reports the peak growth of
// HeapAlloc over the starting (collected) heap, and the growth still held
// after fn returns and a collection (what fn's result retains).
func memProbe(fn func()) (peak, retained uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var top atomic.Uint64
	top.Store(base)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var s runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			runtime.ReadMemStats(&s)
			if s.HeapAlloc > top.Load() {
				top.Store(s.HeapAlloc)
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > top.Load() {
		top.Store(ms.HeapAlloc)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return top.Load() - base, ms.HeapAlloc - base
}

// vocabBytes estimates what a vocabulary holds: the id bytes, the ids
// slice and a map entry (about 48 bytes with bucket overhead) per id.
func vocabBytes(v *Vocab) uint64 {
	var n uint64
	for _, id := range v.ids {
		n += uint64(len(id)) + 16 + 48
	}
	return n
}

// TestReadClicksMemory checks the loading budget from the issue: what the
// reader holds while loading N clicks stays within twice the compact size
// of the result, 3 int32-sized columns plus an int64 one per click
// (3*4+8 = 20 bytes; Clicks itself holds 16), plus the vocabularies.
//
// The reader also holds state that does not grow with N: Parquet page
// buffers (a decompressed page per column, about 1 MiB each), the
// buffered-stream windows, column dictionaries and one record batch. The
// budget allows readerFixedBytes for it.
//
// "Holds" is measured as peak heap growth with the collector set to run
// when the heap grows 10% over the live data (GOGC=10, restored after), so
// that uncollected garbage — which the default GOGC=100 lets reach the
// size of the live heap in any Go program — is not counted as held. The
// default-GOGC peak is reported by BenchmarkReadClicks1M.
func TestReadClicksMemory(t *testing.T) {
	const n = 300_000
	const readerFixedBytes = 16 << 20
	for _, kind := range []IDKind{IDInt64, IDString} {
		t.Run(kind.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.parquet")
			if err := WriteClicks(path, benchClicks(n, 30_000, 6_000, kind)); err != nil {
				t.Fatal(err)
			}
			var c *Clicks
			old := debug.SetGCPercent(10)
			peak, retained := memProbe(func() {
				var err error
				c, err = ReadClicks(context.Background(), path, ReadOptions{})
				if err != nil {
					t.Error(err)
				}
			})
			debug.SetGCPercent(old)
			if c == nil {
				t.FailNow()
			}
			vocab := vocabBytes(c.Users) + vocabBytes(c.Items)
			budget := uint64(2*(3*n*4+8*n)) + vocab + readerFixedBytes
			t.Logf("peak %.1f MB, retained %.1f B/click, vocab ~%.1f B/click, budget %.1f MB",
				float64(peak)/1e6, float64(retained)/n, float64(vocab)/n, float64(budget)/1e6)
			if peak > budget {
				t.Errorf("peak heap growth %d bytes > budget %d", peak, budget)
			}
			if retained > uint64(16*n)+2*vocab {
				t.Errorf("result retains %d bytes, want about %d", retained, 16*n+vocab)
			}
			runtime.KeepAlive(c)
		})
	}
}

func benchmarkReadClicks(b *testing.B, n int, kind IDKind, name string) {
	path := filepath.Join(b.TempDir(), name)
	if err := WriteClicks(path, benchClicks(n, n/10, n/50, kind)); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	var peak, retained uint64
	for i := 0; i < b.N; i++ {
		var c *Clicks
		p, r := memProbe(func() {
			var err error
			if c, err = ReadClicks(ctx, path, ReadOptions{}); err != nil {
				b.Fatal(err)
			}
		})
		peak, retained = max(peak, p), max(retained, r)
		runtime.KeepAlive(c)
	}
	b.ReportMetric(float64(peak)/float64(n), "peakB/click")
	b.ReportMetric(float64(retained)/float64(n), "retainedB/click")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/click")
}

// BenchmarkReadClicks1M reads a 1M-click file (100k users, 20k items).
// The time includes the memory probe's sampling.
func BenchmarkReadClicks1M(b *testing.B) {
	b.Run("int64-parquet", func(b *testing.B) { benchmarkReadClicks(b, 1_000_000, IDInt64, "c.parquet") })
	b.Run("string-parquet", func(b *testing.B) { benchmarkReadClicks(b, 1_000_000, IDString, "c.parquet") })
	b.Run("string-arrow", func(b *testing.B) { benchmarkReadClicks(b, 1_000_000, IDString, "c.arrow") })
}

// BenchmarkWriteClicks1M writes 1M clicks with string ids.
func BenchmarkWriteClicks1M(b *testing.B) {
	c := benchClicks(1_000_000, 100_000, 20_000, IDString)
	dir := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := WriteClicks(filepath.Join(dir, "c.parquet"), c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFeatureSetBuild measures one Build with a reused dst.
func BenchmarkFeatureSetBuild(b *testing.B) {
	c, users, items := featureFixture(b)
	fs, err := NewFeatureSet(c, users, items)
	if err != nil {
		b.Fatal(err)
	}
	clicked := []int32{0, 1, 2, 3, 0, 1, 2, 3}
	var x Features
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fs.Build("u1", clicked, &x)
	}
}
