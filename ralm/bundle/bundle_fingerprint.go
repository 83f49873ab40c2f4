package bundle

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"

	"github.com/ralmlab/ralm/data"
)

// fingerprintPrefix versions the canonical encoding hashed by FingerprintClicks.
const fingerprintPrefix = "ralm-clicks-v1\x00"

// FingerprintClicks returns a canonical SHA-256 fingerprint of a click log,
// written "sha256:<hex>". The clicks are hashed as (user id, item id, ts)
// triples sorted by user id, item id (external ids, byte order) and ts, so the
// same clicks in any file order, or with differently numbered vocabularies,
// give the same fingerprint. The id kinds are part of the hash. A nil log
// fingerprints as an empty one.
func FingerprintClicks(c *data.Clicks) string {
	h := sha256.New()
	h.Write([]byte(fingerprintPrefix))
	if c == nil || c.Users == nil || c.Items == nil {
		h.Write([]byte{0, 0})
		return "sha256:" + hex.EncodeToString(h.Sum(nil))
	}
	h.Write([]byte{byte(c.Users.Kind()), byte(c.Items.Kind())})

	userRank := vocabRanks(c.Users)
	itemRank := vocabRanks(c.Items)
	type triple struct {
		u, i int32 // ranks of the ids in byte order
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
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// vocabRanks returns, for each vocabulary index, the rank of its id in byte order.
func vocabRanks(v *data.Vocab) []int32 {
	idx := make([]int32, v.Len())
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return cmp.Compare(v.ID(a), v.ID(b)) })
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
