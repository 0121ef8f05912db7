package wechat_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/util"
)

// BenchmarkSafeModeCallback: one safe-mode official account callback through the connector's
// handler (signature, msg_signature, decrypt, parse, replay check, envelope), the bus a
// no-op: the connector's own cost, without HTTP transport, bus or core. Each callback has a
// nonce of its own, as WeChat's do (the same one twice is answered as a retry).
func BenchmarkSafeModeCallback(b *testing.B) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	r := oaRig(b, now, "")
	ts := fmt.Sprint(now.Unix())
	q, body := encrypted(b, oaToken, oaAppID, ts, textMessage("oCUST", "华东仓3号冷库压缩机停机，温度上升，联系人13812345678", 42, now))
	enc := body[strings.Index(body, "<Encrypt><![CDATA[")+len("<Encrypt><![CDATA[") : strings.Index(body, "]]></Encrypt>")]
	h := r.conn.(http.Handler)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		nonce := strconv.Itoa(i)
		q := url.Values{"signature": {util.Signature(oaToken, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce},
			"encrypt_type": {"aes"}, "msg_signature": {util.Signature(oaToken, ts, nonce, enc)}}
		req := httptest.NewRequest(http.MethodPost, "/wechat/gzh?"+q.Encode(), strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body.String())
		}
	}
	_ = q
	if n := len(r.envelopes()); n != i {
		b.Fatalf("%d callbacks published %d envelopes", i, n)
	}
}
