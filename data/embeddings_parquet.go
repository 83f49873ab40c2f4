package data

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"unsafe"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/endian"
	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/metadata"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/apache/arrow/go/v15/parquet/schema"

	"github.com/ralmlab/ralm/internal/atomicfile"
)

// The Parquet embeddings writer.
//
// The file is what pqarrow writes for the Arrow schema of WriteEmbeddings
// (the same Parquet schema, the Arrow schema stored under ARROW:schema, one
// row group per embeddingsRowGroupRows rows, data page v2, Snappy), but the
// vector column is not written through pqarrow: its nested path computes
// and RLE-encodes a definition and a repetition level per float, which cost
// a third of the write (issue #11: below 0.7M rows/s at 64-d on one core).
// Every row of the column is a list of exactly dim present floats, so the
// levels of a page are known in advance and encoded once: the repetition
// levels are the runs 0, then 1 × (dim-1), per row (bit-packed instead
// when that is shorter, see appendLevels); the definition levels one run of
// the maximum level. The values are the vectors themselves
// (PLAIN little-endian float32), compressed a page at a time straight from
// the caller's slice, and the page goes to the library's page writer, which
// writes its header and keeps the column chunk's metadata. The id column
// goes through the library's column writer (plain encoding: every id is
// unique, so a dictionary only costs time before the fallback).

// embeddingsRowGroupRows is the number of rows per row group (and per
// progress report) of a Parquet embeddings file; memory beyond the caller's
// vectors is one page, whatever the number of rows.
const embeddingsRowGroupRows = writeBatchRows

// embeddingsPageBytes is the target size of the uncompressed values of one
// data page of the vector column (the library's default data page size).
const embeddingsPageBytes = 1 << 20

// writeEmbeddingsParquet writes the Parquet file of WriteEmbeddings
// atomically: schema sc (user_id, embedding), ids from uw, vecs row-major
// with dim values per user.
func writeEmbeddingsParquet(ctx context.Context, path string, sc *arrow.Schema, uw *idWriter, dim int, vecs []float32, opts []WriteOption) error {
	n := uw.v.Len()
	if (n+embeddingsRowGroupRows-1)/embeddingsRowGroupRows > math.MaxInt16 {
		return fmt.Errorf("%d rows need more than %d row groups", n, math.MaxInt16)
	}
	meter := newWriteMeter(opts, n)
	return atomicfile.Write(ctx, path, func(f *os.File) error {
		w, err := newEmbeddingsWriter(f, sc, uw, dim)
		if err != nil {
			return err
		}
		for lo := 0; lo < n; lo += embeddingsRowGroupRows {
			if err := ctx.Err(); err != nil {
				return err
			}
			hi := min(lo+embeddingsRowGroupRows, n)
			if err := w.writeRowGroup(lo, hi, vecs[lo*dim:hi*dim]); err != nil {
				return fmt.Errorf("rows %d to %d: %w", lo, hi-1, err)
			}
			meter.add(hi - lo)
		}
		return w.close()
	})
}

// embeddingsWriter writes the row groups and the footer of one Parquet
// embeddings file.
type embeddingsWriter struct {
	f     *os.File
	sink  *hashingSink
	props *parquet.WriterProperties
	meta  *metadata.FileMetaDataBuilder
	ids   *idWriter
	vec   *schema.Column // the leaf column of the vectors
	dim   int
	codec compress.Codec // nil: uncompressed
	mem   memory.Allocator

	rowGroups int16
	pageRows  int    // rows per data page
	levels    []byte // repetition then definition levels of a full page
	repLen    int    // bytes of repetition levels in levels
	page      []byte // one page: levels and compressed values
	le        []byte // little-endian copy of a page's values (big-endian hosts)
	strs      []parquet.ByteArray
}

func newEmbeddingsWriter(f *os.File, sc *arrow.Schema, uw *idWriter, dim int) (*embeddingsWriter, error) {
	// No dictionary for the ids either: they are unique.
	props, aprops := parquetProps(sc, parquet.WithDictionaryPath(parquet.ColumnPath{ColUserID}, false))
	ps, err := pqarrow.ToParquet(sc, props, aprops)
	if err != nil {
		return nil, err
	}
	if ps.NumColumns() != 2 {
		return nil, fmt.Errorf("embeddings schema has %d Parquet columns, want 2", ps.NumColumns())
	}
	vec := ps.Column(1)
	if vec.PhysicalType() != parquet.Types.Float || vec.MaxRepetitionLevel() != 1 || vec.MaxDefinitionLevel() > math.MaxUint8 {
		return nil, fmt.Errorf("embedding column %s: not a list of float", vec.Path())
	}
	// The key-value metadata of pqarrow.NewFileWriter with the stored schema.
	var kv metadata.KeyValueMetadata
	if err := kv.Append("ARROW:schema", base64.StdEncoding.EncodeToString(flight.SerializeSchema(sc, props.Allocator()))); err != nil {
		return nil, err
	}
	w := &embeddingsWriter{
		f:     f,
		sink:  &hashingSink{fileSink: fileSink{f}},
		props: props,
		meta:  metadata.NewFileMetadataBuilder(ps, props, kv),
		ids:   uw,
		vec:   vec,
		dim:   dim,
		mem:   props.Allocator(),
	}
	if c := props.CompressionFor(vec.Path()); c != compress.Codecs.Uncompressed {
		if w.codec, err = compress.GetCodec(c); err != nil {
			return nil, err
		}
	}
	w.pageRows = max(1, embeddingsPageBytes/(4*dim))
	w.levels, w.repLen = w.appendLevels(nil, w.pageRows)
	if _, err := w.sink.Write(parquetMagic); err != nil {
		return nil, err
	}
	return w, nil
}

// appendLevels appends the encoded repetition levels and then definition
// levels of rows rows of the vector column to b and returns it with the
// length of the repetition levels. The encoding is the RLE/bit-packed
// hybrid, bit widths ≤ 8 (one byte per run value). The repetition levels
// are per row a run of one 0 and a run of dim-1 ones (4 bytes a row), or,
// when shorter (dim < 32), one bit-packed run of all of them (1 bit a
// value, the last byte padded).
func (w *embeddingsWriter) appendLevels(b []byte, rows int) ([]byte, int) {
	run := func(b []byte, count int, value int16) []byte {
		return append(binary.AppendUvarint(b, uint64(count)<<1), byte(value))
	}
	start := len(b)
	if w.dim == 1 {
		b = run(b, rows, 0)
	} else {
		for range rows {
			b = run(run(b, 1, 0), w.dim-1, 1)
		}
		nvals := rows * w.dim
		groups := (nvals + 7) / 8
		if packed := binary.AppendUvarint(nil, uint64(groups)<<1|1); len(packed)+groups < len(b)-start {
			bits := make([]byte, groups)
			for i := range nvals {
				if i%w.dim != 0 {
					bits[i/8] |= 1 << (i % 8)
				}
			}
			b = append(append(b[:start], packed...), bits...)
		}
	}
	repLen := len(b) - start
	return run(b, rows*w.dim, w.vec.MaxDefinitionLevel()), repLen
}

// writeRowGroup writes the rows lo..hi-1 as one row group, vecs holding
// their vectors.
func (w *embeddingsWriter) writeRowGroup(lo, hi int, vecs []float32) error {
	rg := w.meta.AppendRowGroup()
	ordinal := w.rowGroups
	w.rowGroups++
	idBytes, err := w.writeIDs(rg.NextColumnChunk(), ordinal, lo, hi)
	if err != nil {
		return fmt.Errorf("column %q: %w", ColUserID, err)
	}
	vecBytes, err := w.writeVectors(rg.NextColumnChunk(), ordinal, vecs)
	if err != nil {
		return fmt.Errorf("column %q: %w", ColEmbedding, err)
	}
	rg.SetNumRows(hi - lo)
	return rg.Finish(idBytes+vecBytes, ordinal)
}

// newPager returns the library's page writer of column chunk cm, column
// col of row group ordinal.
func (w *embeddingsWriter) newPager(cm *metadata.ColumnChunkMetaDataBuilder, ordinal, col int16) (file.PageWriter, error) {
	path := cm.Descr().Path()
	return file.NewPageWriter(w.sink, w.props.CompressionFor(path), w.props.CompressionLevelFor(path), cm,
		ordinal, col, w.mem, false, nil, nil)
}

// writeIDs writes the id column chunk of rows lo..hi-1 with the library's
// column writer and returns the bytes written.
func (w *embeddingsWriter) writeIDs(cm *metadata.ColumnChunkMetaDataBuilder, ordinal int16, lo, hi int) (int64, error) {
	pager, err := w.newPager(cm, ordinal, 0)
	if err != nil {
		return 0, err
	}
	cw := file.NewColumnChunkWriter(cm, pager, w.props)
	switch cw := cw.(type) {
	case *file.Int64ColumnChunkWriter:
		if w.ids.ints == nil {
			return 0, errors.New("int64 column for string ids")
		}
		_, err = cw.WriteBatch(w.ids.ints[lo:hi], nil, nil)
	case *file.ByteArrayColumnChunkWriter:
		w.strs = w.strs[:0]
		for _, id := range w.ids.v.ids[lo:hi] {
			// The writer only reads the bytes.
			w.strs = append(w.strs, unsafe.Slice(unsafe.StringData(id), len(id)))
		}
		_, err = cw.WriteBatch(w.strs, nil, nil)
	default:
		err = fmt.Errorf("unexpected column writer %T", cw)
	}
	if err != nil {
		return 0, err
	}
	if err := cw.Close(); err != nil {
		return 0, err
	}
	return cw.TotalBytesWritten(), nil
}

// writeVectors writes the vector column chunk of vecs (whole rows) as data
// pages of pageRows rows and returns the bytes written.
func (w *embeddingsWriter) writeVectors(cm *metadata.ColumnChunkMetaDataBuilder, ordinal int16, vecs []float32) (int64, error) {
	pager, err := w.newPager(cm, ordinal, 1)
	if err != nil {
		return 0, err
	}
	var total int64
	for lo := 0; lo < len(vecs); lo += w.pageRows * w.dim {
		hi := min(lo+w.pageRows*w.dim, len(vecs))
		rows := (hi - lo) / w.dim
		levels, repLen := w.levels, w.repLen
		if rows != w.pageRows {
			levels, repLen = w.appendLevels(nil, rows)
		}
		n, err := w.writePage(pager, levels, repLen, rows, vecs[lo:hi])
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, pager.Close(false, false)
}

// writePage writes one data page (v2) of rows rows: the encoded levels,
// then vals PLAIN-encoded and compressed.
func (w *embeddingsWriter) writePage(pager file.PageWriter, levels []byte, repLen, rows int, vals []float32) (int64, error) {
	raw := arrow.Float32Traits.CastToBytes(vals)
	if endian.IsBigEndian {
		w.le = w.le[:0]
		for _, x := range vals {
			w.le = binary.LittleEndian.AppendUint32(w.le, math.Float32bits(x))
		}
		raw = w.le
	}
	size := len(levels) + len(raw)
	if w.codec != nil {
		size = len(levels) + int(w.codec.CompressBound(int64(len(raw))))
	}
	if cap(w.page) < size {
		w.page = make([]byte, size)
	}
	page := w.page[:size]
	copy(page, levels)
	if w.codec == nil {
		copy(page[len(levels):], raw)
	} else {
		c := w.codec.Encode(page[len(levels):], raw)
		if len(c) > 0 && &c[0] != &page[len(levels)] {
			page = append(page[:len(levels)], c...) // the codec did not use the buffer
		} else {
			page = page[:len(levels)+len(c)]
		}
	}
	dp := file.NewDataPageV2WithStats(memory.NewBufferBytes(page), int32(len(vals)), 0, int32(rows), parquet.Encodings.Plain,
		int32(len(levels)-repLen), int32(repLen), int32(len(levels)+len(raw)), w.codec != nil, metadata.EncodedStatistics{})
	return pager.WriteDataPage(dp)
}

// close writes the footer (as the library's file writer does) and seals
// the file with its checksum.
func (w *embeddingsWriter) close() error {
	md, err := w.meta.Finish()
	if err != nil {
		return err
	}
	n, err := md.WriteTo(w.sink, nil)
	if err != nil {
		return err
	}
	if _, err := w.sink.Write(append(binary.LittleEndian.AppendUint32(nil, uint32(n)), parquetMagic...)); err != nil {
		return err
	}
	return sealParquet(w.f, w.sink)
}
