package report

import (
	"encoding/binary"
	"errors"
)

// Facts and ratings are kept packed: one blob per row in a compact binary form, because a
// store reads a year of a million tickets for one report, and a row of one column costs a
// fraction of a row of twenty (docs/BENCHMARKS.md). The form starts with a version byte.

const codecVersion = 1

// ErrCorrupt: a packed row cannot be read.
var ErrCorrupt = errors.New("report: corrupt packed facts")

const (
	flagForceClosed = 1 << iota
	flagResponseBreached
	flagResolutionBreached
	flagRepeats
)

// AppendFacts appends f, packed, to b: what a report reads. The strings of one ticket alone
// (TicketID, RepeatOf, RootCause) are not packed: a store keeps them beside (RepeatOf as a
// flag here), so that a report's scan reads less.
func AppendFacts(b []byte, f *Facts) []byte {
	b = append(b, codecVersion)
	for _, v := range []int64{f.CreatedAt, f.FirstAcceptAt, f.FirstClosedAt, f.ResolvedAt, f.FirstReopenAfterClose,
		f.RepeatedAt, f.EndedAt, int64(f.Reopens), int64(f.Disputes), int64(f.ClosedConfirm), int64(f.Confirm)} {
		b = binary.AppendVarint(b, v)
	}
	var flags byte
	if f.ForceClosed {
		flags |= flagForceClosed
	}
	if f.ResponseBreached {
		flags |= flagResponseBreached
	}
	if f.ResolutionBreached {
		flags |= flagResolutionBreached
	}
	if f.RepeatOf != "" {
		flags |= flagRepeats
	}
	b = append(b, flags)
	for _, s := range []string{f.Team, f.Engineer, f.Category, f.Connector, f.Policy} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// AppendRating appends r, packed, to b; its TicketID and Seq are not packed (a store keeps
// them as the row's key).
func AppendRating(b []byte, r *Rating) []byte {
	b = append(b, codecVersion)
	for _, v := range []int64{r.At, int64(r.Timeliness), int64(r.Professionalism)} {
		b = binary.AppendVarint(b, v)
	}
	solved := byte(0)
	if r.Solved {
		solved = 1
	}
	b = append(b, solved)
	for _, s := range []string{r.Team, r.Engineer, r.Category, r.Connector, r.Policy, r.RootCause} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// Decoder unpacks rows. It interns the dimensions (few distinct values, read a million
// times), so a scan allocates per value, not per row. It is not safe for concurrent use.
type Decoder struct {
	strings map[string]string
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return &Decoder{strings: map[string]string{}} }

type reader struct {
	b   []byte
	err bool
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	l, n := binary.Uvarint(r.b)
	if n <= 0 || uint64(len(r.b)-n) < l {
		r.err = true
		return nil
	}
	s := r.b[n : n+int(l)]
	r.b = r.b[n+int(l):]
	return s
}

func (d *Decoder) intern(b []byte) string {
	if s, ok := d.strings[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := string(b)
	d.strings[s] = s
	return s
}

// Facts unpacks b into f. TicketID and RootCause are left empty, and RepeatOf is
// RepeatOfSome when the ticket repeats another: the caller sets them from what the store
// keeps beside the packed row, when it needs them.
func (d *Decoder) Facts(b []byte, f *Facts) error {
	if len(b) == 0 || b[0] != codecVersion {
		return ErrCorrupt
	}
	r := reader{b: b[1:]}
	f.CreatedAt, f.FirstAcceptAt, f.FirstClosedAt, f.ResolvedAt = r.varint(), r.varint(), r.varint(), r.varint()
	f.FirstReopenAfterClose, f.RepeatedAt, f.EndedAt = r.varint(), r.varint(), r.varint()
	f.Reopens, f.Disputes = int(r.varint()), int(r.varint())
	f.ClosedConfirm, f.Confirm = Confirmation(r.varint()), Confirmation(r.varint())
	if len(r.b) == 0 {
		return ErrCorrupt
	}
	flags := r.b[0]
	r.b = r.b[1:]
	f.ForceClosed = flags&flagForceClosed != 0
	f.ResponseBreached = flags&flagResponseBreached != 0
	f.ResolutionBreached = flags&flagResolutionBreached != 0
	f.Team, f.Engineer, f.Category = d.intern(r.bytes()), d.intern(r.bytes()), d.intern(r.bytes())
	f.Connector, f.Policy = d.intern(r.bytes()), d.intern(r.bytes())
	if r.err {
		return ErrCorrupt
	}
	f.TicketID, f.RootCause, f.RepeatOf = "", "", ""
	if flags&flagRepeats != 0 {
		f.RepeatOf = RepeatOfSome
	}
	return nil
}

// RepeatOfSome stands for the ticket a ticket repeats when Decoder.Facts does not read it.
const RepeatOfSome = "?"

// Rating unpacks b into r; TicketID and Seq are left as they were.
func (d *Decoder) Rating(b []byte, r *Rating) error {
	if len(b) == 0 || b[0] != codecVersion {
		return ErrCorrupt
	}
	rd := reader{b: b[1:]}
	r.At = rd.varint()
	r.Timeliness, r.Professionalism = int(rd.varint()), int(rd.varint())
	if len(rd.b) == 0 {
		return ErrCorrupt
	}
	r.Solved = rd.b[0] == 1
	rd.b = rd.b[1:]
	r.Team, r.Engineer, r.Category = d.intern(rd.bytes()), d.intern(rd.bytes()), d.intern(rd.bytes())
	r.Connector, r.Policy, r.RootCause = d.intern(rd.bytes()), d.intern(rd.bytes()), d.intern(rd.bytes())
	if rd.err {
		return ErrCorrupt
	}
	return nil
}
