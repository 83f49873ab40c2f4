package ralm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The seed store is the engine's durable state, kept in one bbolt file
// (<DataDir>/seeds.db). Layout (bucket → key → value):
//
//	meta      → "format"            → storeFormat (decimal)
//	          → "bundle"            → BundleID of the bundle last served
//	items     → <item id> (nested)  → 8-byte big-endian sequence → varint ts, user id
//	item_meta → <item id>           → 8-byte last-click (Unix ns, wall clock) + 8-byte created
//	users     → <user id>           → uint32 dim + dim little-endian float32 (upserted users)
//	imports   → <clicks fingerprint>→ 8-byte import time (bundles whose training seeds were imported)
//
// Each item's nested bucket holds its seeds in arrival order, so the oldest seed
// is always the first key: evicting the oldest seeds is a cursor walk from the
// front. Memory mirrors this order exactly, which is what keeps the two in step.
const (
	storeFile   = "seeds.db"
	storeFormat = "1"
)

var (
	bktMeta     = []byte("meta")
	bktItems    = []byte("items")
	bktItemMeta = []byte("item_meta")
	bktUsers    = []byte("users")
	bktImports  = []byte("imports")
	keyFormat   = []byte("format")
	keyBundle   = []byte("bundle")
)

// seedStore is the bbolt-backed persistence of seeds, upserted users and
// imported bundles. It is written only by the engine's committer goroutine (and
// by Open/Reload before the committer runs), so it needs no locking of its own.
type seedStore struct {
	db   *bolt.DB
	path string
}

// openStore opens (creating if needed) the seed store in dir.
func openStore(dir string) (*seedStore, error) {
	if dir == "" {
		return nil, errors.New("open seed store: no data directory given")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open seed store: %w", err)
	}
	path := filepath.Join(dir, storeFile)
	db, err := bolt.Open(path, 0o644, &bolt.Options{
		Timeout:        2 * time.Second,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open seed store %s: locked by another process (is another ralm serve using this --data folder?)", path)
		}
		return nil, fmt.Errorf("open seed store %s: %w", path, err)
	}
	s := &seedStore{db: db, path: path}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bktMeta, bktItems, bktItemMeta, bktUsers, bktImports} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bktMeta)
		switch v := meta.Get(keyFormat); {
		case v == nil:
			return meta.Put(keyFormat, []byte(storeFormat))
		case string(v) != storeFormat:
			return fmt.Errorf("seed store format %q, this version of ralm reads format %q", v, storeFormat)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open seed store %s: %w", path, err)
	}
	return s, nil
}

// close closes the underlying database file.
func (s *seedStore) close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close seed store %s: %w", s.path, err)
	}
	return nil
}

// storedSeed is one seed as persisted: the user's external id and click time.
type storedSeed struct {
	user string
	ts   int64
}

// itemOps are the changes to one item in one committed batch. If reset is set
// the item's stored seeds and metadata are removed first (a delete, possibly
// followed by fresh clicks in the same batch). Adds are appended in order,
// then the seeds of the users in drop are removed, then the evict oldest seeds.
type itemOps struct {
	reset   bool
	remove  bool // the item ends this batch deleted (no adds after the reset)
	add     []storedSeed
	drop    map[string]bool // users whose seeds are removed (after the adds)
	evict   int
	last    int64 // wall-clock Unix ns of the latest click; 0 = unchanged
	created int64
}

// storeBatch is everything one transaction writes.
type storeBatch struct {
	items   map[string]*itemOps
	order   []string // item ids in first-touch order, for deterministic writes
	users   []storedUser
	imports []string
	bundle  string
}

// storedUser is an upserted user vector.
type storedUser struct {
	id  string
	vec []float32
}

func newStoreBatch() *storeBatch {
	return &storeBatch{items: make(map[string]*itemOps)}
}

// item returns the ops record of id, creating it.
func (b *storeBatch) item(id string) *itemOps {
	op, ok := b.items[id]
	if !ok {
		op = &itemOps{}
		b.items[id] = op
		b.order = append(b.order, id)
	}
	return op
}

// empty reports whether the batch writes nothing.
func (b *storeBatch) empty() bool {
	return len(b.order) == 0 && len(b.users) == 0 && len(b.imports) == 0 && b.bundle == ""
}

// write commits the batch in one synced transaction.
func (s *seedStore) write(b *storeBatch) error {
	if b.empty() {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		items := tx.Bucket(bktItems)
		meta := tx.Bucket(bktItemMeta)
		for _, id := range b.order {
			op := b.items[id]
			key := []byte(id)
			if op.reset {
				if err := items.DeleteBucket(key); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
					return fmt.Errorf("delete item %q: %w", id, err)
				}
				if err := meta.Delete(key); err != nil {
					return fmt.Errorf("delete item %q: %w", id, err)
				}
			}
			if op.remove {
				continue
			}
			bk, err := items.CreateBucketIfNotExists(key)
			if err != nil {
				return fmt.Errorf("item %q: %w", id, err)
			}
			for _, sd := range op.add {
				seq, err := bk.NextSequence()
				if err != nil {
					return fmt.Errorf("item %q: %w", id, err)
				}
				var k [8]byte
				binary.BigEndian.PutUint64(k[:], seq)
				// bbolt keeps key and value until the commit: fresh memory each.
				val := make([]byte, 0, binary.MaxVarintLen64+len(sd.user))
				val = binary.AppendVarint(val, sd.ts)
				val = append(val, sd.user...)
				if err := bk.Put(k[:], val); err != nil {
					return fmt.Errorf("item %q: put seed: %w", id, err)
				}
			}
			if len(op.drop) > 0 {
				c := bk.Cursor()
				for k, v := c.First(); k != nil; {
					if _, n := binary.Varint(v); n > 0 && op.drop[string(v[n:])] {
						k = append([]byte(nil), k...)
						if err := c.Delete(); err != nil {
							return fmt.Errorf("item %q: drop seed: %w", id, err)
						}
						k, v = c.Seek(k) // the cursor moved; re-find the next key
						continue
					}
					k, v = c.Next()
				}
			}
			if op.evict > 0 {
				c := bk.Cursor()
				n := 0
				for k, _ := c.First(); k != nil && n < op.evict; k, _ = c.First() {
					if err := c.Delete(); err != nil {
						return fmt.Errorf("item %q: evict seed: %w", id, err)
					}
					n++
				}
			}
			if op.last != 0 || op.created != 0 {
				var m [16]byte
				if old := meta.Get(key); len(old) == 16 {
					copy(m[:], old)
				}
				if op.last != 0 {
					binary.BigEndian.PutUint64(m[:8], uint64(op.last))
				}
				if op.created != 0 {
					binary.BigEndian.PutUint64(m[8:], uint64(op.created))
				}
				if err := meta.Put(key, m[:]); err != nil {
					return fmt.Errorf("item %q: put metadata: %w", id, err)
				}
			}
		}
		users := tx.Bucket(bktUsers)
		for _, u := range b.users {
			if err := users.Put([]byte(u.id), encodeVec(u.vec)); err != nil {
				return fmt.Errorf("user %q: %w", u.id, err)
			}
		}
		imports := tx.Bucket(bktImports)
		for _, fp := range b.imports {
			var t [8]byte
			binary.BigEndian.PutUint64(t[:], uint64(time.Now().UnixNano()))
			if err := imports.Put([]byte(fp), t[:]); err != nil {
				return fmt.Errorf("mark import %s: %w", fp, err)
			}
		}
		if b.bundle != "" {
			if err := tx.Bucket(bktMeta).Put(keyBundle, []byte(b.bundle)); err != nil {
				return fmt.Errorf("record bundle: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed store %s: commit: %w", s.path, err)
	}
	return nil
}

// storedItem is one item as loaded from the store.
type storedItem struct {
	id      string
	last    int64
	created int64
	seeds   []storedSeed
}

// loadItems calls fn for every stored item with its seeds in arrival order.
func (s *seedStore) loadItems(fn func(it *storedItem) error) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bktItemMeta)
		return tx.Bucket(bktItems).ForEachBucket(func(k []byte) error {
			it := &storedItem{id: string(k)}
			if m := meta.Get(k); len(m) == 16 {
				it.last = int64(binary.BigEndian.Uint64(m[:8]))
				it.created = int64(binary.BigEndian.Uint64(m[8:]))
			}
			bk := tx.Bucket(bktItems).Bucket(k)
			err := bk.ForEach(func(_, v []byte) error {
				ts, n := binary.Varint(v)
				if n <= 0 {
					return fmt.Errorf("item %q: corrupt seed record", it.id)
				}
				it.seeds = append(it.seeds, storedSeed{user: string(v[n:]), ts: ts})
				return nil
			})
			if err != nil {
				return err
			}
			return fn(it)
		})
	})
	if err != nil {
		return fmt.Errorf("seed store %s: load items: %w", s.path, err)
	}
	return nil
}

// loadUsers calls fn for every upserted user.
func (s *seedStore) loadUsers(fn func(id string, vec []float32) error) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktUsers).ForEach(func(k, v []byte) error {
			vec, err := decodeVec(v)
			if err != nil {
				return fmt.Errorf("user %q: %w", k, err)
			}
			return fn(string(k), vec)
		})
	})
	if err != nil {
		return fmt.Errorf("seed store %s: load users: %w", s.path, err)
	}
	return nil
}

// deleteUsers removes upserted users (they are covered by a newer bundle).
func (s *seedStore) deleteUsers(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktUsers)
		for _, id := range ids {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed store %s: delete users: %w", s.path, err)
	}
	return nil
}

// imported reports whether the training seeds with this fingerprint were imported.
func (s *seedStore) imported(fp string) (bool, error) {
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bktImports).Get([]byte(fp)) != nil
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("seed store %s: %w", s.path, err)
	}
	return ok, nil
}

// lastBundle returns the id of the bundle served last ("" on a fresh store).
func (s *seedStore) lastBundle() (string, error) {
	var id string
	err := s.db.View(func(tx *bolt.Tx) error {
		id = string(tx.Bucket(bktMeta).Get(keyBundle))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("seed store %s: %w", s.path, err)
	}
	return id, nil
}

func encodeVec(v []float32) []byte {
	b := make([]byte, 4+4*len(v))
	binary.LittleEndian.PutUint32(b, uint32(len(v)))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4+4*i:], math.Float32bits(x))
	}
	return b
}

func decodeVec(b []byte) ([]float32, error) {
	if len(b) < 4 {
		return nil, errors.New("corrupt vector record")
	}
	n := int(binary.LittleEndian.Uint32(b))
	if len(b) != 4+4*n {
		return nil, fmt.Errorf("corrupt vector record: %d bytes for dim %d", len(b), n)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4+4*i:]))
	}
	return v, nil
}
