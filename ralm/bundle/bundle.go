// Package bundle is the RALM model folder written by `ralm train`: Write
// writes one atomically, Open reads and verifies it (every file against the
// checksums of its manifest). It also holds the result vocabulary shared by
// every reader of a model folder (Status, ItemScore, ScoredUser, IDError).
package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/atomicfile"
	"github.com/ralmlab/ralm/internal/buildinfo"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/lookalike/coldstart"
	"github.com/ralmlab/ralm/userrep"
)

// Bundle folder layout. A model folder written by `ralm train` holds exactly
// these files; manifest.json is written last and lists the others with their
// sizes and SHA-256 checksums.
const (
	ManifestFile   = "manifest.json"
	UserModelFile  = "userrep.model"
	LookAlikeFile  = "lookalike.model"
	EmbeddingsFile = "embeddings.parquet"
	SeedsFile      = "seeds.parquet"
	// ColdStartFile is the optional attribute cold-start model (folders
	// trained without an items table have none).
	ColdStartFile = "coldstart.model"

	// BundleFormat is the value of Manifest.Format.
	BundleFormat = "ralm-bundle"
	// BundleFormatVersion is the manifest format version this build writes
	// and the newest it reads.
	BundleFormatVersion = 1
)

// FileNames returns the names of every file a model folder may hold (the
// optional ones included), manifest first.
func FileNames() []string {
	return []string{ManifestFile, UserModelFile, LookAlikeFile, EmbeddingsFile, SeedsFile, ColdStartFile}
}

// Manifest describes a model folder: versions, configurations, what the
// models were trained on, and a checksum of every other file.
type Manifest struct {
	// Format is always BundleFormat.
	Format string `json:"format"`
	// FormatVersion is the folder format version (BundleFormatVersion when written).
	FormatVersion int `json:"format_version"`
	// ModuleVersion is the version of the ralm module that wrote the folder.
	ModuleVersion string `json:"module_version"`
	// UserRepConfig and LookAlikeConfig are the models' configurations as JSON.
	UserRepConfig   json.RawMessage `json:"userrep_config,omitempty"`
	LookAlikeConfig json.RawMessage `json:"lookalike_config,omitempty"`
	// ClicksFingerprint is FingerprintClicks of the training clicks (the
	// seeds), in encoding ClicksFingerprintVersion (see FingerprintOf).
	ClicksFingerprint string `json:"clicks_fingerprint"`
	// ClicksFingerprintVersion is the encoding version of ClicksFingerprint
	// (FingerprintVersion when written); 0, in a folder written before the
	// field existed, means 1.
	ClicksFingerprintVersion int `json:"clicks_fingerprint_version,omitempty"`
	// UserIDKind and ItemIDKind are "int64" or "string".
	UserIDKind string `json:"user_id_kind"`
	ItemIDKind string `json:"item_id_kind"`
	// EmbeddingDim is the user embedding width.
	EmbeddingDim int `json:"embedding_dim"`
	// Users, Items and Clicks count the embedded users, the items with seeds
	// and the training clicks.
	Users  int `json:"users"`
	Items  int `json:"items"`
	Clicks int `json:"clicks"`
	// Meta holds free-form information from the writer (e.g. training metrics).
	Meta map[string]string `json:"meta,omitempty"`
	// Files lists every file of the folder but the manifest.
	Files []FileEntry `json:"files"`
}

// FileEntry is one file of a model folder with its size and checksum.
type FileEntry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Bundle is a loaded model folder: everything scoring and serving need.
type Bundle struct {
	Manifest
	// ID identifies this exact folder content: the SHA-256 of its manifest
	// (which checksums every other file). Set by Open and Write.
	ID string
	// UserModel embeds users from raw features; nil if the folder has none.
	UserModel *userrep.Model
	// LookAlike scores users against items.
	LookAlike *lookalike.Model
	// Embeddings holds every known user's embedding.
	Embeddings *data.Embeddings
	// Seeds are the training clicks: each item's seeds are its clickers.
	Seeds *data.Clicks
	// ColdStart scores items from their attributes; nil if the folder has
	// none.
	ColdStart *coldstart.Model
}

// KindName is the manifest spelling of an id kind.
func KindName(k data.IDKind) string {
	switch k {
	case data.IDInt64:
		return "int64"
	case data.IDString:
		return "string"
	}
	return fmt.Sprintf("unknown(%d)", k)
}

// parseKind is the inverse of KindName.
func parseKind(s string) (data.IDKind, error) {
	switch s {
	case "int64":
		return data.IDInt64, nil
	case "string":
		return data.IDString, nil
	}
	return 0, fmt.Errorf("unknown id kind %q (want int64 or string)", s)
}

// moduleVersion is the running ralm build's version as `ralm version`
// reports it: a release or pseudo-version, or "(devel)" with the VCS
// revision when the build knows it.
func moduleVersion() string { return buildinfo.Read().ModuleVersion() }

// Write writes b as a model folder at dir. The files are written into a
// temporary folder beside dir, checksummed and synced, and the folder is then
// swapped in by atomicfile.ReplaceDir, so dir is never half-written. An existing model folder
// (or an empty folder) at dir is replaced; any other existing path is an
// error. The manifest's derived fields (format, kinds, counts, fingerprint,
// configurations, file list) are filled in; b.Manifest and b.ID are updated.
//
// Write is WriteContext without cancellation or options.
func Write(dir string, b *Bundle) error {
	return WriteContext(context.Background(), dir, b)
}

// WriteContext is Write that stops with ctx's error soon after ctx is
// cancelled (the Parquet writers check it between record batches), removing
// the temporary folder and leaving dir untouched. opts (e.g.
// data.WithProgress) apply to the embeddings and seeds files, written one
// after the other.
func WriteContext(ctx context.Context, dir string, b *Bundle, opts ...data.WriteOption) (err error) {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("write model folder %s: %w", dir, err)
	}
	m := b.Manifest
	m.Format = BundleFormat
	m.FormatVersion = BundleFormatVersion
	if m.ModuleVersion == "" {
		m.ModuleVersion = moduleVersion()
	}
	if m.ClicksFingerprint != "" {
		// a fingerprint given (e.g. by an opened folder) must be the seeds',
		// in its own encoding version
		fp, err := m.FingerprintOf(b.Seeds)
		if err != nil {
			return fmt.Errorf("write model folder %s: %w", dir, err)
		}
		if fp != m.ClicksFingerprint {
			return fmt.Errorf("write model folder %s: manifest clicks fingerprint %s does not match the seeds (%s)", dir, m.ClicksFingerprint, fp)
		}
	}
	m.ClicksFingerprint, m.ClicksFingerprintVersion = FingerprintClicks(b.Seeds), FingerprintVersion
	m.UserIDKind = KindName(b.Embeddings.Users.Kind())
	m.ItemIDKind = KindName(b.Seeds.Items.Kind())
	m.EmbeddingDim = b.Embeddings.Dim
	m.Users = b.Embeddings.Users.Len()
	m.Items = b.Seeds.Items.Len()
	m.Clicks = b.Seeds.Len()
	if m.UserRepConfig == nil && b.UserModel != nil {
		raw, err := json.Marshal(b.UserModel.Config())
		if err != nil {
			return fmt.Errorf("write model folder %s: user model config: %w", dir, err)
		}
		m.UserRepConfig = raw
	}
	if m.LookAlikeConfig == nil {
		raw, err := json.Marshal(b.LookAlike.Config())
		if err != nil {
			return fmt.Errorf("write model folder %s: look-alike config: %w", dir, err)
		}
		m.LookAlikeConfig = raw
	}

	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("write model folder %s: %w", dir, err)
	}
	if err := checkReplaceable(dir); err != nil {
		return fmt.Errorf("write model folder %s: %w", dir, err)
	}
	var raw []byte
	err = atomicfile.ReplaceDir(ctx, dir, func(tmp string) error {
		type part struct {
			name  string
			write func(path string) error
		}
		parts := []part{
			{LookAlikeFile, b.LookAlike.Save},
			{EmbeddingsFile, func(p string) error { return writeEmbeddings(ctx, p, b.Embeddings, opts) }},
			{SeedsFile, func(p string) error { return writeClicks(ctx, p, b.Seeds, opts) }},
		}
		if b.ColdStart != nil {
			parts = append(parts, part{ColdStartFile, b.ColdStart.Save})
		}
		if b.UserModel != nil {
			parts = append([]part{{UserModelFile, func(p string) error { return saveUserModel(p, b.UserModel) }}}, parts...)
		}
		m.Files = m.Files[:0:0]
		for _, p := range parts {
			if err := ctx.Err(); err != nil {
				return err
			}
			path := filepath.Join(tmp, p.name)
			if err := p.write(path); err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			size, sum, err := hashFile(path, true)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			m.Files = append(m.Files, FileEntry{Name: p.name, Size: size, SHA256: sum})
		}
		var err error
		raw, err = json.MarshalIndent(&m, "", "  ")
		if err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		raw = append(raw, '\n')
		if err := atomicfile.WriteBytes(context.Background(), filepath.Join(tmp, ManifestFile), raw); err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write model folder %s: %w", dir, err)
	}
	b.Manifest = m
	b.ID = manifestID(raw)
	return nil
}

// Validate checks a bundle before writing or serving it: a look-alike model,
// user embeddings of its dimension, seeds, and a matching clicks fingerprint.
func (b *Bundle) Validate() error {
	switch {
	case b == nil:
		return errors.New("no bundle")
	case b.LookAlike == nil:
		return errors.New("no look-alike model")
	case b.Embeddings == nil || b.Embeddings.Users == nil:
		return errors.New("no user embeddings")
	case b.Seeds == nil || b.Seeds.Users == nil || b.Seeds.Items == nil:
		return errors.New("no seeds (training clicks)")
	}
	e := b.Embeddings
	if e.Dim != b.LookAlike.Dim() {
		return fmt.Errorf("embeddings have dim %d, the look-alike model expects %d", e.Dim, b.LookAlike.Dim())
	}
	if len(e.Vecs) != e.Users.Len()*e.Dim {
		return fmt.Errorf("embeddings: %d floats for %d users of dim %d", len(e.Vecs), e.Users.Len(), e.Dim)
	}
	if b.Seeds.Users.Kind() != e.Users.Kind() {
		return fmt.Errorf("seeds have %s user ids, embeddings %s", KindName(b.Seeds.Users.Kind()), KindName(e.Users.Kind()))
	}
	c := b.Seeds
	if len(c.Item) != len(c.User) || len(c.TS) != len(c.User) {
		return fmt.Errorf("seeds: columns of different lengths (%d users, %d items, %d ts)", len(c.User), len(c.Item), len(c.TS))
	}
	if b.UserModel != nil {
		if d := userModelDim(b.UserModel); d != e.Dim {
			return fmt.Errorf("user model embeds to dim %d, embeddings have %d", d, e.Dim)
		}
	}
	if cs := b.ColdStart; cs != nil {
		if cs.Dim() != e.Dim {
			return fmt.Errorf("cold-start model takes dim %d, embeddings have %d", cs.Dim(), e.Dim)
		}
		// one logit scale: both fitted at the same negative-sampling ratio
		if n, la := cs.Config().Negatives, b.LookAlike.Config().Negatives; n != la {
			return fmt.Errorf("cold-start model trained with %d negatives per positive, the look-alike model with %d (their logits would not share a scale)", n, la)
		}
	}
	return nil
}

// checkReplaceable refuses to replace anything but a missing path, an empty
// folder or a model folder.
func checkReplaceable(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return errors.New("exists and is not a folder")
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return errors.New("exists, is not empty and is not a model folder (no manifest.json); refusing to replace it")
	}
	return nil
}

// Open loads and verifies the model folder at dir: manifest format and
// version, presence, size and checksum of every listed file, then the models,
// embeddings and seeds, and their mutual consistency.
func Open(ctx context.Context, dir string) (*Bundle, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return nil, fmt.Errorf("open model folder %s: %w", dir, serr)
		}
		return nil, fmt.Errorf("open model folder %s: no %s (not a folder written by ralm train)", dir, ManifestFile)
	}
	if err != nil {
		return nil, fmt.Errorf("open model folder %s: %w", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("open model folder %s: %s is corrupt: %w", dir, ManifestFile, err)
	}
	if m.Format != BundleFormat {
		return nil, fmt.Errorf("open model folder %s: %s has format %q, want %q", dir, ManifestFile, m.Format, BundleFormat)
	}
	if m.FormatVersion < 1 || m.FormatVersion > BundleFormatVersion {
		return nil, fmt.Errorf("open model folder %s: format version %d (written by ralm %s), this build reads versions 1..%d",
			dir, m.FormatVersion, m.ModuleVersion, BundleFormatVersion)
	}
	if v := m.fingerprintVersion(); v < 1 || v > FingerprintVersion {
		return nil, fmt.Errorf("open model folder %s: clicks fingerprint version %d (written by ralm %s), this build reads versions 1..%d",
			dir, v, m.ModuleVersion, FingerprintVersion)
	}
	userKind, err := parseKind(m.UserIDKind)
	if err != nil {
		return nil, fmt.Errorf("open model folder %s: user_id_kind: %w", dir, err)
	}
	itemKind, err := parseKind(m.ItemIDKind)
	if err != nil {
		return nil, fmt.Errorf("open model folder %s: item_id_kind: %w", dir, err)
	}
	listed := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if f.Name != filepath.Base(f.Name) || strings.HasPrefix(f.Name, ".") {
			return nil, fmt.Errorf("open model folder %s: %s lists a bad file name %q", dir, ManifestFile, f.Name)
		}
		listed[f.Name] = true
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("open model folder %s: %w", dir, err)
		}
		path := filepath.Join(dir, f.Name)
		size, sum, err := hashFile(path, false)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open model folder %s: %s is missing", dir, f.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("open model folder %s: %w", dir, err)
		}
		if size != f.Size {
			return nil, fmt.Errorf("open model folder %s: %s has %d bytes, the manifest says %d (truncated or replaced)", dir, f.Name, size, f.Size)
		}
		if sum != f.SHA256 {
			return nil, fmt.Errorf("open model folder %s: %s is corrupt (SHA-256 %s, the manifest says %s)", dir, f.Name, sum, f.SHA256)
		}
	}
	for _, need := range []string{LookAlikeFile, EmbeddingsFile, SeedsFile} {
		if !listed[need] {
			return nil, fmt.Errorf("open model folder %s: %s does not list %s", dir, ManifestFile, need)
		}
	}
	b := &Bundle{Manifest: m, ID: manifestID(raw)}
	if b.LookAlike, err = lookalike.Load(filepath.Join(dir, LookAlikeFile)); err != nil {
		return nil, fmt.Errorf("open model folder %s: %w", dir, err)
	}
	if listed[UserModelFile] {
		if b.UserModel, err = loadUserModel(filepath.Join(dir, UserModelFile)); err != nil {
			return nil, fmt.Errorf("open model folder %s: %w", dir, err)
		}
	}
	if listed[ColdStartFile] {
		if b.ColdStart, err = coldstart.Load(filepath.Join(dir, ColdStartFile)); err != nil {
			return nil, fmt.Errorf("open model folder %s: %w", dir, err)
		}
	}
	if b.Embeddings, err = readEmbeddings(ctx, filepath.Join(dir, EmbeddingsFile)); err != nil {
		return nil, fmt.Errorf("open model folder %s: %w", dir, err)
	}
	if b.Seeds, err = readClicks(ctx, filepath.Join(dir, SeedsFile)); err != nil {
		return nil, fmt.Errorf("open model folder %s: %w", dir, err)
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("open model folder %s: %w", dir, err)
	}
	if err := checkCounts(&m, b); err != nil {
		return nil, fmt.Errorf("open model folder %s: %w", dir, err)
	}
	if k := b.Embeddings.Users.Kind(); k != userKind {
		return nil, fmt.Errorf("open model folder %s: embeddings have %s user ids, the manifest says %s", dir, KindName(k), m.UserIDKind)
	}
	if k := b.Seeds.Items.Kind(); k != itemKind {
		return nil, fmt.Errorf("open model folder %s: seeds have %s item ids, the manifest says %s", dir, KindName(k), m.ItemIDKind)
	}
	return b, nil
}

// checkCounts compares the files' contents with the manifest's counts: a
// file replaced with its checksum recomputed in the manifest is still
// refused when it disagrees with them. The items count is an upper bound:
// the writer counts its seeds' item vocabulary, which may hold items whose
// clicks were dropped, and the seeds file holds only items with clicks.
func checkCounts(m *Manifest, b *Bundle) error {
	for _, c := range []struct {
		file, what string
		got, want  int
	}{
		{EmbeddingsFile, "users", b.Embeddings.Users.Len(), m.Users},
		{EmbeddingsFile, "embedding dim", b.Embeddings.Dim, m.EmbeddingDim},
		{SeedsFile, "clicks", b.Seeds.Len(), m.Clicks},
	} {
		if c.got != c.want {
			return fmt.Errorf("%s has %d %s, the manifest says %d", c.file, c.got, c.what, c.want)
		}
	}
	if n := b.Seeds.Items.Len(); n > m.Items {
		return fmt.Errorf("%s has %d items, the manifest says %d", SeedsFile, n, m.Items)
	}
	return nil
}

// manifestID is the bundle identity: the SHA-256 of the manifest bytes.
func manifestID(raw []byte) string {
	s := sha256.Sum256(raw)
	return hex.EncodeToString(s[:])
}

// hashFile returns the size and hex SHA-256 of a file, optionally fsyncing it.
func hashFile(path string, sync bool) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", path, err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			return 0, "", fmt.Errorf("sync %s: %w", path, err)
		}
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
