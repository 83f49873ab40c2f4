package data

import (
	"context"
	"slices"
	"testing"
)

// TestCompactMatchesFileRoundTrip: Compact gives the vocabularies and
// indices that writing the clicks to a file and reading it back gives,
// dropping the ids no click uses, for int64 and string ids.
func TestCompactMatchesFileRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		user, item IDKind
	}{
		{"int64 ids", IDInt64, IDInt64},
		{"string ids", IDString, IDString},
		{"mixed", IDString, IDInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := testClicks(tc.user, tc.item, 300, false)
			full.Users.MustAdd("987654321") // ids no click uses
			full.Items.MustAdd("987654321")
			// keep every third click, in reverse: some ids go unused and
			// the first appearances change order
			c := &Clicks{Users: full.Users, Items: full.Items}
			for k := full.Len() - 1; k >= 0; k -= 3 {
				c.User = append(c.User, full.User[k])
				c.Item = append(c.Item, full.Item[k])
				c.TS = append(c.TS, full.TS[k])
			}
			got := c.Compact()
			path := tempPath(t, "c.parquet")
			if err := WriteClicks(context.Background(), path, c); err != nil {
				t.Fatal(err)
			}
			want, err := ReadClicks(context.Background(), path, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Users.IDs(), want.Users.IDs()) || !slices.Equal(got.Items.IDs(), want.Items.IDs()) {
				t.Fatalf("vocabularies %v / %v, read back %v / %v", got.Users.IDs(), got.Items.IDs(), want.Users.IDs(), want.Items.IDs())
			}
			if !slices.Equal(got.User, want.User) || !slices.Equal(got.Item, want.Item) || !slices.Equal(got.TS, want.TS) {
				t.Fatal("indices or times differ from the file read back")
			}
			if got.Users.Len() >= full.Users.Len() || got.Items.Len() >= full.Items.Len() {
				t.Fatalf("no id was dropped (%d users, %d items of %d, %d): the test does not exercise it",
					got.Users.Len(), got.Items.Len(), full.Users.Len(), full.Items.Len())
			}
			for _, id := range got.Users.IDs() {
				if i, ok := got.Users.Index(id); !ok || got.Users.ID(i) != id {
					t.Fatalf("user %s: not indexed", id)
				}
			}
		})
	}
}
