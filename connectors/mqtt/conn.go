package mqtt

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"

	paho "github.com/eclipse/paho.mqtt.golang"

	"gongdan/internal/bufconn"
)

// openConn dials the broker and reads and writes through a bufconn. paho reads each packet's
// header a byte at a time from the connection; unbuffered, that is three or four read system
// calls for every telemetry message, most of the connector's CPU at fleet rates. And it
// writes every PUBACK on its own: coalesced, acks given while a write is under way go out
// together (under light load, one write per ack, as before).
func openConn(tlsConf *tls.Config) paho.OpenConnectionFunc {
	return func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
		dialer := &net.Dialer{Timeout: o.ConnectTimeout}
		var (
			conn net.Conn
			err  error
		)
		switch uri.Scheme {
		case "tcp", "mqtt":
			conn, err = dialer.Dial("tcp", uri.Host)
		case "ssl", "tls", "mqtts":
			conn, err = tls.DialWithDialer(dialer, "tcp", uri.Host, tlsConf)
		case "ws", "wss":
			u := *uri
			u.User = nil
			conn, err = paho.NewWebsocket(u.String(), tlsConf, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
		default:
			return nil, fmt.Errorf("broker %s: unknown scheme %q (tcp, ssl, ws, wss)", uri.Redacted(), uri.Scheme)
		}
		if err != nil {
			return nil, err
		}
		return bufconn.New(conn), nil
	}
}
