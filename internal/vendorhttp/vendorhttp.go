// Package vendorhttp is how gongdan calls a cloud vendor's HTTP API (the hotline's ASR task
// polling, notify's SMS): a resty client with the vendor's timeout and body limit, no
// redirects (a signed request is not sent elsewhere), no retries of its own (the caller's
// pipeline or poller retries with its own back-off) and nothing logged (a request may carry a
// signature or a phone number).
package vendorhttp

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
)

// NewClient is a client for the API at baseURL.
func NewClient(baseURL string, timeout time.Duration, maxBody int) *resty.Client {
	return resty.New().
		SetBaseURL(strings.TrimRight(baseURL, "/")).
		SetTimeout(timeout).
		SetResponseBodyLimit(maxBody).
		SetRedirectPolicy(resty.NoRedirectPolicy()).
		SetRetryCount(0).
		SetDisableWarn(true).
		SetLogger(quiet{})
}

type quiet struct{}

func (quiet) Errorf(string, ...any) {}
func (quiet) Warnf(string, ...any)  {}
func (quiet) Debugf(string, ...any) {}

// Bare is a request's error without its URL (whose query may hold a signature): the
// network's or resty's error alone. TooLarge reports an answer over the body limit.
func Bare(err error) (bare error, tooLarge bool) {
	if errors.Is(err, resty.ErrResponseBodyTooLarge) {
		return err, true
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err, false
	}
	return err, false
}
