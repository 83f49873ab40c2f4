package atomicfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		write   func(f *os.File) error
		want    string
		wantErr bool
	}{
		{"error keeps old", context.Background(), func(f *os.File) error { f.WriteString("half"); return errors.New("boom") }, "old", true},
		{"panic keeps old", context.Background(), func(f *os.File) error { panic("boom") }, "old", true},
		{"cancel keeps old", cancelled, func(f *os.File) error { _, err := f.WriteString("new"); return err }, "old", true},
		{"success replaces", context.Background(), func(f *os.File) error { _, err := f.WriteString("new"); return err }, "new", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(tt.ctx, path, tt.write)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			b, _ := os.ReadFile(path)
			if string(b) != tt.want {
				t.Fatalf("content %q, want %q", b, tt.want)
			}
			if st, _ := Stale(path); len(st) != 0 {
				t.Fatalf("temporary files left: %v", st)
			}
		})
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != FileMode {
		t.Fatalf("mode %v, want %v", st.Mode().Perm(), FileMode)
	}
}

func TestWriteDir(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "model")
	err := WriteDir(context.Background(), path, func(tmp string) error {
		if err := WriteBytes(context.Background(), filepath.Join(tmp, "x"), []byte("1")); err != nil {
			return err
		}
		return errors.New("late failure")
	})
	if err == nil {
		t.Fatal("want error")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("folder created despite failure: %v", err)
	}
	if st, _ := Stale(path); len(st) != 0 {
		t.Fatalf("temporary folders left: %v", st)
	}
	if err := WriteDir(context.Background(), path, func(tmp string) error {
		return WriteBytes(context.Background(), filepath.Join(tmp, "x"), []byte("1"))
	}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != DirMode {
		t.Fatalf("stat %v, mode %v", err, st.Mode().Perm())
	}
	if err := WriteDir(context.Background(), path, func(string) error { return nil }); !errors.Is(err, ErrExists) {
		t.Fatalf("second write: %v, want ErrExists", err)
	}
}

// TestRemoveStale removes only the temporary entries of the destination
// itself: its prefix followed by the random digits of a temporary name.
func TestRemoveStale(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "m")
	for _, tc := range []struct {
		name  string
		dir   bool
		stale bool
	}{
		{".m.tmp-123456", true, true},
		{".m.tmp-987", false, true},
		{".m.tmp-12x", true, false},      // not a temporary name
		{".m.tmp-", false, false},        // no random part
		{".m.tmp-x.tmp-42", true, false}, // the temporary folder of "m.tmp-x"
		{".mm.tmp-42", true, false},      // of "mm"
		{"m", true, false},               // the destination itself
	} {
		p := filepath.Join(parent, tc.name)
		var err error
		if tc.dir {
			err = os.MkdirAll(filepath.Join(p, "sub"), DirMode)
		} else {
			err = os.WriteFile(p, []byte("x"), FileMode)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveStale(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(parent, ".m.tmp-123456"), filepath.Join(parent, ".m.tmp-987")}
	if !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 5 {
		t.Fatalf("%d entries left, want 5: %v", len(ents), ents)
	}
	if removed, err := RemoveStale(filepath.Join(parent, "missing", "m")); err != nil || removed != nil {
		t.Fatalf("missing parent: %v, %v", removed, err)
	}
}
