package knowledge

import (
	"errors"
	"fmt"
	"strings"
)

// maxVersionParts is how many dotted numbers a version may have: major.minor.patch.build.
// Missing ones are 0, so 2.3 is 2.3.0.0.
const maxVersionParts = 4

// maxPartDigits bounds each number, so that it fits a uint32 and a typo of many digits is
// reported rather than wrapped.
const maxPartDigits = 9

// Version is a dotted numeric firmware version: 2.3.1, v2.3.1, V5.06 (= 5.6). Numbers compare
// as numbers, part by part; missing parts are 0. Anything else (2.3.1-beta, 2.3.1 build 7) is
// not a Version: a firmware that cannot be compared is unknown, and an article for a firmware
// range is then not suggested.
type Version struct {
	parts [maxVersionParts]uint32
	text  string // as written, v prefix and all
}

// String is the version as it was written.
func (v Version) String() string { return v.text }

// Compare returns -1, 0 or +1 as v is older than, the same as or newer than w.
func (v Version) Compare(w Version) int {
	for i := range v.parts {
		switch {
		case v.parts[i] < w.parts[i]:
			return -1
		case v.parts[i] > w.parts[i]:
			return 1
		}
	}
	return 0
}

// ParseVersion reads a dotted numeric version with an optional v or V before it. Spaces around
// it are ignored.
func ParseVersion(s string) (Version, error) {
	text := strings.TrimSpace(s)
	v := Version{text: text}
	if text == "" {
		return v, errors.New("empty version; write one like 2.3.1 or v2.3.1")
	}
	digits := text
	if digits[0] == 'v' || digits[0] == 'V' {
		digits = digits[1:]
	}
	if digits == "" {
		return v, fmt.Errorf("%q has no number after the v; write one like v2.3.1", text)
	}
	n := 0
	for part := range strings.SplitSeq(digits, ".") {
		if n == maxVersionParts {
			return v, fmt.Errorf("%q has more than %d dotted numbers (major.minor.patch.build at most)", text, maxVersionParts)
		}
		if part == "" {
			return v, fmt.Errorf("%q has an empty number between dots; write one like 2.3.1", text)
		}
		if len(part) > maxPartDigits {
			return v, fmt.Errorf("%q has a number of more than %d digits", text, maxPartDigits)
		}
		var x uint32
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return v, fmt.Errorf("%q is not a dotted numeric version (like 2.3.1 or v2.3.1): %q is not a number", text, part)
			}
			x = x*10 + uint32(c-'0')
		}
		v.parts[n] = x
		n++
	}
	return v, nil
}

// op is a comparison of a range.
type op uint8

const (
	opEQ op = iota // 2.3.1 or =2.3.1
	opGT           // >
	opGE           // >=
	opLT           // <
	opLE           // <=
)

var opText = [...]string{opEQ: "", opGT: ">", opGE: ">=", opLT: "<", opLE: "<="}

// bound is one comparison: the version it compares with, and how.
type bound struct {
	op op
	v  Version
}

func (b bound) holds(v Version) bool {
	c := v.Compare(b.v)
	switch b.op {
	case opGT:
		return c > 0
	case opGE:
		return c >= 0
	case opLT:
		return c < 0
	case opLE:
		return c <= 0
	}
	return c == 0
}

// Range is a set of firmware versions, as an article's front matter writes it:
//
//	2.3.1                  exactly 2.3.1 (=2.3.1 too; 2.3 is 2.3.0)
//	>=2.3.0 <2.3.2         every comparison holds (spaces or commas between them)
//	<2.0 || >=3.1.4        either side holds
//
// Comparisons are =, >, >=, < and <=, each before a Version. A range that no version can
// satisfy (>=2.3.2 <2.3.0) is an error, as are the operators of other range languages (~, ^,
// =>, 2.3.x), which would mean something else to the author than to gongdan.
type Range struct {
	alternatives [][]bound
}

// maxRangeBounds bounds the comparisons of a range, so that front matter cannot make matching
// slow.
const maxRangeBounds = 16

// ParseRange reads a firmware range (see Range).
func ParseRange(s string) (Range, error) {
	text := strings.TrimSpace(s)
	if text == "" {
		return Range{}, errors.New("empty range; write a version like 2.3.1 or comparisons like >=2.3.0 <2.3.2")
	}
	var r Range
	total := 0
	for alt := range strings.SplitSeq(text, "||") {
		bounds, err := parseAlternative(alt)
		if err != nil {
			return Range{}, err
		}
		if total += len(bounds); total > maxRangeBounds {
			return Range{}, fmt.Errorf("more than %d comparisons; an article's firmware range is short", maxRangeBounds)
		}
		if !satisfiable(bounds) {
			return Range{}, fmt.Errorf("%q matches no version: its lower end is above its upper end", strings.TrimSpace(alt))
		}
		r.alternatives = append(r.alternatives, bounds)
	}
	return r, nil
}

// parseAlternative reads comparisons separated by spaces or commas, all of which must hold.
func parseAlternative(alt string) ([]bound, error) {
	fields := strings.FieldsFunc(alt, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
	if len(fields) == 0 {
		return nil, errors.New("an empty side of ||; write comparisons on both sides, like <2.0 || >=3.1.4")
	}
	var out []bound
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		o, rest := cutOp(f)
		if rest == "" && o != opEQ || f == "=" || f == "==" {
			// ">= 2.3.0": the operator and its version apart.
			if i+1 == len(fields) {
				return nil, fmt.Errorf("%q has no version after it", f)
			}
			i++
			f += fields[i]
			o, rest = cutOp(f)
		}
		if err := foreign(f, rest); err != nil {
			return nil, err
		}
		if strings.ContainsAny(rest, "<>=") {
			return nil, fmt.Errorf("%q: write the comparisons apart, like >=2.3.0 <2.3.2", f)
		}
		v, err := ParseVersion(rest)
		if err != nil {
			return nil, err
		}
		out = append(out, bound{op: o, v: v})
	}
	return out, nil
}

// cutOp splits a comparison into its operator and its version.
func cutOp(f string) (op, string) {
	for _, p := range []struct {
		text string
		op   op
	}{{">=", opGE}, {"<=", opLE}, {"==", opEQ}, {">", opGT}, {"<", opLT}, {"=", opEQ}} {
		if rest, ok := strings.CutPrefix(f, p.text); ok {
			return p.op, rest
		}
	}
	return opEQ, f
}

// foreign refuses what other range languages write, with what to write instead.
func foreign(f, version string) error {
	switch {
	case strings.HasPrefix(version, "~") || strings.HasPrefix(version, "^"):
		return fmt.Errorf("%q: ~ and ^ ranges are not supported; write the ends, like >=2.3.0 <2.4.0", f)
	case strings.HasPrefix(f, "=>") || strings.HasPrefix(f, "=<"):
		return fmt.Errorf("%q: write >= or <=", f)
	case version == "*" || strings.HasSuffix(version, ".x") || strings.HasSuffix(version, ".X") || strings.HasSuffix(version, ".*"):
		return fmt.Errorf("%q: wildcards are not supported; write the ends, like >=2.3.0 <2.4.0 (or leave firmware out for every version)", f)
	case strings.Contains(version, "-") && !strings.HasPrefix(version, "-"):
		return fmt.Errorf("%q: write a range as comparisons, like >=2.3.0 <=2.3.5 (pre-release and build suffixes are not versions here)", f)
	}
	return nil
}

// satisfiable reports whether some version satisfies every bound: the highest lower end is
// below the lowest upper end, or equal to it with both inclusive.
func satisfiable(bounds []bound) bool {
	var lo, hi *bound
	zero := bound{op: opGE}
	lo = &zero
	for i := range bounds {
		b := &bounds[i]
		if b.op == opEQ || b.op == opGT || b.op == opGE {
			lower := *b
			if lower.op == opEQ {
				lower.op = opGE
			}
			if c := lower.v.Compare(lo.v); c > 0 || c == 0 && lower.op == opGT {
				lo = &lower
			}
		}
		if b.op == opEQ || b.op == opLT || b.op == opLE {
			upper := *b
			if upper.op == opEQ {
				upper.op = opLE
			}
			if hi == nil {
				hi = &upper
			} else if c := upper.v.Compare(hi.v); c < 0 || c == 0 && upper.op == opLT {
				hi = &upper
			}
		}
	}
	if hi == nil {
		return true
	}
	c := lo.v.Compare(hi.v)
	return c < 0 || c == 0 && lo.op == opGE && hi.op == opLE
}

// Contains reports whether v is in the range.
func (r Range) Contains(v Version) bool {
	for _, alt := range r.alternatives {
		ok := true
		for _, b := range alt {
			if !b.holds(v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// IsZero reports whether r is the zero Range, which no article has: an article without a
// firmware range has a nil *Range.
func (r Range) IsZero() bool { return r.alternatives == nil }

// String writes the range the way it reads best in a suggestion's why: ">=2.3.0 <2.3.2",
// "2.3.1", "<2.0 || >=3.1.4".
func (r Range) String() string {
	var b strings.Builder
	for i, alt := range r.alternatives {
		if i > 0 {
			b.WriteString(" || ")
		}
		for j, bd := range alt {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(opText[bd.op])
			b.WriteString(bd.v.text)
		}
	}
	return b.String()
}
