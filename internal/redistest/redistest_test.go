package redistest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStandaloneSurvivesKill: a write acknowledged by a server with
// appendfsync always is there after SIGKILL and restart.
func TestStandaloneSurvivesKill(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	c := s.Client()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := c.Get(ctx, "k").Err(); err == nil {
		t.Fatal("GET on a killed server succeeded")
	}
	s.Restart()
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("after restart GET k = %q, %v; want v", got, err)
	}
}

// TestCluster: keys spread over the slots of all nodes are readable, and
// survive the SIGKILL and restart of one node.
func TestCluster(t *testing.T) {
	cl := StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := cl.Client()
	const n = 60
	for i := range n {
		if err := c.Set(ctx, fmt.Sprintf("key%d", i), i, 0).Err(); err != nil {
			t.Fatalf("set key%d: %v", i, err)
		}
	}
	perNode := make([]int64, len(cl.Nodes))
	for i, s := range cl.Nodes {
		var err error
		if perNode[i], err = s.Client().DBSize(ctx).Result(); err != nil {
			t.Fatal(err)
		}
		if perNode[i] == 0 {
			t.Errorf("node %d holds no key of %d: slots not spread", i, n)
		}
	}
	cl.Nodes[1].Kill()
	cl.Nodes[1].Restart()
	if err := cl.WaitOK(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		got, err := c.Get(ctx, fmt.Sprintf("key%d", i)).Int()
		if err != nil || got != i {
			t.Fatalf("after node restart key%d = %d, %v", i, got, err)
		}
	}
}

// recordTB records Skip and Fatal instead of stopping the test.
type recordTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordTB) Helper()           {}
func (r *recordTB) Skip(args ...any)  { r.skipped = fmt.Sprint(args...) }
func (r *recordTB) Fatal(args ...any) { r.failed = fmt.Sprint(args...) }

// TestBinaryMissing: without redis-server on PATH a test is skipped with a
// message naming the Debian package, and fails when CI=true.
func TestBinaryMissing(t *testing.T) {
	for _, tc := range []struct {
		ci       string
		wantFail bool
	}{{"", false}, {"false", false}, {"true", true}} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			t.Setenv("CI", tc.ci)
			r := &recordTB{TB: t}
			if p := Binary(r); p != "" {
				t.Fatalf("Binary found %q on an empty PATH", p)
			}
			msg := r.skipped
			if tc.wantFail {
				msg = r.failed
			}
			if (r.failed != "") != tc.wantFail || !strings.Contains(msg, "Debian package "+Package) {
				t.Fatalf("skipped %q, failed %q; want a %s naming the package", r.skipped, r.failed, map[bool]string{true: "failure", false: "skip"}[tc.wantFail])
			}
		})
	}
}
