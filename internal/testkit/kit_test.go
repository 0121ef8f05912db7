package testkit_test

import (
	"bufio"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/internal/testkit"
)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	c := testkit.NewClock(t0)
	assert.Equal(t, t0, c.Now())
	c.Advance(90 * time.Second)
	assert.Equal(t, t0.Add(90*time.Second), c.Now())
	c.Set(t0)
	assert.Equal(t, t0, c.Now())

	// Read while the test moves it (the race detector's part).
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				c.Now()
			}
		})
	}
	for range 100 {
		c.Advance(time.Second)
	}
	wg.Wait()
	assert.Equal(t, t0.Add(100*time.Second), c.Now())
}

func TestItems(t *testing.T) {
	list := testkit.Items(t, "- name: hooks\n  type: webhook\n- name: plant\n  type: mqtt\n  topics: [a/b]\n")
	require.Len(t, list, 2)
	assert.Equal(t, "hooks", list[0].Name)
	assert.Equal(t, "webhook", list[0].Type)
	assert.Equal(t, 1, list[0].Line)
	assert.Equal(t, "connectors[0]", list[0].Path)
	assert.Equal(t, "plant", list[1].Name)
	assert.Equal(t, 3, list[1].Line)
	assert.Equal(t, "connectors[1]", list[1].Path)
	require.Len(t, list[1].Raw.Content, 6, "the whole mapping, name and type included")
	assert.Equal(t, "topics", list[1].Raw.Content[4].Value)

	one := testkit.Items(t, "name: p\ntype: probe\nsecret: ${NOT_EXPANDED}\n")
	require.Len(t, one, 1)
	assert.Equal(t, "p", one[0].Name)
	assert.Equal(t, "probe", one[0].Type)
	assert.Equal(t, 1, one[0].Line)
	assert.Equal(t, "connectors[0]", one[0].Path)
	assert.Equal(t, "${NOT_EXPANDED}", one[0].Raw.Content[5].Value)
}

func TestConnectorFile(t *testing.T) {
	assert.Equal(t, "connectors:\n  - name: hooks\n    type: webhook\n    mapping:\n      title: payload.subject\n",
		testkit.ConnectorFile("name: hooks\ntype: webhook\nmapping:\n  title: payload.subject\n"))
	assert.Equal(t, "connectors:\n  - name: hooks\n", testkit.ConnectorFile("name: hooks"))
}

// TestChild runs itself as a child, which says so.
func TestChild(t *testing.T) {
	if testkit.Child("echo") {
		os.Stdout.WriteString("child " + os.Getenv("TESTKIT_WORD") + "\n")
		return
	}
	out, err := testkit.ChildTest(t, "echo", "TESTKIT_WORD=hello").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "child hello")
}

// TestChildOfASubtest runs one subtest as a child, and not its sibling.
func TestChildOfASubtest(t *testing.T) {
	for _, name := range []string{"one test", "another"} {
		t.Run(name, func(t *testing.T) {
			if testkit.Child("sub") {
				os.Stdout.WriteString("child of " + t.Name() + "\n")
				return
			}
			out, err := testkit.ChildTest(t, "sub").Output()
			require.NoError(t, err)
			assert.Contains(t, string(out), "child of "+t.Name()+"\n")
			assert.Equal(t, 1, strings.Count(string(out), "child of"), "only the subtest itself ran: %s", out)
		})
	}
}

// TestKill kills a child that would not end by itself, and leaves one already waited for
// alone.
func TestKill(t *testing.T) {
	if testkit.Child("sleeper") {
		os.Stdout.WriteString("sleeping\n")
		time.Sleep(time.Hour)
		return
	}
	cmd := testkit.ChildTest(t, "sleeper")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "sleeping\n", line)
	require.NoError(t, testkit.Kill(cmd))
	require.NotNil(t, cmd.ProcessState)
	assert.False(t, cmd.ProcessState.Success())
	assert.NoError(t, testkit.Kill(cmd), "a second kill")
}
