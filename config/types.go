package config

import "gongdan/internal/yamlkit"

// Secret is a config string that must not leak: API tokens, database DSNs, connector
// credentials. Printing, logging or marshalling it shows "[redacted]"; only Reveal gives the
// value, and it should be called only where the value is used.
type Secret = yamlkit.Secret

// Duration is a length of time written the Go way: "30s", "5m", "2h", "1h30m"; "0" is zero. A
// bare number is refused rather than guessed at (seconds? milliseconds?).
type Duration = yamlkit.Duration
