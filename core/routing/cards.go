package routing

import (
	"slices"
	"time"
)

// Cards (红黄牌). A yellow card marks one thing that went wrong on an engineer's ticket: a low
// rating, a disputed confirmation, a repeat request, an SLA red tier. Enough yellows within a
// window, or ratings of 1 in a row, make a red card, which suspends the engineer's new
// assignments for a while. The rules are here; the engine keeps each engineer's CardRecord
// and the cards given, and hands in what happened with its time.

// CardKind is yellow or red.
type CardKind string

const (
	CardYellow CardKind = "yellow"
	CardRed    CardKind = "red"
)

// CardCause says what gave a card.
type CardCause string

const (
	// Yellow cards.
	CauseRating  CardCause = "rating"  // a rating at or below CardRules.LowRating
	CauseDispute CardCause = "dispute" // a confirmation with solved: false
	CauseRepeat  CardCause = "repeat"  // a repeat request within 7 days of the close
	CauseSLARed  CardCause = "sla_red" // the SLA red tier fired on the engineer's ticket
	// Red cards.
	CauseLowRatings CardCause = "low_ratings" // CardRules.RedAfterOnes ratings of 1 in a row
	CauseYellows    CardCause = "yellows"     // CardRules.RedAfterYellows within RedWithin
)

// The red card of old, still the default: RedCardRatings ratings of 1 in a row suspend an
// engineer for RedCardSuspension.
const (
	RedCardRatings    = 2
	RedCardSuspension = 24 * time.Hour
)

// CardRules say what gives cards. The zero value gives none.
type CardRules struct {
	// Rating, Dispute, Repeat and SLARed switch the yellow card of each cause on.
	Rating, Dispute, Repeat, SLARed bool
	// LowRating: a rating at or below it on either question (timeliness, professionalism) is
	// low; with Rating, a yellow card.
	LowRating int
	// SLATier names the SLA tier whose firing is a yellow card (with SLARed).
	SLATier string
	// YellowTTL is how long a yellow card counts toward a red one.
	YellowTTL time.Duration
	// RedAfterYellows yellow cards given within RedWithin of each other (none expired) make a
	// red card; 0: yellows never do.
	RedAfterYellows int
	RedWithin       time.Duration
	// RedAfterOnes ratings of 1 in a row (the lower of the two questions) make a red card;
	// 0: never.
	RedAfterOnes int
	// Suspend is how long a red card keeps new assignments away.
	Suspend time.Duration
}

// DefaultCardRules are the rules without a cards section: no yellow cards, and two ratings of
// 1 in a row suspend for 24 hours, as before cards were configurable.
var DefaultCardRules = CardRules{RedAfterOnes: RedCardRatings, Suspend: RedCardSuspension}

// YellowDefaults are the rules of a cards section that says nothing more: every yellow card
// on, a rating of 2 or less low, yellows counting 30 days, two of them within 30 days or two
// ratings of 1 in a row a red card, suspension 24 hours.
var YellowDefaults = CardRules{
	Rating: true, Dispute: true, Repeat: true, SLARed: true,
	LowRating: 2, SLATier: "red", YellowTTL: 30 * 24 * time.Hour,
	RedAfterYellows: 2, RedWithin: 30 * 24 * time.Hour, RedAfterOnes: RedCardRatings, Suspend: RedCardSuspension,
}

// CardSpan is a yellow card that may still count toward a red one: when it was given and
// when it expires.
type CardSpan struct {
	At        time.Time `json:"at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CardRecord is what of an engineer's past counts toward their next red card: the run of
// ratings of 1, and the yellow cards since the last red one. A red card starts both afresh.
type CardRecord struct {
	Ones    int
	Yellows []CardSpan
}

// Card is one card given.
type Card struct {
	Kind  CardKind
	Cause CardCause
	At    time.Time
	// ExpiresAt: a yellow card stops counting then; a red card's suspension ends then.
	ExpiresAt time.Time
}

// Verdict is what one event does to an engineer's cards.
type Verdict struct {
	// Record is the record after the event.
	Record CardRecord
	// Cards are the cards the event gives, a yellow before a red; none, one or both.
	Cards []Card
	// SuspendedUntil is set with a red card: no new assignments before it.
	SuspendedUntil time.Time
}

// Red returns the red card of v, if it gives one.
func (v Verdict) Red() (Card, bool) {
	for _, c := range v.Cards {
		if c.Kind == CardRed {
			return c, true
		}
	}
	return Card{}, false
}

// Rated judges a customer's rating (timeliness and professionalism, 1..5; disputed: solved
// was false) given at at. One rating gives at most one yellow card: a dispute's when it was
// disputed, else a low rating's. An automatic confirmation is not a rating: do not pass one.
func (r CardRules) Rated(rec CardRecord, timeliness, professionalism int, disputed bool, at time.Time) Verdict {
	low := min(timeliness, professionalism)
	if low == 1 {
		rec.Ones++
	} else {
		rec.Ones = 0
	}
	var yellow CardCause
	switch {
	case disputed && r.Dispute:
		yellow = CauseDispute
	case r.Rating && low <= r.LowRating:
		yellow = CauseRating
	}
	return r.judge(rec, yellow, at)
}

// Charged judges an event of cause (CauseRepeat or CauseSLARed) charged to the engineer at at.
func (r CardRules) Charged(rec CardRecord, cause CardCause, at time.Time) Verdict {
	on := false
	switch cause {
	case CauseRepeat:
		on = r.Repeat
	case CauseSLARed:
		on = r.SLARed
	}
	if !on {
		cause = ""
	}
	return r.judge(rec, cause, at)
}

// judge gives the yellow card of cause (none when empty) and the red card it, or the run of
// ones, completes.
func (r CardRules) judge(rec CardRecord, yellow CardCause, at time.Time) Verdict {
	// Only yellows not expired and within the window of this moment count.
	rec.Yellows = slices.DeleteFunc(slices.Clone(rec.Yellows), func(y CardSpan) bool {
		return !at.Before(y.ExpiresAt) || (r.RedWithin > 0 && at.Sub(y.At) >= r.RedWithin)
	})
	v := Verdict{}
	if yellow != "" {
		c := Card{Kind: CardYellow, Cause: yellow, At: at, ExpiresAt: at.Add(r.YellowTTL)}
		v.Cards = append(v.Cards, c)
		rec.Yellows = append(rec.Yellows, CardSpan{At: c.At, ExpiresAt: c.ExpiresAt})
	}
	var red CardCause
	switch {
	case r.RedAfterOnes > 0 && rec.Ones >= r.RedAfterOnes:
		red = CauseLowRatings
	case r.RedAfterYellows > 0 && len(rec.Yellows) >= r.RedAfterYellows:
		red = CauseYellows
	}
	if red != "" {
		v.SuspendedUntil = at.Add(r.Suspend)
		v.Cards = append(v.Cards, Card{Kind: CardRed, Cause: red, At: at, ExpiresAt: v.SuspendedUntil})
		rec = CardRecord{}
	}
	if len(rec.Yellows) == 0 {
		rec.Yellows = nil
	}
	v.Record = rec
	return v
}
