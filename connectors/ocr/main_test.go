package ocr

import (
	"os"
	"testing"
)

// TestMain runs the tests with one OpenMP thread per recognition, as gongdan runs (see
// OneOpenMPThread).
func TestMain(m *testing.M) {
	if err := OneOpenMPThread(); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
