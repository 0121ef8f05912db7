package mqtt_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"gongdan/config"
	"gongdan/connectors"
)

// Mistakes in an mqtt connector's config are reported at their file:line and key.
func TestValidateErrors(t *testing.T) {
	const head = "connectors:\n  - name: plant\n    type: mqtt\n    client_id: gd\n    topics: [\"f/+/t\"]\n    device_id: \"topic[1]\"\n"
	const brokers = "    brokers: [\"tcp://127.0.0.1:1883\"]\n"
	tests := []struct {
		name   string
		config string
		line   int
		path   string
		msg    string
	}{
		{
			name:   "no broker and no embedded broker",
			config: head + "    rules:\n      - {id: hot, when: \"temp > 85\"}\n",
			line:   2, path: "connectors[0].brokers", msg: "required",
		},
		{
			name:   "a when that does not compile, in the second rule",
			config: head + brokers + "    rules:\n      - {id: hot, when: \"temp > 85\"}\n      - id: cold\n        when: \"temp <\"\n",
			line:   11, path: "connectors[0].rules[1].when", msg: "unexpected",
		},
		{
			name:   "the same rule id twice",
			config: head + brokers + "    rules:\n      - {id: hot, when: \"temp > 85\"}\n      - {id: hot, when: \"temp > 95\"}\n",
			line:   10, path: "connectors[0].rules[1].id", msg: `"hot" is used twice`,
		},
		{
			name:   "an offline rule with a condition",
			config: head + brokers + "    rules:\n      - {id: off, offline_after: 5m, when: \"temp > 1\"}\n",
			line:   9, path: "connectors[0].rules[0].when", msg: "offline rule",
		},
		{
			name:   "repeat without within",
			config: head + brokers + "    rules:\n      - {id: hot, when: \"temp > 85\", repeat: 3}\n",
			line:   9, path: "connectors[0].rules[0].repeat", msg: "within",
		},
		{
			name:   "a topic filter with # inside",
			config: strings.Replace(head, `["f/+/t"]`, `["f/#/t"]`, 1) + brokers + "    rules:\n      - {id: hot, when: \"temp > 85\"}\n",
			line:   5, path: "connectors[0].topics", msg: "# must be the last level",
		},
		{
			name:   "a device id that is neither a topic level nor a field",
			config: strings.Replace(head, `"topic[1]"`, `"topic[x]"`, 1) + brokers + "    rules:\n      - {id: hot, when: \"temp > 85\"}\n",
			line:   6, path: "connectors[0].device_id", msg: "topic[N]",
		},
		{
			name:   "an embedded broker open to the network without credentials",
			config: head + "    embedded_broker: {listen: \"0.0.0.0:11883\"}\n    rules:\n      - {id: hot, when: \"temp > 85\"}\n",
			line:   7, path: "connectors[0].embedded_broker.listen", msg: "set embedded_broker.credentials_file",
		},
		{
			name:   "brokers and an embedded broker",
			config: head + brokers + "    embedded_broker: {listen: \"127.0.0.1:11883\"}\n    rules:\n      - {id: hot, when: \"temp > 85\"}\n",
			line:   7, path: "connectors[0].brokers", msg: "with embedded_broker the connector subscribes at its own broker: drop brokers",
		},
		{
			name:   "a packet limit below the payload limit",
			config: head + "    payload: {max_bytes: 65536}\n    embedded_broker: {listen: \"127.0.0.1:11883\", max_packet_size: 65536}\n    rules:\n      - {id: hot, when: \"temp > 85\"}\n",
			line:   8, path: "connectors[0].embedded_broker.max_packet_size", msg: "set it to at least 69632",
		},
		{
			name:   "a credentials file that does not exist",
			config: head + "    embedded_broker: {listen: \"127.0.0.1:11883\", credentials_file: /nonexistent/devices.passwd}\n    rules:\n      - {id: hot, when: \"temp > 85\"}\n",
			line:   7, path: "connectors[0].embedded_broker.credentials_file", msg: "/nonexistent/devices.passwd: no such file",
		},
		{
			name:   "a shared login without a password",
			config: head + "    username: devices\n    embedded_broker: {listen: \"127.0.0.1:11883\"}\n    rules:\n      - {id: hot, when: \"temp > 85\"}\n",
			line:   7, path: "connectors[0].username", msg: "shared login has no password",
		},
		{
			name:   "a certificate without its key",
			config: head + "    embedded_broker: {listen: \"127.0.0.1:11883\", cert_file: broker.crt}\n    rules:\n      - {id: hot, when: \"temp > 85\"}\n",
			line:   7, path: "connectors[0].embedded_broker.cert_file", msg: "cert_file and key_file go together",
		},
		{
			name:   "qos 2",
			config: head + brokers + "    qos: 2\n    rules:\n      - {id: hot, when: \"temp > 85\"}\n",
			line:   8, path: "connectors[0].qos", msg: "above the maximum",
		},
		{
			name:   "an urgency that does not exist",
			config: head + brokers + "    rules:\n      - {id: hot, when: \"temp > 85\", urgency: critical}\n",
			line:   9, path: "connectors[0].rules[0].urgency", msg: `"critical" is not one of`,
		},
		{
			name:   "tls with a plain tcp:// broker",
			config: head + brokers + "    tls: {server_name: broker.example}\n    rules:\n      - {id: hot, when: \"temp > 85\"}\n",
			line:   8, path: "connectors[0].tls", msg: "is not encrypted: write ssl://127.0.0.1:1883",
		},
		{
			name:   "a password without a username",
			config: head + brokers + "    password: s3cret-plant\n    rules:\n      - {id: hot, when: \"temp > 85\"}\n",
			line:   8, path: "connectors[0].password", msg: "set username too",
		},
		{
			name:   "no rules",
			config: head + brokers,
			line:   2, path: "connectors[0].rules", msg: "required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseWith("plant.yaml", []byte(tt.config), connectors.Global.Validate)
			var errs config.Errors
			require.ErrorAs(t, err, &errs)
			for _, e := range errs {
				if e.Line == tt.line && e.Path == tt.path && strings.Contains(e.Msg, tt.msg) {
					return
				}
			}
			t.Errorf("want plant.yaml:%d: %s: …%s…; got\n%v", tt.line, tt.path, tt.msg, err)
		})
	}
}

// A credentials file's mistakes are reported at the credentials_file key, each with the
// file's own name and line; a username beside it is refused.
func TestValidateCredentialsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devices.passwd")
	h, err := bcrypt.GenerateFromPassword([]byte("E1-secret"), bcrypt.MinCost)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte("E1:"+string(h)+"\nE2:E2-plaintext\n"), 0o600))
	t.Setenv("PLANT_PW", "s3cret-plant-password")
	_, err = config.ParseWith("plant.yaml", []byte(fmt.Sprintf(`connectors:
  - name: plant
    type: mqtt
    client_id: gd
    username: gongdan
    password: ${PLANT_PW}
    embedded_broker: {listen: "0.0.0.0:11883", credentials_file: %q}
    topics: ["f/+/t"]
    device_id: "topic[1]"
    rules:
      - {id: hot, when: "temp > 85"}
`, path)), connectors.Global.Validate)
	var errs config.Errors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 2, "%v", err)
	assert.Equal(t, "connectors[0].username", errs[0].Path)
	assert.Equal(t, 5, errs[0].Line)
	assert.Contains(t, errs[0].Msg, "each device logs in with its own password: drop username and password")
	assert.Equal(t, "connectors[0].embedded_broker.credentials_file", errs[1].Path)
	assert.Equal(t, 7, errs[1].Line)
	assert.Contains(t, errs[1].Msg, path+`:2: device "E2": not a password hash`)
	assert.NotContains(t, err.Error(), "E2-plaintext")
	assert.NotContains(t, err.Error(), "s3cret-plant-password")
}

// The password never appears in an error.
func TestValidateKeepsThePasswordOut(t *testing.T) {
	t.Setenv("PLANT_PW", "s3cret-plant-password")
	_, err := config.ParseWith("plant.yaml", []byte("connectors:\n  - name: plant\n    type: mqtt\n    client_id: gd\n    password: ${PLANT_PW}\n    topics: [\"f/+/t\"]\n    device_id: \"topic[1]\"\n    brokers: [\"tcp://127.0.0.1:1883\"]\n    rules:\n      - {id: hot, when: \"temp >\"}\n"), connectors.Global.Validate)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret-plant-password")
}
