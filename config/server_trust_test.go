package config_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
)

// TestTrustedProxiesAndMetricsToken: server.trusted_proxies takes addresses and CIDR prefixes
// (IPv4-mapped IPv6 as IPv4, as peers are compared), server.metrics_token a secret; both
// default to none.
func TestTrustedProxiesAndMetricsToken(t *testing.T) {
	cfg, err := config.Parse("defaults.yaml", []byte("server: {}\n"))
	require.NoError(t, err)
	assert.Empty(t, cfg.Server.Proxies)
	assert.Empty(t, cfg.Server.MetricsToken)

	cfg, err = config.Parse("proxies.yaml", []byte(`server:
  trusted_proxies: [127.0.0.1, "10.0.0.0/24", "::1", "fd00::/64", "::ffff:192.168.1.7", 10.1.2.3/16]
  metrics_token: prom-0123456789abcdef
`))
	require.NoError(t, err)
	var got []string
	for _, p := range cfg.Server.Proxies {
		got = append(got, p.String())
	}
	assert.Equal(t, []string{"127.0.0.1/32", "10.0.0.0/24", "::1/128", "fd00::/64", "192.168.1.7/32", "10.1.0.0/16"}, got)
	assert.True(t, cfg.Server.Proxies[1].Contains(netip.MustParseAddr("10.0.0.77")))
	assert.Equal(t, "prom-0123456789abcdef", cfg.Server.MetricsToken.Reveal())
	assert.NotContains(t, fmt.Sprintf("%v %+v", cfg.Server, cfg.Server), "prom-0123456789abcdef", "the metrics token is a secret")
}

// TestTrustedProxiesAndMetricsTokenErrors: every wrong entry is reported at its line, with
// what to write instead; the metrics token's value never appears.
func TestTrustedProxiesAndMetricsTokenErrors(t *testing.T) {
	_, err := config.Parse("inline.yaml", []byte(`server:
  trusted_proxies:
    - 127.0.0.1
    - 10.0.0.300
    - 10.0.0.0/33
    - 0.0.0.0/0
    - nginx
  metrics_token: short-secret
`))
	assert.Equal(t, []string{
		`inline.yaml:4: server.trusted_proxies[1]: "10.0.0.300" is not an IP address; write one like 127.0.0.1 or 10.0.0.5, or a CIDR prefix like 10.0.0.0/24`,
		`inline.yaml:5: server.trusted_proxies[2]: "10.0.0.0/33" is not a CIDR prefix; write one like 10.0.0.0/24 or fd00::/64, or an address like 10.0.0.5`,
		`inline.yaml:6: server.trusted_proxies[3]: "0.0.0.0/0" trusts every address as a proxy; list the addresses of your proxies`,
		`inline.yaml:7: server.trusted_proxies[4]: "nginx" is not an IP address; write one like 127.0.0.1 or 10.0.0.5, or a CIDR prefix like 10.0.0.0/24`,
		`inline.yaml:8: server.metrics_token: too short: a token needs at least 16 characters (openssl rand -hex 24 makes a good one)`,
	}, errorLines(t, err))
	assert.NotContains(t, err.Error(), "short-secret")

	_, err = config.Parse("inline.yaml", []byte(`server:
  tokens:
    - {token: admin-0123456789abcdef, actor: admin-1, role: admin}
  metrics_token: admin-0123456789abcdef
  trusted_proxies: 10.0.0.1
`))
	assert.Equal(t, []string{
		`inline.yaml:4: server.metrics_token: the same token as server.tokens[0]; the metrics token must be one of its own (an admin token may read /metrics anyway)`,
		`inline.yaml:5: server.trusted_proxies: want a list (lines starting with -), got a string`,
	}, errorLines(t, err))
	assert.NotContains(t, err.Error(), "admin-0123456789abcdef")
}
