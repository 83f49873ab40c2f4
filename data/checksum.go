package data

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/apache/arrow/go/v15/parquet/metadata"
)

// Corruption detection for the Parquet files this package writes.
//
// arrow/go v15.0.2 can neither write nor verify page CRCs (PageHeader.crc
// exists in its thrift structs, but no writer property sets it), so every
// Parquet file written here carries its own checksum in the footer's
// key-value metadata instead, under checksumKey:
//
//	crc32c:<8 hex> len:<decimal> footer:<8 hex>
//
// The first CRC-32C (Castagnoli) covers the data region, the len bytes from
// the start of the file (the leading "PAR1", every page) up to the footer;
// the second covers the serialized footer itself with its own 8 hex digits
// read as "00000000", so a flipped byte in the row-group metadata or the
// statistics is caught too. Any Parquet reader ignores the key; readers in
// this package verify it where present and read files without it (written
// by others) as before.

// checksumKey is the footer key-value metadata key of the checksum.
const checksumKey = "ralm.crc32c"

// footerPlaceholder stands for the footer CRC while the footer CRC is
// computed.
const footerPlaceholder = "00000000"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errChecksum is the error of a file whose content does not match its
// checksum.
var errChecksum = errors.New("checksum mismatch in data region (file corrupt)")

// checksumValue formats the checksum metadata value.
func checksumValue(dataCRC uint32, dataLen int64, footerCRC string) string {
	return fmt.Sprintf("crc32c:%08x len:%d footer:%s", dataCRC, dataLen, footerCRC)
}

// hashingSink is the io.Writer a Parquet writer writes to: it forwards to
// the file and keeps the CRC-32C and length of everything written, plus
// the state at the start of each of the last few writes, so the state at
// the start of the footer (which the library writes with separate calls)
// can be recovered once the file is closed.
type hashingSink struct {
	fileSink
	n    int64
	crc  uint32
	hist [4]struct {
		off int64
		crc uint32
	}
	last [8]byte // the last 8 bytes written
}

func (s *hashingSink) Write(p []byte) (int, error) {
	copy(s.hist[:], s.hist[1:])
	s.hist[len(s.hist)-1].off, s.hist[len(s.hist)-1].crc = s.n, s.crc
	n, err := s.fileSink.Write(p)
	s.crc = crc32.Update(s.crc, castagnoli, p[:n])
	s.n += int64(n)
	if n >= 8 {
		copy(s.last[:], p[n-8:n])
	} else {
		copy(s.last[:], s.last[n:])
		copy(s.last[8-n:], p[:n])
	}
	return n, err
}

// Tell is the number of bytes written so far (the offset the library's
// page writers record).
func (s *hashingSink) Tell() int64 { return s.n }

// Seek is refused: the checksum needs a sequential write (the Parquet
// writer never seeks).
func (s *hashingSink) Seek(int64, int) (int64, error) {
	return 0, errors.New("checksummed Parquet sink cannot seek")
}

// sealParquet rewrites the footer of the closed Parquet file f written
// through s to carry the checksum under checksumKey. Equal files give equal
// bytes.
func sealParquet(f *os.File, s *hashingSink) error {
	if !bytes.Equal(s.last[4:], parquetMagic) {
		return errors.New("seal Parquet file: no footer written")
	}
	footerLen := int64(binary.LittleEndian.Uint32(s.last[:4]))
	dataLen := s.n - 8 - footerLen
	dataCRC, found := uint32(0), false
	for _, h := range s.hist {
		if h.off == dataLen {
			dataCRC, found = h.crc, true
		}
	}
	if dataLen < 4 || !found {
		return errors.New("seal Parquet file: footer not written in one piece")
	}
	raw := make([]byte, footerLen)
	if _, err := f.ReadAt(raw, dataLen); err != nil {
		return fmt.Errorf("seal Parquet file: read footer: %w", err)
	}
	md, err := metadata.NewFileMetaData(raw, nil)
	if err != nil {
		return fmt.Errorf("seal Parquet file: %w", err)
	}
	kv := md.KeyValueMetadata()
	if kv.FindValue(checksumKey) != nil {
		return errors.New("seal Parquet file: already sealed")
	}
	placeholder := checksumValue(dataCRC, dataLen, footerPlaceholder)
	if err := kv.Append(checksumKey, placeholder); err != nil {
		return fmt.Errorf("seal Parquet file: %w", err)
	}
	md.FileMetaData.KeyValueMetadata = kv
	var buf bytes.Buffer
	if _, err := md.WriteTo(&buf, nil); err != nil {
		return fmt.Errorf("seal Parquet file: %w", err)
	}
	footer := buf.Bytes()
	at := bytes.LastIndex(footer, []byte(placeholder))
	if at < 0 {
		return errors.New("seal Parquet file: checksum not found in the footer")
	}
	fcrc := fmt.Sprintf("%08x", crc32.Checksum(footer, castagnoli))
	copy(footer[at+len(placeholder)-len(footerPlaceholder):], fcrc)
	footer = binary.LittleEndian.AppendUint32(footer, uint32(len(buf.Bytes())))
	footer = append(footer, parquetMagic...)
	if _, err := f.WriteAt(footer, dataLen); err != nil {
		return fmt.Errorf("seal Parquet file: %w", err)
	}
	if err := f.Truncate(dataLen + int64(len(footer))); err != nil {
		return fmt.Errorf("seal Parquet file: %w", err)
	}
	return nil
}

// verifyParquet checks the checksum of the Parquet file of size bytes read
// through r whose footer metadata is kv: nil when the key is absent (a file
// written by others) or the content matches it, errChecksum otherwise. The
// data region is read once, in a streaming pass that stops when ctx is
// cancelled.
func verifyParquet(ctx context.Context, r io.ReaderAt, size int64, kv metadata.KeyValueMetadata) error {
	v := kv.FindValue(checksumKey)
	if v == nil {
		return nil
	}
	var (
		dataCRC   uint32
		dataLen   int64
		footerCRC uint32
	)
	if n, err := fmt.Sscanf(*v, "crc32c:%08x len:%d footer:%08x", &dataCRC, &dataLen, &footerCRC); n != 3 || err != nil ||
		*v != checksumValue(dataCRC, dataLen, fmt.Sprintf("%08x", footerCRC)) {
		return fmt.Errorf("malformed %s metadata %q (file corrupt)", checksumKey, *v)
	}
	if size < 12 || dataLen < 4 || dataLen > size-8 {
		return errChecksum
	}
	footer := make([]byte, size-dataLen)
	if _, err := r.ReadAt(footer, dataLen); err != nil {
		return fmt.Errorf("read footer: %w", err)
	}
	body := footer[:len(footer)-8]
	if int64(binary.LittleEndian.Uint32(footer[len(footer)-8:])) != int64(len(body)) {
		return errChecksum
	}
	at := bytes.LastIndex(body, []byte(*v))
	if at < 0 {
		return errChecksum
	}
	sum := crc32.Update(0, castagnoli, body[:at+len(*v)-len(footerPlaceholder)])
	sum = crc32.Update(sum, castagnoli, []byte(footerPlaceholder))
	sum = crc32.Update(sum, castagnoli, body[at+len(*v):])
	if sum != footerCRC {
		return errors.New("checksum mismatch in footer (file corrupt)")
	}
	buf := make([]byte, 1<<20)
	crc := uint32(0)
	for off := int64(0); off < dataLen; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.ReadAt(buf[:min(int64(len(buf)), dataLen-off)], off)
		if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
			return fmt.Errorf("read data region: %w", err)
		}
		crc = crc32.Update(crc, castagnoli, buf[:n])
		off += int64(n)
	}
	if crc != dataCRC {
		return errChecksum
	}
	return nil
}
