package main

// ralm version (and ralm --version).

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ralmlab/ralm/internal/buildinfo"
)

func newVersionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the ralm version, VCS revision and Go version",
		Long: `Print the version of this ralm binary from the build information the Go
toolchain embeds: the module version (a release tag, or a pseudo-version for
'go install ...@latest' and 'go build' in a git checkout; "(devel)" for
'go run'), the VCS revision it was built from and the Go version. Model
folders record the same in their manifest.json (module_version).`,
		Example: `  ralm version
  ralm --version
  ralm version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := buildinfo.Read()
			if asJSON(cmd) {
				return writeJSON(cmd, in)
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), in.String())
			return err
		},
	}
	addOutputFlag(cmd)
	return cmd
}
