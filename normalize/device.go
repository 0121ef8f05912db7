package normalize

import (
	"fmt"
	"regexp"
)

// DevicePattern is one serial-number pattern as written in config, in Go regexp syntax
// (for example `E\d{9}` or `SN[:：]?\s*([A-Z0-9]{8,16})`). When the pattern has a capture group,
// the first group is the device id and the rest of the match is only context.
type DevicePattern = string

// CompileDevicePatterns compiles serial-number patterns in order. An invalid pattern is an error
// that names the pattern and its position, so a config mistake can be found and fixed.
func CompileDevicePatterns(patterns []DevicePattern) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(patterns))
	for i, p := range patterns {
		re, err := CompileDevicePattern(p)
		if err != nil {
			return nil, fmt.Errorf("device pattern %d: %w", i, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// CompileDevicePattern compiles one serial-number pattern. A pattern that matches the empty
// text is refused: it would find a "serial" in every message.
func CompileDevicePattern(p DevicePattern) (*regexp.Regexp, error) {
	if p == "" {
		return nil, fmt.Errorf("empty pattern; remove it or write a regexp such as `E\\d{9}`")
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("%q is not a valid regexp: %w", p, err)
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("%q matches the empty text, so it would find a serial in every message", p)
	}
	return re, nil
}

// ExtractDeviceIDs finds device ids with the given patterns, in order of appearance. Value is the
// first capture group when the pattern has one (and it took part in the match), else the whole
// match; Match.Text is always the whole match. When patterns find overlapping text, the match
// starting first (then the longer) is kept.
//
// It must never invent an id: a match glued to further ASCII letters or digits is a fragment of a
// longer code and is skipped, and an empty capture is not an id.
func ExtractDeviceIDs(text string, patterns []*regexp.Regexp) []Match {
	var found []Match
	for _, re := range patterns {
		for _, loc := range re.FindAllStringSubmatchIndex(text, -1) {
			start, end := loc[0], loc[1]
			if start == end || !touchesNoAlnum(text, start, end) {
				continue
			}
			value := text[start:end]
			if len(loc) >= 4 && loc[2] >= 0 {
				value = text[loc[2]:loc[3]]
			}
			if value == "" {
				continue
			}
			found = append(found, newMatch(text, start, end, value))
		}
	}
	return dropOverlaps(found)
}

func touchesNoAlnum(text string, start, end int) bool {
	return (start == 0 || !isASCIIAlnum(text[start-1])) && (end == len(text) || !isASCIIAlnum(text[end]))
}
