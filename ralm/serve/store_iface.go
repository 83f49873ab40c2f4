package serve

import (
	"fmt"
	"strconv"
	"strings"
)

// Store is the engine's durable state: the seeds of every item in arrival
// order (with each item's last-click and creation times), the users upserted
// through UpsertUser, the clicks fingerprints of the bundles whose training
// seeds were imported, and the id of the bundle served last. The engine
// keeps all of it in memory too and writes through the store, so a store
// only has to persist and replay; it never answers a query on the hot path.
//
// Call order: the engine calls LastBundle, LoadUsers, LoadItems and Imported
// while it opens (before any commit), then Commit, Apply, DeleteUsers and
// Checkpoint from one goroutine at a time (the committer, or Open and Reload
// before or while holding the committer off), and Close once. A Store needs
// no locking of its own. Every write must be durable when it returns: the
// engine acknowledges clicks only after Commit returns nil, and after any
// error it turns read-only (ErrReadOnly) rather than let memory and store
// drift apart; a *DeferredItemsError from Apply or Checkpoint is the one
// exception (see there).
//
// BoltStore (one bbolt file in Options.DataDir) is the built-in
// implementation; a backend for another database implements this interface
// in its own package and is given to the engine in Options.Store.
type Store interface {
	// LastBundle returns the id of the bundle served last ("" for a fresh store).
	LastBundle() (string, error)
	// Imported reports whether the training seeds of the bundle whose clicks
	// have this fingerprint (bundle.FingerprintClicks) were imported.
	Imported(fingerprint string) (bool, error)
	// LoadUsers calls fn for every upserted user, stopping at fn's first error.
	LoadUsers(fn func(id string, vec []float32) error) error
	// LoadItems calls fn for every item with its seeds in arrival order,
	// stopping at fn's first error. fn may keep the item.
	LoadItems(fn func(it *StoredItem) error) error

	// Commit durably writes one batch of the committer: seed adds, the
	// evictions and deletes they cause, item times, user upserts. Its items
	// have no Drop (dropped seeds go through Apply). It is called often, with
	// small batches, and should be fast.
	Commit(b *Batch) error
	// Apply durably writes a bulk batch from Open or Reload (imported
	// training seeds, seeds dropped because their user left the model) and
	// may be slower than Commit.
	Apply(b *Batch) error
	// DeleteUsers removes upserted users (a newer bundle embeds them).
	DeleteUsers(ids []string) error
	// Checkpoint is called by the committer after commits and every 30
	// seconds. A store that logs commits compacts its log if that is due;
	// others return nil.
	Checkpoint() error
	// Close makes everything durable and releases the store.
	Close() error
}

var _ Store = (*BoltStore)(nil)

// DeferredItemsError is the error of a store write that succeeded except
// for some items whose changes the store holds durably but could not write
// in place (BoltStore: a key bbolt refuses). The store keeps those changes
// (BoltStore: in its log, which LoadItems replays) and retries them at every
// checkpoint. It is not a storage fault: the engine gives the items the
// status failed with the reason and stays writable. A store returns it from
// Apply and Checkpoint for as long as any item is deferred, and nil once
// none is.
type DeferredItemsError struct {
	Items map[string]error // item id → why it could not be written in place
}

// Error implements error.
func (e *DeferredItemsError) Error() string {
	first := ""
	for id := range e.Items {
		if first == "" || id < first {
			first = id
		}
	}
	return fmt.Sprintf("seed store: %d items kept in the log, not written in place (item %s: %v)", len(e.Items), shortID(first), e.Items[first])
}

// shortID quotes an id for a message, cut to its first 64 bytes.
func shortID(id string) string {
	const max = 64
	if len(id) <= max {
		return strconv.Quote(id)
	}
	cut := strings.ToValidUTF8(id[:max], "")
	return fmt.Sprintf("%q... (%d bytes)", cut, len(id))
}
