// Package testkit is what gongdan's tests would otherwise each write for themselves: a clock
// that moves only when told to, the test binary run again as a child process (to kill it -9),
// and connector items read from YAML text or put into a config file. The engine on a SQLite store is in enginekit, so
// that a pipeline or connector test can use this package without linking the core.
//
// Only tests import it: no package of the binary may (internal/archtest checks). It builds on
// no gongdan package but yamlkit, so the tests of any package above yamlkit can use it.
package testkit
