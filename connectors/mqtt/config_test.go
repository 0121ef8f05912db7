package mqtt_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
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
			line:   7, path: "connectors[0].embedded_broker.listen", msg: "set username and password",
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
			_, err := config.Parse("plant.yaml", []byte(tt.config))
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

// The password never appears in an error.
func TestValidateKeepsThePasswordOut(t *testing.T) {
	t.Setenv("PLANT_PW", "s3cret-plant-password")
	_, err := config.Parse("plant.yaml", []byte("connectors:\n  - name: plant\n    type: mqtt\n    client_id: gd\n    password: ${PLANT_PW}\n    topics: [\"f/+/t\"]\n    device_id: \"topic[1]\"\n    brokers: [\"tcp://127.0.0.1:1883\"]\n    rules:\n      - {id: hot, when: \"temp >\"}\n"))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret-plant-password")
}
