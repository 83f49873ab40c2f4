package enum

import "testing"

type mode string

const (
	modeA mode = "a"
	modeB mode = "b"
)

func TestParseSet(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    mode
		wantErr string
	}{
		{"a", modeA, ""},
		{"b", modeB, ""},
		{"c", "", `mode "c": want one of a, b`},
		{"", "", `mode "": want one of a, b`},
	} {
		got, err := Parse("mode", tc.in, modeA, modeB)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("Parse(%q) error %v, want %q", tc.in, err, tc.wantErr)
			}
		} else if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		m := modeB
		err = Set(&m, "mode", tc.in, modeA, modeB)
		if (err != nil) != (tc.wantErr != "") || (err == nil && m != tc.want) || (err != nil && m != modeB) {
			t.Errorf("Set(%q): %q, %v", tc.in, m, err)
		}
	}
}

type level uint8

const (
	levelLow level = iota + 1
	levelHigh
)

var levelNames = []string{levelLow: "low", levelHigh: "high"}

func TestName(t *testing.T) {
	for _, tc := range []struct {
		v    level
		want string
	}{
		{levelLow, "low"},
		{levelHigh, "high"},
		{0, "level(0)"}, // the gap before iota + 1
		{9, "level(9)"}, // past the table
	} {
		if got := Name("level", tc.v, levelNames); got != tc.want {
			t.Errorf("Name(%d) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestValues checks that Values parses and sets as Parse and Set do over
// the same list.
func TestValues(t *testing.T) {
	modes := Of("mode", modeA, modeB)
	for _, in := range []string{"a", "b", "c", ""} {
		got, err := modes.Parse(in)
		want, werr := Parse("mode", in, modeA, modeB)
		if got != want || (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Errorf("Values.Parse(%q) = %q, %v; Parse gives %q, %v", in, got, err, want, werr)
		}
		m := modeB
		err = modes.Set(&m, in)
		if (err == nil) != (werr == nil) || (err == nil && m != want) || (err != nil && m != modeB) {
			t.Errorf("Values.Set(%q): %q, %v", in, m, err)
		}
	}
}
