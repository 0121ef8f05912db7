package main

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A time flag is RFC 3339 or left out (the command's default); anything else is a usage
// error that shows the form.
func TestTimeFlag(t *testing.T) {
	def := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	got, err := timeFlag("now", "", "2026-11-23T09:42:00+08:00", def)
	require.NoError(t, err)
	assert.Equal(t, def, got, "left out: the default")

	got, err = timeFlag("now", "2026-11-23T09:42:00+08:00", "2026-11-23T09:42:00+08:00", def)
	require.NoError(t, err)
	assert.True(t, got.Equal(time.Date(2026, 11, 23, 1, 42, 0, 0, time.UTC)), "got %v", got)

	_, err = timeFlag("taken-at", "yesterday", "2026-01-07T10:30:00+08:00", def)
	require.EqualError(t, err, `--taken-at "yesterday": want RFC 3339, like 2026-01-07T10:30:00+08:00`)
	var exit *exitError
	require.True(t, errors.As(err, &exit))
	assert.Equal(t, 2, exit.code, "a usage error")
}
