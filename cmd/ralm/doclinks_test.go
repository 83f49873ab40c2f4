package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestDocLinksExist: every repository file a command's help points to
// (docs/EVAL_PROTOCOL.md from ralm eval --help, examples/...) and every
// relative link of the README's is in the repository.
func TestDocLinksExist(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	exists := func(where, p string) {
		t.Helper()
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil {
			t.Errorf("%s points to %s, which is not in the repository", where, p)
		}
	}
	repoPath := regexp.MustCompile(`\b(?:docs|examples)/[A-Za-z0-9_./-]*[A-Za-z0-9_]`)
	helps := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		text := c.Long + "\n" + c.Example
		c.Flags().VisitAll(func(f *pflag.Flag) { text += "\n" + f.Usage })
		for _, p := range repoPath.FindAllString(text, -1) {
			if strings.HasPrefix(p, "examples/") && strings.Count(p, "/") == 1 && !strings.Contains(p, ".") {
				p += "/" // an example's folder
			}
			exists("'"+c.CommandPath()+" --help'", p)
			helps++
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
	if helps == 0 {
		t.Fatal("no command's help points to a repository file (ralm eval --help names docs/EVAL_PROTOCOL.md)")
	}

	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`\]\(([^)\s]+)\)`).FindAllStringSubmatch(string(readme), -1)
	local := 0
	for _, m := range links {
		link := m[1]
		if strings.Contains(link, "://") || strings.HasPrefix(link, "#") || strings.HasPrefix(link, "mailto:") {
			continue
		}
		link, _, _ = strings.Cut(link, "#")
		exists("README.md", link)
		local++
	}
	if local == 0 {
		t.Fatal("README.md has no relative link (it links docs/EVAL_PROTOCOL.md)")
	}
}
