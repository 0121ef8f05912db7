package testkit

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// roleVar names, in a child's environment, the part the test binary plays there.
const roleVar = "GONGDAN_TEST_CHILD_ROLE"

// Child reports whether this process is the test binary started again to play role by
// ChildTest or ChildCommand. A test (or TestMain) checks it first and, when it holds, does the
// child's part instead of its own.
func Child(role string) bool { return os.Getenv(roleVar) == role }

// ChildTest returns a command that runs t's test again, alone, in a new process of the test
// binary, where Child(role) holds; env ("NAME=value") is added to the inherited environment.
// The child's stderr goes to the test's output unless the caller sets it. The caller starts
// the command, and kills it with Kill to see what a crash leaves behind. In the child of a
// subtest the tests around it run too, up to its t.Run: they check Child before anything else.
func ChildTest(t testing.TB, role string, env ...string) *exec.Cmd {
	t.Helper()
	// -test.run takes one pattern per level of subtest, split at '/'.
	levels := strings.Split(t.Name(), "/")
	for i, name := range levels {
		levels[i] = "^" + regexp.QuoteMeta(name) + "$"
	}
	cmd := ChildCommand(role, "-test.run="+strings.Join(levels, "/"))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = t.Output()
	return cmd
}

// ChildCommand returns a command that runs the test binary with args in a new process where
// Child(role) holds. It is for a TestMain that gives such a process a part other than a test:
// cmd/gongdan's runs gongdan itself with args as its command line.
func ChildCommand(role string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), roleVar+"="+role)
	return cmd
}

// Kill kills a started child with SIGKILL, as a crash or kill -9 would (no shutdown code of
// its runs), and waits for it to exit. A child already waited for is left alone. It returns
// the error of the kill, not of the wait: a killed child never exits cleanly.
func Kill(cmd *exec.Cmd) error {
	if cmd.Process == nil || cmd.ProcessState != nil {
		return nil
	}
	err := cmd.Process.Kill()
	_ = cmd.Wait()
	return err
}
