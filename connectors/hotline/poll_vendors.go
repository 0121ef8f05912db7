package hotline

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/google/uuid"

	"gongdan/internal/cloudsign"
	"gongdan/internal/vendorhttp"
)

// The vendors' task APIs, asked with resty and signed by hand: the vendors' Go SDKs are not
// served here whole (only tencentcloud-sdk-go's common module is, and it would bring its own
// HTTP client), and each signature is a few lines, tested against the vendor's published
// example (internal/cloudsign).
//
//   - Tencent DescribeTaskStatus (https://cloud.tencent.com/document/product/1093/37822):
//     POST https://asr.tencentcloudapi.com/, {"TaskId": <integer>}, version 2019-06-14, signed
//     with TC3-HMAC-SHA256 (签名方法 v3); 50 requests a second by default; a task is valid for
//     24 hours and its id may come again on another day.
//   - Aliyun 录音文件识别 GetTaskResult (https://help.aliyun.com/zh/isi/developer-reference/api-reference-2):
//     GET https://filetrans.cn-shanghai.aliyuncs.com/?Action=GetTaskResult&Version=2018-08-17&TaskId=…,
//     an RPC-style POP API signed with HMAC-SHA1; 100 queries a second a user (more are
//     answered Throttling.User); results are kept 72 hours.

// Vendor facts, from the pages above (and, for iFlytek, issue 20 and its API page).
const (
	tencentRetention = 24 * time.Hour
	tencentRate      = 50
	aliyunRetention  = 72 * time.Hour
	aliyunRate       = 100
	iflytekRetention = 72 * time.Hour
	iflytekMaxCalls  = 100
	// iflytekRate is gongdan's own pace: iFlytek publishes no rate for getResult but asks
	// callers not to poll it hard ("我们对接口查询频率有限制").
	iflytekRate = 10

	tencentAction  = "DescribeTaskStatus"
	tencentVersion = "2019-06-14"
	tencentService = "asr"
	tencentJSON    = "application/json; charset=utf-8"
	aliyunAction   = "GetTaskResult"
	aliyunVersion  = "2018-08-17"

	// vendorTimeout bounds one request to a vendor, the answer read whole (up to
	// MaxBodyBytes).
	vendorTimeout = 60 * time.Second
)

// newVendorClient is a client for one vendor (vendorhttp: no redirects, no retries of its
// own, nothing logged) with the hotline's timeout and body limit.
func newVendorClient(baseURL string) *resty.Client {
	return vendorhttp.NewClient(baseURL, vendorTimeout, MaxBodyBytes)
}

// requestError says why a request got no answer, without its URL (whose query may hold a
// signature): the network's or resty's error alone, transient but for a body too large.
func requestError(api string, err error) error {
	bare, tooLarge := vendorhttp.Bare(err)
	if tooLarge {
		return permanent("the %s answer is larger than %d bytes", api, MaxBodyBytes)
	}
	return transient("%s: %v", api, bare)
}

// statusError judges an HTTP status other than 200 whose body says nothing more: 408, 429
// and 5xx are asked again, the rest are refusals.
func statusError(api string, status int, body []byte) error {
	what := fmt.Sprintf("%s answered HTTP %d %s: %s", api, status, http.StatusText(status), clip(strings.TrimSpace(string(body)), 256))
	if status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500 {
		return transient("%s", what)
	}
	return permanent("%s", what)
}

// tencentTransientCodes are the Error.Code prefixes of DescribeTaskStatus worth asking again
// (公共错误码: rate limits and Tencent's own faults); any other code is a refusal.
var tencentTransientCodes = []string{"RequestLimitExceeded", "InternalError", "ServiceUnavailable"}

// tencentAsk asks DescribeTaskStatus about a task.
func tencentAsk(c *resty.Client, secretID, secretKey, region string, now func() time.Time) func(context.Context, string) ([]byte, error) {
	host := ""
	if u, err := url.Parse(c.BaseURL); err == nil {
		host = u.Host
	}
	return func(ctx context.Context, taskID string) ([]byte, error) {
		payload := []byte(`{"TaskId":` + taskID + `}`) // an integer; checked to be digits when taken
		ts := now().Unix()
		req := c.R().SetContext(ctx).SetBody(payload).
			SetHeader("Content-Type", tencentJSON).
			SetHeader("Authorization", cloudsign.TencentTC3Authorization(secretID, secretKey, tencentService, host, tencentJSON, ts, payload)).
			SetHeader("X-TC-Action", tencentAction).
			SetHeader("X-TC-Version", tencentVersion).
			SetHeader("X-TC-Timestamp", strconv.FormatInt(ts, 10))
		if region != "" {
			req.SetHeader("X-TC-Region", region)
		}
		resp, err := req.Post("/")
		if err != nil {
			return nil, requestError(tencentAction, err)
		}
		body := resp.Body()
		var e struct {
			Response struct {
				Error *struct{ Code, Message string }
			}
		}
		if json.Unmarshal(body, &e) == nil && e.Response.Error != nil && e.Response.Error.Code != "" {
			code, msg := clip(e.Response.Error.Code, 128), clip(e.Response.Error.Message, 512)
			for _, p := range tencentTransientCodes {
				if strings.HasPrefix(code, p) {
					return nil, transient("%s: %s: %s", tencentAction, code, msg)
				}
			}
			hint := ""
			if strings.HasPrefix(code, "AuthFailure") {
				hint = "; check poll.tencent.secret_id and secret_key"
			}
			return nil, permanent("Tencent refused %s: %s: %s%s", tencentAction, code, msg, hint)
		}
		if resp.StatusCode() != http.StatusOK {
			return nil, statusError(tencentAction, resp.StatusCode(), body)
		}
		return body, nil
	}
}

// aliyunTransientCodes are the POP error code prefixes worth asking again.
var aliyunTransientCodes = []string{"Throttling", "ServiceUnavailable", "InternalError"}

// aliyunAsk asks GetTaskResult about a task.
func aliyunAsk(c *resty.Client, keyID, keySecret string, now func() time.Time) func(context.Context, string) ([]byte, error) {
	return func(ctx context.Context, taskID string) ([]byte, error) {
		params := map[string]string{
			"Action": aliyunAction, "Version": aliyunVersion, "TaskId": taskID, "Format": "JSON",
			"AccessKeyId": keyID, "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
			"SignatureNonce": uuid.NewString(), "Timestamp": cloudsign.AliyunTimestamp(now()),
		}
		params["Signature"] = cloudsign.AliyunPOPSignature(http.MethodGet, params, keySecret)
		resp, err := c.R().SetContext(ctx).SetQueryParams(params).Get("/")
		if err != nil {
			return nil, requestError(aliyunAction, err)
		}
		body := resp.Body()
		if resp.StatusCode() == http.StatusOK {
			return body, nil
		}
		var e struct{ Code, Message string }
		if json.Unmarshal(body, &e) == nil && e.Code != "" {
			code, msg := clip(e.Code, 128), clip(e.Message, 512)
			for _, p := range aliyunTransientCodes {
				if strings.HasPrefix(code, p) {
					return nil, transient("%s: %s: %s", aliyunAction, code, msg)
				}
			}
			hint := ""
			if strings.Contains(code, "Signature") || strings.Contains(code, "AccessKey") || strings.HasPrefix(code, "Forbidden") {
				hint = "; check poll.aliyun.access_key_id and access_key_secret"
			}
			return nil, permanent("Aliyun refused %s: %s: %s%s", aliyunAction, code, msg, hint)
		}
		return nil, statusError(aliyunAction, resp.StatusCode(), body)
	}
}
