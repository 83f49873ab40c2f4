package synth_test

import (
	"context"
	"fmt"

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
	fmt.Println("users:", ds.Users.Rows(), "items:", ds.Items.Rows())
	fmt.Println("first user:", ds.Clicks.Users.ID(0), "community:", ds.UserCommunity[0] >= 0)
	for _, col := range ds.Users.Columns {
		fmt.Print(col.Name, " ")
	}
	fmt.Println()
	// Output:
	// users: 1000 items: 200
	// first user: 1 community: true
	// age gender region interests
}
