package serve

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// AttrStore is implemented by a Store that also persists item attributes
// (POST /v1/items): the raw attribute values of items registered for the
// cold-start model, scored with status features before their first seeds.
// The engine refuses to register attributes with a store that lacks it.
// Its methods follow the Store call rules: LoadItemAttrs while the engine
// opens, PutItemAttrs one call at a time, durable when it returns.
type AttrStore interface {
	// PutItemAttrs durably replaces the attributes of one item.
	PutItemAttrs(id string, values map[string][]string) error
	// DeleteItemAttrs durably removes an item's attributes (none is not an
	// error).
	DeleteItemAttrs(id string) error
	// LoadItemAttrs calls fn for every item with attributes, stopping at
	// fn's first error.
	LoadItemAttrs(fn func(id string, values map[string][]string) error) error
}

var _ AttrStore = (*BoltStore)(nil)

// bktItemAttrs holds item id → JSON of its attribute values.
var bktItemAttrs = []byte("item_attrs")

// PutItemAttrs implements AttrStore.
func (s *BoltStore) PutItemAttrs(id string, values map[string][]string) error {
	raw, err := json.Marshal(values)
	if err != nil {
		return fmt.Errorf("seed store: item %q attributes: %w", id, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bktItemAttrs)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), raw)
	})
	if err != nil {
		return fmt.Errorf("seed store %s: write item attributes: %w", s.path, err)
	}
	return nil
}

// LoadItemAttrs implements AttrStore.
func (s *BoltStore) LoadItemAttrs(fn func(id string, values map[string][]string) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktItemAttrs)
		if b == nil { // a store written before attributes existed
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var values map[string][]string
			if err := json.Unmarshal(v, &values); err != nil {
				return fmt.Errorf("seed store %s: attributes of item %q are corrupt: %w", s.path, k, err)
			}
			return fn(string(k), values)
		})
	})
}

// DeleteItemAttrs implements AttrStore.
func (s *BoltStore) DeleteItemAttrs(id string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktItemAttrs)
		if b == nil {
			return nil
		}
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("seed store %s: delete item attributes: %w", s.path, err)
	}
	return nil
}
