// Package buildinfo reports the version of the running ralm build from the
// information the Go toolchain embeds in every binary (runtime/debug): the
// module version, the VCS revision and the Go version. `ralm version` prints
// it and model manifests record it.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// ModulePath is the path of the ralm module.
const ModulePath = "github.com/ralmlab/ralm"

// Devel is the module version of a build from a source tree without VCS
// stamping (go run, go test).
const Devel = "(devel)"

// Info is what a build knows about itself.
type Info struct {
	// Version is the ralm module version: a release tag or pseudo-version
	// ("v0.0.0-20261201220000-abcdef123456", "+dirty" for uncommitted
	// changes) for go install and go build, Devel otherwise.
	Version string `json:"version"`
	// Revision is the VCS commit the binary was built from ("" if unknown).
	Revision string `json:"revision,omitempty"`
	// Time is the commit time, RFC 3339 ("" if unknown).
	Time string `json:"time,omitempty"`
	// Modified reports uncommitted changes in the build's source tree.
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"go_version"`
}

// Read returns the running build's information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: Devel, GoVersion: runtime.Version()}
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Version: Devel, GoVersion: bi.GoVersion}
	if in.GoVersion == "" {
		in.GoVersion = runtime.Version()
	}
	if bi.Main.Path == ModulePath {
		if bi.Main.Version != "" {
			in.Version = bi.Main.Version
		}
	} else {
		// ralm used as a library: its version is that of the dependency.
		for _, d := range bi.Deps {
			if d.Path == ModulePath {
				in.Version = d.Version
				if d.Replace != nil && d.Replace.Version != "" {
					in.Version = d.Replace.Version
				}
			}
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one-line form: "ralm v1.2.3 (revision abcdef123456, go1.26.8)",
// with ", modified" for a build with uncommitted changes.
func (in Info) String() string {
	s := "ralm " + in.Version + " ("
	if in.Revision != "" {
		rev := in.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += "revision " + rev
		if in.Modified {
			s += ", modified"
		}
		s += ", "
	}
	return s + in.GoVersion + ")"
}

// ModuleVersion is the version a model manifest records: Version, with the
// short revision appended to a Devel version when the VCS revision is known
// ("(devel) abcdef123456").
func (in Info) ModuleVersion() string {
	if in.Version == Devel && in.Revision != "" {
		rev := in.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v := fmt.Sprintf("%s %s", Devel, rev)
		if in.Modified {
			v += "+dirty"
		}
		return v
	}
	return in.Version
}
