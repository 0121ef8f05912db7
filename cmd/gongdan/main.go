// Command gongdan is the one binary: the server and the tools ops teams run beside it.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	_ "gongdan/connectors/all" // every connector type registers itself
	"gongdan/connectors/ocr"
)

// stdin is where normalize reads its payload; tests replace it.
var stdin io.Reader = os.Stdin

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// exitError carries an exit code: 1 for a user error (bad config, bad input), 2 for usage.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageError(format string, args ...any) error {
	return &exitError{2, fmt.Errorf(format, args...)}
}

func userError(err error) error { return &exitError{1, err} }

const usage = `gongdan — ticket intake gateway and ticketing core

Usage:
  gongdan serve    [--config FILE] [--data DIR] [--http ADDR]   run the server
  gongdan validate [--config FILE]                              check a config file
  gongdan normalize [--config FILE] --connector NAME < PAYLOAD    print the drafts a payload makes
  gongdan test     [--config FILE] [DIR]                        run intake test cases (default configs/tests)
  gongdan deadletters list|show|replay                          inspect and replay dead letters
  gongdan connectors docs [--check] [DIR]                       write the connector reference docs
  gongdan report routing [--since 30d] [--format table|json|csv] routing failures and load balance
  gongdan report devices [--top 20] [--format table|json] [--rebuild]  chronic and soonest-to-fail devices
  gongdan knowledge test "<text>" [--config FILE] [--model M] [--firmware V] [--category C]
                                                                the knowledge articles a ticket with this text gets, and why
  gongdan calendar due --calendar NAME --start RFC3339 --duration 90m   the due time on a calendar
  gongdan calendar elapsed --calendar NAME --from RFC3339 --to RFC3339   working time between two times
  gongdan ocr      [--config FILE] [--connector NAME] IMAGE…    print the messages and drafts screenshots make
  gongdan bench intake [--requests N] [--clients N | --rate R]  measure webhook intake on this machine
  gongdan bench mqtt [--broker URL] [--devices N] [--rate R] [--gongdan URL --token T | --baseline]
                                                                load a broker with telemetry; measure a gongdan or the broker alone
  gongdan version                                               print the version

Without --config, the embedded quickstart config is used.
`

func main() {
	if err := ocr.OneOpenMPThread(); err != nil {
		fmt.Fprintln(os.Stderr, "gongdan: cannot limit Tesseract to one thread per screenshot (set OMP_THREAD_LIMIT=1):", err)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stderr)
	case "validate":
		err = validate(args[1:], stdout, stderr)
	case "normalize":
		err = normalizeCmd(args[1:], stdin, stdout, stderr)
	case "test":
		err = testCmd(args[1:], stdout, stderr)
	case "deadletters":
		err = deadlettersCmd(args[1:], stdout, stderr)
	case "connectors":
		err = connectorsCmd(args[1:], stdout, stderr)
	case "ocr":
		err = ocrCmd(args[1:], stdout, stderr)
	case "bench":
		switch {
		case len(args) > 1 && args[1] == "mqtt":
			err = benchMQTTCmd(args[2:], stdout, stderr)
		case len(args) > 1 && args[1] == "kpi-store":
			err = benchKPIStoreCmd(args[2:], stdout, stderr)
		default:
			err = benchCmd(args[1:], stdout, stderr)
		}
	case "report":
		err = reportCmd(args[1:], stdout, stderr)
	case "calendar":
		err = calendarCmd(args[1:], stdout, stderr)
	case "knowledge":
		err = knowledgeCmd(args[1:], stdin, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "gongdan", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageError("unknown command %q\n\n%s", args[0], usage)
	}
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}
