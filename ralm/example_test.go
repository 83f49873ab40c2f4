package ralm_test

import (
	"fmt"

	"github.com/ralmlab/ralm/ralm"
)

// One seed value seeds both stages; the same seed, data and settings give
// the same models.
func ExampleTrainConfig_SetSeed() {
	cfg := ralm.DefaultTrainConfig()
	cfg.SetSeed(-3)
	fmt.Println(cfg.UserRep.Seed, cfg.LookAlike.Seed)
	// Output: -3 -3
}
