package data

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/apache/arrow/go/v15/parquet/schema"

	"github.com/ralmlab/ralm/internal/atomicfile"
)

// Format is a file format this package reads and writes.
type Format uint8

// File formats. Readers detect the format from the file's content (magic
// bytes), whatever its name; writers choose it from the file name (see
// FormatFromPath).
const (
	// FormatParquet is Apache Parquet ("PAR1" at both ends of the file).
	FormatParquet Format = iota + 1
	// FormatArrow is the Arrow IPC file format, also known as Feather v2
	// ("ARROW1" at both ends of the file).
	FormatArrow
	// FormatArrowStream is the Arrow IPC streaming format (read only).
	FormatArrowStream
)

// String names the format.
func (f Format) String() string {
	switch f {
	case FormatParquet:
		return "parquet"
	case FormatArrow:
		return "arrow"
	case FormatArrowStream:
		return "arrow-stream"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// FormatFromPath is the format writers use for path: Arrow IPC file format
// for the extensions .arrow, .ipc and .feather (any case), Parquet otherwise.
func FormatFromPath(path string) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".arrow", ".ipc", ".feather":
		return FormatArrow
	}
	return FormatParquet
}

var (
	parquetMagic     = []byte("PAR1")
	arrowMagic       = []byte("ARROW1")
	ipcContinuation  = []byte{0xff, 0xff, 0xff, 0xff}
	errNotArrowInput = errors.New("not a Parquet or Arrow IPC file")
)

// DetectFormat reports the format of the file at path from its magic bytes.
// A file that starts like Parquet or Arrow but does not end like it is
// reported as truncated.
func DetectFormat(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("detect format: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("detect format: %w", err)
	}
	format, err := detectFormat(f, st.Size())
	if err != nil {
		return 0, fmt.Errorf("detect format %s: %w", path, err)
	}
	return format, nil
}

func detectFormat(r io.ReaderAt, size int64) (Format, error) {
	if size == 0 {
		return 0, errors.New("empty file: not a Parquet or Arrow IPC file")
	}
	head := make([]byte, 8)
	n, err := r.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	head = head[:n]
	tail := make([]byte, 6)
	if size >= 6 {
		if _, err := r.ReadAt(tail, size-6); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
	} else {
		tail = nil
	}
	switch {
	case bytes.HasPrefix(head, parquetMagic):
		if size < 12 || !bytes.HasSuffix(tail, parquetMagic) {
			return 0, errors.New("truncated or corrupt Parquet file (no footer)")
		}
		return FormatParquet, nil
	case bytes.HasPrefix(head, arrowMagic):
		if size < 14 || !bytes.Equal(tail, arrowMagic) {
			return 0, errors.New("truncated or corrupt Arrow IPC file (no footer)")
		}
		return FormatArrow, nil
	case bytes.HasPrefix(head, ipcContinuation):
		return FormatArrowStream, nil
	}
	return 0, errNotArrowInput
}

// batchSource yields the record batches of a Parquet or Arrow file.
type batchSource struct {
	format  Format
	schema  *arrow.Schema // schema of the whole file
	numRows int64         // -1 when unknown before reading
	size    int64         // file size in bytes
	// open starts reading the named columns (all when nil); next returns
	// io.EOF at the end. A record is valid until the following call.
	open  func(ctx context.Context, cols []string) error
	next  func() (arrow.Record, error)
	close func()
}

// nextBatch returns the next record batch, its named columns checked
// against their claimed lengths, or io.EOF after the last one. It stops with
// ctx's error when ctx is cancelled; row (the rows read so far) places any
// error in the file.
func (s *batchSource) nextBatch(ctx context.Context, row int, cols ...string) (arrow.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rec, err := s.next()
	if errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("after row %d: %w", row, err)
	}
	if err := checkRecord(rec, cols...); err != nil {
		return nil, fmt.Errorf("batch at row %d: %w", row, err)
	}
	return rec, nil
}

// readFile opens path for a reader (record batches of batchSize rows,
// defaultBatchSize when batchSize <= 0), runs read on it with a progress
// meter over its rows (p may be nil), and closes it. A panic of the Arrow or
// Parquet reader on a corrupt file becomes an error (recoverTo).
func readFile[T any](path string, batchSize int, p Progress, read func(src *batchSource, meter *progressMeter) (T, error)) (t T, err error) {
	src, err := openSource(path, batchSize)
	if err != nil {
		return t, err
	}
	defer src.close()
	defer recoverTo(&err)
	return read(src, newProgressMeter(p, src.numRows))
}

// openSource opens path and reads its schema, for record batches of
// batchSize rows (defaultBatchSize when batchSize <= 0). The caller must
// call close.
func openSource(path string, batchSize int) (src *batchSource, err error) {
	if batchSize <= 0 {
		batchSize = defaultBatchSize
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errors.New("is a directory")
	}
	format, err := detectFormat(f, st.Size())
	if err != nil {
		return nil, err
	}
	defer recoverTo(&err)
	defer func() {
		if src != nil {
			src.size = st.Size()
		}
	}()
	// Parquet page buffers are resized and pooled inside the library while
	// decoders still look at the old bytes, so only the arrow arrays (which
	// are released batch by batch) get a recycling allocator.
	size := st.Size()
	budget := new(atomic.Int64)
	budget.Store(readBudget(size))
	mem := &readAllocator{limit: allocLimit(size), budget: budget, recycle: true}
	pageMem := &readAllocator{limit: allocLimit(size), budget: budget}
	switch format {
	case FormatParquet:
		props := parquet.NewReaderProperties(pageMem)
		props.BufferedStreamEnabled = true
		props.BufferSize = 256 << 10
		pr, err := file.NewParquetReader(f, file.WithReadProps(props))
		if err != nil {
			return nil, fmt.Errorf("corrupt Parquet file: %w", err)
		}
		if err := checkStoredSchema(pr); err != nil {
			pr.Close()
			return nil, err
		}

		fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: int64(batchSize)}, mem)
		if err != nil {
			return nil, fmt.Errorf("unsupported Parquet schema: %w", err)
		}
		sc, err := fr.Schema()
		if err != nil {
			return nil, fmt.Errorf("unsupported Parquet schema: %w", err)
		}
		// Column readers are built and driven on this goroutine (not with
		// pqarrow's GetRecordReader, which builds them in errgroup
		// goroutines), so a panic on corrupt metadata is recovered here
		// instead of crashing the process.
		var (
			readers []*pqarrow.ColumnReader
			cur     arrow.Record
			rsc     *arrow.Schema
		)
		release := func() {
			if cur != nil {
				cur.Release()
				cur = nil
			}
		}
		src = &batchSource{format: format, schema: sc, numRows: pr.NumRows()}
		src.open = func(ctx context.Context, cols []string) (err error) {
			defer recoverTo(&err)
			if err := verifyParquet(ctx, f, size, pr.MetaData().KeyValueMetadata()); err != nil {
				return err
			}
			var fields []int
			if cols == nil {
				for i := range sc.Fields() {
					fields = append(fields, i)
				}
			}
			for _, c := range cols {
				i := fieldIndex(sc, c)
				if i < 0 || i >= len(fr.Manifest.Fields) {
					return fmt.Errorf("missing column %q", c)
				}
				fields = append(fields, i)
			}
			if pr.NumRows() == 0 || len(fields) == 0 {
				return nil
			}
			leaves := make(map[int]bool, pr.MetaData().Schema.NumColumns())
			var used []int // the leaf columns under the selected fields
			want := make(map[int]bool, len(fields))
			for _, i := range fields {
				want[i] = true
			}
			for j := 0; j < pr.MetaData().Schema.NumColumns(); j++ {
				leaves[j] = true
				if roots, err := fr.Manifest.GetFieldIndices([]int{j}); err == nil && len(roots) == 1 && want[roots[0]] {
					used = append(used, j)
				}
			}
			if err := checkParquetColumns(ctx, pr, f, size, used); err != nil {
				return err
			}
			rowGroups := make([]int, pr.NumRowGroups())
			for g := range rowGroups {
				rowGroups[g] = g
			}
			var outFields []arrow.Field
			for _, i := range fields {
				r, err := fr.GetFieldReader(ctx, i, leaves, rowGroups)
				if err != nil {
					return err
				}
				if r == nil {
					return fmt.Errorf("column %q has no data", sc.Field(i).Name)
				}
				readers = append(readers, r)
				outFields = append(outFields, *r.Field())
			}
			rsc = arrow.NewSchema(outFields, nil)
			return nil
		}
		src.next = func() (rec arrow.Record, err error) {
			defer recoverTo(&err)
			release()
			if len(readers) == 0 {
				return nil, io.EOF
			}
			cols := make([]arrow.Array, len(readers))
			defer func() {
				for _, c := range cols {
					if c != nil {
						c.Release()
					}
				}
			}()
			rows := int64(-1)
			for k, r := range readers {
				chunked, err := r.NextBatch(int64(batchSize))
				if err != nil {
					return nil, err
				}
				switch len(chunked.Chunks()) {
				case 0:
				case 1:
					cols[k] = chunked.Chunk(0)
					cols[k].Retain()
				default:
					if cols[k], err = array.Concatenate(chunked.Chunks(), mem); err != nil {
						chunked.Release()
						return nil, err
					}
				}
				n := int64(chunked.Len())
				chunked.Release()
				if rows >= 0 && n != rows {
					return nil, fmt.Errorf("corrupt Parquet file: column %q has %d rows where others have %d", rsc.Field(k).Name, n, rows)
				}
				rows = n
			}
			if rows <= 0 {
				return nil, io.EOF
			}
			cur = array.NewRecord(rsc, cols, rows)
			return cur, nil
		}
		src.close = func() {
			func() {
				defer func() { _ = recover() }()
				release()
				for _, r := range readers {
					r.Release()
				}
			}()
			pr.Close() // closes f
		}
		return src, nil
	case FormatArrow:
		if err := checkArrowFile(f, st.Size()); err != nil {
			return nil, err
		}
		ir, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
		if err != nil {
			return nil, fmt.Errorf("corrupt Arrow IPC file: %w", err)
		}
		i := 0
		src = &batchSource{format: format, schema: ir.Schema(), numRows: -1}
		src.open = func(context.Context, []string) error { return nil }
		src.next = func() (rec arrow.Record, err error) {
			defer recoverTo(&err)
			if i >= ir.NumRecords() {
				return nil, io.EOF
			}
			rec, err = ir.Record(i)
			i++
			if err != nil {
				return nil, err
			}
			return rec, nil
		}
		src.close = func() {
			func() {
				defer func() { _ = recover() }()
				ir.Close()
			}()
			f.Close()
		}
		return src, nil
	case FormatArrowStream:
		if err := checkArrowStream(f, st.Size()); err != nil {
			return nil, err
		}
		sr, err := ipc.NewReader(f, ipc.WithAllocator(mem))
		if err != nil {
			return nil, fmt.Errorf("corrupt Arrow IPC stream: %w", err)
		}
		src = &batchSource{format: format, schema: sr.Schema(), numRows: -1}
		src.open = func(context.Context, []string) error { return nil }
		src.next = func() (rec arrow.Record, err error) {
			defer recoverTo(&err)
			if !sr.Next() {
				if err := sr.Err(); err != nil && !errors.Is(err, io.EOF) {
					return nil, err
				}
				return nil, io.EOF
			}
			return sr.Record(), nil
		}
		src.close = func() {
			func() {
				defer func() { _ = recover() }()
				sr.Release()
			}()
			f.Close()
		}
		return src, nil
	}
	return nil, errNotArrowInput
}

// checkStoredSchema validates the Arrow schema a Parquet writer may store
// in the file's metadata (key ARROW:schema, a base64 Arrow IPC stream),
// which pqarrow decodes with the Arrow IPC reader; see ipccheck.go.
func checkStoredSchema(pr *file.Reader) error {
	kv := pr.MetaData().KeyValueMetadata()
	if kv == nil {
		return nil
	}
	v := kv.FindValue("ARROW:schema")
	if v == nil {
		return nil
	}
	var decoded []byte
	var err error
	if len(*v)%4 == 0 {
		decoded, err = base64.StdEncoding.DecodeString(*v)
	}
	if len(decoded) == 0 || err != nil {
		if decoded, err = base64.RawStdEncoding.DecodeString(*v); err != nil {
			return fmt.Errorf("corrupt Parquet file: stored Arrow schema: %w", err)
		}
	}
	if err := checkArrowStream(bytes.NewReader(decoded), int64(len(decoded))); err != nil {
		return fmt.Errorf("corrupt Parquet file: stored Arrow schema: %w", err)
	}
	return nil
}

// fieldIndex returns the index of the top-level field named name, or -1.
func fieldIndex(sc *arrow.Schema, name string) int {
	idx := sc.FieldIndices(name)
	if len(idx) == 0 {
		return -1
	}
	return idx[0]
}

// readAllocator is the arrow allocator of one read. It refuses (by
// panicking, which the reader boundary turns into an error) any single
// buffer larger than limit: a corrupt header can claim a multi-gigabyte
// body, and without the cap a 2 KB file could make the reader allocate
// gigabytes before it notices the file is short. It also recycles the
// buffers arrow frees (record batches are released batch by batch), so a
// read produces little garbage and the heap stays close to the result's
// size. Buffers come in power-of-two size classes, zeroed on reuse.
//
// All allocators of one read also share a budget of fresh (not recycled)
// bytes, readBudget of the file size: a few kilobytes of corrupt metadata
// (or a decompression bomb) can otherwise make the library allocate many
// buffers just under the single-buffer cap.
type readAllocator struct {
	mem     memory.GoAllocator
	limit   int
	budget  *atomic.Int64 // fresh bytes left, shared by the read's allocators
	recycle bool          // reuse freed buffers
	mu      sync.Mutex
	free    [64][][]byte // by log2 of capacity
}

// readBudget is the total of fresh buffers one read of a file of size
// bytes may allocate: 256 times the file, at least 512 MiB.
func readBudget(size int64) int64 {
	return min(max(256*size, 512<<20), 1<<50)
}

// allocLimit is the largest buffer a reader may allocate for a file of
// size bytes: generous enough for compressed data (64x, at least 64 MiB).
func allocLimit(size int64) int {
	return int(min(max(64*size, 64<<20), 1<<40))
}

func sizeClass(size int) int { return max(6, bits.Len(uint(size-1))) }

func (a *readAllocator) Allocate(size int) []byte {
	if size > a.limit || size < 0 {
		panic(fmt.Sprintf("buffer of %d bytes requested, more than a file of this size can hold", size))
	}
	if size == 0 {
		return a.mem.Allocate(0)
	}
	c := sizeClass(size)
	a.mu.Lock()
	if n := len(a.free[c]); n > 0 {
		b := a.free[c][n-1]
		a.free[c] = a.free[c][:n-1]
		a.mu.Unlock()
		b = b[:size]
		clear(b)
		return b
	}
	a.mu.Unlock()
	if a.budget != nil && a.budget.Add(-int64(1)<<c) < 0 {
		panic("the reader allocated more memory than a file of this size can need (corrupt or compressed past reason)")
	}
	return a.mem.Allocate(1 << c)[:size]
}

func (a *readAllocator) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		return b[:size]
	}
	nb := a.Allocate(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

func (a *readAllocator) Free(b []byte) {
	c := cap(b)
	if !a.recycle || c < 64 || c&(c-1) != 0 {
		return // not one of ours: leave it to the garbage collector
	}
	k := bits.Len(uint(c - 1))
	a.mu.Lock()
	a.free[k] = append(a.free[k], b[:0])
	a.mu.Unlock()
}

// recoverTo turns a panic inside the arrow library into an error: corrupt
// input must never crash the caller.
func recoverTo(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("corrupt or unsupported file (reader panic: %v)", r)
		if debugPanics {
			*err = fmt.Errorf("%w\n%s", *err, debug.Stack())
		}
	}
}

// debugPanics adds stack traces to recovered panics; flipped only in tests.
const debugPanics = false

// parquetProps are the writer settings for every Parquet file this package
// writes with schema sc: Snappy compression, dictionary encoding except for
// float and timestamp columns (nearly unique values, where a dictionary
// only costs time before the writer falls back to plain encoding; timestamps
// use DELTA_BINARY_PACKED, a third smaller for click logs), data page v2,
// one row group per written batch (writeBatchRows), statistics on except
// for float list columns, and the library's fixed
// created_by string (no timestamps or paths anywhere), so equal input gives
// byte-identical files.
//
// extra properties are applied last (they override the defaults).
func parquetProps(sc *arrow.Schema, extra ...parquet.WriterProperty) (*parquet.WriterProperties, pqarrow.ArrowWriterProperties) {
	opts := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithDictionaryDefault(true),
		parquet.WithMaxRowGroupLength(1 << 20),
		// Data page v2: with v1 pages pqarrow v15 grows the repetition
		// level buffer of a list column by 4 bytes at a time (the v1 length
		// prefix is kept as a buffer offset that defeats its doubling), so
		// writing n embeddings cost O(n²); v2 pages carry level lengths in
		// the page header and write in linear time.
		parquet.WithDataPageVersion(parquet.DataPageV2),
		parquet.WithAllocator(memory.NewGoAllocator()),
	}
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())
	if ps, err := pqarrow.ToParquet(sc, parquet.NewWriterProperties(opts...), aprops); err == nil {
		for i := 0; i < ps.NumColumns(); i++ {
			col := ps.Column(i)
			_, isTS := col.LogicalType().(*schema.TimestampLogicalType)
			if t := col.PhysicalType(); t == parquet.Types.Float || t == parquet.Types.Double || isTS {
				opts = append(opts, parquet.WithDictionaryPath(col.ColumnPath(), false))
				if col.MaxRepetitionLevel() > 0 {
					// Min/max over all the floats of a list column
					// (embeddings) cost a tenth of the write and say nothing.
					opts = append(opts, parquet.WithStatsPath(col.ColumnPath(), false))
				}
				if isTS {
					opts = append(opts, parquet.WithEncodingPath(col.ColumnPath(), parquet.Encodings.DeltaBinaryPacked))
				}
			}
		}
	}
	return parquet.NewWriterProperties(append(opts, extra...)...), aprops
}

// recordWriter writes record batches to a Parquet or Arrow IPC file.
type recordWriter struct {
	pw   *pqarrow.FileWriter
	iw   *ipc.FileWriter
	f    *os.File
	hash *hashingSink // the Parquet writer's sink
}

// fileSink hides Close from the arrow writers (which close their sink):
// atomicfile.Write syncs and closes the file itself.
type fileSink struct{ f *os.File }

func (s fileSink) Write(p []byte) (int, error)               { return s.f.Write(p) }
func (s fileSink) Seek(off int64, whence int) (int64, error) { return s.f.Seek(off, whence) }

func newRecordWriter(f *os.File, format Format, sc *arrow.Schema) (*recordWriter, error) {
	sink := fileSink{f}
	switch format {
	case FormatParquet:
		props, aprops := parquetProps(sc)
		hs := &hashingSink{fileSink: sink}
		pw, err := pqarrow.NewFileWriter(sc, hs, props, aprops)
		if err != nil {
			return nil, err
		}
		return &recordWriter{pw: pw, f: f, hash: hs}, nil
	case FormatArrow:
		iw, err := ipc.NewFileWriter(sink, ipc.WithSchema(sc), ipc.WithAllocator(memory.NewGoAllocator()))
		if err != nil {
			return nil, err
		}
		return &recordWriter{iw: iw}, nil
	}
	return nil, fmt.Errorf("cannot write format %v", format)
}

func (w *recordWriter) write(rec arrow.Record) error {
	if w.pw != nil {
		return w.pw.Write(rec)
	}
	return w.iw.Write(rec)
}

// close finishes the file; a Parquet file gets its checksum (see
// checksum.go).
func (w *recordWriter) close() error {
	if w.pw != nil {
		if err := w.pw.Close(); err != nil {
			return err
		}
		return sealParquet(w.f, w.hash)
	}
	return w.iw.Close()
}

// Progress reports a long read or write as it goes: done rows out of total
// (-1 when the total is not known in advance) and the mean rate since the
// start in rows per second. It is called after each record batch, on the
// goroutine doing the read or write, so it should return quickly (a CLI
// hooks its progress bar to it).
type Progress func(done, total int64, rate float64)

// WriteOption configures a write.
type WriteOption func(*writeConfig)

type writeConfig struct {
	progress Progress
}

// WithProgress makes a write report its progress to p after each batch.
func WithProgress(p Progress) WriteOption {
	return func(c *writeConfig) { c.progress = p }
}

// progressMeter turns batch sizes into Progress calls.
type progressMeter struct {
	p     Progress
	total int64
	done  int64
	start time.Time
}

func newProgressMeter(p Progress, total int64) *progressMeter {
	return &progressMeter{p: p, total: total, start: time.Now()}
}

// newWriteMeter returns the progress meter of a write of nrows rows with
// options opts.
func newWriteMeter(opts []WriteOption, nrows int) *progressMeter {
	var cfg writeConfig
	for _, o := range opts {
		o(&cfg)
	}
	return newProgressMeter(cfg.progress, int64(nrows))
}

// add counts n more rows and reports them; a nil meter or Progress is a
// no-op.
func (m *progressMeter) add(n int) {
	if m == nil || m.p == nil {
		return
	}
	m.done += int64(n)
	rate := 0.0
	if el := time.Since(m.start).Seconds(); el > 0 {
		rate = float64(m.done) / el
	}
	m.p(m.done, m.total, rate)
}

// writeBatches implements WriteRecords: it builds and writes one record
// batch of writeBatchRows rows at a time (each a Parquet row group, so
// memory stays bounded whatever nrows is), checks ctx between batches and
// reports progress after each.
func writeBatches(ctx context.Context, path string, sc *arrow.Schema, nrows int, build func(mem memory.Allocator, lo, hi int) (arrow.Record, error), opts []WriteOption) error {
	meter := newWriteMeter(opts, nrows)
	return atomicfile.Write(ctx, path, func(f *os.File) error {
		w, err := newRecordWriter(f, FormatFromPath(path), sc)
		if err != nil {
			return err
		}
		mem := memory.NewGoAllocator()
		for lo := 0; lo < nrows || (lo == 0 && nrows == 0); lo += writeBatchRows {
			if err := ctx.Err(); err != nil {
				w.close()
				return err
			}
			hi := min(lo+writeBatchRows, nrows)
			rec, err := build(mem, lo, hi)
			if err != nil {
				w.close()
				return err
			}
			err = w.write(rec)
			rec.Release()
			if err != nil {
				w.close()
				return err
			}
			meter.add(hi - lo)
			if nrows == 0 {
				break
			}
		}
		return w.close()
	})
}

// writeBatchRows is the number of rows per record batch the writers build.
const writeBatchRows = 64 * 1024

// defaultBatchSize is the number of rows per record batch the readers use.
const defaultBatchSize = 64 * 1024
