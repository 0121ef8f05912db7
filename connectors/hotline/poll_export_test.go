package hotline

import (
	"time"

	"gongdan/connectors"
)

// SetVendorLimits changes what a hotline knows of a vendor, so that tests of its budget,
// retention and back-off need not take hours: maxCalls (0: no budget), retention, and the
// longest wait between two calls. Call it before Run.
func SetVendorLimits(c connectors.Connector, v Format, maxCalls int, retention, maxDelay time.Duration) {
	pv := c.(*Hotline).poll.vendors[v]
	pv.maxCalls, pv.retention, pv.maxDelay = maxCalls, retention, maxDelay
}

// VendorRate is the rate a hotline keeps to with a vendor, in calls a second.
func VendorRate(c connectors.Connector, v Format) float64 {
	return float64(c.(*Hotline).poll.vendors[v].limiter.Limit())
}
