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

func writeEmbeddings(ctx context.Context, path string, e *data.Embeddings, opts []data.WriteOption) error {
	return data.WriteEmbeddings(ctx, path, e.Users, e.Dim, e.Vecs, opts...)
}

func readClicks(ctx context.Context, path string) (*data.Clicks, error) {
	return data.ReadClicks(ctx, path, data.ReadOptions{AllowEmpty: true})
}

func writeClicks(ctx context.Context, path string, c *data.Clicks, opts []data.WriteOption) error {
	return data.WriteClicks(ctx, path, c, opts...)
}

func loadUserModel(path string) (*userrep.Model, error) { return userrep.Load(path) }

func saveUserModel(path string, m *userrep.Model) error { return m.Save(path) }

// userModelDim is the embedding width the user model produces.
func userModelDim(m *userrep.Model) int { return m.Dim() }
