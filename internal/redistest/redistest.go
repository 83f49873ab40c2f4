// Package redistest starts real redis-server processes for tests: a
// standalone server with an append-only file fsynced on every write
// (appendfsync always), and a Redis Cluster of masters. Every server runs on
// free loopback ports in its own temporary folder and is killed when the
// test ends; servers can be killed (SIGKILL), stopped and restarted on the
// same ports and folder, so a test can check what survives a crash.
//
// Without the redis-server binary (Debian package redis-server) a test is
// skipped with a message naming the package, except when CI=true, where it
// fails.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Package is the Debian package that provides the redis-server binary.
const Package = "redis-server"

// startTimeout bounds how long a server may take to answer PING after start
// (including loading its append-only file).
const startTimeout = 20 * time.Second

// Binary returns the path of redis-server. Without it the test is skipped
// (or fails when CI=true).
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err == nil {
		return p
	}
	msg := "redis-server not found on PATH: install the Debian package " + Package + " (apt-get install -y " + Package + ")"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Mode selects how a server is configured.
type Mode uint8

const (
	// Standalone is a single server with AOF and appendfsync always.
	Standalone Mode = iota
	// ClusterNode is a cluster-enabled server (also with AOF, fsync always).
	ClusterNode
)

// Server is one redis-server process.
type Server struct {
	t       testing.TB
	bin     string
	mode    Mode
	Dir     string // the server's working folder (AOF, nodes.conf, log)
	Port    int
	BusPort int // cluster bus port (ClusterNode only)

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a standalone server with appendonly yes and appendfsync always.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, Standalone)
}

func start(t testing.TB, mode Mode) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	var lastErr error
	for range 5 { // a free port may be taken by someone else before we bind it
		s := &Server{t: t, bin: bin, mode: mode, Dir: dir, Port: freePort(t)}
		if mode == ClusterNode {
			s.BusPort = freePort(t)
		}
		if lastErr = s.launch(); lastErr == nil {
			t.Cleanup(func() { s.Kill() })
			return s
		}
		os.RemoveAll(filepath.Join(dir, "appendonlydir"))
		os.Remove(filepath.Join(dir, "nodes.conf"))
	}
	t.Fatalf("start redis-server: %v", lastErr)
	return nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() }

func (s *Server) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "port %d\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\n", s.Port)
	fmt.Fprintf(&b, "dir %s\nlogfile %s\n", s.Dir, filepath.Join(s.Dir, "redis.log"))
	b.WriteString("appendonly yes\nappendfsync always\nsave \"\"\n")
	if s.mode == ClusterNode {
		fmt.Fprintf(&b, "cluster-enabled yes\ncluster-config-file nodes.conf\ncluster-port %d\ncluster-node-timeout 2000\n", s.BusPort)
		b.WriteString("cluster-require-full-coverage yes\n")
	}
	return b.String()
}

// launch writes the config, starts the process and waits for PING.
func (s *Server) launch() error {
	conf := filepath.Join(s.Dir, "redis.conf")
	if err := os.WriteFile(conf, []byte(s.config()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", conf, err)
	}
	cmd := exec.Command(s.bin, conf)
	cmd.Dir = s.Dir
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			return fmt.Errorf("redis-server on port %d exited at start: %s", s.Port, s.logTail())
		default:
		}
		if ping(s.Addr()) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("redis-server on port %d did not answer PING within %v: %s", s.Port, startTimeout, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logTail returns the last lines of the server's log, for error messages.
func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// Kill stops the server with SIGKILL (a crash) and waits for it to exit. It
// does nothing if the server is not running.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

// Stop stops the server with SIGTERM (a clean shutdown) and waits for it.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Restart starts the server again on the same ports and folder (it reloads
// its append-only file). The server must have been killed or stopped.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		s.t.Fatalf("redistest: restart of running server on port %d", s.Port)
	}
	if err := s.launch(); err != nil {
		s.t.Fatalf("restart redis-server: %v", err)
	}
}

// Client returns a client of this server, closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// ping sends PING over a raw connection and expects +PONG (a server still
// loading its AOF answers -LOADING).
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return errors.New(strings.TrimSpace(line))
	}
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Cluster is a Redis Cluster of master nodes (no replicas) covering all
// 16384 slots.
type Cluster struct {
	t     testing.TB
	Nodes []*Server
}

// StartCluster starts n cluster-enabled servers, splits the slots between
// them (CLUSTER ADDSLOTSRANGE), joins them (CLUSTER MEET) and waits until
// every node reports cluster_state:ok.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("redistest: cluster of %d nodes", n)
	}
	c := &Cluster{t: t}
	for range n {
		c.Nodes = append(c.Nodes, start(t, ClusterNode))
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	const slots = 16384
	for i, s := range c.Nodes {
		cl := s.Client()
		lo, hi := i*slots/n, (i+1)*slots/n-1
		if err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			t.Fatalf("cluster addslotsrange %d-%d on %s: %v", lo, hi, s.Addr(), err)
		}
		if i > 0 {
			first := c.Nodes[0].Client()
			if err := first.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", s.Port, s.BusPort).Err(); err != nil {
				t.Fatalf("cluster meet %s: %v", s.Addr(), err)
			}
		}
	}
	if err := c.WaitOK(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// Addrs are the nodes' host:port addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		out[i] = s.Addr()
	}
	return out
}

// WaitOK waits until every node reports cluster_state:ok and knows all
// the others.
func (c *Cluster) WaitOK(ctx context.Context) error {
	for {
		ok := true
		for _, s := range c.Nodes {
			if !nodeOK(ctx, s, len(c.Nodes)) {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis cluster %v did not reach cluster_state:ok: %w", c.Addrs(), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func nodeOK(ctx context.Context, s *Server, n int) bool {
	cl := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer cl.Close()
	info, err := cl.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)+"\r") {
		return false
	}
	return true
}

// Client returns a cluster client, closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	c.t.Cleanup(func() { cl.Close() })
	return cl
}
