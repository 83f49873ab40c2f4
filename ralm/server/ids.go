package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ralmlab/ralm/data"
)

// parseID reads an id from JSON: for int64 ids a JSON integer or a string
// holding one (clients may quote large ids), for string ids a JSON string.
// It returns the canonical string form the engine uses.
func parseID(kind data.IDKind, field string, raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", fmt.Errorf("missing %s", field)
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%s: %v", field, err)
		}
		if s == "" {
			return "", fmt.Errorf("%s is empty", field)
		}
		if kind == data.IDInt64 {
			return canonicalInt(field, s)
		}
		return s, nil
	}
	if kind == data.IDString {
		return "", fmt.Errorf("%s must be a string (this model has string ids), got %s", field, raw)
	}
	if raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9') {
		return canonicalInt(field, string(raw))
	}
	return "", fmt.Errorf("%s must be an integer (this model has int64 ids), got %s", field, truncate(raw, 40))
}

// parsePathID validates an id taken from a URL path.
func parsePathID(kind data.IDKind, field, s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%s is empty", field)
	}
	if kind == data.IDInt64 {
		return canonicalInt(field, s)
	}
	return s, nil
}

// canonicalInt validates an int64 id with the one id validator,
// data.CanonicalID, with a message naming the field.
func canonicalInt(field, s string) (string, error) {
	c, err := data.CanonicalID(data.IDInt64, s)
	switch {
	case errors.Is(err, data.ErrIDRange):
		return "", fmt.Errorf("%s %s is out of the int64 range", field, s)
	case err != nil && len(s) > data.MaxIDBytes:
		return "", fmt.Errorf("%s is %d bytes long (max %d)", field, len(s), data.MaxIDBytes)
	case err != nil:
		return "", fmt.Errorf("%s must be an integer (this model has int64 ids), got %s", field, truncate([]byte(strconv.Quote(s)), 66))
	}
	return c, nil
}

// jsonID writes an id back in the model's JSON type: a number for int64
// ids, a string otherwise.
type jsonID struct {
	s   string
	num bool
}

func newJSONID(kind data.IDKind, s string) jsonID { return jsonID{s: s, num: kind == data.IDInt64} }

// MarshalJSON implements json.Marshaler.
func (j jsonID) MarshalJSON() ([]byte, error) {
	if j.num {
		return []byte(j.s), nil
	}
	return json.Marshal(j.s)
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
