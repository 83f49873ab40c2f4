//go:build !unix

package kmeans

import "time"

// cpuTime is unavailable here: the cpu-ms/op metric reads 0.
func cpuTime() time.Duration { return 0 }
