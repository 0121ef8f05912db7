package mqtt

import (
	"bufio"
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gongdan/connectors/mqtt/telemetry"
)

// The embedded broker's per-device credentials come from a file of lines
//
//	device_id:hash
//
// which is the format of Mosquitto's password file and of `htpasswd -nbB`, so the tools an
// operator already has write it: bcrypt ($2a$, $2b$, $2y$: htpasswd -B) or PBKDF2-SHA512
// ($7$: mosquitto_passwd 2.x). Blank lines and lines starting with # are skipped. Plain
// passwords and the single-round salted SHA-512 of old mosquitto_passwd ($6$) are refused:
// the file must be safe to back up and to read over someone's shoulder.

// passwordHash checks a password against one stored hash, in time that does not depend on
// where the password differs.
type passwordHash interface {
	verify(password []byte) bool
}

type bcryptHash []byte

func (h bcryptHash) verify(password []byte) bool {
	return bcrypt.CompareHashAndPassword(h, password) == nil // compares in constant time
}

// pbkdf2Hash is mosquitto_passwd's $7$<iterations>$<salt>$<hash>, base64 with padding.
type pbkdf2Hash struct {
	iterations int
	salt, sum  []byte
}

func (h pbkdf2Hash) verify(password []byte) bool {
	got, err := pbkdf2.Key(sha512.New, string(password), h.salt, h.iterations, len(h.sum))
	return err == nil && subtle.ConstantTimeCompare(got, h.sum) == 1
}

// maxPBKDF2Iterations bounds the work one CONNECT can cost (a million rounds of SHA-512 is
// about a second): a typo of a few zeros must not turn every connection into a CPU burn.
const maxPBKDF2Iterations = 1_000_000

// parseHash reads one hash. Its errors never quote the text: a line that is not a hash may be
// a plain password.
func parseHash(s string) (passwordHash, error) {
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		if _, err := bcrypt.Cost([]byte(s)); err != nil {
			return nil, errors.New("a bcrypt hash that cannot be read (cut short, or changed by hand?): write it again with htpasswd -nbB <device> <password>")
		}
		return bcryptHash(s), nil
	case strings.HasPrefix(s, "$7$"):
		parts := strings.Split(s, "$")
		// "", "7", iterations, salt, hash
		if len(parts) != 5 {
			return nil, errors.New("a $7$ (PBKDF2-SHA512) hash that is not $7$<iterations>$<salt>$<hash>: write it again with mosquitto_passwd")
		}
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 1 || n > maxPBKDF2Iterations {
			return nil, fmt.Errorf("a $7$ hash whose iteration count is not a number from 1 to %d", maxPBKDF2Iterations)
		}
		salt, err1 := base64.StdEncoding.DecodeString(parts[3])
		sum, err2 := base64.StdEncoding.DecodeString(parts[4])
		if err1 != nil || err2 != nil || len(salt) == 0 || len(sum) < 16 {
			return nil, errors.New("a $7$ hash whose salt or hash is not base64 (or too short): write it again with mosquitto_passwd")
		}
		return pbkdf2Hash{iterations: n, salt: salt, sum: sum}, nil
	case strings.HasPrefix(s, "$6$"):
		return nil, errors.New("a $6$ hash (one round of salted SHA-512, mosquitto_passwd 1.x) is too quick to crack: hash the password again with htpasswd -nbB <device> <password> (bcrypt) or mosquitto_passwd 2.x ($7$)")
	default:
		return nil, errors.New("not a password hash (plain passwords are refused): write device_id:<bcrypt hash> as htpasswd -nbB <device> <password> prints it, or use a mosquitto_passwd file")
	}
}

// credentials are the devices of one credentials file.
type credentials struct {
	hashes map[string]passwordHash
	// decoy is a hash of the file's own kind, checked for a device the file does not have, so
	// that a refusal takes as long whether or not the device exists.
	decoy passwordHash
}

// deviceIDProblem says why id cannot be a device's login, or "".
func deviceIDProblem(id string) string {
	switch {
	case id == "":
		return "an empty device id"
	case len(id) > telemetry.MaxDeviceID:
		return fmt.Sprintf("a device id of %d bytes (at most %d)", len(id), telemetry.MaxDeviceID)
	case strings.ContainsAny(id, "/+#\x00 \t"):
		return fmt.Sprintf("device id %q holds a character that cannot be one topic level (/ + # NUL or space)", id)
	}
	return ""
}

// parseCredentials reads a credentials file's text; name is the file's name for errors,
// which say name:line and never quote a hash. connectorID (the connector's client id) may not
// be a device: a device of that name could take the connector's session.
func parseCredentials(name string, r io.Reader, connectorID string) (*credentials, error) {
	c := &credentials{hashes: map[string]passwordHash{}}
	firstAt := map[string]int{}
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // a BOM from an editor on Windows
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, hash, ok := strings.Cut(line, ":")
		id, hash = strings.TrimSpace(id), strings.TrimSpace(hash)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s:%d: not device_id:hash (no colon)", name, n))
			continue
		case deviceIDProblem(id) != "":
			errs = append(errs, fmt.Errorf("%s:%d: %s", name, n, deviceIDProblem(id)))
			continue
		case id == connectorID:
			errs = append(errs, fmt.Errorf("%s:%d: device %q is the connector's own client_id: a device may not log in as the connector; rename the device or change client_id", name, n, id))
			continue
		}
		if first, dup := firstAt[id]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: device %q is already on line %d", name, n, id, first))
			continue
		}
		h, err := parseHash(hash)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: device %q: %v", name, n, id, err))
			continue
		}
		firstAt[id] = n
		c.hashes[id] = h
		if c.decoy == nil {
			c.decoy = h
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// verify checks device's password; a device the file does not have costs a check as well.
func (c *credentials) verify(device string, password []byte) bool {
	h, ok := c.hashes[device]
	if !ok {
		if c.decoy != nil {
			c.decoy.verify(password)
		}
		return false
	}
	return h.verify(password)
}

// credentialFile is a credentials file that is read again when it changes, so that a device
// can be added (or its password changed) without restarting gongdan. A change that does not
// parse is logged and the devices read last stay in force.
type credentialFile struct {
	path        string
	connectorID string
	onReload    func(devices int, err error) // told of each reading after the first

	// checks bounds the hash checks under way: a flood of logins (from many addresses, each
	// within its connection rate) takes at most half the cores, and waits for them.
	checks chan struct{}

	mu      sync.Mutex
	current *credentials
	stamp   fileStamp // of the text current came from, or of the last text that failed
	checked time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// recheckEvery bounds how often a CONNECT looks at the file again.
const recheckEvery = time.Second

func loadCredentialFile(path, connectorID string) (*credentialFile, error) {
	f := &credentialFile{path: path, connectorID: connectorID, checks: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
	c, st, err := f.read()
	if err != nil {
		return nil, err
	}
	f.current, f.stamp, f.checked = c, st, time.Now()
	return f, nil
}

func (f *credentialFile) read() (*credentials, fileStamp, error) {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fileStamp{}, err
	}
	var st fileStamp
	if fi, err := os.Stat(f.path); err == nil {
		st = fileStamp{fi.ModTime(), fi.Size()}
	}
	c, err := parseCredentials(f.path, bytes.NewReader(data), f.connectorID)
	return c, st, err
}

// get returns the credentials in force, having read the file again if it changed.
func (f *credentialFile) get(now time.Time) *credentials {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Sub(f.checked) < recheckEvery {
		return f.current
	}
	f.checked = now
	fi, err := os.Stat(f.path)
	if err != nil || (fileStamp{fi.ModTime(), fi.Size()}) == f.stamp {
		// Gone or unreadable for a moment (an editor's save): keep what was read.
		return f.current
	}
	c, st, err := f.read()
	f.stamp = st
	if err == nil {
		f.current = c
	}
	if f.onReload != nil {
		n := len(f.current.hashes)
		f.onReload(n, err)
	}
	return f.current
}

// verify checks device's password against the credentials in force at now.
func (f *credentialFile) verify(device string, password []byte, now time.Time) bool {
	c := f.get(now)
	f.checks <- struct{}{}
	defer func() { <-f.checks }()
	return c.verify(device, password)
}

// devices is the number of devices in force.
func (f *credentialFile) devices() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.current.hashes)
}
