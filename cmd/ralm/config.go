package main

// ralm train --config FILE and --print-config: every flag of a command in a
// YAML file, under the flag's own name.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v2"
)

// configSkip are the flags a config file does not hold.
var configSkip = []string{"config", "print-config", "help", "output"}

// addConfigFlags adds --config and --print-config to cmd.
func addConfigFlags(cmd *cobra.Command) {
	cmd.Flags().String("config", "", "read settings from this YAML file (keys: the flag names, e.g. epochs-user: 10); flags given on the command line override it")
	cmd.Flags().Bool("print-config", false, "print the settings (defaults, --config, flags) as a YAML config file and exit")
}

// applyConfig sets every flag named in the --config file that was not given
// on the command line. An unknown key, a key set twice or a bad value is an
// error naming the file and the key; so are flags that exclude each other
// (checkExclusive).
func applyConfig(cmd *cobra.Command) error {
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var settings yaml.MapSlice
	if err := yaml.Unmarshal(b, &settings); err != nil {
		return fmt.Errorf("--config %s: not a YAML mapping of flag names to values: %s", path, oneLine(err.Error()))
	}
	fl := cmd.Flags()
	inFile := map[string]bool{}
	seen := map[string]bool{}
	for _, kv := range settings {
		key := fmt.Sprint(kv.Key)
		f := fl.Lookup(key)
		if f == nil || slices.Contains(configSkip, key) || f.Hidden {
			return fmt.Errorf("--config %s: unknown setting %q (the keys are the flags of '%s', see --print-config)", path, key, cmd.CommandPath())
		}
		if seen[key] {
			return fmt.Errorf("--config %s: %s is set twice (keep one)", path, key)
		}
		seen[key] = true
		if f.Changed || kv.Value == nil {
			continue // the command line wins; an empty value keeps the default
		}
		v, err := configValue(kv.Value)
		if err != nil {
			return fmt.Errorf("--config %s: %s: %w", path, key, err)
		}
		if err := fl.Set(key, v); err != nil {
			return fmt.Errorf("--config %s: %s: %w", path, key, err)
		}
		inFile[key] = true
	}
	return checkExclusive(cmd, path, inFile)
}

// cobraExclusive is the flag annotation of cobra's MarkFlagsMutuallyExclusive
// (each value: a group's flag names, space-separated).
const cobraExclusive = "cobra_annotation_mutually_exclusive"

// checkExclusive applies the flag groups of cmd (mutually exclusive flags,
// and cobra's other groups) once the config file at path has set the flags
// in inFile: cobra checked them before, on the command line alone. The
// error names where each flag of a conflict was set.
func checkExclusive(cmd *cobra.Command, path string, inFile map[string]bool) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		for _, group := range f.Annotations[cobraExclusive] {
			var set []string
			for _, name := range strings.Fields(group) {
				g := cmd.Flags().Lookup(name)
				if g == nil || !g.Changed {
					continue
				}
				where := "on the command line"
				if inFile[name] {
					where = "in --config " + path
				}
				set = append(set, fmt.Sprintf("--%s (%s)", name, where))
			}
			if len(set) > 1 && err == nil {
				err = fmt.Errorf("%s cannot be used together: set only one of --%s", strings.Join(set, " and "), strings.Join(strings.Fields(group), ", --"))
			}
		}
	})
	if err != nil {
		return err
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return fmt.Errorf("with --config %s: %w", path, err)
	}
	return nil
}

// configValue turns a YAML value into a flag's text form; a list becomes a
// comma-separated value.
func configValue(v any) (string, error) {
	switch v := v.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			s, err := configValue(x)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case map[any]any, yaml.MapSlice:
		return "", errors.New("a mapping is not a flag value")
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	}
	return fmt.Sprint(v), nil
}

// writeConfig prints cmd's settings as a YAML config file: every flag but
// --config, --print-config and --output, with its usage as a comment, in
// the order of --help.
func writeConfig(cmd *cobra.Command, w io.Writer) error {
	fmt.Fprintf(w, "# %s settings: use with '%s --config FILE'; flags override the file.\n", cmd.CommandPath(), cmd.CommandPath())
	var err error
	cmd.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		if err != nil || slices.Contains(configSkip, f.Name) || f.Hidden {
			return
		}
		if f.Value.Type() == "int" && f.Value.String() == "0" && f.Name == "epochs" {
			// unset: the per-stage epochs apply
			_, err = fmt.Fprintf(w, "\n# %s\n# %s: 10\n", f.Usage, f.Name)
			return
		}
		var v string
		switch f.Value.Type() {
		case "string":
			v = strconv.Quote(f.Value.String())
		case "intSlice", "stringSlice", "int64Slice", "float64Slice":
			v = strings.ReplaceAll(f.Value.String(), ",", ", ")
		default:
			v = f.Value.String()
		}
		_, err = fmt.Fprintf(w, "\n# %s\n%s: %s\n", f.Usage, f.Name, v)
	})
	if err != nil {
		return fmt.Errorf("print config: %w", err)
	}
	return nil
}

// requireSettings fails, like cobra's required flags, when one of names has
// an empty value after the config file was applied.
func requireSettings(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if f := cmd.Flags().Lookup(n); f != nil && f.Value.String() == "" {
			missing = append(missing, strconv.Quote(n))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("required flag(s) %s not set (on the command line or in --config)", strings.Join(missing, ", "))
	}
	return nil
}
