package mqtt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// mosquittoLine is what `mosquitto_passwd -c -b pw.txt E1 E1-secret` (2.0) wrote: the $7$
// reader is checked against Mosquitto's own hashing, not against itself.
const mosquittoLine = "E1:$7$101$nVA8/Jf1gjayVA4g$C245zdYdI4zqYl815AN7Vbzkn8VKT4ISvLRJuilqtqg+/5BRzTNb7UXbhoGdsDKSeFGBVYoEK2jf8HD/5kTE1w=="

func bcryptOf(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	return string(h)
}

// A file of bcrypt (htpasswd -B, $2y$ included) and mosquitto_passwd lines, with comments,
// blank lines, a BOM and CRLF endings, lets each device in with its own password only.
func TestCredentialsVerify(t *testing.T) {
	htpasswdE2 := strings.Replace(bcryptOf(t, "E2-secret"), "$2a$", "$2y$", 1) // as htpasswd writes it
	text := "\ufeff# plant devices\r\n" + mosquittoLine + "\r\n\r\n  E2 : " + htpasswdE2 + "  \r\n"
	c, err := parseCredentials("devices.passwd", strings.NewReader(text), "gongdan-plant")
	require.NoError(t, err)
	assert.Len(t, c.hashes, 2)

	tests := []struct {
		device, password string
		ok               bool
	}{
		{"E1", "E1-secret", true},
		{"E2", "E2-secret", true},
		{"E1", "E2-secret", false},
		{"E2", "E1-secret", false},
		{"E1", "", false},
		{"E1", "E1-secret ", false},
		{"E3", "E1-secret", false}, // not in the file
		{"", "", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.ok, c.verify(tt.device, []byte(tt.password)), "%s / %q", tt.device, tt.password)
	}
}

// Every mistake in the file is reported at its file:line, all of them at once, and no error
// quotes the text after the colon: a line that is not a hash may be a plain password.
func TestCredentialsErrors(t *testing.T) {
	good := bcryptOf(t, "secret")
	tests := []struct {
		name string
		text string
		want []string // "devices.passwd:<line>: <part of the message>"
	}{
		{"a plain password", "E1:" + good + "\nE2:hunter2-plaintext\n",
			[]string{`devices.passwd:2: device "E2": not a password hash (plain passwords are refused)`}},
		{"no colon", "# devices\nE1 " + good + "\n", []string{"devices.passwd:2: not device_id:hash (no colon)"}},
		{"a device twice", "E1:" + good + "\n\nE1:" + good + "\n", []string{`devices.passwd:3: device "E1" is already on line 1`}},
		{"the connector's client id", "gongdan-plant:" + good + "\n", []string{`devices.passwd:1: device "gongdan-plant" is the connector's own client_id`}},
		{"an empty device id", ":" + good + "\n", []string{"devices.passwd:1: an empty device id"}},
		{"a device id with a slash", "a/b:" + good + "\n", []string{`devices.passwd:1: device id "a/b" holds a character that cannot be one topic level`}},
		{"a device id with a wildcard", "E+:" + good + "\n", []string{`devices.passwd:1: device id "E+" holds a character`}},
		{"a device id too long", strings.Repeat("x", 129) + ":" + good + "\n", []string{"devices.passwd:1: a device id of 129 bytes (at most 128)"}},
		{"an old $6$ hash", "E1:$6$OD/jrLb1juS6ww9P$q5wj/3tIN0btT6hgDb+y0TKKq2hm8XsLJ8une9/b+V0UTpHzUZj09lHnXfa1Te+xG5kT2n0MlzbrW+4iwTRJTw==\n",
			[]string{`devices.passwd:1: device "E1": a $6$ hash (one round of salted SHA-512, mosquitto_passwd 1.x) is too quick to crack`}},
		{"a bcrypt hash cut short", "E1:" + good[:30] + "\n", []string{`devices.passwd:1: device "E1": a bcrypt hash that cannot be read`}},
		{"a $7$ hash with a missing part", "E1:$7$101$c2FsdA==\n", []string{`devices.passwd:1: device "E1": a $7$ (PBKDF2-SHA512) hash that is not $7$<iterations>$<salt>$<hash>`}},
		{"a $7$ hash with a billion rounds", "E1:$7$1000000000$c2FsdA==$" + strings.Repeat("A", 88) + "\n",
			[]string{`devices.passwd:1: device "E1": a $7$ hash whose iteration count is not a number from 1 to 1000000`}},
		{"a $7$ hash that is not base64", "E1:$7$101$!!!$???\n", []string{`devices.passwd:1: device "E1": a $7$ hash whose salt or hash is not base64`}},
		{"three mistakes", "E1:plain1\nE2:" + good + "\nE3:plain3\nE2:" + good + "\n",
			[]string{`devices.passwd:1: device "E1": not a password hash`, `devices.passwd:3: device "E3": not a password hash`, `devices.passwd:4: device "E2" is already on line 2`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCredentials("devices.passwd", strings.NewReader(tt.text), "gongdan-plant")
			require.Error(t, err)
			assert.Nil(t, c)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, len(tt.want), "%v", err)
			for i, w := range tt.want {
				assert.True(t, strings.HasPrefix(lines[i], w), "line %d:\n got %s\nwant %s…", i, lines[i], w)
			}
			for _, secret := range []string{"hunter2-plaintext", "plain1", "plain3", good[7:], "q5wj/3tI"} {
				assert.NotContains(t, err.Error(), secret, "an error quotes the file's secrets")
			}
		})
	}
}

// The file is read again when it changes, at most once a second: a device added is let in
// without a restart; an edit that breaks the file is reported and the devices read before stay.
func TestCredentialFileReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devices.passwd")
	require.NoError(t, os.WriteFile(path, []byte("E1:"+bcryptOf(t, "one")+"\n"), 0o600))
	f, err := loadCredentialFile(path, "gongdan-plant")
	require.NoError(t, err)
	var reloads []string
	f.onReload = func(devices int, err error) {
		if err != nil {
			reloads = append(reloads, "error: "+err.Error())
			return
		}
		reloads = append(reloads, strings.Repeat("d", devices))
	}
	start := time.Now()
	assert.True(t, f.get(start).verify("E1", []byte("one")))
	assert.False(t, f.get(start).verify("E2", []byte("two")))

	require.NoError(t, os.WriteFile(path, []byte("E1:"+bcryptOf(t, "one")+"\nE2:"+bcryptOf(t, "two")+"\n"), 0o600))
	touch(t, path, start.Add(time.Minute))
	assert.False(t, f.get(start.Add(500*time.Millisecond)).verify("E2", []byte("two")), "looked again within a second")
	assert.True(t, f.get(start.Add(2*time.Second)).verify("E2", []byte("two")), "the added device")
	assert.Equal(t, []string{"dd"}, reloads)

	require.NoError(t, os.WriteFile(path, []byte("E1:"+bcryptOf(t, "one")+"\nE2:two-in-plain\n"), 0o600))
	touch(t, path, start.Add(2*time.Minute))
	c := f.get(start.Add(4 * time.Second))
	assert.True(t, c.verify("E2", []byte("two")), "a broken edit leaves the devices read before")
	require.Len(t, reloads, 2)
	assert.Contains(t, reloads[1], path+":2: device \"E2\": not a password hash")
	assert.NotContains(t, reloads[1], "two-in-plain")
	c = f.get(start.Add(6 * time.Second))
	assert.Len(t, reloads, 2, "an unchanged broken file is not reported again")
	assert.Equal(t, 2, f.devices())
}

func touch(t *testing.T, path string, at time.Time) {
	t.Helper()
	require.NoError(t, os.Chtimes(path, at, at))
}
