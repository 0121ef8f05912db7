package devices

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"gongdan/normalize"
)

// MaxIDLength is the longest device id accepted: ids come from topic levels and payload
// fields, and end up in URLs, dedup keys and thread keys.
const MaxIDLength = 128

// Problem is what is wrong with one field of a device.
type Problem struct {
	// Field is the key path of the field, the same in JSON and in YAML ("location.lat").
	Field string
	// Msg says what is wrong and what to write instead.
	Msg string
}

func (p Problem) Error() string { return p.Field + ": " + p.Msg }

// Check returns what is wrong with d, field by field, in field order; nil when nothing is.
// The config file and the API both take a device only when Check finds nothing.
func Check(d Device) []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case d.ID == "":
		add("id", "required: the device's id as its messages carry it (a topic level or a payload field), like E202308001")
	case strings.TrimSpace(d.ID) != d.ID:
		add("id", "%q has spaces around it; the id must be written exactly as the device sends it", d.ID)
	case !utf8.ValidString(d.ID) || strings.IndexFunc(d.ID, unicode.IsControl) >= 0:
		add("id", "%q holds control characters or invalid UTF-8", d.ID)
	case len(d.ID) > MaxIDLength:
		add("id", "longer than %d bytes", MaxIDLength)
	}
	if p := d.Customer.Phone; p != "" && !IsPhone(p) {
		add("customer.phone", "%q is not a phone number; write a mainland mobile (13812345678, +86 138 1234 5678) or a landline with its area code (0512-67891234, optionally 转123)", p)
	}
	lat, lon := d.Location.Lat, d.Location.Lon
	// Written as !(in range) so that NaN is out of range too.
	latOK, lonOK := lat >= -90 && lat <= 90, lon >= -180 && lon <= 180
	if !latOK {
		add("location.lat", "%v is not a latitude: it must be -90 to 90 (Suzhou is about 31.3)", lat)
	}
	if !lonOK {
		add("location.lon", "%v is not a longitude: it must be -180 to 180 (Suzhou is about 120.6)", lon)
	}
	// 0 is "not known" (DESIGN.md §3), so one coordinate without the other is half a position:
	// routing would measure distances from the Gulf of Guinea.
	if latOK && lonOK && (lat == 0) != (lon == 0) {
		missing := "location.lon"
		if lat == 0 {
			missing = "location.lat"
		}
		add(missing, "required with the other coordinate: give both lat and lon, or neither")
	}
	return ps
}

// extension is what may follow a landline: 转123, 分机 123, ext.123, -123.
var extension = regexp.MustCompile(`^\s*(?:转|分机|(?i:ext)\.?|-)\s*\d{1,6}$`)

// IsPhone reports whether s is one phone number, as the draft extractors read them
// (normalize.ExtractPhones): a mainland mobile or a landline with its area code, with at
// most an extension after it, and nothing else.
func IsPhone(s string) bool {
	s = strings.TrimSpace(s)
	found := normalize.ExtractPhones(s)
	if len(found) != 1 || found[0].Start != 0 {
		return false
	}
	rest := s[found[0].End:]
	return rest == "" || extension.MatchString(rest)
}
