package routing

import "time"

// An engineer's record: their open load, their first-time-fix rate and their cards. The rules
// are here; the engine keeps the counts (in the store, per engineer) and hands them in, with
// the time of the event that changes them.

// FTFRMinimum is how many fixed tickets an engineer needs before their first-time-fix rate
// counts; with fewer it is unknown, and scoring takes it as neutral.
const FTFRMinimum = 5

// FTFR is the first-time-fix rate of an engineer who fixed tickets (closed them, each once,
// force-closed ones apart), firstTime of them with no rework (no reopen, no disputed
// confirm), and for whom repeats repeat requests came back (a new ticket of the same customer
// or device and category within ticket.RepeatWindow, 7 days, of the close): a repeat undoes a
// first-time fix. known is false below FTFRMinimum fixes.
func FTFR(fixed, firstTime, repeats int) (rate float64, known bool) {
	if fixed < FTFRMinimum {
		return 0, false
	}
	return float64(max(0, firstTime-repeats)) / float64(fixed), true
}

// A red card: RedCardRatings low customer ratings in a row suspend an engineer for
// RedCardSuspension.
const (
	RedCardRatings    = 2
	RedCardSuspension = 24 * time.Hour
)

// Card is what one customer rating does to an engineer's run of low ratings.
type Card struct {
	// LowRatings is the run of low ratings in a row after the rating.
	LowRatings int
	// Red: the rating completed a run of RedCardRatings. The run starts again from 0, and the
	// engineer takes no new assignments before SuspendedUntil.
	Red            bool
	SuspendedUntil time.Time
}

// Rate applies a customer's rating (timeliness and professionalism, 1..5) given at at to an
// engineer whose run of low ratings is lowRatings. A rating is low when either score is 1; any
// other ends the run.
func Rate(lowRatings, timeliness, professionalism int, at time.Time) Card {
	if min(timeliness, professionalism) > 1 {
		return Card{}
	}
	if lowRatings++; lowRatings >= RedCardRatings {
		return Card{Red: true, SuspendedUntil: at.Add(RedCardSuspension)}
	}
	return Card{LowRatings: lowRatings}
}

// Holding is who holds a ticket, and whether it is open: an engineer's open load is the open
// tickets they hold.
type Holding struct {
	Engineer string
	Open     bool
}

// MoveLoad is what an event that took a ticket from before to after does to open loads:
// released's load goes down by one and taken's up by one; either is empty for no one. One
// engineer may be both (the event changed nothing of the load).
func MoveLoad(before, after Holding) (released, taken string) {
	if before.Engineer != "" && before.Open {
		released = before.Engineer
	}
	if after.Engineer != "" && after.Open {
		taken = after.Engineer
	}
	return released, taken
}
