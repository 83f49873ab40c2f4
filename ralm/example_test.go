package ralm_test

import (
	"fmt"

	"github.com/ralmlab/ralm/ralm"
)

// One seed value seeds every stage (user model, look-alike model,
// cold-start network); the same seed, data and settings give the same
// models.
func ExampleTrainConfig_SetSeed() {
	cfg := ralm.DefaultTrainConfig()
	cfg.SetSeed(-3)
	fmt.Println(cfg.UserRep.Seed, cfg.LookAlike.Seed, cfg.ColdStartConfig().Seed)
	// Output: -3 -3 -3
}
