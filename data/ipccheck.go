package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The Arrow IPC readers of the arrow library size some slices from counts
// stored in the file's flatbuffer metadata before checking them (the number
// of fields in a schema, of children of a field, of key-value pairs). A
// corrupt count makes them request hundreds of gigabytes, which ends the
// process with a fatal out-of-memory error that no recover can catch. So
// before an Arrow file or stream is handed to the library, checkArrowFile and
// checkArrowStream walk its metadata with bounds checks on every offset and
// vector. They only validate; the library does the decoding.

// Flatbuffer message header types (Message.fbs).
const (
	fbHeaderSchema = 1
	fbMaxDepth     = 64
	fbMaxFields    = 1 << 16
)

var errCorruptMeta = errors.New("corrupt Arrow metadata")

// fbTable is one flatbuffer table inside b.
type fbTable struct {
	b   []byte
	pos int // table start
	vt  int // vtable start
	vtn int // vtable size in bytes
}

func fbU32(b []byte, pos int) (uint32, bool) {
	if pos < 0 || pos > len(b)-4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b[pos:]), true
}

// fbRoot returns the root table of buffer b.
func fbRoot(b []byte) (fbTable, error) {
	off, ok := fbU32(b, 0)
	if !ok {
		return fbTable{}, errCorruptMeta
	}
	return fbTableAt(b, int(off))
}

func fbTableAt(b []byte, pos int) (fbTable, error) {
	soff, ok := fbU32(b, pos)
	if !ok {
		return fbTable{}, errCorruptMeta
	}
	vt := pos - int(int32(soff))
	if vt < 0 || vt > len(b)-4 {
		return fbTable{}, errCorruptMeta
	}
	vtn := int(binary.LittleEndian.Uint16(b[vt:]))
	if vtn < 4 || vt+vtn > len(b) {
		return fbTable{}, errCorruptMeta
	}
	return fbTable{b: b, pos: pos, vt: vt, vtn: vtn}, nil
}

// field returns the absolute position of field slot, or -1 when absent.
func (t fbTable) field(slot int, size int) (int, error) {
	o := 4 + 2*slot
	if o+2 > t.vtn {
		return -1, nil
	}
	rel := int(binary.LittleEndian.Uint16(t.b[t.vt+o:]))
	if rel == 0 {
		return -1, nil
	}
	p := t.pos + rel
	if p+size > len(t.b) {
		return -1, errCorruptMeta
	}
	return p, nil
}

// ref follows the offset stored in field slot (a table, vector or string);
// -1 when absent.
func (t fbTable) ref(slot int) (int, error) {
	p, err := t.field(slot, 4)
	if p < 0 || err != nil {
		return -1, err
	}
	off, _ := fbU32(t.b, p)
	q := p + int(off)
	if q < 0 || q > len(t.b)-4 {
		return -1, errCorruptMeta
	}
	return q, nil
}

// table returns the sub-table in field slot (ok false when absent).
func (t fbTable) table(slot int) (fbTable, bool, error) {
	q, err := t.ref(slot)
	if q < 0 || err != nil {
		return fbTable{}, false, err
	}
	s, err := fbTableAt(t.b, q)
	return s, err == nil, err
}

// vector returns the start and length of the vector in field slot, whose
// elements take elem bytes each, after checking it fits the buffer.
func (t fbTable) vector(slot, elem int) (start, n int, err error) {
	q, err := t.ref(slot)
	if q < 0 || err != nil {
		return 0, 0, err
	}
	l, _ := fbU32(t.b, q)
	if uint64(l)*uint64(elem) > uint64(len(t.b)-q-4) {
		return 0, 0, errCorruptMeta
	}
	return q + 4, int(l), nil
}

// tables checks a vector of tables in field slot with check.
func (t fbTable) tables(slot int, check func(fbTable) error) error {
	start, n, err := t.vector(slot, 4)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		p := start + 4*i
		off, _ := fbU32(t.b, p)
		s, err := fbTableAt(t.b, p+int(off))
		if err != nil {
			return err
		}
		if err := check(s); err != nil {
			return err
		}
	}
	return nil
}

// checkKeyValues checks a custom_metadata vector (KeyValue: key, value).
func checkKeyValues(t fbTable, slot int) error {
	return t.tables(slot, func(kv fbTable) error {
		if _, _, err := kv.vector(0, 1); err != nil {
			return err
		}
		_, _, err := kv.vector(1, 1)
		return err
	})
}

// checkSchema checks a Schema table: fields (slot 1), custom_metadata
// (slot 2), features (slot 3).
func checkSchema(s fbTable) error {
	budget := fbMaxFields
	if err := s.tables(1, func(f fbTable) error { return checkField(f, 0, &budget) }); err != nil {
		return err
	}
	if err := checkKeyValues(s, 2); err != nil {
		return err
	}
	_, _, err := s.vector(3, 8)
	return err
}

// checkField checks a Field table: name (0), type (3, with Union typeIds),
// dictionary (4), children (5), custom_metadata (6).
func checkField(f fbTable, depth int, budget *int) error {
	*budget--
	if depth > fbMaxDepth || *budget < 0 {
		return errCorruptMeta
	}
	if _, _, err := f.vector(0, 1); err != nil {
		return err
	}
	if typ, ok, err := f.table(3); err != nil {
		return err
	} else if ok {
		// Union.typeIds is slot 1 of a Union table; for other type tables
		// slot 1 is a scalar or absent, and a vector check is then only a
		// bounds check of 4 bytes times a count that has to fit anyway.
		if tt, err := f.field(2, 1); err != nil {
			return err
		} else if tt >= 0 && f.b[tt] == 14 { // Type.Union
			if _, _, err := typ.vector(1, 4); err != nil {
				return err
			}
		}
	}
	if _, _, err := f.table(4); err != nil {
		return err
	}
	if err := f.tables(5, func(c fbTable) error { return checkField(c, depth+1, budget) }); err != nil {
		return err
	}
	return checkKeyValues(f, 6)
}

// checkArrowFile checks the footer of an Arrow IPC file of size bytes: the
// schema and the dictionary and record-batch blocks.
func checkArrowFile(r io.ReaderAt, size int64) error {
	var tail [10]byte
	if size < int64(len(tail))+8 {
		return errors.New("truncated or corrupt Arrow IPC file (too small)")
	}
	if _, err := r.ReadAt(tail[:], size-10); err != nil {
		return err
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n <= 0 || n > size-10-8 {
		return errors.New("truncated or corrupt Arrow IPC file (footer length)")
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, size-10-n); err != nil {
		return err
	}
	footer, err := fbRoot(b)
	if err != nil {
		return fmt.Errorf("corrupt Arrow IPC file footer: %w", err)
	}
	schema, ok, err := footer.table(1)
	if err != nil || !ok {
		return errors.New("corrupt Arrow IPC file footer: no schema")
	}
	if err := checkSchema(schema); err != nil {
		return fmt.Errorf("corrupt Arrow IPC file schema: %w", err)
	}
	for _, slot := range []int{2, 3} { // dictionaries, recordBatches
		start, cnt, err := footer.vector(slot, 24)
		if err != nil {
			return fmt.Errorf("corrupt Arrow IPC file footer: %w", err)
		}
		for i := 0; i < cnt; i++ {
			p := b[start+24*i:]
			off := int64(binary.LittleEndian.Uint64(p))
			meta := int64(int32(binary.LittleEndian.Uint32(p[8:])))
			body := int64(binary.LittleEndian.Uint64(p[16:]))
			if off < 0 || meta < 0 || body < 0 || off > size || meta > size || body > size || off+meta+body > size {
				return fmt.Errorf("corrupt Arrow IPC file: block %d points outside the file", i)
			}
		}
	}
	return checkKeyValues(footer, 4)
}

// checkArrowStream walks the messages of an Arrow IPC stream of size bytes,
// checking each length against what is left and each schema message.
func checkArrowStream(r io.ReaderAt, size int64) error {
	pos := int64(0)
	for pos < size {
		var hdr [8]byte
		if size-pos < 4 {
			return errors.New("truncated Arrow IPC stream")
		}
		if _, err := r.ReadAt(hdr[:4], pos); err != nil {
			return err
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:4]))
		pos += 4
		if n == 0xFFFFFFFF { // continuation marker, then the length
			if size-pos < 4 {
				return errors.New("truncated Arrow IPC stream")
			}
			if _, err := r.ReadAt(hdr[4:], pos); err != nil {
				return err
			}
			n = int64(binary.LittleEndian.Uint32(hdr[4:]))
			pos += 4
		}
		if n == 0 {
			return nil // end-of-stream marker
		}
		if n < 0 || n > size-pos || n > 1<<31-1 {
			return fmt.Errorf("corrupt Arrow IPC stream: message of %d bytes at offset %d", n, pos)
		}
		b := make([]byte, n)
		if _, err := r.ReadAt(b, pos); err != nil {
			return err
		}
		pos += n
		msg, err := fbRoot(b)
		if err != nil {
			return fmt.Errorf("corrupt Arrow IPC stream message: %w", err)
		}
		if ht, err := msg.field(1, 1); err != nil {
			return fmt.Errorf("corrupt Arrow IPC stream message: %w", err)
		} else if ht >= 0 && b[ht] == fbHeaderSchema {
			s, ok, err := msg.table(2)
			if err != nil || !ok {
				return errors.New("corrupt Arrow IPC stream: schema message without schema")
			}
			if err := checkSchema(s); err != nil {
				return fmt.Errorf("corrupt Arrow IPC stream schema: %w", err)
			}
		}
		if err := checkKeyValues(msg, 4); err != nil {
			return fmt.Errorf("corrupt Arrow IPC stream message: %w", err)
		}
		body := int64(0)
		if p, err := msg.field(3, 8); err != nil {
			return fmt.Errorf("corrupt Arrow IPC stream message: %w", err)
		} else if p >= 0 {
			body = int64(binary.LittleEndian.Uint64(b[p:]))
		}
		if body < 0 || body > size-pos {
			return fmt.Errorf("corrupt Arrow IPC stream: message body of %d bytes at offset %d", body, pos)
		}
		pos += body
	}
	return nil
}
