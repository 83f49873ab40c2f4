package data

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// checkColumnData checks that the buffers of arr are large enough for its
// length and offset, recursively, before the readers use the array. A
// corrupt file can claim a length far beyond the data it holds; the arrow
// library does not validate arrays it decodes, and this package sizes its
// scratch space by the batch length, so the check keeps both reads and
// allocations within what the file really holds. Only the types the readers
// accept are checked in depth; others are rejected by the readers anyway.
func checkColumnData(arr arrow.Array, rows int64) error {
	if int64(arr.Len()) != rows {
		return fmt.Errorf("corrupt record batch: column of %d rows in a batch of %d", arr.Len(), rows)
	}
	return checkData(arr.Data(), 0)
}

func checkData(d arrow.ArrayData, depth int) error {
	if depth > 8 {
		return fmt.Errorf("corrupt record batch: nesting too deep")
	}
	n, off := int64(d.Len()), int64(d.Offset())
	if n < 0 || off < 0 {
		return fmt.Errorf("corrupt record batch: negative length or offset")
	}
	end := n + off
	bufs := d.Buffers()
	bufLen := func(i int) int64 {
		if i >= len(bufs) || bufs[i] == nil {
			return 0
		}
		return int64(bufs[i].Len())
	}
	if len(bufs) > 0 && bufs[0] != nil && bufLen(0)*8 < end {
		return fmt.Errorf("corrupt record batch: validity bitmap of %d bytes for %d rows", bufLen(0), end)
	}
	short := func(have, want int64) error {
		return fmt.Errorf("corrupt record batch: %s buffer of %d bytes, need %d", d.DataType(), have, want)
	}
	switch t := d.DataType().(type) {
	case *arrow.BooleanType:
		if bufLen(1)*8 < end {
			return short(bufLen(1), (end+7)/8)
		}
	case *arrow.DictionaryType:
		// Indices are checked as the index type; the dictionary itself
		// comes from the file's dictionary batch.
		iw := int64(t.IndexType.(arrow.FixedWidthDataType).BitWidth() / 8)
		if bufLen(1) < end*iw {
			return short(bufLen(1), end*iw)
		}
		if dict := d.Dictionary(); dict != nil {
			return checkData(dict, depth+1)
		}
	case arrow.FixedWidthDataType:
		w := int64(t.BitWidth() / 8)
		if bufLen(1) < end*w {
			return short(bufLen(1), end*w)
		}
	case *arrow.StringType, *arrow.BinaryType:
		return checkOffsets(bufs, 4, end, off)
	case *arrow.LargeStringType, *arrow.LargeBinaryType:
		return checkOffsets(bufs, 8, end, off)
	case *arrow.ListType, *arrow.LargeListType:
		w := int64(4)
		if _, ok := t.(*arrow.LargeListType); ok {
			w = 8
		}
		if err := checkOffsetsOnly(bufs, w, end); err != nil {
			return err
		}
		if len(d.Children()) != 1 {
			return fmt.Errorf("corrupt record batch: list without values")
		}
		last := readOffset(bufs[1].Bytes(), w, end)
		if int64(d.Children()[0].Len()) < last {
			return fmt.Errorf("corrupt record batch: list offsets reach %d of %d values", last, d.Children()[0].Len())
		}
		return checkData(d.Children()[0], depth+1)
	case *arrow.FixedSizeListType:
		if len(d.Children()) != 1 || int64(d.Children()[0].Len()) < end*int64(t.Len()) {
			return fmt.Errorf("corrupt record batch: fixed-size list values too short")
		}
		return checkData(d.Children()[0], depth+1)
	}
	return nil
}

// checkOffsets checks a string/binary array: offsets monotone within the
// data buffer.
func checkOffsets(bufs []*memory.Buffer, w, end, off int64) error {
	if err := checkOffsetsOnly(bufs, w, end); err != nil {
		return err
	}
	b := bufs[1].Bytes()
	var data int64
	if len(bufs) > 2 && bufs[2] != nil {
		data = int64(bufs[2].Len())
	}
	prev := readOffset(b, w, off)
	if prev < 0 {
		return fmt.Errorf("corrupt record batch: negative string offset")
	}
	for i := off + 1; i <= end; i++ {
		o := readOffset(b, w, i)
		if o < prev || o > data {
			return fmt.Errorf("corrupt record batch: string offsets out of order or past %d data bytes", data)
		}
		prev = o
	}
	return nil
}

func checkOffsetsOnly(bufs []*memory.Buffer, w, end int64) error {
	if len(bufs) < 2 || bufs[1] == nil {
		if end == 0 {
			return nil
		}
		return fmt.Errorf("corrupt record batch: missing offsets")
	}
	if int64(bufs[1].Len()) < (end+1)*w {
		return fmt.Errorf("corrupt record batch: offsets buffer of %d bytes for %d rows", bufs[1].Len(), end)
	}
	return nil
}

func readOffset(b []byte, w, i int64) int64 {
	if w == 8 {
		return int64(binary.LittleEndian.Uint64(b[i*8:]))
	}
	return int64(int32(binary.LittleEndian.Uint32(b[i*4:])))
}

// checkRecord checks the named columns of rec.
func checkRecord(rec arrow.Record, names ...string) error {
	for _, name := range names {
		i := fieldIndex(rec.Schema(), name)
		if i < 0 {
			continue
		}
		if err := checkColumnData(rec.Column(i), rec.NumRows()); err != nil {
			return fmt.Errorf("column %q: %w", name, err)
		}
	}
	return nil
}
