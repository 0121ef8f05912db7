package routing

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
