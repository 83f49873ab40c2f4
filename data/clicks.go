package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// Column names of a clicks file.
const (
	ColUserID = "user_id"
	ColItemID = "item_id"
	ColTS     = "ts"
)

// ReadOptions tunes ReadClicks. The zero value reads a file into fresh
// vocabularies and rejects an empty file.
type ReadOptions struct {
	// Users and Items are existing vocabularies (for example a trained
	// model's). When nil, a new vocabulary is made with the kind of the
	// file's id column. A vocabulary passed in must have the same kind as the
	// file's column, and under UnknownAdd it is extended in place (existing
	// indices never change; pass v.Clone() to keep the original intact). A
	// read that fails leaves it unchanged.
	Users, Items *Vocab
	// UnknownUsers and UnknownItems say what to do with ids missing from
	// Users and Items; the default is UnknownAdd.
	UnknownUsers, UnknownItems Unknown
	// AllowEmpty accepts a file with no rows (or none left after skipping);
	// otherwise that is an error.
	AllowEmpty bool
	// BatchSize is the number of rows per record batch read (default 65536).
	BatchSize int
	// Stats, when not nil, is filled with counts about the read.
	Stats *ReadStats
	// Progress, when not nil, is called after each record batch with the
	// rows read so far, the file's row count (-1 for Arrow files) and the
	// rate.
	Progress Progress
}

// ReadStats reports what a read did.
type ReadStats struct {
	Format Format // detected file format
	Rows   int64  // data rows in the file
	Kept   int64  // rows returned
	// Skipped counts rows dropped under UnknownSkip; UnknownUserRows and
	// UnknownItemRows count rows whose user (item) id was unknown (a row can
	// count in both).
	Skipped, UnknownUserRows, UnknownItemRows int64
}

// maxTSSeconds bounds integer second timestamps so that nanoseconds fit int64.
const maxTSSeconds = math.MaxInt64 / 1_000_000_000

// ReadClicks reads a click log from a Parquet or Arrow IPC file (detected by
// content). Columns: user_id and item_id (any integer type or string,
// dictionary-encoded or not; null ids are an error) and ts (an integer
// number of Unix seconds, or an Arrow timestamp of any unit; null is an
// error). Other columns are ignored and not even decoded for Parquet. The
// result's TS is in Unix nanoseconds. The file is read in record batches
// and ids are stored as int32 indices as they arrive, so memory stays close
// to 16 bytes per click plus the vocabularies (and, while reading integer
// ids, a cache of 16 to 32 bytes per distinct id).
//
// Errors name the file, the column and the row (rows count data rows from
// 0), e.g. `read clicks x.parquet: column "user_id" row 17: null id`.
func ReadClicks(ctx context.Context, path string, opt ReadOptions) (*Clicks, error) {
	c, err := readClicks(ctx, path, opt)
	if err != nil {
		return nil, fmt.Errorf("read clicks %s: %w", path, err)
	}
	return c, nil
}

func readClicks(ctx context.Context, path string, opt ReadOptions) (*Clicks, error) {
	return readFile(path, opt.BatchSize, opt.Progress, func(src *batchSource, meter *progressMeter) (*Clicks, error) {
		return readClicksFrom(ctx, src, meter, opt)
	})
}

func readClicksFrom(ctx context.Context, src *batchSource, meter *progressMeter, opt ReadOptions) (c *Clicks, err error) {
	sc := src.schema
	users, err := prepareIDVocab(sc, ColUserID, opt.Users, "user")
	if err != nil {
		return nil, err
	}
	items, err := prepareIDVocab(sc, ColItemID, opt.Items, "item")
	if err != nil {
		return nil, err
	}
	// A failed read leaves the caller's vocabularies as they were.
	nu, ni := users.Len(), items.Len()
	defer func() {
		if err != nil {
			users.truncate(nu)
			items.truncate(ni)
		}
	}()
	defer recoverTo(&err) // runs before the rollback above
	i := fieldIndex(sc, ColTS)
	if i < 0 {
		return nil, fmt.Errorf("missing column %q (have %s)", ColTS, columnList(sc))
	}
	if !tsTypeOK(sc.Field(i).Type) {
		return nil, fmt.Errorf("column %q: type %s is not an integer (Unix seconds) or a timestamp", ColTS, sc.Field(i).Type)
	}
	if err := src.open(ctx, []string{ColUserID, ColItemID, ColTS}); err != nil {
		return nil, err
	}

	c = &Clicks{Users: users, Items: items}
	if src.numRows > 0 {
		// Preallocate exactly, within reason: a corrupt footer must not
		// make us allocate more than the file could plausibly hold.
		n := min(src.numRows, 1<<16+64*src.size)
		c.User = make([]int32, 0, n)
		c.Item = make([]int32, 0, n)
		c.TS = make([]int64, 0, n)
	}
	ue := newEncoder(users, opt.UnknownUsers, true)
	ie := newEncoder(items, opt.UnknownItems, true)
	var st ReadStats
	st.Format = src.format
	var ucode, icode []int32
	var ts []int64
	row := 0 // rows before the current batch
	for {
		rec, err := src.nextBatch(ctx, row, ColUserID, ColItemID, ColTS)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		n := int(rec.NumRows())
		if row == 0 && src.numRows < 0 && n > 0 {
			// Arrow files do not say how many rows they hold: estimate
			// from the first batch's share of the file and preallocate.
			est := estimateRows(rec, src.size)
			c.User = make([]int32, 0, est)
			c.Item = make([]int32, 0, est)
			c.TS = make([]int64, 0, est)
		}
		ucode = grow32(ucode, n)
		icode = grow32(icode, n)
		ts = grow64(ts, n)
		if err := encodeClickBatch(ue, ie, rec, row, ucode, icode, ts); err != nil {
			return nil, err
		}
		for j := 0; j < n; j++ {
			u, it := ucode[j], icode[j]
			if u < 0 || it < 0 {
				st.Skipped++
				if u < 0 {
					st.UnknownUserRows++
				}
				if it < 0 {
					st.UnknownItemRows++
				}
				continue
			}
			c.User = append(c.User, u)
			c.Item = append(c.Item, it)
			c.TS = append(c.TS, ts[j])
		}
		row += n
		meter.add(n)
	}
	st.Rows = int64(row)
	st.Kept = int64(len(c.User))
	if opt.Stats != nil {
		*opt.Stats = st
	}
	if len(c.User) == 0 && !opt.AllowEmpty {
		if row == 0 {
			return nil, errors.New("no rows (empty table)")
		}
		return nil, fmt.Errorf("no rows left: all %d rows have unknown ids", row)
	}
	return c, nil
}

// encodeClickBatch maps the user and item ids of rec (rows from row0) to
// ucode and icode and its times to ts. The user column is encoded on a
// second goroutine when the two encoders fill different vocabularies and
// more than one core is available: each encoder still sees its column in
// row order, so the vocabularies and codes are the same, and errors are
// reported in the same order (user column, item column, times).
func encodeClickBatch(ue, ie *idEncoder, rec arrow.Record, row0 int, ucode, icode []int32, ts []int64) error {
	if ue.v == ie.v || runtime.GOMAXPROCS(0) == 1 {
		if err := encodeIDColumn(ue, rec, ColUserID, row0, ucode); err != nil {
			return err
		}
		if err := encodeIDColumn(ie, rec, ColItemID, row0, icode); err != nil {
			return err
		}
		return decodeTS(rec, row0, ts)
	}
	var uerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer recoverTo(&uerr) // a corrupt batch must not crash the process
		uerr = encodeIDColumn(ue, rec, ColUserID, row0, ucode)
	}()
	// Wait for the user column even if this goroutine panics, so nothing
	// writes to the vocabulary while the caller rolls it back.
	defer func() { <-done }()
	ierr := encodeIDColumn(ie, rec, ColItemID, row0, icode)
	terr := error(nil)
	if ierr == nil {
		terr = decodeTS(rec, row0, ts)
	}
	<-done // (receiving again from the closed channel in the defer is free)
	if uerr != nil {
		return uerr
	}
	if ierr != nil {
		return ierr
	}
	return terr
}

// prepareIDVocab checks the id column name in sc and returns the vocabulary
// to fill: v if given (after checking its kind), else a new one.
func prepareIDVocab(sc *arrow.Schema, name string, v *Vocab, what string) (*Vocab, error) {
	i := fieldIndex(sc, name)
	if i < 0 {
		return nil, fmt.Errorf("missing column %q (have %s)", name, columnList(sc))
	}
	t := sc.Field(i).Type
	kind := idKindOf(t)
	if kind == 0 || t.ID() == arrow.BOOL {
		return nil, fmt.Errorf("column %q: type %s cannot hold ids (want an integer or string)", name, t)
	}
	if v == nil {
		return NewVocab(kind), nil
	}
	if v.Kind() != kind {
		return nil, fmt.Errorf("column %q holds %s ids but the %s vocabulary holds %s ids", name, kind, what, v.Kind())
	}
	return v, nil
}

// encodeIDColumn encodes column name of rec into out, failing on nulls.
func encodeIDColumn(e *idEncoder, rec arrow.Record, name string, row0 int, out []int32) error {
	i := fieldIndex(rec.Schema(), name)
	if i < 0 {
		return fmt.Errorf("missing column %q in record batch at row %d", name, row0)
	}
	col := rec.Column(i)
	if err := e.encode(col, out); err != nil {
		var u *rowIDError
		switch {
		case errors.As(err, &u) && u.err != nil:
			return fmt.Errorf("column %q row %d: %w", name, row0+u.row, u.err)
		case u != nil:
			return fmt.Errorf("column %q row %d: unknown id %q", name, row0+u.row, u.id)
		}
		return fmt.Errorf("column %q: %w (batch starting at row %d)", name, err, row0)
	}
	if col.NullN() > 0 {
		for j, c := range out {
			if c == codeNull {
				return fmt.Errorf("column %q row %d: null id", name, row0+j)
			}
		}
	}
	return nil
}

func tsTypeOK(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.TIMESTAMP:
		return true
	}
	return false
}

// decodeTS converts the ts column of rec to Unix nanoseconds.
func decodeTS(rec arrow.Record, row0 int, out []int64) error {
	i := fieldIndex(rec.Schema(), ColTS)
	if i < 0 {
		return fmt.Errorf("missing column %q in record batch at row %d", ColTS, row0)
	}
	col := rec.Column(i)
	nullOrRange := func(j int, what string) error {
		return fmt.Errorf("column %q row %d: %s", ColTS, row0+j, what)
	}
	secs := func(j int, s int64) error {
		if s > maxTSSeconds || s < -maxTSSeconds {
			return nullOrRange(j, fmt.Sprintf("%d seconds is out of range", s))
		}
		out[j] = s * 1e9
		return nil
	}
	for j := range out {
		if col.IsNull(j) {
			return nullOrRange(j, "null timestamp")
		}
	}
	switch a := col.(type) {
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		mul := int64(1)
		switch unit {
		case arrow.Second:
			mul = 1e9
		case arrow.Millisecond:
			mul = 1e6
		case arrow.Microsecond:
			mul = 1e3
		}
		lim := int64(math.MaxInt64) / mul
		for j := range out {
			v := int64(a.Value(j))
			if v > lim || v < -lim {
				return nullOrRange(j, fmt.Sprintf("timestamp %d %s is out of range", v, unit))
			}
			out[j] = v * mul
		}
	case *array.Int64:
		for j := range out {
			if err := secs(j, a.Value(j)); err != nil {
				return err
			}
		}
	case *array.Uint64:
		for j := range out {
			v := a.Value(j)
			if v > maxTSSeconds {
				return nullOrRange(j, fmt.Sprintf("%d seconds is out of range", v))
			}
			out[j] = int64(v) * 1e9
		}
	case *array.Int32:
		smallSeconds(out, a.Value)
	case *array.Uint32:
		smallSeconds(out, a.Value)
	case *array.Int16:
		smallSeconds(out, a.Value)
	case *array.Uint16:
		smallSeconds(out, a.Value)
	case *array.Int8:
		smallSeconds(out, a.Value)
	case *array.Uint8:
		smallSeconds(out, a.Value)
	default:
		return fmt.Errorf("column %q: type %s is not an integer (Unix seconds) or a timestamp", ColTS, col.DataType())
	}
	return nil
}

// smallSeconds converts Unix seconds held in an integer type of at most 32
// bits to nanoseconds: every such value is in range.
func smallSeconds[T int8 | uint8 | int16 | uint16 | int32 | uint32](out []int64, value func(int) T) {
	for j := range out {
		out[j] = int64(value(j)) * 1e9
	}
}

// WriteClicks writes c to path as Parquet, or as an Arrow IPC file when the
// name ends in .arrow, .ipc or .feather (see FormatFromPath). Columns:
// user_id and item_id as int64 or string following their vocabulary's kind,
// and ts as timestamp[s, tz=UTC] when every time is a whole second, else
// timestamp[ns, tz=UTC] (Parquet has no seconds unit, so there whole
// seconds are stored as timestamp[ms]); ReadClicks of the file gives back exactly c's ids
// and times (indices are reassigned in order of first appearance unless
// the vocabularies are passed in ReadOptions). The Arrow schema is stored in
// Parquet metadata. The file is written to a temporary file in the same
// directory and renamed into place; on error nothing is left at path.
func WriteClicks(ctx context.Context, path string, c *Clicks, opts ...WriteOption) error {
	if err := writeClicks(ctx, path, c, opts); err != nil {
		return fmt.Errorf("write clicks %s: %w", path, err)
	}
	return nil
}

func writeClicks(ctx context.Context, path string, c *Clicks, opts []WriteOption) error {
	if c == nil || c.Users == nil || c.Items == nil {
		return errors.New("nil clicks or vocabulary")
	}
	n := len(c.User)
	if len(c.Item) != n || len(c.TS) != n {
		return fmt.Errorf("column lengths differ: user %d, item %d, ts %d", n, len(c.Item), len(c.TS))
	}
	for i := 0; i < n; i++ {
		if u := c.User[i]; u < 0 || int(u) >= c.Users.Len() {
			return fmt.Errorf("row %d: user index %d outside vocabulary of %d", i, u, c.Users.Len())
		}
		if it := c.Item[i]; it < 0 || int(it) >= c.Items.Len() {
			return fmt.Errorf("row %d: item index %d outside vocabulary of %d", i, it, c.Items.Len())
		}
	}
	unit := arrow.Second
	for _, t := range c.TS {
		if t%1e9 != 0 {
			unit = arrow.Nanosecond
			break
		}
	}
	uw, err := newIDWriter(c.Users)
	if err != nil {
		return fmt.Errorf("user vocabulary: %w", err)
	}
	iw, err := newIDWriter(c.Items)
	if err != nil {
		return fmt.Errorf("item vocabulary: %w", err)
	}
	tsType := &arrow.TimestampType{Unit: unit, TimeZone: "UTC"}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: ColUserID, Type: uw.dataType()},
		{Name: ColItemID, Type: iw.dataType()},
		{Name: ColTS, Type: tsType},
	}, nil)
	return writeBatches(ctx, path, sc, n, func(mem memory.Allocator, lo, hi int) (arrow.Record, error) {
		ua := uw.build(mem, c.User[lo:hi])
		defer ua.Release()
		ia := iw.build(mem, c.Item[lo:hi])
		defer ia.Release()
		tb := array.NewTimestampBuilder(mem, tsType)
		defer tb.Release()
		tb.Reserve(hi - lo)
		div := int64(1)
		if unit == arrow.Second {
			div = 1e9
		}
		for _, t := range c.TS[lo:hi] {
			tb.UnsafeAppend(arrow.Timestamp(t / div))
		}
		ta := tb.NewArray()
		defer ta.Release()
		return array.NewRecord(sc, []arrow.Array{ua, ia, ta}, int64(hi-lo)), nil
	}, opts)
}

// idWriter turns vocabulary indices back into an id column.
type idWriter struct {
	v    *Vocab
	ints []int64 // parsed ids of an int64 vocabulary
}

func newIDWriter(v *Vocab) (*idWriter, error) {
	w := &idWriter{v: v}
	switch v.Kind() {
	case IDString:
	case IDInt64:
		w.ints = make([]int64, v.Len())
		for i := range w.ints {
			x, err := v.Int64(int32(i))
			if err != nil {
				return nil, fmt.Errorf("id %q of an int64 vocabulary is not an integer", v.ID(int32(i)))
			}
			w.ints[i] = x
		}
	default:
		return nil, fmt.Errorf("invalid id kind %d", v.Kind())
	}
	return w, nil
}

func (w *idWriter) dataType() arrow.DataType {
	if w.v.Kind() == IDInt64 {
		return arrow.PrimitiveTypes.Int64
	}
	return arrow.BinaryTypes.String
}

// buildRange returns the id column of the indices lo..hi-1 (in range); an
// int64 column aliases the parsed ids.
func (w *idWriter) buildRange(mem memory.Allocator, lo, hi int) arrow.Array {
	if w.ints != nil {
		d := array.NewData(arrow.PrimitiveTypes.Int64, hi-lo,
			[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(w.ints[lo:hi]))}, nil, 0, 0)
		defer d.Release()
		return array.MakeFromData(d)
	}
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(hi - lo)
	for _, id := range w.v.ids[lo:hi] {
		b.Append(id)
	}
	return b.NewArray()
}

// build returns the id column for the given indices (all in range).
func (w *idWriter) build(mem memory.Allocator, idx []int32) arrow.Array {
	if w.ints != nil {
		b := array.NewInt64Builder(mem)
		defer b.Release()
		b.Reserve(len(idx))
		for _, i := range idx {
			b.UnsafeAppend(w.ints[i])
		}
		return b.NewArray()
	}
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(len(idx))
	for _, i := range idx {
		b.Append(w.v.ids[i])
	}
	return b.NewArray()
}

// estimateRows guesses the rows of a file of size bytes from one record
// batch (all of the file's columns): size divided by the batch's bytes per
// row, plus 5%. Compressed files are underestimated (append then grows the
// slices); the estimate is capped so a corrupt file cannot ask for much.
func estimateRows(rec arrow.Record, size int64) int {
	var bytes int64
	for _, col := range rec.Columns() {
		bytes += dataBytes(col.Data())
	}
	n := rec.NumRows()
	if bytes <= 0 || n <= 0 {
		return int(n)
	}
	est := float64(size) / (float64(bytes) / float64(n)) * 1.05
	// At least a byte per row: a corrupt row count must not turn into a
	// large allocation.
	return int(min(max(est, float64(n)), float64(size), 1<<27))
}

// dataBytes sums the buffer lengths of an array and its children.
func dataBytes(d arrow.ArrayData) int64 {
	var b int64
	for _, buf := range d.Buffers() {
		if buf != nil {
			b += int64(buf.Len())
		}
	}
	for _, c := range d.Children() {
		b += dataBytes(c)
	}
	return b
}

func grow32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func grow64(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	return s[:n]
}

// columnList names the columns of sc for error messages.
func columnList(sc *arrow.Schema) string {
	s := ""
	for i, f := range sc.Fields() {
		if i > 0 {
			s += ", "
		}
		if i == 12 {
			return s + fmt.Sprintf("... %d columns", sc.NumFields())
		}
		s += fmt.Sprintf("%q", f.Name)
	}
	if s == "" {
		return "no columns"
	}
	return s
}

// ID is the Go type of an id column: int64 or string.
type ID interface{ int64 | string }

// NewClicks builds a click log from plain slices: click i is users[i]
// clicking items[i] at times[i]. The vocabularies' kinds follow the slice
// types (int64 ids give IDInt64, strings IDString) and indices are assigned
// in order of first appearance. The slices must have the same length and
// string ids must pass the one id validator, CanonicalID (not empty, at
// most MaxIDBytes of UTF-8 without control characters); an error names the
// field and row.
func NewClicks[U, I ID](users []U, items []I, times []time.Time) (*Clicks, error) {
	n := len(users)
	if len(items) != n || len(times) != n {
		return nil, fmt.Errorf("new clicks: lengths differ: users %d, items %d, times %d", n, len(items), len(times))
	}
	c := &Clicks{
		Users: NewVocab(goIDKind[U]()), Items: NewVocab(goIDKind[I]()),
		User: make([]int32, n), Item: make([]int32, n), TS: make([]int64, n),
	}
	for i := 0; i < n; i++ {
		u, err := idString(users[i])
		if err != nil {
			return nil, fmt.Errorf("new clicks: users[%d]: %w", i, err)
		}
		it, err := idString(items[i])
		if err != nil {
			return nil, fmt.Errorf("new clicks: items[%d]: %w", i, err)
		}
		if times[i].IsZero() {
			return nil, fmt.Errorf("new clicks: times[%d]: zero time", i)
		}
		if c.User[i], err = c.Users.Add(u); err != nil {
			return nil, fmt.Errorf("new clicks: users[%d]: %w", i, err)
		}
		if c.Item[i], err = c.Items.Add(it); err != nil {
			return nil, fmt.Errorf("new clicks: items[%d]: %w", i, err)
		}
		c.TS[i] = times[i].UnixNano()
	}
	return c, nil
}

// goIDKind is the vocabulary kind of the Go id type T.
func goIDKind[T ID]() IDKind {
	var zero T
	if _, ok := any(zero).(string); ok {
		return IDString
	}
	return IDInt64
}

// idString is the vocabulary form of an id: decimal for int64, the string
// itself (a valid id, see CanonicalID) otherwise.
func idString[T ID](id T) (string, error) {
	switch v := any(id).(type) {
	case string:
		return CanonicalID(IDString, v)
	case int64:
		return strconv.FormatInt(v, 10), nil
	}
	panic("unreachable: ID is int64 or string")
}
