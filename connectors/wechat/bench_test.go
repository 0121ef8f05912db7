package wechat_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkSafeModeCallback: one safe-mode official account callback through the connector's
// handler (signature, msg_signature, decrypt, parse, envelope), the bus a no-op: the
// connector's own cost, without HTTP transport, bus or core.
func BenchmarkSafeModeCallback(b *testing.B) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	r := oaRig(b, now, "")
	q, body := encrypted(b, oaToken, oaAppID, fmt.Sprint(now.Unix()), textMessage("oCUST", "华东仓3号冷库压缩机停机，温度上升，联系人13812345678", 42, now))
	target := "/wechat/gzh?" + q.Encode()
	h := r.conn.(http.Handler)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
