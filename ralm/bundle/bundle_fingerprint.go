package bundle

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/ralmlab/ralm/data"
)

// FingerprintVersion is the version of the canonical click encoding that
// FingerprintClicks hashes and WriteContext records in
// Manifest.ClicksFingerprintVersion:
//   - 1: ids sorted byte-wise (folders written before version 2; their
//     manifests have no clicks_fingerprint_version);
//   - 2: ids sorted in the one id order, data.CompareIDs (int64 ids as
//     numbers).
const FingerprintVersion = 2

// fingerprintPrefixes version the canonical encodings, by version.
var fingerprintPrefixes = [...]string{1: "ralm-clicks-v1\x00", 2: "ralm-clicks-v2\x00"}

// FingerprintClicks returns a canonical SHA-256 fingerprint of a click log,
// written "sha256:<hex>", in encoding FingerprintVersion. The clicks are
// hashed as (user id, item id, ts) triples sorted by user id, item id (in
// id order, data.CompareIDs) and ts, so the same clicks in any file order,
// or with differently numbered vocabularies, give the same fingerprint. The
// id kinds and the encoding version are part of the hash. A nil log
// fingerprints as an empty one.
func FingerprintClicks(c *data.Clicks) string {
	s, _ := FingerprintClicksVersion(c, FingerprintVersion)
	return s
}

// FingerprintClicksVersion is FingerprintClicks in encoding version v (1 or
// 2, see FingerprintVersion), to check a fingerprint an older build wrote.
func FingerprintClicksVersion(c *data.Clicks, v int) (string, error) {
	if v < 1 || v >= len(fingerprintPrefixes) {
		return "", fmt.Errorf("clicks fingerprint version %d, this build knows versions 1..%d", v, FingerprintVersion)
	}
	h := sha256.New()
	h.Write([]byte(fingerprintPrefixes[v]))
	if c == nil || c.Users == nil || c.Items == nil {
		h.Write([]byte{0, 0})
		return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
	}
	h.Write([]byte{byte(c.Users.Kind()), byte(c.Items.Kind())})

	ranks := idRanks
	if v == 1 {
		ranks = byteRanks
	}
	userRank := ranks(c.Users)
	itemRank := ranks(c.Items)
	type triple struct {
		u, i int32 // ranks of the ids
		ts   int64
	}
	t := make([]triple, c.Len())
	for k := range t {
		t[k] = triple{userRank[c.User[k]], itemRank[c.Item[k]], c.TS[k]}
	}
	slices.SortFunc(t, func(a, b triple) int {
		if a.u != b.u {
			return cmp.Compare(a.u, b.u)
		}
		if a.i != b.i {
			return cmp.Compare(a.i, b.i)
		}
		return cmp.Compare(a.ts, b.ts)
	})
	// Decode ranks back to vocabulary indices for hashing the ids themselves.
	userOf := invertRanks(userRank)
	itemOf := invertRanks(itemRank)
	buf := make([]byte, 0, 64*1024)
	for _, x := range t {
		u := c.Users.ID(userOf[x.u])
		i := c.Items.ID(itemOf[x.i])
		buf = binary.AppendUvarint(buf, uint64(len(u)))
		buf = append(buf, u...)
		buf = binary.AppendUvarint(buf, uint64(len(i)))
		buf = append(buf, i...)
		buf = binary.BigEndian.AppendUint64(buf, uint64(x.ts))
		if len(buf) > 60*1024 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// FingerprintOf returns the fingerprint of c in the encoding version of m's
// ClicksFingerprint (1 when the manifest names none), to compare with it.
func (m *Manifest) FingerprintOf(c *data.Clicks) (string, error) {
	return FingerprintClicksVersion(c, m.fingerprintVersion())
}

func (m *Manifest) fingerprintVersion() int {
	if m.ClicksFingerprintVersion == 0 {
		return 1
	}
	return m.ClicksFingerprintVersion
}

// idRanks returns, for each vocabulary index, the rank of its id in id
// order (data.CompareIDs).
func idRanks(v *data.Vocab) []int32 {
	if r, err := v.Ranks(); err == nil {
		return r
	}
	// an int64 vocabulary with an id that is not a decimal integer (not one
	// data reads): the same order, by comparing ids one pair at a time
	return sortedRanks(v, v.Compare)
}

// byteRanks returns, for each vocabulary index, the rank of its id in byte
// order (fingerprint version 1).
func byteRanks(v *data.Vocab) []int32 {
	return sortedRanks(v, func(a, b int32) int { return cmp.Compare(v.ID(a), v.ID(b)) })
}

func sortedRanks(v *data.Vocab, compare func(a, b int32) int) []int32 {
	idx := make([]int32, v.Len())
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, compare)
	rank := make([]int32, len(idx))
	for r, i := range idx {
		rank[i] = int32(r)
	}
	return rank
}

func invertRanks(rank []int32) []int32 {
	inv := make([]int32, len(rank))
	for i, r := range rank {
		inv[r] = int32(i)
	}
	return inv
}
