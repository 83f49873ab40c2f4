package ralm

// Checkpoints of the two-stage pipeline: after every epoch of the user model
// and of the look-alike model, the state of the stage in progress (and the
// finished user model's), with fingerprints of the inputs and the settings,
// so that an interrupted run continues where it stopped and ends with the
// same models as an uninterrupted one.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/internal/atomicfile"
	"github.com/ralmlab/ralm/lookalike"
	"github.com/ralmlab/ralm/userrep"
)

// Stage names of a Checkpoint.
const (
	StageUserRep   = "userrep"
	StageLookAlike = "lookalike"
)

// checkpointMagic starts every checkpoint file. Format 1 (one gob value
// holding both stages' encodings) is not read: it built the whole state in
// memory to write it; nor is format 2, whose arrays were gob's []float32
// (internal/gobstream now writes their bytes).
const checkpointMagic = "ralm-checkpoint/3\n"

// Checkpoint is the state of a Train run after an epoch of one of its
// stages. Save writes it atomically; LoadCheckpoint reads it back for
// TrainOptions.Resume. The ralm-avg baseline (TrainConfig.WithAvg) is not
// checkpointed: a resumed run trains it again.
type Checkpoint struct {
	h    checkpointHeader
	user *userrep.Checkpoint   // the user model's last checkpoint
	la   *lookalike.Checkpoint // the look-alike model's last checkpoint (StageLookAlike)
}

// checkpointHeader starts a checkpoint file, after the magic; the user
// model's checkpoint follows it, then (StageLookAlike) the look-alike's.
type checkpointHeader struct {
	Stage    string // the stage in progress: StageUserRep or StageLookAlike
	Inputs   string // fingerprint of the clicks and tables
	Settings []byte // JSON of the settings that shape the models
}

// Stage is the stage the checkpoint was taken in.
func (c *Checkpoint) Stage() string { return c.h.Stage }

// Epoch is the number of epochs of that stage done.
func (c *Checkpoint) Epoch() int {
	if c.h.Stage == StageLookAlike {
		return c.la.Epoch()
	}
	return c.user.Epoch()
}

// Save writes the checkpoint to path atomically (internal/atomicfile): a
// crash leaves the previous checkpoint or the new one, never a partial
// file. The stages' weights and centroids are streamed, not built whole in
// memory.
func (c *Checkpoint) Save(ctx context.Context, path string) error {
	err := atomicfile.Write(ctx, path, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<20)
		if _, err := w.WriteString(checkpointMagic); err != nil {
			return err
		}
		if err := gob.NewEncoder(w).Encode(&c.h); err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if err := c.user.Encode(w); err != nil {
			return err
		}
		if c.h.Stage == StageLookAlike {
			if err := c.la.Encode(w); err != nil {
				return err
			}
		}
		return w.Flush()
	})
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}

// LoadCheckpoint reads a checkpoint written by Checkpoint.Save.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	magic := make([]byte, len(checkpointMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != checkpointMagic {
		if err == nil && strings.HasPrefix(string(magic), "ralm-checkpoint/") {
			return nil, fmt.Errorf("checkpoint %s: written in another format (%s) by another version of ralm; start the run again without resuming", path, strings.TrimSpace(string(magic)))
		}
		return nil, fmt.Errorf("checkpoint %s: not a ralm checkpoint", path)
	}
	c := &Checkpoint{user: new(userrep.Checkpoint)}
	if err := gob.NewDecoder(r).Decode(&c.h); err != nil {
		return nil, fmt.Errorf("checkpoint %s: decode: %w", path, err)
	}
	if c.h.Stage != StageUserRep && c.h.Stage != StageLookAlike {
		return nil, fmt.Errorf("checkpoint %s: unknown stage %q", path, c.h.Stage)
	}
	if err := c.user.Decode(r); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if c.h.Stage == StageLookAlike {
		c.la = new(lookalike.Checkpoint)
		if err := c.la.Decode(r); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", path, err)
		}
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("checkpoint %s: data after the end of the checkpoint", path)
	}
	return c, nil
}

// fingerprintInputs hashes what the models learn from, in the order
// training sees it: the clicks (indices and times), both vocabularies in
// index order and the feature encoding built from the tables.
func fingerprintInputs(c *data.Clicks, fs *data.FeatureSet) (string, error) {
	h := sha256.New()
	writeInts := func(h hash.Hash, n int, at func(i int) uint64) {
		buf := make([]byte, 0, 8<<10)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(n))
		for i := 0; i < n; i++ {
			buf = binary.LittleEndian.AppendUint64(buf, at(i))
			if len(buf) >= 8<<10 {
				h.Write(buf)
				buf = buf[:0]
			}
		}
		h.Write(buf)
	}
	writeInts(h, len(c.User), func(i int) uint64 { return uint64(c.User[i])<<32 | uint64(uint32(c.Item[i])) })
	writeInts(h, len(c.TS), func(i int) uint64 { return uint64(c.TS[i]) })
	for _, v := range []*data.Vocab{c.Users, c.Items} {
		ids := v.IDs()
		writeInts(h, len(ids), func(i int) uint64 { return uint64(len(ids[i])) })
		for _, id := range ids {
			h.Write([]byte(id))
		}
	}
	fb, err := fs.MarshalBinary()
	if err != nil {
		return "", fmt.Errorf("fingerprint features: %w", err)
	}
	h.Write(fb)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// resolvedThreads is the worker count a Threads option means.
func resolvedThreads(n int) int {
	if n <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return n
}

// checkpointSettings are the settings a resumed run must share.
type checkpointSettings struct {
	UserRep          userrep.Config   `json:"userrep"`
	LookAlike        lookalike.Config `json:"lookalike"`
	UserRepThreads   int              `json:"userrep_threads"`
	LookAlikeThreads int              `json:"lookalike_threads"`
	ValidFraction    float64          `json:"lookalike_valid_fraction"`
	ValidNegatives   int              `json:"lookalike_valid_negatives"`
}

func settingsJSON(cfg TrainConfig, opt TrainOptions) ([]byte, error) {
	return json.Marshal(checkpointSettings{UserRep: cfg.UserRep, LookAlike: cfg.LookAlike,
		UserRepThreads: resolvedThreads(opt.UserRep.Threads), LookAlikeThreads: resolvedThreads(opt.LookAlike.Threads),
		ValidFraction: opt.LookAlike.ValidFraction, ValidNegatives: opt.LookAlike.ValidNegatives})
}

// settingsDiff names the first setting that differs between two settings
// documents: "userrep.lr is 0.002, the checkpoint has 0.001".
func settingsDiff(now, ck []byte) string {
	flat := func(b []byte) map[string]string {
		var v any
		out := map[string]string{}
		if json.Unmarshal(b, &v) != nil {
			return out
		}
		var walk func(prefix string, v any)
		walk = func(prefix string, v any) {
			if m, ok := v.(map[string]any); ok {
				for k, x := range m {
					walk(strings.TrimPrefix(prefix+"."+k, "."), x)
				}
				return
			}
			b, _ := json.Marshal(v)
			out[prefix] = string(b)
		}
		walk("", v)
		return out
	}
	a, b := flat(now), flat(ck)
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if a[k] != b[k] {
			return fmt.Sprintf("%s is %s, the checkpoint has %s", k, orNone(a[k]), orNone(b[k]))
		}
	}
	return "the settings differ"
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// resumeFrom checks that c belongs to this run and returns its stages.
func resumeFrom(c *Checkpoint, inputs string, settings []byte) (*userrep.Checkpoint, *lookalike.Checkpoint, error) {
	if c.h.Inputs != inputs {
		return nil, nil, errors.New("resume: the checkpoint was written for other inputs (the clicks, users or items differ)")
	}
	if !bytes.Equal(c.h.Settings, settings) {
		return nil, nil, fmt.Errorf("resume: the checkpoint was written with other settings: %s", settingsDiff(settings, c.h.Settings))
	}
	if c.h.Stage != StageLookAlike {
		return c.user, nil, nil
	}
	if !c.user.Done() {
		return nil, nil, errors.New("resume: the checkpoint's user model is not finished")
	}
	return c.user, c.la, nil
}

// stageOptions returns the stages' options with opt's checkpointing wired
// in: Resume decoded and checked against the inputs and settings, and every
// stage checkpoint passed to opt.Checkpoint as a pipeline checkpoint.
func (opt TrainOptions) stageOptions(c *data.Clicks, fs *data.FeatureSet, cfg TrainConfig) (userrep.TrainOptions, lookalike.TrainOptions, error) {
	uo, lo := opt.UserRep, opt.LookAlike
	if opt.Checkpoint == nil && opt.Resume == nil {
		return uo, lo, nil
	}
	inputs, err := fingerprintInputs(c, fs)
	if err != nil {
		return uo, lo, err
	}
	settings, err := settingsJSON(cfg, opt)
	if err != nil {
		return uo, lo, fmt.Errorf("checkpoint settings: %w", err)
	}
	ck := &Checkpoint{h: checkpointHeader{Inputs: inputs, Settings: settings}}
	uo.Resume, lo.Resume = nil, nil
	if opt.Resume != nil {
		if uo.Resume, lo.Resume, err = resumeFrom(opt.Resume, inputs, settings); err != nil {
			return uo, lo, err
		}
		ck.user = opt.Resume.user
	}
	uo.Checkpoint, lo.Checkpoint = nil, nil
	if opt.Checkpoint != nil {
		uo.Checkpoint = func(c *userrep.Checkpoint) error {
			ck.h.Stage, ck.user, ck.la = StageUserRep, c, nil
			return opt.Checkpoint(ck)
		}
		lo.Checkpoint = func(c *lookalike.Checkpoint) error {
			ck.h.Stage, ck.la = StageLookAlike, c
			return opt.Checkpoint(ck)
		}
	}
	return uo, lo, nil
}
