package split_test

import (
	"fmt"

	"github.com/ralmlab/ralm/data"
	"github.com/ralmlab/ralm/data/split"
)

func ExampleSplit() {
	c := &data.Clicks{Users: data.NewVocab(data.IDInt64), Items: data.NewVocab(data.IDInt64)}
	add := func(user, item string, ts int64) {
		c.User = append(c.User, c.Users.MustAdd(user))
		c.Item = append(c.Item, c.Items.MustAdd(item))
		c.TS = append(c.TS, ts)
	}
	// User 1 has 6 clicks: the last (6+4) div 5 = 2 are held out.
	for i, item := range []string{"10", "11", "12", "13", "14", "15"} {
		add("1", item, int64(i))
	}
	// User 2 has 3 clicks (one repeated): too few to hold any out.
	add("2", "10", 5)
	add("2", "10", 2)
	add("2", "11", 7)

	r, err := split.Split(c, split.DefaultOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("train:", r.Train.Len(), "heldout:", r.Heldout.Len(), "duplicates:", r.Duplicates)
	for i := range r.Heldout.Len() {
		fmt.Println("held out: user", c.Users.ID(r.Heldout.User[i]), "item", c.Items.ID(r.Heldout.Item[i]))
	}
	// Output:
	// train: 6 heldout: 2 duplicates: 1
	// held out: user 1 item 14
	// held out: user 1 item 15
}
