package hotline

import (
	"bytes"
	"encoding/json"
	"reflect"

	segjson "github.com/segmentio/encoding/json"
)

// unmarshal is json.Unmarshal for the vendors' bodies, done by segmentio/encoding's decoder
// when it reads them the same: decoding a ten-minute call's body with encoding/json was half
// of the call's normalization, and segmentio's decoder takes about half as long.
//
// encoding/json stays the judge. A body the fast decoder refuses is decoded again by
// encoding/json, whose error (and what it decoded before it) is the answer, so errors say what
// they always said. Bodies the two could read differently go to encoding/json alone:
//   - nesting deeper than encoding/json allows (maxDepth): segmentio's decoder has no limit and
//     recurses, so a deep enough body would exhaust the stack rather than be refused;
//   - ſ (U+017F) or K (U+212A), as such or escaped: encoding/json matches a key to a field in
//     any case by Unicode folding, in which those two fold into s and k; segmentio folds ASCII
//     only.
//
// FuzzUnmarshalAsEncodingJSON checks the two against each other on every vendor's shape.
func unmarshal(b []byte, v any) error {
	if fastDecodable(b) {
		if segjson.Unmarshal(b, v) == nil {
			return nil
		}
		reflect.ValueOf(v).Elem().SetZero() // what the fast decoder left half done
	}
	return json.Unmarshal(b, v)
}

// fastDecodable reports whether segmentio's decoder reads b as encoding/json would (see
// unmarshal).
func fastDecodable(b []byte) bool {
	// Each level of nesting opens with a bracket: with no more brackets than the limit, no
	// value is nested deeper.
	if bytes.Count(b, []byte("{"))+bytes.Count(b, []byte("[")) > maxDepth {
		return false
	}
	if bytes.Contains(b, []byte("ſ")) || bytes.Contains(b, []byte("K")) {
		return false
	}
	for rest := b; ; {
		i := bytes.Index(rest, []byte(`\u`))
		if i < 0 {
			return true
		}
		rest = rest[i+2:]
		if len(rest) >= 4 && (bytes.EqualFold(rest[:4], []byte("017f")) || bytes.EqualFold(rest[:4], []byte("212a"))) {
			return false
		}
	}
}
