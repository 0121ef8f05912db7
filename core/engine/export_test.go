package engine

import (
	"fmt"
	"reflect"
)

// Queued is how many requests wait for the committer: a test that holds the committer can
// wait until a batch is complete before letting it commit.
func (e *Engine) Queued() int { return len(e.reqs) }

// CheckLives reports whether the routing state the committer kept current by hand (each
// engineer's routing.Live) equals the one computed afresh from the loads and records. Call it
// after Close: only the committer may touch that state while it runs.
func (e *Engine) CheckLives() error {
	if e.routing == nil {
		return nil
	}
	kept := e.routing.lives
	e.routing.rebuildLives()
	fresh := e.routing.lives
	e.routing.lives = kept
	if !reflect.DeepEqual(kept, fresh) {
		return fmt.Errorf("kept:  %+v\nfresh: %+v", kept, fresh)
	}
	return nil
}

// FireDue fires the timers due now, as the timer loop does at each tick: a test with a fake
// clock need not wait for the tick.
func (e *Engine) FireDue() { e.fireDue() }
