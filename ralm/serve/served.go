package serve

import (
	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/ralm/bundle"
	"github.com/ralmlab/ralm/userrep"
)

// served is the model folder one generation of either backend serves
// (Engine's world, Replica's rworld): the bundle, its two models, the user
// embedding width and the kinds of user and item ids.
type served struct {
	bundle    *bundle.Bundle
	model     *lookalike.Model
	userModel *userrep.Model
	dim       int
	userKind  data.IDKind
	itemKind  data.IDKind
}

func newServed(b *bundle.Bundle) served {
	return served{
		bundle: b, model: b.LookAlike, userModel: b.UserModel, dim: b.Embeddings.Dim,
		userKind: b.Embeddings.Users.Kind(), itemKind: b.Seeds.Items.Kind(),
	}
}

// idKinds returns the kinds of user and item ids.
func (s *served) idKinds() (user, item data.IDKind) { return s.userKind, s.itemKind }
