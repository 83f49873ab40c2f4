package bundle

// The vocabulary every reader of a model folder answers in (the serving
// engine and the offline scorer alike): item statuses, scores, scored users
// and the errors about one id.

import (
	"errors"
	"fmt"
)

// DefaultMinSeeds is the default seed count below which an item is features
// (with attributes and a cold-start model) or cold (scored by the
// look-alike model over its few seeds).
const DefaultMinSeeds = 10

// DefaultMaxSeeds is the default number of latest distinct seeds an item's
// state is built from: the serving engine keeps each item's latest
// MaxSeeds distinct seed users (a user's place is its first click; older
// ones are evicted), and the evaluation gives its seed-based models the
// same latest seeds of every item.
const DefaultMaxSeeds = 100_000

// Errors about ids, returned by the serving engine and the offline scorer.
// Errors about a particular id are *IDError values that match these with
// errors.Is.
var (
	ErrUnknownUser = errors.New("unknown user")
	ErrUnknownItem = errors.New("unknown item")
	ErrBadID       = errors.New("bad id")
)

// IDError reports a problem with one user or item id.
type IDError struct {
	What string // "user" or "item"
	ID   string
	Err  error // ErrUnknownUser, ErrUnknownItem or ErrBadID (possibly wrapped)
	// Detail, when set, says more after the id (for a client: no path,
	// no Go type).
	Detail string
}

// Error implements error.
// A long id is shortened to its first 64 bytes, so that the message stays
// small whatever the caller sent.
func (e *IDError) Error() string {
	id := e.ID
	if len(id) > 64 {
		id = id[:64] + "..."
	}
	if errors.Is(e.Err, ErrBadID) {
		return fmt.Sprintf("bad %s id %q: %v", e.What, id, e.Err)
	}
	if e.Detail != "" {
		return fmt.Sprintf("%v %q: %s", e.Err, id, e.Detail)
	}
	return fmt.Sprintf("%v %q", e.Err, id)
}

// Unwrap returns the underlying sentinel.
func (e *IDError) Unwrap() error { return e.Err }

// Status is an item's scoring status.
type Status string

// Item statuses.
const (
	// StatusOK: the item has at least MinSeeds seeds and a re-clustered
	// state; scores come from the look-alike model.
	StatusOK Status = "ok"
	// StatusCold: too few seeds (and no attributes), or not yet
	// re-clustered; scores come from the look-alike model over the seeds
	// the item has (exactly what an ok item of those seeds would score),
	// an estimate that rests on few seeds.
	StatusCold Status = "cold"
	// StatusFeatures: fewer than MinSeeds seeds (or none) but attributes
	// (an items-table row or POST /v1/items) and a cold-start model in the
	// folder; scores come from the attribute cold-start network, put on the
	// look-alike score scale (see ItemScore).
	StatusFeatures Status = "features"
	// StatusUnknownItem: the engine has no seeds for this item.
	StatusUnknownItem Status = "unknown_item"
	// StatusFailed: the serving engine could not keep the item up to date:
	// its last re-cluster failed, or its seeds could not be written in place
	// in the store. Scores come from its last good (or cold) state; the
	// item's description gives the reason.
	StatusFailed Status = "failed"
)

// ItemScore is one item's score for a user.
type ItemScore struct {
	ItemID string
	// Score is on one scale for every status, the look-alike model's: its
	// score for StatusOK, and for StatusCold over the item's few seeds; for
	// StatusFeatures the look-alike score with the same click logit as the
	// cold-start network's logit (lookalike.Model.ScoreOfLogit): both
	// networks are trained with the same loss and negative-sampling ratio,
	// so their logits estimate the same log-odds. So ok, cold and features
	// scores of one user rank together (a higher score is a higher
	// estimated click probability, lookalike.Model.Probability); a cold
	// score rests on fewer seeds and is noisier. 0 for StatusUnknownItem.
	Score  float32
	Status Status
}

// ScoredUser is a user with a score.
type ScoredUser struct {
	UserID string
	Score  float32
}
