package atomicfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
