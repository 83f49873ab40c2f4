// Package enum parses the typed string constants of the model configs
// (merge, pooling, per-field layer, engine…) with one error wording, for
// Validate and for the CLI flags (the config types implement the flag
// Value interface through it), and names the small integer enums (id kind,
// column kind, item status…) for their String methods.
package enum

import (
	"fmt"
	"strings"
)

// Parse returns s as a T when it is one of valid, else an error naming the
// setting (what) and the accepted values.
func Parse[T ~string](what, s string, valid ...T) (T, error) {
	for _, v := range valid {
		if string(v) == s {
			return v, nil
		}
	}
	names := make([]string, len(valid))
	for i, v := range valid {
		names[i] = string(v)
	}
	return "", fmt.Errorf("%s %q: want one of %s", what, s, strings.Join(names, ", "))
}

// Values is the one list of the valid values of a typed string setting,
// with the setting's name, that its Parse function and its flag Set method
// both read.
type Values[T ~string] struct {
	What  string // the setting, in errors ("pooling")
	Valid []T
}

// Of returns the Values of the setting what.
func Of[T ~string](what string, valid ...T) Values[T] { return Values[T]{what, valid} }

// Parse is Parse over v.
func (v Values[T]) Parse(s string) (T, error) { return Parse(v.What, s, v.Valid...) }

// Set is Set over v.
func (v Values[T]) Set(dst *T, s string) error { return Set(dst, v.What, s, v.Valid...) }

// Name is the String of a small integer enum: names[v] when v has a name,
// else "typ(v)" (e.g. "IDKind(9)").
func Name[T ~uint8](typ string, v T, names []string) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, uint8(v))
}

// Set parses s into *dst (a flag's Set method); *dst is unchanged on error.
func Set[T ~string](dst *T, what, s string, valid ...T) error {
	v, err := Parse(what, s, valid...)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
