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

func TestReplaceDir(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	writeX := func(content string) func(string) error {
		return func(tmp string) error { return WriteBytes(ctx, filepath.Join(tmp, "x"), []byte(content)) }
	}
	tests := []struct {
		name    string
		ctx     context.Context
		old     bool // an old folder exists at the path
		build   func(string) error
		want    string // content of x afterwards ("" = no folder)
		wantErr bool
	}{
		{"creates missing", ctx, false, writeX("new"), "new", false},
		{"replaces old", ctx, true, writeX("new"), "new", false},
		{"error keeps old", ctx, true, func(tmp string) error { writeX("half")(tmp); return errors.New("boom") }, "old", true},
		{"panic keeps old", ctx, true, func(string) error { panic("boom") }, "old", true},
		{"cancel keeps old", cancelled, true, writeX("new"), "old", true},
		{"error creates nothing", ctx, false, func(string) error { return errors.New("boom") }, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model")
			if tt.old {
				if err := WriteDir(ctx, path, func(tmp string) error {
					if err := writeX("old")(tmp); err != nil {
						return err
					}
					return WriteBytes(ctx, filepath.Join(tmp, "only-old"), nil)
				}); err != nil {
					t.Fatal(err)
				}
			}
			err := ReplaceDir(tt.ctx, path, tt.build)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			b, rerr := os.ReadFile(filepath.Join(path, "x"))
			switch {
			case tt.want == "" && !os.IsNotExist(rerr):
				t.Fatalf("folder exists after a failed first write: %v", rerr)
			case tt.want != "" && string(b) != tt.want:
				t.Fatalf("x = %q (%v), want %q", b, rerr, tt.want)
			}
			if _, err := os.Stat(filepath.Join(path, "only-old")); tt.want == "new" && err == nil {
				t.Fatal("a file of the old folder survived the replacement")
			}
			if st, _ := Stale(path); len(st) != 0 {
				t.Fatalf("temporary folders left: %v", st)
			}
		})
	}
}

func TestReplaceDirRefusesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model")
	if err := os.WriteFile(path, []byte("a file"), FileMode); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceDir(context.Background(), path, func(string) error { return nil }); err == nil {
		t.Fatal("replaced a file with a folder")
	}
	if b, _ := os.ReadFile(path); string(b) != "a file" {
		t.Fatalf("file changed: %q", b)
	}
}

// TestSwapDir covers both swap strategies: the atomic exchange and the
// rename-aside fallback.
func TestSwapDir(t *testing.T) {
	noExchange := func(a, b string) (bool, error) { return false, nil }
	for _, tc := range []struct {
		name string
		exch func(a, b string) (bool, error)
	}{{"exchange", exchange}, {"rename aside", noExchange}} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			path := filepath.Join(parent, "model")
			for _, d := range []struct{ dir, content string }{{path, "old"}, {filepath.Join(parent, TempPrefix(path)+"123"), "new"}} {
				if err := os.Mkdir(d.dir, DirMode); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(d.dir, "x"), []byte(d.content), FileMode); err != nil {
					t.Fatal(err)
				}
			}
			if err := swapDir(filepath.Join(parent, TempPrefix(path)+"123"), path, tc.exch); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(path, "x")); string(b) != "new" {
				t.Fatalf("x = %q, want new", b)
			}
			if st, _ := Stale(path); len(st) != 0 {
				t.Fatalf("left behind: %v", st)
			}
		})
	}
}

// TestExchangeLeavesStale checks that, after the atomic exchange and before
// the old folder is removed (where a crash can stop a replacement), the old
// folder is listed by Stale and the new one is complete at path.
func TestExchangeLeavesStale(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "model")
	tmp := filepath.Join(parent, TempPrefix(path)+"123")
	for _, d := range []string{path, tmp} {
		if err := os.Mkdir(d, DirMode); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "x"), []byte(filepath.Base(d)), FileMode); err != nil {
			t.Fatal(err)
		}
	}
	ok, err := exchange(tmp, path)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("no atomic exchange on this system")
	}
	if b, _ := os.ReadFile(filepath.Join(path, "x")); string(b) != filepath.Base(tmp) {
		t.Fatalf("path holds %q, want the new folder", b)
	}
	st, err := Stale(path)
	if err != nil || len(st) != 1 || st[0] != tmp {
		t.Fatalf("Stale = %v, %v; want [%s]", st, err, tmp)
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

// TestTempOf checks which names are temporaries of which destination.
func TestTempOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		base string
		ok   bool
	}{
		{".model.tmp-123", "model", true},
		{".model.tmp-old-42", "model", true},
		{".a.tmp-1.tmp-7", "a.tmp-1", true},
		{".train.parquet.tmp-9", "train.parquet", true},
		{".model.tmp-x", "", false},
		{".model.tmp-", "", false},
		{".model.tmp-old-", "", false},
		{"model.tmp-123", "", false},
		{".tmp-123", "", false},
		{"model", "", false},
	} {
		base, ok := TempOf(tc.name)
		if base != tc.base || ok != tc.ok {
			t.Errorf("TempOf(%q) = %q, %v; want %q, %v", tc.name, base, ok, tc.base, tc.ok)
		}
	}
}
