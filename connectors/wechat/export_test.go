package wechat

import "gongdan/connectors/intakeauth"

// AllowMediaHosts lets tests fetch pictures from their own server; restore undoes it.
func AllowMediaHosts(allow func(host string) bool) (restore func()) {
	old := mediaHostAllowed
	mediaHostAllowed = allow
	return func() { mediaHostAllowed = old }
}

// Remembered is how many callbacks c remembers for replays.
func (c *Callback) Remembered() int { return c.taken.Len() }

// LimitRemembered makes c remember at most n callbacks, so that a test can fill the memory.
func (c *Callback) LimitRemembered(n int) { c.taken = intakeauth.NewReplays(c.replayWindow(), n) }
