package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/google/uuid"

	"gongdan/config"
	"gongdan/core/ticket"
	"gongdan/internal/cloudsign"
	"gongdan/internal/vendorhttp"
	"gongdan/logging"
)

// SMS goes out through one of two vendors' SendSms, asked with resty and signed by hand
// (internal/cloudsign):
//
//   - Aliyun 短信服务 SendSms, version 2017-05-25 (https://help.aliyun.com/document_detail/55284.html):
//     an RPC-style POP API, POST https://dysmsapi.aliyuncs.com/ with the parameters as a form,
//     signed with HMAC-SHA1; PhoneNumbers, SignName, TemplateCode, TemplateParam (a JSON
//     object of the template's ${name} variables), OutId (echoed in receipts). The answer is
//     {"Code": "OK", "Message", "BizId", "RequestId"}; any other Code is a refusal (isv.*: the
//     request, the template, the number) or Aliyun's fault (isp.SYSTEM_ERROR). The page warns
//     that SendSms is not idempotent: "请您做好幂等控制".
//   - Tencent Cloud SMS SendSms, version 2021-01-11 (https://cloud.tencent.com/document/product/382/55981,
//     in English https://www.tencentcloud.com/document/product/382/40536): POST
//     https://sms.tencentcloudapi.com/ with a JSON body, signed with TC3-HMAC-SHA256, X-TC-Region
//     required; PhoneNumberSet (E.164, +86…), SmsSdkAppId, SignName, TemplateId,
//     TemplateParamSet (the template's {1}, {2}, … in order), SessionContext (echoed). The
//     answer is {"Response": {"SendStatusSet": [{"Code": "Ok", …}], "RequestId"}} with one
//     status a number, or {"Response": {"Error": {"Code", "Message"}}} for the request.

// Vendor facts, from the pages above.
const (
	aliyunSMSAction   = "SendSms"
	aliyunSMSVersion  = "2017-05-25"
	tencentSMSAction  = "SendSms"
	tencentSMSVersion = "2021-01-11"
	tencentSMSService = "sms"
	tencentJSON       = "application/json; charset=utf-8"
	// smsMaxBody bounds a vendor's answer; theirs are a few hundred bytes.
	smsMaxBody = 64 << 10
)

// Which vendor answers are worth asking again (the vendor's own faults and rate limits on
// the whole account), by code prefix. Everything else is a refusal of this message, including
// the per-number frequency limits (Aliyun isv.BUSINESS_LIMIT_CONTROL, Tencent
// LimitExceeded.PhoneNumber…: one a minute, a few an hour or a day): the pipeline's retries
// are over within seconds, and the customer is better told on the next channel now.
var (
	aliyunSMSTransient  = []string{"isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR", "Throttling", "ServiceUnavailable", "InternalError"}
	tencentSMSTransient = []string{"InternalError", "RequestLimitExceeded", "ServiceUnavailable"}
	// Refusals only the operator can fix: logged as errors.
	aliyunSMSOps  = []string{"isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL", "isv.TEMPLATE_MISSING_PARAMETERS", "isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE", "isv.PRODUCT_UN_SUBSCRIPT", "isv.ACCOUNT_", "isp.RAM_PERMISSION_DENY", "isv.INVALID_JSON_PARAM", "isv.PARAM_NOT_SUPPORT_URL", "SignatureDoesNotMatch", "InvalidAccessKeyId", "Forbidden"}
	tencentSMSOps = []string{"AuthFailure", "UnauthorizedOperation", "FailedOperation.TemplateIncorrectOrUnapproved", "FailedOperation.SignatureIncorrectOrUnapproved", "FailedOperation.InsufficientBalanceInSmsPackage", "FailedOperation.TemplateParamSetNotMatchApprovedTemplate", "InvalidParameterValue.TemplateParameterFormatError", "InvalidParameterValue.TemplateParameterLengthLimit", "InvalidParameterValue.SdkAppIdNotExist", "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter"}
)

// smsVendor sends one templated SMS to one number.
type smsVendor interface {
	// send sends template tpl with its variables filled by fill to e164 (+8613812345678),
	// tagged with key for the vendor's receipts.
	send(ctx context.Context, e164 string, tpl config.NotifySMSTemplate, fill func(string) string, key string) error
}

// smsChannel tells customers by SMS from the approved template of each kind of message.
type smsChannel struct {
	cfg    *config.NotifySMS
	vendor smsVendor
}

func (smsChannel) name() string { return config.ChannelSMS }

func (s smsChannel) send(ctx context.Context, t ticket.Ticket, m message, key string) (string, error) {
	tpl, ok := s.cfg.Templates[m.kind]
	if !ok {
		return "", unreachable{"no SMS template for " + m.kind}
	}
	if strings.TrimSpace(t.Customer.Phone) == "" {
		return "", unreachable{"no phone number"}
	}
	e164, ok := mobileE164(t.Customer.Phone)
	to := logging.MaskPhones(t.Customer.Phone)
	if !ok {
		return to, refused("%s is not a mobile number SMS can reach", to)
	}
	to = logging.MaskPhones(strings.TrimPrefix(e164, "+86"))
	return to, s.vendor.send(ctx, e164, tpl, m.fill, key)
}

var (
	mobileSeparators = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "", ".", "", "\u00a0", "")
	mainlandMobile   = regexp.MustCompile(`^(?:\+86|0086|86)?(1[3-9]\d{9})$`)
	e164Number       = regexp.MustCompile(`^(?:\+|00)([1-9]\d{7,14})$`)
)

// mobileE164 is phone as E.164 (+8613812345678) if it is a mainland mobile number, with or
// without its country code, or a number written with one (+852…, 00852…); ok false for
// anything else (a landline, a short number, text).
func mobileE164(phone string) (string, bool) {
	p := mobileSeparators.Replace(strings.TrimSpace(phone))
	if m := mainlandMobile.FindStringSubmatch(p); m != nil {
		return "+86" + m[1], true
	}
	if m := e164Number.FindStringSubmatch(p); m != nil && !strings.HasPrefix(m[1], "86") {
		return "+" + m[1], true
	}
	return "", false
}

// newSMSClient is a client for one vendor (vendorhttp: no redirects, no retries of its own,
// nothing logged) with its timeout and body limit.
func newSMSClient(baseURL string, timeout time.Duration) *resty.Client {
	if timeout <= 0 {
		timeout = config.DefaultSMSTimeout
	}
	return vendorhttp.NewClient(baseURL, timeout, smsMaxBody)
}

// requestError says why a request got no answer without its URL: the network's or resty's
// error alone, retried.
func requestError(vendor string, err error) error {
	bare, tooLarge := vendorhttp.Bare(err)
	if tooLarge {
		return refused("%s SendSms answered more than %d bytes", vendor, smsMaxBody)
	}
	return fmt.Errorf("%s SendSms: %v", vendor, bare)
}

// judge turns a vendor's error code into a transient error or a refusal.
func judge(vendor, code, msg string, transient, ops []string, hint string) error {
	what := fmt.Sprintf("%s SendSms: %s: %s", vendor, clip(code, 128), clip(msg, 256))
	for _, p := range transient {
		if strings.HasPrefix(code, p) {
			return errors.New(what)
		}
	}
	for _, p := range ops {
		if strings.HasPrefix(code, p) {
			return refusedOps("%s; check %s", what, hint)
		}
	}
	return refused("%s", what)
}

// statusError judges an HTTP status other than 200 whose body says nothing more: 408, 429 and
// 5xx are asked again, the rest are refusals.
func statusError(vendor string, status int, body []byte) error {
	what := fmt.Sprintf("%s SendSms answered HTTP %d %s: %s", vendor, status, http.StatusText(status), clip(strings.TrimSpace(string(body)), 256))
	if status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500 {
		return errors.New(what)
	}
	return refused("%s", what)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// aliyunSMS sends through Aliyun's SendSms.
type aliyunSMS struct {
	c             *resty.Client
	keyID, secret string
	signName      string
	now           func() time.Time
	nonce         func() string
}

func newAliyunSMS(cfg *config.NotifySMS, now func() time.Time) *aliyunSMS {
	a := cfg.Aliyun
	return &aliyunSMS{c: newSMSClient(a.Endpoint, cfg.Timeout.Std()), keyID: a.AccessKeyID, secret: a.AccessKeySecret.Reveal(),
		signName: cfg.SignName, now: now, nonce: uuid.NewString}
}

func (a *aliyunSMS) send(ctx context.Context, e164 string, tpl config.NotifySMSTemplate, fill func(string) string, key string) error {
	number := strings.TrimPrefix(e164, "+86")
	number = strings.TrimPrefix(number, "+") // elsewhere: the country code and the number, no +
	params := map[string]string{
		"Action": aliyunSMSAction, "Version": aliyunSMSVersion, "Format": "JSON",
		"AccessKeyId": a.keyID, "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
		"SignatureNonce": a.nonce(), "Timestamp": cloudsign.AliyunTimestamp(a.now()),
		"PhoneNumbers": number, "SignName": a.signName, "TemplateCode": tpl.Template, "OutId": key,
	}
	if len(tpl.Params) > 0 {
		vars := make(map[string]string, len(tpl.Params))
		for k, v := range tpl.Params {
			vars[k] = fill(v)
		}
		params["TemplateParam"] = jsonText(vars)
	}
	params["Signature"] = cloudsign.AliyunPOPSignature(http.MethodPost, params, a.secret)
	resp, err := a.c.R().SetContext(ctx).SetFormData(params).Post("/")
	if err != nil {
		return requestError("Aliyun", err)
	}
	body := resp.Body()
	var answer struct{ Code, Message, BizId string }
	switch {
	case json.Unmarshal(body, &answer) != nil || answer.Code == "":
	case answer.Code == "OK" && resp.StatusCode() == http.StatusOK:
		return nil
	case answer.Code != "OK":
		return judge("Aliyun", answer.Code, answer.Message, aliyunSMSTransient, aliyunSMSOps,
			"notify.channels.sms: the keys, sign_name and the template of this message in the Aliyun console")
	}
	if resp.StatusCode() == http.StatusOK {
		return fmt.Errorf("Aliyun SendSms answered what is not its JSON: %s", clip(string(body), 128))
	}
	return statusError("Aliyun", resp.StatusCode(), body)
}

// jsonText is v as JSON without HTML escaping (a link's & stays &).
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a map of strings always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// tencentSMS sends through Tencent Cloud's SendSms.
type tencentSMS struct {
	c                *resty.Client
	host             string
	secretID, secret string
	appID, region    string
	signName         string
	now              func() time.Time
}

func newTencentSMS(cfg *config.NotifySMS, now func() time.Time) *tencentSMS {
	t := cfg.Tencent
	host := ""
	if u, err := url.Parse(t.Endpoint); err == nil {
		host = u.Host
	}
	return &tencentSMS{c: newSMSClient(t.Endpoint, cfg.Timeout.Std()), host: host, secretID: t.SecretID, secret: t.SecretKey.Reveal(),
		appID: t.SdkAppID, region: t.Region, signName: cfg.SignName, now: now}
}

// tencentSendSms is the request body, in the order of the API page.
type tencentSendSms struct {
	PhoneNumberSet   []string
	SmsSdkAppId      string
	SignName         string
	TemplateId       string
	TemplateParamSet []string `json:",omitempty"`
	SessionContext   string
}

func (tc *tencentSMS) send(ctx context.Context, e164 string, tpl config.NotifySMSTemplate, fill func(string) string, key string) error {
	req := tencentSendSms{PhoneNumberSet: []string{e164}, SmsSdkAppId: tc.appID, SignName: tc.signName, TemplateId: tpl.Template, SessionContext: key}
	for _, v := range tpl.ParamSet {
		req.TemplateParamSet = append(req.TemplateParamSet, fill(v))
	}
	payload := []byte(jsonText(req))
	ts := tc.now().Unix()
	resp, err := tc.c.R().SetContext(ctx).SetBody(payload).
		SetHeader("Content-Type", tencentJSON).
		SetHeader("Authorization", cloudsign.TencentTC3Authorization(tc.secretID, tc.secret, tencentSMSService, tc.host, tencentJSON, ts, payload)).
		SetHeader("X-TC-Action", tencentSMSAction).
		SetHeader("X-TC-Version", tencentSMSVersion).
		SetHeader("X-TC-Region", tc.region).
		SetHeader("X-TC-Timestamp", strconv.FormatInt(ts, 10)).
		Post("/")
	if err != nil {
		return requestError("Tencent", err)
	}
	body := resp.Body()
	var answer struct {
		Response struct {
			Error         *struct{ Code, Message string }
			SendStatusSet []struct{ Code, Message, PhoneNumber string }
		}
	}
	const hint = "notify.channels.sms: the keys, sdk_app_id, sign_name and the template of this message in the Tencent console"
	if json.Unmarshal(body, &answer) == nil {
		r := answer.Response
		switch {
		case r.Error != nil && r.Error.Code != "":
			return judge("Tencent", r.Error.Code, r.Error.Message, tencentSMSTransient, tencentSMSOps, hint)
		case len(r.SendStatusSet) == 1 && r.SendStatusSet[0].Code == "Ok":
			return nil
		case len(r.SendStatusSet) == 1:
			st := r.SendStatusSet[0]
			return judge("Tencent", st.Code, st.Message, tencentSMSTransient, tencentSMSOps, hint)
		}
	}
	if resp.StatusCode() == http.StatusOK {
		return fmt.Errorf("Tencent SendSms answered what is not its JSON: %s", clip(string(body), 128))
	}
	return statusError("Tencent", resp.StatusCode(), body)
}

// Interface guards.
var (
	_ channel   = smsChannel{}
	_ smsVendor = (*aliyunSMS)(nil)
	_ smsVendor = (*tencentSMS)(nil)
)
