package ralm

// This file is the seam between the bundle/engine and the data and userrep
// packages: file IO of embeddings and clicks, and the user model.

import (
	"context"
	"errors"
	"fmt"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/userrep"
)

func readEmbeddings(ctx context.Context, path string) (*data.Embeddings, error) {
	return data.ReadEmbeddings(ctx, path)
}

func writeEmbeddings(path string, e *data.Embeddings) error {
	return data.WriteEmbeddings(context.Background(), path, e.Users, e.Dim, e.Vecs)
}

func readClicks(ctx context.Context, path string) (*data.Clicks, error) {
	return data.ReadClicks(ctx, path, data.ReadOptions{AllowEmpty: true})
}

func writeClicks(path string, c *data.Clicks) error {
	return data.WriteClicks(context.Background(), path, c)
}

func loadUserModel(path string) (*userrep.Model, error) { return userrep.Load(path) }

func saveUserModel(path string, m *userrep.Model) error { return m.Save(path) }

// userModelDim is the embedding width the user model produces.
func userModelDim(m *userrep.Model) int { return m.Dim() }

// embedRaw embeds one user from raw feature values (users-table column
// names) and the ids of the items the user clicked, with the user model's
// inference path. Clicked items unknown to the user model are ignored.
func embedRaw(m *userrep.Model, features map[string]any, clicked []string) ([]float32, error) {
	fs, ok := m.Features().(*data.FeatureSet)
	if !ok || fs == nil {
		return nil, errors.New("the user model carries no feature set for raw features; give a vector instead")
	}
	var idx []int32
	for _, id := range clicked {
		if i, ok := fs.Items().Index(id); ok {
			idx = append(idx, i)
		}
	}
	var ft data.Features
	if err := fs.BuildRaw(features, idx, &ft); err != nil {
		return nil, err
	}
	v, err := m.Embed(&ft)
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	return v, nil
}
