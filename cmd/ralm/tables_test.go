package main

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ralmlab/ralm/data"
)

// TestTablesMustMatchClicks: a users or items table that shares no id with
// the click log (other ids, or the other id kind) is refused before
// training by every command that trains, naming the flag, the file and an
// id of each side.
func TestTablesMustMatchClicks(t *testing.T) {
	dir, strs := t.TempDir(), t.TempDir()
	mustRun(t, "synth", "-q", "--users", "200", "--items", "60", "--clicks-per-user", "10", "--communities", "3", "--out", dir)
	mustRun(t, "synth", "-q", "--users", "50", "--items", "20", "--communities", "3", "--string-ids", "--out", strs)
	// the users table with ids no click has
	users, err := data.ReadTable(t.Context(), filepath.Join(dir, usersFile), data.ColUserID, data.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keys := data.NewVocab(data.IDInt64)
	for i := range users.Keys.Len() {
		keys.MustAdd(strconv.Itoa(900000 + i))
	}
	users.Keys = keys
	other := filepath.Join(t.TempDir(), "other_users.parquet")
	if err := data.WriteTable(t.Context(), other, data.ColUserID, users); err != nil {
		t.Fatal(err)
	}
	clicks := filepath.Join(dir, clicksFile)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"train, other user ids", []string{"train", "--clicks", clicks, "--users", other}, "--users " + other + `: none of its 200 user ids is in the clicks ` + clicks + ` (e.g. "900000" in the table, "1" in the clicks)`},
		{"train, string item ids", []string{"train", "--clicks", clicks, "--items", filepath.Join(strs, itemsFile)}, `none of its 20 item ids is in the clicks`},
		{"train userrep", []string{"train", "userrep", "--clicks", clicks, "--users", filepath.Join(strs, usersFile)}, `(e.g. "u1" in the table, "1" in the clicks)`},
		{"eval", []string{"eval", "--clicks", clicks, "--users", other}, "--users " + other + ": none of its 200 user ids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "--out", filepath.Join(t.TempDir(), "m"))
			if tc.args[0] == "eval" {
				args = tc.args
			}
			expectFailure(t, append(args, "--epochs", "1"), tc.want)
		})
	}
	t.Run("embed", func(t *testing.T) {
		model := filepath.Join(t.TempDir(), "ur")
		mustRun(t, "train", "userrep", "-q", "--clicks", clicks, "--users", filepath.Join(dir, usersFile), "--epochs", "1", "--out", model)
		out := filepath.Join(t.TempDir(), "emb.parquet")
		expectFailure(t, []string{"embed", "--model", model, "--clicks", clicks, "--users", other, "--out", out},
			"--users "+other+": none of its 200 user ids is in the clicks "+clicks)
	})
}
