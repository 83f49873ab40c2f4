package bundle

// This file is the seam between the bundle/engine and the data and userrep
// packages: file IO of embeddings and clicks, and the user model.

import (
	"context"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/userrep"
)

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

func loadUserModel(path string) (*userrep.Model, error) { return userrep.Load(path) }

func saveUserModel(path string, m *userrep.Model) error { return m.Save(path) }

// userModelDim is the embedding width the user model produces.
func userModelDim(m *userrep.Model) int { return m.Dim() }
