// Package configs holds the config files shipped inside the gongdan binary.
package configs

import "embed"

// Quickstart is gongdan.yaml, the config gongdan runs with when given no --config: loopback
// only, a demo token for every role, SQLite and embedded NATS under the data directory.
//
//go:embed gongdan.yaml
var Quickstart []byte

// Calendars are the shipped holiday sets (calendars/<name>.yaml): days off and make-up
// workdays, each file naming its source.
//
//go:embed calendars/*.yaml
var Calendars embed.FS
