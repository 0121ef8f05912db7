package normalize

import (
	"encoding/json"
	"errors"
	"testing"

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
