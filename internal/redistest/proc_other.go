//go:build !linux

package redistest

import "os/exec"

// setDeathSignal does nothing outside Linux: servers are killed by the
// test's cleanup only.
func setDeathSignal(*exec.Cmd) {}
