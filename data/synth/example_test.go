package synth_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/ralmlab/ralm/data/synth"
)

func ExampleGenerate() {
	cfg := synth.DefaultConfig()
	cfg.Users, cfg.Items, cfg.Communities = 1000, 200, 4
	ds, err := synth.Generate(context.Background(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("users:", ds.Users.Rows(), "items:", ds.Items.Rows(), "first user id:", ds.Clicks.Users.ID(0))
	var cols []string
	for _, col := range ds.Users.Columns {
		cols = append(cols, col.Name)
	}
	fmt.Println(strings.Join(cols, " "))

	// The planted truth: most clicks go to items of the user's community.
	same := 0
	for i := range ds.Clicks.Len() {
		if ds.UserCommunity[ds.Clicks.User[i]] == ds.ItemCommunity[ds.Clicks.Item[i]] {
			same++
		}
	}
	fmt.Println("most clicks follow the community:", float64(same)/float64(ds.Clicks.Len()) > 0.6)
	// Output:
	// users: 1000 items: 200 first user id: 1
	// age gender region interests
	// most clicks follow the community: true
}
