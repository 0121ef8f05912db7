package hotline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"

	"gongdan/connectors/intakeauth"
	"gongdan/problem"
)

// iFlytek's completion notice says only that an order finished (GET callbackUrl?orderId=…&
// status=1, see decode_iflytek.go); with an iflytek section the connector keeps the order
// and fetches its getResult itself, signed with IflytekSigna, as the poller does for the
// other vendors' tasks.

// iflytekRetryCodes are getResult refusals worth asking again: 26600 转写业务通用错误 (a
// fault on iFlytek's side) and 26603 接口访问频率受限 (a rate limit). The other codes of
// iflytekAPICodes (an illegal app, bad parameters) will not change by asking again.
var iflytekRetryCodes = map[string]bool{"26600": true, "26603": true}

// iflytekAsk asks getResult about an order.
func iflytekAsk(c *resty.Client, appID, secretKey string, now func() time.Time) func(context.Context, string) ([]byte, error) {
	return func(ctx context.Context, orderID string) ([]byte, error) {
		ts := now().Unix()
		resp, err := c.R().SetContext(ctx).SetQueryParams(map[string]string{
			"signa": IflytekSigna(appID, secretKey, ts), "ts": strconv.FormatInt(ts, 10),
			"appId": appID, "orderId": orderID, "resultType": "transfer",
		}).Post("/v2/api/getResult")
		if err != nil {
			return nil, requestError("getResult", err)
		}
		body := resp.Body()
		if resp.StatusCode() != http.StatusOK {
			return nil, statusError("getResult", resp.StatusCode(), body)
		}
		var head struct {
			Code     jsonText `json:"code"`
			DescInfo jsonText `json:"descInfo"`
		}
		if json.Unmarshal(body, &head) == nil && iflytekAPICodes[head.Code.s] {
			what := fmt.Sprintf("getResult: %s (code %s)", nonEmpty(clip(head.DescInfo.s, 256), "no descInfo"), head.Code.s)
			if iflytekRetryCodes[head.Code.s] {
				return nil, transient("%s", what)
			}
			return nil, permanent("iFlytek refused %s; check iflytek.app_id and secret_key", what)
		}
		return body, nil
	}
}

// noticeTaken is the answer to a completion notice kept.
type noticeTaken struct {
	Code      int    `json:"code"`
	Message   string `json:"message"`
	OrderID   string `json:"order_id"`
	Connector string `json:"connector"`
}

// serveNotice takes iFlytek's completion notice from the URL's query (iFlytek calls back
// with GET; a POST with the query is taken too): checks who sent it, keeps the order on
// disk and answers 200 once it is kept. A body, if any, is read for the signature check only.
func (h *Hotline) serveNotice(rw http.ResponseWriter, r *http.Request) {
	h.env.Stats.Received.Add(1)
	check, p := h.caller(rw, r)
	if p == nil && check != nil {
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, 64<<10))
		if err != nil {
			p = problem.New(http.StatusBadRequest, "bad-request", "reading the body: "+err.Error())
		} else {
			check.Write(body)
			p = check.Finish(rw)
		}
	}
	if p != nil {
		h.env.Refuse(rw, r, "iFlytek notice", p)
		return
	}
	h.takeNotice(rw, r, check, r.URL.Query())
}

// takeNotice keeps the order a notice names, and answers.
func (h *Hotline) takeNotice(rw http.ResponseWriter, r *http.Request, check *intakeauth.Check, form url.Values) {
	n, err := DecodeIflytekCallback(form)
	if err != nil {
		release(check)
		var de *DecodeError
		detail := err.Error()
		if errors.As(err, &de) {
			detail = de.Reason
		}
		h.env.Refuse(rw, r, "iFlytek notice", problem.New(http.StatusUnprocessableEntity, "bad-notice", detail))
		return
	}
	if n.ResultType != "" && !strings.Contains(n.ResultType, "transfer") {
		// A translation or quality-check result: no transcript to fetch. Answered 200 so
		// iFlytek does not call again.
		h.env.Logger.Info("hotline: iFlytek notice of a result that holds no transcript ignored", "order_id", n.OrderID, "result_type", n.ResultType)
		writeJSON(rw, noticeTaken{Code: 0, Message: "ignored: result type " + n.ResultType + " holds no transcript", OrderID: n.OrderID, Connector: h.name})
		return
	}
	now := h.env.Now().In(h.env.Location)
	_, err = h.poll.add(asrTask{Vendor: FormatIflytek, TaskID: n.OrderID, Query: queryOf(r),
		EnvelopeID: h.env.NewID(), ReceivedAt: now, NextAt: now})
	if err != nil {
		release(check)
		h.env.NotStored(rw, r, "iFlytek notice", err, "the order was not kept; send the notice again")
		return
	}
	writeJSON(rw, noticeTaken{Code: 0, Message: "success", OrderID: n.OrderID, Connector: h.name})
}

// release forgets a signed request's replay claim (nil: none was made).
func release(check *intakeauth.Check) { check.Release() }

func writeJSON(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json")
	json.NewEncoder(rw).Encode(v)
}
