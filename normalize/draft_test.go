package normalize

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateIntent(t *testing.T) {
	alarmClear := func(intent, threadKey string) Draft {
		return Draft{Title: "设备 E1 温度恢复正常", ThreadKey: threadKey, Intent: intent}
	}
	tests := []struct {
		name    string
		d       Draft
		wantMsg string // empty: valid
	}{
		{"no intent, no thread", alarmClear("", ""), ""},
		{"no intent, a thread", alarmClear("", "device:E1:overheat"), ""},
		{"update", alarmClear(IntentUpdate, "device:E1:overheat"), ""},
		{"resolve", alarmClear(IntentResolve, "device:E1:overheat"), ""},
		{"unknown", alarmClear("close", "device:E1:overheat"), `unknown intent "close" (one of: update, resolve; leave it out to open or merge a ticket as usual)`},
		{"case matters", alarmClear("Update", "device:E1:overheat"), `unknown intent "Update" (one of: update, resolve; leave it out to open or merge a ticket as usual)`},
		{"update without a thread", alarmClear(IntentUpdate, ""), "intent update needs a thread_key: it names the open ticket the draft updates"},
		{"resolve with a blank thread", alarmClear(IntentResolve, "  "), "intent resolve needs a thread_key: it names the open ticket the draft updates"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.d.Validate()
			if tc.wantMsg == "" {
				assert.NoError(t, err)
				return
			}
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "want a *FieldError, got %v", err)
			assert.Equal(t, "intent", fe.Field)
			assert.Equal(t, tc.wantMsg, fe.Msg)
		})
	}
}

func TestIntentInJSON(t *testing.T) {
	b, err := json.Marshal(Draft{Title: "x"})
	require.NoError(t, err)
	assert.NotContains(t, string(b), "intent", "left out when empty: drafts without one encode as before")

	var d Draft
	require.NoError(t, json.Unmarshal([]byte(`{"title":"恢复","thread_key":"device:E1:overheat","intent":"resolve"}`), &d))
	assert.Equal(t, IntentResolve, d.Intent)
	assert.NoError(t, d.Validate())
}

func TestThreadWindow(t *testing.T) {
	var d Draft
	require.NoError(t, DecodeJSON([]byte(`{"title":"你好","thread_key":"wechat:gzh:o1","thread_window":"30m"}`), &d))
	assert.Equal(t, Window(30*time.Minute), d.ThreadWindow)
	require.NoError(t, d.Validate())
	b, err := json.Marshal(d)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"thread_window":"30m0s"`)
	var back Draft
	require.NoError(t, DecodeJSON(b, &back))
	assert.Equal(t, d.ThreadWindow, back.ThreadWindow)

	require.NoError(t, DecodeJSON([]byte(`{"title":"你好","thread_key":"k","thread_window":90}`), &d))
	assert.Equal(t, Window(90*time.Second), d.ThreadWindow, "a number is seconds")

	b, err = json.Marshal(Draft{Title: "x"})
	require.NoError(t, err)
	assert.NotContains(t, string(b), "thread_window", "left out when there is none")

	err = DecodeJSON([]byte(`{"title":"你好","thread_key":"k","thread_window":"half an hour"}`), &d)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "thread_window")

	err = (&Draft{Title: "你好", ThreadWindow: Window(time.Minute)}).Validate()
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "thread_window", fe.Field)
	err = (&Draft{Title: "你好", ThreadKey: "k", ThreadWindow: -1}).Validate()
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "thread_window", fe.Field)
}
