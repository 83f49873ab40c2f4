package serve

import (
	"sync"
	"sync/atomic"

	"github.com/ralmlab/ralm/data"
)

// chunkUsers is the number of user vectors per storage chunk of a userTable.
const chunkUsers = 256

// userTable holds every user embedding the engine knows: the bundle's
// embeddings plus upserted users. Reads are lock-free: a reader loads an
// immutable snapshot. Writers (serialised by mu) append new users into unused
// capacity of the last chunk — beyond what any published snapshot reads — and
// replace an existing user's vector by copying its chunk, so no published
// memory is ever written.
type userTable struct {
	dim  int
	base *data.Vocab // the bundle's users: indices 0..base.Len()-1; immutable

	mu    sync.Mutex
	extra sync.Map // id (string) → int32 index ≥ base.Len(), for upserted new users
	snap  atomic.Pointer[userSnap]

	// log, when non-nil, records every upsert (a reload in progress replays it).
	log []StoredUser
}

// userSnap is an immutable view of the table.
type userSnap struct {
	n        int         // number of users
	chunks   [][]float32 // chunk c holds users c*chunkUsers.. (dim floats each)
	extraIDs []string    // ids of users base.Len()..n-1
	baseN    int
	base     *data.Vocab
}

// newUserTable builds a table over the bundle embeddings (no copy is made).
func newUserTable(e *data.Embeddings) *userTable {
	t := &userTable{dim: e.Dim, base: e.Users}
	n := e.Users.Len()
	s := &userSnap{n: n, baseN: n, base: e.Users}
	step := chunkUsers * e.Dim
	for off := 0; off < n*e.Dim; off += step {
		end := min(off+step, n*e.Dim)
		s.chunks = append(s.chunks, e.Vecs[off:end:end])
	}
	t.snap.Store(s)
	return t
}

// load returns the current snapshot.
func (t *userTable) load() *userSnap { return t.snap.Load() }

// lookup returns the index of id in snapshot s.
func (t *userTable) lookup(s *userSnap, id string) (int32, bool) {
	if i, ok := t.base.Index(id); ok {
		return i, true
	}
	if v, ok := t.extra.Load(id); ok {
		i := v.(int32)
		if int(i) < s.n {
			return i, true
		}
	}
	return 0, false
}

// vec returns user i's embedding (read-only).
func (s *userSnap) vec(i int32, dim int) []float32 {
	c := s.chunks[int(i)/chunkUsers]
	off := (int(i) % chunkUsers) * dim
	return c[off : off+dim : off+dim]
}

// id returns user i's external id.
func (s *userSnap) id(i int32) string {
	if int(i) < s.baseN {
		return s.base.ID(i)
	}
	return s.extraIDs[int(i)-s.baseN]
}

// upsert sets id's embedding (copied), adding the user if new, and returns
// the user's index and whether the user is new.
func (t *userTable) upsert(id string, v []float32) (int32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.log != nil {
		t.log = append(t.log, StoredUser{ID: id, Vec: append([]float32(nil), v...)})
	}
	old := t.snap.Load()
	if i, ok := t.lookup(old, id); ok {
		ns := *old
		ns.chunks = append([][]float32(nil), old.chunks...)
		c := int(i) / chunkUsers
		nc := append([]float32(nil), old.chunks[c]...)
		copy(nc[(int(i)%chunkUsers)*t.dim:], v)
		ns.chunks[c] = nc
		t.snap.Store(&ns)
		return i, false
	}
	i := int32(old.n)
	ns := *old
	ns.n++
	ns.extraIDs = append(old.extraIDs, id) // writes past the old snapshot's length only
	last := len(old.chunks) - 1
	if last >= 0 && len(old.chunks[last]) < chunkUsers*t.dim {
		ns.chunks = append([][]float32(nil), old.chunks...)
		ns.chunks[last] = append(old.chunks[last], v...) // in place if capacity allows
	} else {
		c := make([]float32, t.dim, chunkUsers*t.dim)
		copy(c, v)
		ns.chunks = append(old.chunks[:len(old.chunks):len(old.chunks)], c)
	}
	t.snap.Store(&ns)
	t.extra.Store(id, i)
	return i, true
}

// startLog begins recording upserts; takeLog stops and returns them.
func (t *userTable) startLog() {
	t.mu.Lock()
	t.log = make([]StoredUser, 0)
	t.mu.Unlock()
}

func (t *userTable) takeLog() []StoredUser {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.log
	t.log = nil
	return l
}
