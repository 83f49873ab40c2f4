package serve

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The seed store is the engine's durable state, kept in one bbolt file
// (<DataDir>/seeds.db). Layout (bucket → key → value):
//
//	meta      → "format"            → storeFormat (decimal)
//	          → "bundle"            → BundleID of the bundle last served
//	items     → <item id> (nested)  → 8-byte big-endian chunk number → seed chunk
//	item_meta → <item id>           → 8-byte last click (Unix ns, wall clock), 8-byte created, 8-byte head
//	users     → <user id>           → uint32 dim + dim little-endian float32 (upserted users)
//	imports   → <clicks fingerprint>→ 8-byte import time (bundles whose training seeds were imported)
//	log       → 8-byte big-endian sequence → the changes of one commit
//
// An item's seeds are kept in arrival order in chunks of up to chunkSeeds
// seeds (uvarint count, then per seed: varint ts, uvarint len, user id);
// the first head seeds of the first chunk are evicted ones. Appending
// rewrites only the last chunk, evicting only advances head (and drops a
// chunk once all its seeds are evicted). Memory mirrors this order exactly,
// which is what keeps the two in step.
//
// Commits do not touch the item chunks: each commit appends one record to
// the log (sequential keys: only the last page changes) and syncs. A
// checkpoint folds the log into the item chunks in one transaction, touching
// each item once however many commits changed it, and empties the log.
// Opening the store runs a checkpoint first, so a crash loses nothing that
// was committed. A log value is a sequence of uvarint-length-prefixed
// change records:
//
//	'a' uvarint len(item) item varint ts user   seed added
//	'e' uvarint n item                          n oldest seeds evicted (after the adds of the same commit)
//	'd' item                                    item deleted
//	'm' varint last varint created item         item metadata (0 = unchanged)
const (
	storeFile   = "seeds.db"
	storeFormat = "1"
	chunkSeeds  = 512
)

var (
	bktMeta     = []byte("meta")
	bktItems    = []byte("items")
	bktItemMeta = []byte("item_meta")
	bktUsers    = []byte("users")
	bktImports  = []byte("imports")
	bktLog      = []byte("log")
	keyFormat   = []byte("format")
	keyBundle   = []byte("bundle")
)

// BoltStore is the built-in Store: the bbolt-backed persistence of seeds, upserted users and
// imported bundles. It is written only by the engine's committer goroutine (and
// by Open/Reload before the committer runs), so it needs no locking of its own.
type BoltStore struct {
	db   *bolt.DB
	path string

	logRecords int       // records in the log bucket
	lastCkpt   time.Time // time of the last checkpoint

	// deferred holds the items the last checkpoint could not write in
	// place (their changes stay in the log), with the reason.
	deferred map[string]error
	// refuse, if set, is a test hook: the items it returns an error for
	// cannot be written in place, like a key bbolt refuses.
	refuse func(id string) error
}

// OpenBoltStore opens (creating if needed) the seed store in dir.
func OpenBoltStore(dir string) (*BoltStore, error) {
	return openBoltStore(dir, nil)
}

// openBoltStore is OpenBoltStore with the refuse test hook (nil outside tests).
func openBoltStore(dir string, refuse func(id string) error) (*BoltStore, error) {
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
	s := &BoltStore{db: db, path: path, refuse: refuse}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bktMeta, bktItems, bktItemMeta, bktUsers, bktImports, bktLog} {
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
	if err := s.checkpoint(); err != nil && !isDeferred(err) {
		db.Close()
		return nil, err
	}
	return s, nil
}

// isDeferred reports whether err is a *DeferredItemsError.
func isDeferred(err error) bool {
	var de *DeferredItemsError
	return errors.As(err, &de)
}

// Close folds the log and closes the database file. Items that cannot be
// written in place stay in the log (durably) and are no error.
func (s *BoltStore) Close() error {
	ckErr := s.checkpoint()
	if isDeferred(ckErr) {
		ckErr = nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close seed store %s: %w", s.path, err)
	}
	return ckErr
}

// StoredSeed is one seed as persisted: the user's external id and click time.
type StoredSeed struct {
	User string
	TS   int64 // click time, Unix ns
}

// ItemOps are the changes to one item in one committed batch. If reset is set
// the item's stored seeds and metadata are removed first (a delete, possibly
// followed by fresh clicks in the same batch). Adds are appended in order,
// then the seeds of the users in drop are removed, then the evict oldest seeds.
type ItemOps struct {
	Reset   bool
	Remove  bool // the item ends this batch deleted (no adds after the reset)
	Add     []StoredSeed
	Drop    map[string]bool // users whose seeds are removed (after the adds)
	Evict   int
	Last    int64 // wall-clock Unix ns of the latest click; 0 = unchanged
	Created int64 // Unix ns the item was created; 0 = unchanged
}

// Batch is everything one transaction writes.
type Batch struct {
	Items   map[string]*ItemOps
	Order   []string     // item ids in first-touch order, for deterministic writes
	Users   []StoredUser // upserted users
	Imports []string     // clicks fingerprints of bundles whose training seeds were imported
	Bundle  string       // id of the bundle now served; "" = unchanged
}

// StoredUser is an upserted user vector.
type StoredUser struct {
	ID  string
	Vec []float32
}

func newBatch() *Batch {
	return &Batch{Items: make(map[string]*ItemOps)}
}

// item returns the ops record of id, creating it.
func (b *Batch) item(id string) *ItemOps {
	op, ok := b.Items[id]
	if !ok {
		op = &ItemOps{}
		b.Items[id] = op
		b.Order = append(b.Order, id)
	}
	return op
}

// Empty reports whether the batch writes nothing.
func (b *Batch) Empty() bool {
	return len(b.Order) == 0 && len(b.Users) == 0 && len(b.Imports) == 0 && b.Bundle == ""
}

// Commit writes a batch of click changes by appending them to the log as
// one record, in one synced transaction (users, imports and the bundle id
// are written directly). Batches with dropped users go through Apply.
func (s *BoltStore) Commit(b *Batch) error {
	if b.Empty() {
		return nil
	}
	var buf []byte
	for _, id := range b.Order {
		op := b.Items[id]
		if len(op.Drop) > 0 {
			return errors.New("seed store: internal error: dropped seeds must be written directly")
		}
		buf = appendRecords(buf, id, op)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := putLog(tx, buf); err != nil {
			return err
		}
		return writeMisc(tx, b)
	})
	if err != nil {
		return fmt.Errorf("seed store %s: commit: %w", s.path, err)
	}
	if len(buf) > 0 {
		s.logRecords += len(b.Order)
	}
	return nil
}

// appendRecords appends the log records of one item's changes (no Drop) to
// buf: each a uvarint length and the record.
func appendRecords(buf []byte, id string, op *ItemOps) []byte {
	var rec []byte
	emit := func() {
		buf = binary.AppendUvarint(buf, uint64(len(rec)))
		buf = append(buf, rec...)
	}
	if op.Reset {
		rec = append(append(rec[:0], 'd'), id...)
		emit()
	}
	if op.Remove {
		return buf
	}
	for _, sd := range op.Add {
		rec = append(rec[:0], 'a')
		rec = binary.AppendUvarint(rec, uint64(len(id)))
		rec = append(rec, id...)
		rec = binary.AppendVarint(rec, sd.TS)
		rec = append(rec, sd.User...)
		emit()
	}
	if op.Evict > 0 {
		rec = binary.AppendUvarint(append(rec[:0], 'e'), uint64(op.Evict))
		rec = append(rec, id...)
		emit()
	}
	if op.Last != 0 || op.Created != 0 {
		rec = binary.AppendVarint(append(rec[:0], 'm'), op.Last)
		rec = binary.AppendVarint(rec, op.Created)
		rec = append(rec, id...)
		emit()
	}
	return buf
}

// putLog appends buf (records) to the log as one value, if not empty.
func putLog(tx *bolt.Tx, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	lg := tx.Bucket(bktLog)
	seq, err := lg.NextSequence()
	if err != nil {
		return err
	}
	return lg.Put(binary.BigEndian.AppendUint64(nil, seq), buf)
}

// Apply checkpoints the log and applies b to the item buckets in one
// synced transaction. An item that cannot be written in place (a key bbolt
// refuses) does not fail the others: its whole state is kept in the log,
// retried at the next checkpoint, and Apply returns a *DeferredItemsError
// naming it.
func (s *BoltStore) Apply(b *Batch) error {
	var def *deferral
	err := s.db.Update(func(tx *bolt.Tx) error {
		def = &deferral{tx: tx, check: s.storable, items: make(map[string]*memItem), why: make(map[string]error)}
		if err := checkpointTx(tx, def); err != nil {
			return err
		}
		if err := applyOps(tx, b, def); err != nil {
			return err
		}
		return def.writeLog()
	})
	if err != nil {
		return fmt.Errorf("seed store %s: commit: %w", s.path, err)
	}
	s.logRecords, s.lastCkpt = len(def.order), time.Now()
	s.deferred = def.why
	return s.deferredErr()
}

// deferredErr returns the *DeferredItemsError of the deferred items, nil if none.
func (s *BoltStore) deferredErr() error {
	if len(s.deferred) == 0 {
		return nil
	}
	return &DeferredItemsError{Items: maps.Clone(s.deferred)}
}

// storable reports why an item cannot be written in place (nil if it can).
func (s *BoltStore) storable(id string) error {
	switch {
	case id == "":
		return bolt.ErrKeyRequired
	case len(id) > bolt.MaxKeySize:
		return bolt.ErrKeyTooLarge
	case s.refuse != nil:
		return s.refuse(id)
	}
	return nil
}

// memItem is an item's stored state in memory: for items kept in the log
// and for replaying the log at load.
type memItem struct {
	exists        bool
	seeds         []StoredSeed // live seeds, oldest first
	last, created int64
}

// apply performs op on m, in the order applyOps does.
func (m *memItem) apply(op *ItemOps) {
	if op.Reset {
		*m = memItem{}
	}
	if op.Remove {
		return
	}
	m.exists = true
	m.seeds = append(m.seeds, op.Add...)
	if len(op.Drop) > 0 {
		m.seeds = slices.DeleteFunc(m.seeds, func(sd StoredSeed) bool { return op.Drop[sd.User] })
	}
	m.seeds = m.seeds[min(op.Evict, len(m.seeds)):]
	if op.Last != 0 {
		m.last = op.Last
	}
	if op.Created != 0 {
		m.created = op.Created
	}
}

// loadMem reads an item's state from the item buckets.
func loadMem(tx *bolt.Tx, id string) (*memItem, error) {
	m := &memItem{}
	key := []byte(id)
	bk := tx.Bucket(bktItems).Bucket(key)
	if bk == nil {
		return m, nil
	}
	meta := getMeta(tx.Bucket(bktItemMeta), key)
	seeds, err := readAll(bk, meta.head)
	if err != nil {
		return nil, fmt.Errorf("item %s: %w", shortID(id), err)
	}
	*m = memItem{exists: true, seeds: seeds, last: meta.last, created: meta.created}
	return m, nil
}

// deferral collects, during one transaction, the items that cannot be
// written in place, with their whole state; writeLog keeps them in the log.
type deferral struct {
	tx    *bolt.Tx
	check func(id string) error
	items map[string]*memItem
	why   map[string]error
	order []string
}

// take reports whether the item must be deferred (it already is, or cannot
// be written in place) and if so applies op to its state in memory.
func (d *deferral) take(id string, op *ItemOps) (bool, error) {
	m, ok := d.items[id]
	if !ok {
		why := d.check(id)
		if why == nil {
			return false, nil
		}
		var err error
		if m, err = loadMem(d.tx, id); err != nil {
			return false, err
		}
		d.items[id], d.why[id] = m, why
		d.order = append(d.order, id)
	}
	m.apply(op)
	return true, nil
}

// writeLog writes the deferred items to the (emptied) log as one record:
// each as a delete followed by its whole state.
func (d *deferral) writeLog() error {
	var buf []byte
	for _, id := range d.order {
		m := d.items[id]
		buf = appendRecords(buf, id, &ItemOps{Reset: true, Remove: !m.exists, Add: m.seeds, Last: m.last, Created: m.created})
	}
	return putLog(d.tx, buf)
}

// checkpoint folds the log into the item buckets.
func (s *BoltStore) checkpoint() error {
	return s.Apply(newBatch())
}

// Checkpoint folds the log into the item buckets when it is due: when it
// holds checkpointRecords records or is checkpointAge old.
func (s *BoltStore) Checkpoint() error {
	if !s.needCheckpoint(checkpointRecords, checkpointAge) {
		return s.deferredErr()
	}
	return s.checkpoint()
}

// needCheckpoint reports whether the log is due for a checkpoint.
func (s *BoltStore) needCheckpoint(maxRecords int, maxAge time.Duration) bool {
	return s.logRecords >= maxRecords || (s.logRecords > 0 && time.Since(s.lastCkpt) >= maxAge)
}

// checkpointTx replays the log records into item changes, applies them
// (deferring the items def takes) and empties the log.
func checkpointTx(tx *bolt.Tx, def *deferral) error {
	lg := tx.Bucket(bktLog)
	if lg.Stats().KeyN == 0 {
		return nil
	}
	b, err := replayLog(tx)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := applyOps(tx, b, def); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := tx.DeleteBucket(bktLog); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if _, err := tx.CreateBucket(bktLog); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// replayLog folds every log record into one batch.
func replayLog(tx *bolt.Tx) (*Batch, error) {
	b := newBatch()
	err := tx.Bucket(bktLog).ForEach(func(_, val []byte) error {
		for len(val) > 0 {
			l, n := binary.Uvarint(val)
			if n <= 0 || l == 0 || uint64(len(val)-n) < l {
				return errors.New("corrupt log record: length")
			}
			if err := replayRecord(b, val[n:n+int(l)]); err != nil {
				return err
			}
			val = val[n+int(l):]
		}
		return nil
	})
	return b, err
}

// replayRecord folds one log record into b.
func replayRecord(b *Batch, v []byte) error {
	rest := v[1:]
	{
		switch v[0] {
		case 'a':
			l, n := binary.Uvarint(rest)
			if n <= 0 || uint64(len(rest)-n) < l {
				return errors.New("corrupt log record: add")
			}
			id := string(rest[n : n+int(l)])
			rest = rest[n+int(l):]
			ts, m := binary.Varint(rest)
			if m <= 0 {
				return errors.New("corrupt log record: add ts")
			}
			op := b.item(id)
			op.Remove = false
			op.Add = append(op.Add, StoredSeed{User: string(rest[m:]), TS: ts})
		case 'e':
			k, n := binary.Uvarint(rest)
			if n <= 0 {
				return errors.New("corrupt log record: evict")
			}
			b.item(string(rest[n:])).Evict += int(k)
		case 'd':
			op := b.item(string(rest))
			*op = ItemOps{Reset: true, Remove: true}
		case 'm':
			last, n := binary.Varint(rest)
			if n <= 0 {
				return errors.New("corrupt log record: metadata")
			}
			created, m := binary.Varint(rest[n:])
			if m <= 0 {
				return errors.New("corrupt log record: metadata")
			}
			op := b.item(string(rest[n+m:]))
			if last != 0 {
				op.Last = last
			}
			if created != 0 {
				op.Created = created
			}
		default:
			return fmt.Errorf("corrupt log record: kind %q", v[0])
		}
	}
	return nil
}

// itemMeta is an item's stored metadata.
type itemMeta struct {
	last, created int64
	head          int64 // evicted seeds at the start of the first chunk
}

func getMeta(b *bolt.Bucket, key []byte) itemMeta {
	var m itemMeta
	if v := b.Get(key); len(v) == 24 {
		m.last = int64(binary.BigEndian.Uint64(v[:8]))
		m.created = int64(binary.BigEndian.Uint64(v[8:16]))
		m.head = int64(binary.BigEndian.Uint64(v[16:]))
	}
	return m
}

func (m itemMeta) encode() []byte {
	v := binary.BigEndian.AppendUint64(nil, uint64(m.last))
	v = binary.BigEndian.AppendUint64(v, uint64(m.created))
	return binary.BigEndian.AppendUint64(v, uint64(m.head))
}

// decodeChunk appends a chunk's seeds to dst.
func decodeChunk(dst []StoredSeed, v []byte) ([]StoredSeed, error) {
	n, k := binary.Uvarint(v)
	if k <= 0 {
		return dst, errors.New("corrupt seed chunk")
	}
	v = v[k:]
	for range n {
		ts, a := binary.Varint(v)
		if a <= 0 {
			return dst, errors.New("corrupt seed chunk")
		}
		l, b := binary.Uvarint(v[a:])
		if b <= 0 || uint64(len(v)-a-b) < l {
			return dst, errors.New("corrupt seed chunk")
		}
		dst = append(dst, StoredSeed{TS: ts, User: string(v[a+b : a+b+int(l)])})
		v = v[a+b+int(l):]
	}
	return dst, nil
}

// encodeChunk encodes seeds as one chunk.
func encodeChunk(seeds []StoredSeed) []byte {
	size := binary.MaxVarintLen64
	for _, sd := range seeds {
		size += 2*binary.MaxVarintLen64 + len(sd.User)
	}
	v := binary.AppendUvarint(make([]byte, 0, size), uint64(len(seeds)))
	for _, sd := range seeds {
		v = binary.AppendVarint(v, sd.TS)
		v = binary.AppendUvarint(v, uint64(len(sd.User)))
		v = append(v, sd.User...)
	}
	return v
}

// chunkCount reads a chunk's seed count.
func chunkCount(v []byte) (int64, error) {
	n, k := binary.Uvarint(v)
	if k <= 0 {
		return 0, errors.New("corrupt seed chunk")
	}
	return int64(n), nil
}

// readAll returns an item's live seeds (head skipped).
func readAll(bk *bolt.Bucket, head int64) ([]StoredSeed, error) {
	var all []StoredSeed
	err := bk.ForEach(func(_, v []byte) error {
		var err error
		all, err = decodeChunk(all, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	if head > int64(len(all)) {
		return nil, errors.New("corrupt item: head past the last seed")
	}
	return all[head:], nil
}

// writeAll replaces an item's chunks with seeds.
func writeAll(items *bolt.Bucket, key []byte, seeds []StoredSeed) error {
	if err := items.DeleteBucket(key); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return err
	}
	bk, err := items.CreateBucket(key)
	if err != nil {
		return err
	}
	for c := 0; c*chunkSeeds < len(seeds); c++ {
		part := seeds[c*chunkSeeds : min((c+1)*chunkSeeds, len(seeds))]
		if err := bk.Put(binary.BigEndian.AppendUint64(nil, uint64(c)), encodeChunk(part)); err != nil {
			return err
		}
	}
	return nil
}

// appendSeeds appends seeds to an item's last chunk, starting new chunks
// when it is full.
func appendSeeds(bk *bolt.Bucket, add []StoredSeed) error {
	c := bk.Cursor()
	k, v := c.Last()
	var next uint64
	var cur []StoredSeed
	if k != nil {
		idx := binary.BigEndian.Uint64(k)
		n, err := chunkCount(v)
		if err != nil {
			return err
		}
		if n < chunkSeeds {
			if cur, err = decodeChunk(nil, v); err != nil {
				return err
			}
			next = idx
		} else {
			next = idx + 1
		}
	}
	for len(add) > 0 {
		take := min(chunkSeeds-len(cur), len(add))
		part := add[:take]
		if len(cur) > 0 {
			part = append(cur, part...)
			cur = nil
		}
		add = add[take:]
		if err := bk.Put(binary.BigEndian.AppendUint64(nil, next), encodeChunk(part)); err != nil {
			return err
		}
		next++
	}
	return nil
}

// evictSeeds drops the n oldest seeds: it advances head and deletes
// chunks whose seeds are all evicted.
func evictSeeds(bk *bolt.Bucket, m *itemMeta, n int64) error {
	m.head += n
	c := bk.Cursor()
	for k, v := c.First(); k != nil; k, v = c.First() {
		cnt, err := chunkCount(v)
		if err != nil {
			return err
		}
		if m.head < cnt {
			break
		}
		if err := c.Delete(); err != nil {
			return err
		}
		m.head -= cnt
	}
	return nil
}

// applyOps applies item changes directly to the item chunks, except for
// the items def takes (kept in the log), and writes users, imports and the
// bundle id.
func applyOps(tx *bolt.Tx, b *Batch, def *deferral) error {
	items := tx.Bucket(bktItems)
	metas := tx.Bucket(bktItemMeta)
	for _, id := range b.Order {
		op := b.Items[id]
		if deferred, err := def.take(id, op); err != nil || deferred {
			if err != nil {
				return err
			}
			continue
		}
		key := []byte(id)
		if op.Reset {
			if err := items.DeleteBucket(key); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
				return fmt.Errorf("delete item %s: %w", shortID(id), err)
			}
			if err := metas.Delete(key); err != nil {
				return fmt.Errorf("delete item %s: %w", shortID(id), err)
			}
		}
		if op.Remove {
			continue
		}
		meta := getMeta(metas, key)
		bk, err := items.CreateBucketIfNotExists(key)
		if err != nil {
			return fmt.Errorf("item %s: %w", shortID(id), err)
		}
		if len(op.Add) > 0 {
			if err := appendSeeds(bk, op.Add); err != nil {
				return fmt.Errorf("item %s: add seeds: %w", shortID(id), err)
			}
		}
		if len(op.Drop) > 0 {
			all, err := readAll(bk, meta.head)
			if err != nil {
				return fmt.Errorf("item %s: %w", shortID(id), err)
			}
			all = slices.DeleteFunc(all, func(sd StoredSeed) bool { return op.Drop[sd.User] })
			if err := writeAll(items, key, all); err != nil {
				return fmt.Errorf("item %s: drop seeds: %w", shortID(id), err)
			}
			meta.head = 0
			if bk = items.Bucket(key); bk == nil {
				return fmt.Errorf("item %s: bucket vanished", shortID(id))
			}
		}
		if op.Evict > 0 {
			if err := evictSeeds(bk, &meta, int64(op.Evict)); err != nil {
				return fmt.Errorf("item %s: evict seeds: %w", shortID(id), err)
			}
		}
		if op.Last != 0 {
			meta.last = op.Last
		}
		if op.Created != 0 {
			meta.created = op.Created
		}
		if err := metas.Put(key, meta.encode()); err != nil {
			return fmt.Errorf("item %s: put metadata: %w", shortID(id), err)
		}
	}
	return writeMisc(tx, b)
}

// writeMisc writes a batch's users, imports and bundle id.
func writeMisc(tx *bolt.Tx, b *Batch) error {
	users := tx.Bucket(bktUsers)
	for _, u := range b.Users {
		if err := users.Put([]byte(u.ID), encodeVec(u.Vec)); err != nil {
			return fmt.Errorf("user %q: %w", u.ID, err)
		}
	}
	imports := tx.Bucket(bktImports)
	for _, fp := range b.Imports {
		var t [8]byte
		binary.BigEndian.PutUint64(t[:], uint64(time.Now().UnixNano()))
		if err := imports.Put([]byte(fp), t[:]); err != nil {
			return fmt.Errorf("mark import %s: %w", fp, err)
		}
	}
	if b.Bundle != "" {
		if err := tx.Bucket(bktMeta).Put(keyBundle, []byte(b.Bundle)); err != nil {
			return fmt.Errorf("record bundle: %w", err)
		}
	}
	return nil
}

// StoredItem is one item as loaded from the store.
type StoredItem struct {
	ID      string
	Last    int64 // wall-clock Unix ns of the latest click
	Created int64
	Seeds   []StoredSeed // in arrival order
}

// LoadItems calls fn for every stored item with its seeds in arrival order:
// the item buckets with the changes still in the log (the deferred items')
// replayed on top.
func (s *BoltStore) LoadItems(fn func(it *StoredItem) error) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		metas := tx.Bucket(bktItemMeta)
		items := tx.Bucket(bktItems)
		pend, err := replayLog(tx)
		if err != nil {
			return fmt.Errorf("log: %w", err)
		}
		err = items.ForEachBucket(func(k []byte) error {
			m := getMeta(metas, k)
			seeds, err := readAll(items.Bucket(k), m.head)
			if err != nil {
				return fmt.Errorf("item %s: %w", shortID(string(k)), err)
			}
			if op, ok := pend.Items[string(k)]; ok {
				mi := &memItem{exists: true, seeds: seeds, last: m.last, created: m.created}
				mi.apply(op)
				delete(pend.Items, string(k))
				if !mi.exists {
					return nil
				}
				return fn(&StoredItem{ID: string(k), Last: mi.last, Created: mi.created, Seeds: mi.seeds})
			}
			return fn(&StoredItem{ID: string(k), Last: m.last, Created: m.created, Seeds: seeds})
		})
		if err != nil {
			return err
		}
		for _, id := range pend.Order {
			op, ok := pend.Items[id]
			if !ok {
				continue
			}
			mi := &memItem{}
			mi.apply(op)
			if mi.exists {
				if err := fn(&StoredItem{ID: id, Last: mi.last, Created: mi.created, Seeds: mi.seeds}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed store %s: load items: %w", s.path, err)
	}
	return nil
}

// LoadUsers calls fn for every upserted user.
func (s *BoltStore) LoadUsers(fn func(id string, vec []float32) error) error {
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

// DeleteUsers removes upserted users (they are covered by a newer bundle).
func (s *BoltStore) DeleteUsers(ids []string) error {
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

// Imported reports whether the training seeds with this fingerprint were imported.
func (s *BoltStore) Imported(fp string) (bool, error) {
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

// LastBundle returns the id of the bundle served last ("" on a fresh store).
func (s *BoltStore) LastBundle() (string, error) {
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
