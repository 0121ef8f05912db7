package wechat

// AllowMediaHosts lets tests fetch pictures from their own server; restore undoes it.
func AllowMediaHosts(allow func(host string) bool) (restore func()) {
	old := mediaHostAllowed
	mediaHostAllowed = allow
	return func() { mediaHostAllowed = old }
}

// Remembered is how many callbacks c remembers for replays.
func (c *Callback) Remembered() int { return c.taken.Len() }
