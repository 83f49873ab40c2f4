package data

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/metadata"
	"github.com/apache/thrift/lib/go/thrift"
)

// The Parquet page reader of the arrow library loops until it has seen as
// many values as the column chunk's metadata promises. When the pages of a
// corrupt chunk hold fewer, it runs past the chunk's end and re-parses stale
// bytes of its buffer as page headers forever (allocating on every turn).
// checkParquetColumns walks the page headers of the column chunks about to
// be read, with the thrift library's compact protocol, and rejects a chunk
// whose pages do not fit in it or do not add up to its value count, so the
// library is only handed chunks whose page walk terminates.

// Parquet page types (parquet.thrift).
const (
	pqDataPage   = 0
	pqDataPageV2 = 3
	// Largest page header this check reads (the arrow reader's default).
	pqMaxPageHeader = 16 << 20
)

// checkParquetColumns checks the column chunks of leaf columns leaves (all
// when nil) in every row group of the file of size bytes read through r.
func checkParquetColumns(ctx context.Context, pr *file.Reader, r io.ReaderAt, size int64, leaves []int) error {
	md := pr.MetaData()
	old := md.WriterVersion() != nil && md.WriterVersion().LessThan(metadata.Parquet816FixedVersion)
	if leaves == nil {
		for j := 0; j < md.Schema.NumColumns(); j++ {
			leaves = append(leaves, j)
		}
	}
	for g := 0; g < pr.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		for _, j := range leaves {
			if err := ctx.Err(); err != nil {
				return err
			}
			if j < 0 || j >= rg.NumColumns() {
				return fmt.Errorf("corrupt Parquet file: row group %d has no column %d", g, j)
			}
			col, err := rg.ColumnChunk(j)
			if err != nil {
				return fmt.Errorf("corrupt Parquet file: row group %d column %d: %w", g, j, err)
			}
			if err := checkColumnChunk(r, size, col, old); err != nil {
				return fmt.Errorf("corrupt Parquet file: row group %d column %q: %w", g, col.PathInSchema().String(), err)
			}
		}
	}
	return nil
}

func checkColumnChunk(r io.ReaderAt, size int64, col *metadata.ColumnChunkMetaData, oldWriter bool) error {
	if col.CryptoMetadata() != nil {
		return errors.New("encrypted columns are not supported")
	}
	start := col.DataPageOffset()
	if col.HasDictionaryPage() && col.DictionaryPageOffset() > 0 && start > col.DictionaryPageOffset() {
		start = col.DictionaryPageOffset()
	}
	length := col.TotalCompressedSize()
	if start < 0 || length < 0 || start > size || length > size-start {
		return fmt.Errorf("chunk [%d, +%d) lies outside the %d-byte file", start, length, size)
	}
	if oldWriter { // the library pads these chunks likewise (PARQUET-816)
		length += min(100, size-(start+length))
	}
	end := start + length
	want := col.NumValues()
	if want < 0 {
		return fmt.Errorf("negative value count %d", want)
	}
	var seen int64
	for pos := start; seen < want; {
		if pos >= end {
			return fmt.Errorf("pages hold %d values, the chunk metadata says %d", seen, want)
		}
		h, err := readPageHeader(r, pos, end)
		if err != nil {
			return fmt.Errorf("page header at offset %d: %w", pos, err)
		}
		if h.compressed < 0 || h.uncompressed < 0 || h.values < 0 {
			return fmt.Errorf("page header at offset %d: negative size or count", pos)
		}
		pos += h.headerLen + int64(h.compressed)
		if pos > end {
			return fmt.Errorf("page at offset %d runs past the end of its chunk", pos-int64(h.compressed)-h.headerLen)
		}
		if h.typ == pqDataPage || h.typ == pqDataPageV2 {
			seen += int64(h.values)
		}
	}
	if seen != want {
		return fmt.Errorf("pages hold %d values, the chunk metadata says %d", seen, want)
	}
	return nil
}

type pageHeader struct {
	headerLen                int64
	typ                      int32
	uncompressed, compressed int32
	values                   int32 // num_values of the data or dictionary page header
}

// readPageHeader decodes the PageHeader struct at pos (before end).
func readPageHeader(r io.ReaderAt, pos, end int64) (pageHeader, error) {
	for n := min(end-pos, 4<<10); ; n = min(end-pos, n*4) {
		buf := make([]byte, n)
		if _, err := r.ReadAt(buf, pos); err != nil && !errors.Is(err, io.EOF) {
			return pageHeader{}, err
		}
		h, err := decodePageHeader(buf)
		if err == nil {
			return h, nil
		}
		if n >= end-pos || n >= pqMaxPageHeader {
			return pageHeader{}, err
		}
	}
}

func decodePageHeader(buf []byte) (h pageHeader, err error) {
	ctx := context.Background()
	tr := thrift.NewTMemoryBufferLen(len(buf))
	tr.Write(buf)
	p := thrift.NewTCompactProtocolConf(tr, &thrift.TConfiguration{MaxMessageSize: int32(len(buf))})
	var haveType, haveU, haveC bool
	err = readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
		switch {
		case id == 1 && t == thrift.I32:
			h.typ, err = p.ReadI32(ctx)
			haveType = true
		case id == 2 && t == thrift.I32:
			h.uncompressed, err = p.ReadI32(ctx)
			haveU = true
		case id == 3 && t == thrift.I32:
			h.compressed, err = p.ReadI32(ctx)
			haveC = true
		case (id == 5 || id == 7 || id == 8) && t == thrift.STRUCT:
			// data_page_header, dictionary_page_header, data_page_header_v2:
			// num_values is field 1 of each.
			err = readStruct(ctx, p, func(id int16, t thrift.TType) (bool, error) {
				if id == 1 && t == thrift.I32 {
					v, err := p.ReadI32(ctx)
					h.values = v
					return true, err
				}
				return false, nil
			})
		default:
			return false, nil
		}
		return true, err
	})
	if err != nil {
		return h, err
	}
	if !haveType || !haveU || !haveC {
		return h, errors.New("required field missing")
	}
	h.headerLen = int64(len(buf) - tr.Len())
	return h, nil
}

// readStruct reads one struct, calling field for each field; a field that
// returns false is skipped.
func readStruct(ctx context.Context, p *thrift.TCompactProtocol, field func(id int16, t thrift.TType) (bool, error)) error {
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return err
	}
	for {
		_, t, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return err
		}
		if t == thrift.STOP {
			break
		}
		done, err := field(id, t)
		if err != nil {
			return err
		}
		if !done {
			if err := thrift.SkipDefaultDepth(ctx, p, t); err != nil {
				return err
			}
		}
		if err := p.ReadFieldEnd(ctx); err != nil {
			return err
		}
	}
	return p.ReadStructEnd(ctx)
}
