// Package gobstream writes large float32 arrays on a gob stream in bounded
// chunks, so that a training checkpoint of any size is encoded and decoded
// without building it whole in memory: encoding/gob turns every top-level
// value into one message in memory before it writes it, which for a
// checkpoint holding every item's centroids costs several copies of the
// state.
//
// A stream is a sequence of gob values on one Encoder: small values are
// encoded as they are, and each array as its length followed by chunks of
// at most Chunk values, each chunk the little-endian bytes of its values
// (gob copies a byte slice as it is; a []float32 it encodes value by
// value, about three times slower: BenchmarkEncodeFloat32s). Several
// streams may follow one another in a file when the reader is an
// io.ByteReader (a *bufio.Reader), because gob then reads no byte past its
// own values.
package gobstream

import (
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
)

// Chunk is the most float32 values in one gob message (256 KiB).
const Chunk = 1 << 16

// maxLen bounds the length an array may claim, so that a damaged stream
// cannot ask for an absurd allocation.
const maxLen = 1 << 34

// EncodeFloat32s writes v on enc: its length, then its values in chunks.
func EncodeFloat32s(enc *gob.Encoder, v []float32) error {
	if err := enc.Encode(len(v)); err != nil {
		return err
	}
	var buf []byte
	for i := 0; i < len(v); i += Chunk {
		var err error
		if buf, err = binary.Append(buf[:0], binary.LittleEndian, v[i:min(i+Chunk, len(v))]); err != nil {
			return err
		}
		if err := enc.Encode(buf); err != nil {
			return err
		}
	}
	return nil
}

// DecodeFloat32s reads an array written by EncodeFloat32s. An empty array
// decodes as nil.
func DecodeFloat32s(dec *gob.Decoder) ([]float32, error) {
	var n int
	if err := dec.Decode(&n); err != nil {
		return nil, err
	}
	if n < 0 || n > maxLen {
		return nil, fmt.Errorf("array of %d values", n)
	}
	if n == 0 {
		return nil, nil
	}
	v := make([]float32, n)
	var c []byte
	for got := 0; got < n; {
		c = c[:0]
		if err := dec.Decode(&c); err != nil {
			return nil, err
		}
		if len(c) == 0 || len(c)%4 != 0 || len(c)/4 > n-got {
			return nil, errors.New("array chunk does not fit its length")
		}
		k, err := binary.Decode(c, binary.LittleEndian, v[got:got+len(c)/4])
		if err != nil || k != len(c) {
			return nil, fmt.Errorf("array chunk: %d of %d bytes decoded: %v", k, len(c), err)
		}
		got += len(c) / 4
	}
	return v, nil
}

// EncodeArrays writes vs on enc: their number, then each as EncodeFloat32s.
func EncodeArrays(enc *gob.Encoder, vs [][]float32) error {
	if err := enc.Encode(len(vs)); err != nil {
		return err
	}
	for _, v := range vs {
		if err := EncodeFloat32s(enc, v); err != nil {
			return err
		}
	}
	return nil
}

// DecodeArrays reads arrays written by EncodeArrays; there must be want of
// them.
func DecodeArrays(dec *gob.Decoder, want int) ([][]float32, error) {
	var n int
	if err := dec.Decode(&n); err != nil {
		return nil, err
	}
	if n != want {
		return nil, fmt.Errorf("%d arrays, want %d", n, want)
	}
	vs := make([][]float32, n)
	for i := range vs {
		v, err := DecodeFloat32s(dec)
		if err != nil {
			return nil, err
		}
		vs[i] = v
	}
	return vs, nil
}
