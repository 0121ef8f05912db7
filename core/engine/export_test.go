package engine

// Queued is how many requests wait for the committer: a test that holds the committer can
// wait until a batch is complete before letting it commit.
func (e *Engine) Queued() int { return len(e.reqs) }
