package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"gongdan/internal/netaddr"
)

// The closing loop (DESIGN.md §11): the customer's tracking page, confirmation reminders and
// the auto-confirm, the follow-up visit.

// Tracking configures the customer's tracking links (/t/{token}).
type Tracking struct {
	// TTL is how long a ticket's link keeps working after the ticket is closed (or rejected).
	// Default 180d.
	TTL Duration `yaml:"ttl"`
	// MaxPhotos and MaxPhotoBytes bound what a customer may add on the page. Default 6
	// photos of at most 8 MiB each.
	MaxPhotos     int   `yaml:"max_photos"`
	MaxPhotoBytes int64 `yaml:"max_photo_bytes"`
}

// Confirm configures how long a resolved ticket waits for its customer.
type Confirm struct {
	// Remind are the reminders sent after resolve while the customer has not answered, each
	// counted from the resolve. Default [24h, 48h]; [] sends none.
	Remind *[]Duration `yaml:"remind"`
	// Timeout is when, counted from the resolve, the system confirms on the customer's behalf
	// (recorded as auto, never as the customer's confirmation); "never" waits for ever.
	// Default 72h.
	Timeout Timeout `yaml:"timeout"`
}

// Followup configures the follow-up visit (回访) after a ticket is closed.
type Followup struct {
	// After is how long after the close the customer is asked whether the problem came
	// back. Default 48h; "never" asks nothing.
	After Timeout `yaml:"after"`
}

// Timeout is a duration, or "never" (Never set).
type Timeout struct {
	Duration
	Never bool
	set   bool
}

// UnmarshalYAML reads a duration or "never".
func (t *Timeout) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Value == "never" {
		*t = Timeout{Never: true, set: true}
		return nil
	}
	var d Duration
	if err := d.UnmarshalYAML(n); err != nil {
		return fmt.Errorf("%w, or never", err)
	}
	*t = Timeout{Duration: d, set: true}
	return nil
}

// MarshalYAML writes the timeout in the form UnmarshalYAML reads.
func (t Timeout) MarshalYAML() (any, error) {
	if t.Never {
		return "never", nil
	}
	return t.Duration.String(), nil
}

// Closure defaults.
const (
	DefaultTrackingTTL     = 180 * 24 * time.Hour
	DefaultConfirmTimeout  = 72 * time.Hour
	DefaultFollowupAfter   = 48 * time.Hour
	DefaultMaxPhotos       = 6
	DefaultMaxPhotoBytes   = 8 << 20
	maxTrackingTTL         = 10 * 365 * 24 * time.Hour
	minConfirmWait         = time.Minute
	maxCustomerWaitSetting = 365 * 24 * time.Hour
)

// DefaultRemind are the default confirmation reminders.
var DefaultRemind = []time.Duration{24 * time.Hour, 48 * time.Hour}

func (c *Config) setClosureDefaults() {
	if c.Tracking.TTL == 0 {
		c.Tracking.TTL = Duration(DefaultTrackingTTL)
	}
	if c.Tracking.MaxPhotos == 0 {
		c.Tracking.MaxPhotos = DefaultMaxPhotos
	}
	if c.Tracking.MaxPhotoBytes == 0 {
		c.Tracking.MaxPhotoBytes = DefaultMaxPhotoBytes
	}
	if c.Confirm.Remind == nil {
		r := make([]Duration, len(DefaultRemind))
		for i, d := range DefaultRemind {
			r[i] = Duration(d)
		}
		c.Confirm.Remind = &r
	}
	if !c.Confirm.Timeout.set {
		c.Confirm.Timeout = Timeout{Duration: Duration(DefaultConfirmTimeout), set: true}
	}
	if !c.Followup.After.set {
		c.Followup.After = Timeout{Duration: Duration(DefaultFollowupAfter), set: true}
	}
}

// RemindAfter returns the reminders as durations.
func (c Confirm) RemindAfter() []time.Duration {
	if c.Remind == nil {
		return slices.Clone(DefaultRemind)
	}
	out := make([]time.Duration, len(*c.Remind))
	for i, d := range *c.Remind {
		out[i] = d.Std()
	}
	return out
}

func (t *Tracking) validate() []problem {
	var ps []problem
	if d := t.TTL.Std(); d < 0 || d > maxTrackingTTL {
		ps = append(ps, problemf("ttl", "%v: want 0 to %v (the default is %v)", d, maxTrackingTTL, DefaultTrackingTTL))
	}
	if t.MaxPhotos < 0 || t.MaxPhotos > 20 {
		ps = append(ps, problemf("max_photos", "%d: want 0 to 20 (the default is %d)", t.MaxPhotos, DefaultMaxPhotos))
	}
	if t.MaxPhotoBytes < 0 || t.MaxPhotoBytes > 32<<20 {
		ps = append(ps, problemf("max_photo_bytes", "%d: want up to 33554432 (32 MiB; the default is %d)", t.MaxPhotoBytes, DefaultMaxPhotoBytes))
	}
	return ps
}

func (c *Confirm) validate() []problem {
	var ps []problem
	remind := c.RemindAfter()
	for i, d := range remind {
		key := fmt.Sprintf("remind[%d]", i)
		switch {
		case d < minConfirmWait || d > maxCustomerWaitSetting:
			ps = append(ps, problemf(key, "%v: want %v to %v after the resolve", d, minConfirmWait, maxCustomerWaitSetting))
		case i > 0 && d <= remind[i-1]:
			ps = append(ps, problemf(key, "%v: reminders go in order, each later than the one before (%v)", d, remind[i-1]))
		}
	}
	if !c.Timeout.Never {
		d := c.Timeout.Std()
		switch {
		case d < minConfirmWait || d > maxCustomerWaitSetting:
			ps = append(ps, problemf("timeout", "%v: want %v to %v after the resolve, or never", d, minConfirmWait, maxCustomerWaitSetting))
		case len(remind) > 0 && d <= remind[len(remind)-1]:
			ps = append(ps, problemf("timeout", "%v: the auto-confirm comes after the last reminder (%v)", d, remind[len(remind)-1]))
		}
	}
	return ps
}

func (f *Followup) validate() []problem {
	if d := f.After.Std(); !f.After.Never && (d < minConfirmWait || d > maxCustomerWaitSetting) {
		return []problem{problemf("after", "%v: want %v to %v after the close, or never", d, minConfirmWait, maxCustomerWaitSetting)}
	}
	return nil
}

// validatePublicURL checks server.public_url: the address customers reach gongdan at, which
// their tracking links start with.
func validatePublicURL(s string) []problem {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return []problem{problemf("public_url", "%q: want the address customers open, like https://gd.example.com", s)}
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return []problem{problemf("public_url", "%q: no query, fragment or user name; just scheme, host and an optional path", s)}
	case u.Scheme == "http" && !netaddr.IsLoopback(net.JoinHostPort(u.Hostname(), "80")):
		return []problem{problemf("public_url", "%q: customers' links carry their token; use https (http only for a loopback host)", s)}
	case strings.HasSuffix(u.Path, "/t"):
		return []problem{problemf("public_url", "%q: the base address only; gongdan adds /t/{token}", s)}
	}
	return nil
}
