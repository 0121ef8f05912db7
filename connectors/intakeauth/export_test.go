package intakeauth

// SetMaxSources bounds the sources b keeps, so a test can fill the table with a few.
func (b *Budget) SetMaxSources(n int) { b.maxSources = n }

// Tracked is how many sources b keeps buckets for.
func (b *Budget) Tracked() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sources)
}
