package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"

	"gongdan/config"
	"gongdan/core/api"
	"gongdan/core/engine"
)

// closureOptions are the closing loop's settings for the engine.
func closureOptions(cfg *config.Config, key []byte) *engine.ClosureOptions {
	o := &engine.ClosureOptions{Key: key, TTL: cfg.Tracking.TTL.Std(), Remind: cfg.Confirm.RemindAfter()}
	if !cfg.Confirm.Timeout.Never {
		o.ConfirmTimeout = cfg.Confirm.Timeout.Std()
	}
	if !cfg.Followup.After.Never {
		o.FollowupAfter = cfg.Followup.After.Std()
	}
	return o
}

// trackingURL makes a customer's link: {server.public_url}/t/{token}, or /t/{token} without a
// public_url (a link only a page on gongdan itself can use).
func trackingURL(cfg *config.Config) api.TrackingURL {
	base := strings.TrimSuffix(cfg.Server.PublicURL, "/")
	return func(token string) string { return base + "/t/" + token }
}

// derivedKey is a key of its own for purpose, from key: one secret in the store, no key used
// for two things.
func derivedKey(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gongdan " + purpose))
	return m.Sum(nil)
}

// engineerContact is an engineer's name and phone from the routing config, for the tracking
// page (which masks the phone).
func engineerContact(cfg *config.Config) func(id string) (string, string) {
	if cfg.Routing == nil {
		return nil
	}
	router := cfg.Routing.Router
	return func(id string) (string, string) {
		e, ok := router.Engineer(id)
		if !ok {
			return "", ""
		}
		return e.Name, e.Phone
	}
}
