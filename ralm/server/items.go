package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/ralmlab/ralm/ralm/bundle"
)

// itemRequest is the body of POST /v1/items: an item and its attributes,
// field name → a value or a list of values (strings, numbers or booleans,
// as the items table had them).
type itemRequest struct {
	ItemID     json.RawMessage            `json:"item_id"`
	Attributes map[string]json.RawMessage `json:"attributes"`
}

// maxAttrValues caps the values of one attribute field in a request.
const maxAttrValues = 1000

// handleItems registers (or replaces) an item's attributes so that the
// cold-start model scores it (status features) until it has enough seeds,
// even before its first click.
func (s *Server) handleItems(w http.ResponseWriter, r *http.Request) error {
	var req itemRequest
	if err := decodeStrict(r.Body, &req, true); err != nil {
		return err
	}
	_, itemKind := s.e.IDKinds()
	id, err := parseID(itemKind, "item_id", req.ItemID)
	if err != nil {
		return badRequest("%v", err)
	}
	if len(req.Attributes) == 0 {
		return badRequest("missing attributes")
	}
	values := make(map[string][]string, len(req.Attributes))
	names := make([]string, 0, len(req.Attributes))
	for name := range req.Attributes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		vs, err := attrValues(req.Attributes[name])
		if err != nil {
			return badRequest("attributes.%s: %v", clip(name), err)
		}
		values[name] = vs
	}
	unknown, err := s.e.SetItemAttributes(r.Context(), id, values)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"item_id": newJSONID(itemKind, id), "status": bundle.StatusFeatures, "unknown_values": unknown,
	})
	return nil
}

// attrValues reads one attribute: a scalar or a list of scalars, each a
// string, a number (kept as written) or a boolean ("true"/"false").
func attrValues(raw json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		list = []json.RawMessage{raw}
	}
	if len(list) > maxAttrValues {
		return nil, fmt.Errorf("%d values (max %d)", len(list), maxAttrValues)
	}
	out := make([]string, 0, len(list))
	for i, v := range list {
		var x any
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&x); err != nil {
			return nil, fmt.Errorf("value %d: %v", i, err)
		}
		switch x := x.(type) {
		case string:
			out = append(out, x)
		case json.Number:
			out = append(out, x.String())
		case bool:
			out = append(out, strconv.FormatBool(x))
		default:
			return nil, fmt.Errorf("value %d is not a string, number or boolean", i)
		}
	}
	return out, nil
}
