package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-01T22:00:00Z"}, {Key: "vcs.modified", Value: "true"}}
	for _, tc := range []struct {
		name       string
		bi         debug.BuildInfo
		version    string
		module     string
		wantInLine []string
	}{
		{"go install", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: ModulePath, Version: "v1.2.3"}},
			"v1.2.3", "v1.2.3", []string{"ralm v1.2.3 (go1.26.8)"}},
		{"go build in a checkout", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: ModulePath, Version: "v0.0.0-20261201220000-0123456789ab+dirty"}, Settings: vcs},
			"v0.0.0-20261201220000-0123456789ab+dirty", "v0.0.0-20261201220000-0123456789ab+dirty", []string{"revision 0123456789ab, modified", "go1.26.8"}},
		{"devel with vcs", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: ModulePath, Version: Devel}, Settings: vcs},
			Devel, "(devel) 0123456789ab+dirty", []string{"ralm (devel) (revision 0123456789ab"}},
		{"go test", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: ModulePath}},
			Devel, Devel, []string{"ralm (devel) (go1.26.8)"}},
		{"library", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "example.com/app", Version: "v9.0.0"},
			Deps: []*debug.Module{{Path: ModulePath, Version: "v0.4.0"}}}, "v0.4.0", "v0.4.0", []string{"ralm v0.4.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fromBuildInfo(&tc.bi)
			if in.Version != tc.version || in.ModuleVersion() != tc.module || in.GoVersion != "go1.26.8" {
				t.Fatalf("got version %q, module version %q, go %q; want %q, %q", in.Version, in.ModuleVersion(), in.GoVersion, tc.version, tc.module)
			}
			for _, w := range tc.wantInLine {
				if !strings.Contains(in.String(), w) {
					t.Errorf("String() = %q, want it to contain %q", in.String(), w)
				}
			}
		})
	}
}

func TestReadHasGoVersion(t *testing.T) {
	if in := Read(); !strings.HasPrefix(in.GoVersion, "go") || in.Version == "" {
		t.Fatalf("Read() = %+v", in)
	}
}
