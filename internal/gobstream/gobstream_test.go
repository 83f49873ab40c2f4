package gobstream

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"io"
	"slices"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	long := make([]float32, 3*Chunk+5)
	for i := range long {
		long[i] = float32(i) * 0.5
	}
	arrays := [][]float32{{1, 2}, nil, long, make([]float32, Chunk)}
	var b bytes.Buffer
	enc := gob.NewEncoder(&b)
	if err := enc.Encode("head"); err != nil {
		t.Fatal(err)
	}
	if err := EncodeArrays(enc, arrays); err != nil {
		t.Fatal(err)
	}
	// a second stream after the first, as in a checkpoint file
	if err := gob.NewEncoder(&b).Encode("tail"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(&b)
	dec := gob.NewDecoder(r)
	var head string
	if err := dec.Decode(&head); err != nil || head != "head" {
		t.Fatalf("head %q, %v", head, err)
	}
	got, err := DecodeArrays(dec, len(arrays))
	if err != nil {
		t.Fatal(err)
	}
	for i := range arrays {
		if !slices.Equal(got[i], arrays[i]) {
			t.Errorf("array %d: %d values back, %d written", i, len(got[i]), len(arrays[i]))
		}
	}
	var tail string
	if err := gob.NewDecoder(r).Decode(&tail); err != nil || tail != "tail" {
		t.Fatalf("the next stream reads %q, %v", tail, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	encoded := func(vals ...any) *gob.Decoder {
		var b bytes.Buffer
		enc := gob.NewEncoder(&b)
		for _, v := range vals {
			if err := enc.Encode(v); err != nil {
				t.Fatal(err)
			}
		}
		return gob.NewDecoder(&b)
	}
	cases := []struct {
		name string
		dec  *gob.Decoder
		f    func(*gob.Decoder) error
	}{
		{"negative length", encoded(-1), func(d *gob.Decoder) error { _, err := DecodeFloat32s(d); return err }},
		{"chunk longer than length", encoded(2, make([]byte, 12)), func(d *gob.Decoder) error { _, err := DecodeFloat32s(d); return err }},
		{"missing chunk", encoded(4, make([]byte, 8)), func(d *gob.Decoder) error { _, err := DecodeFloat32s(d); return err }},
		{"chunk not whole values", encoded(2, make([]byte, 5)), func(d *gob.Decoder) error { _, err := DecodeFloat32s(d); return err }},
		{"empty chunk", encoded(2, []byte{}), func(d *gob.Decoder) error { _, err := DecodeFloat32s(d); return err }},
		{"format 2 chunk of float32s", encoded(2, []float32{1, 2}), func(d *gob.Decoder) error { _, err := DecodeFloat32s(d); return err }},
		{"wrong array count", encoded(3), func(d *gob.Decoder) error { _, err := DecodeArrays(d, 2); return err }},
	}
	for _, c := range cases {
		if err := c.f(c.dec); err == nil {
			t.Errorf("%s: decoded without an error", c.name)
		}
	}
}

// BenchmarkEncodeFloat32s encodes 4M values (16 MB, a user model's
// tables at 60k items) to a discarding writer; MB/s is of the values.
func BenchmarkEncodeFloat32s(b *testing.B) {
	v := make([]float32, 1<<22)
	for i := range v {
		v[i] = float32(i) * 0.25
	}
	b.SetBytes(int64(4 * len(v)))
	for b.Loop() {
		if err := EncodeFloat32s(gob.NewEncoder(io.Discard), v); err != nil {
			b.Fatal(err)
		}
	}
}
