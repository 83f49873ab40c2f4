package ralm

// This file is the single seam between the bundle/engine and the data and
// userrep packages (file IO of embeddings and clicks, the user model).
// TEMPORARY: until userrep.Load/Save/Embed land, the user-model functions are
// placeholders that fail clearly.

import (
	"context"
	"errors"

	"github.com/ralmlab/ralm/data"
)

// errPending marks IO that waits for the data/userrep packages.
var errPending = errors.New("not available in this build yet (pending data/userrep integration)")

// UserModel is the user representation model (userrep).
type UserModel struct{}

func readEmbeddings(ctx context.Context, path string) (*data.Embeddings, error) {
	return data.ReadEmbeddings(ctx, path)
}

func writeEmbeddings(path string, e *data.Embeddings) error {
	return data.WriteEmbeddings(path, e.Users, e.Dim, e.Vecs)
}

func readClicks(ctx context.Context, path string) (*data.Clicks, error) {
	return data.ReadClicks(ctx, path, data.ReadOptions{AllowEmpty: true})
}

func writeClicks(path string, c *data.Clicks) error { return data.WriteClicks(path, c) }

func loadUserModel(path string) (*UserModel, error) { return nil, errPending }
func saveUserModel(path string, m *UserModel) error { return errPending }

// userModelDim is the embedding width the user model produces.
func userModelDim(m *UserModel) int { return 0 }

// embedRaw embeds one user from raw features and the ids of the items the
// user clicked, with the user model's inference path.
func embedRaw(m *UserModel, features map[string]any, clicked []string) ([]float32, error) {
	return nil, errPending
}
