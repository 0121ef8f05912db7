// Package netaddr answers questions about listen addresses that config and the connectors
// both ask. It is a leaf: it imports no other gongdan package.
package netaddr

import (
	"net"
	"net/netip"
	"strings"
)

// IsLoopback reports whether the listen address addr (host:port) accepts connections from
// this machine only: host localhost, 127.0.0.0/8 or ::1. An empty host listens on every
// interface and is not loopback; so is anything that does not parse.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
