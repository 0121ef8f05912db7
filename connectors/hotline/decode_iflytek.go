package hotline

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// iFlytek 录音文件转写 (lfasr v2, https://www.xfyun.cn/doc/asr/ifasr_new/API.html):
//
//   - When an order finishes iFlytek calls the upload's callbackUrl with only
//     ?orderId=…&status=1 (1 done, -1 failed; resultType names translate or predict
//     results): DecodeIflytekCallback reads it, and the transcript is then fetched.
//   - getResult answers {"code": "000000", "descInfo": "success", "content": {"orderInfo":
//     {orderId, status, failType, originalDuration, realDuration}, "orderResult": "<JSON>",
//     "taskEstimateTime"}}. orderInfo.status is 0 created, 3 processing, 4 done, -1 failed
//     (failType says why). orderResult is a JSON string of {lattice: [{json_1best: "<JSON>"}],
//     lattice2: [{json_1best: {…}, begin, end, lid, spk}], label}; each json_1best is one
//     sentence {"st": {bg, ed, rl, rt: [{ws: [{cw: [{w, wp, wc}], wb, we}]}]}} with bg and ed
//     in milliseconds as strings and rl the speaker (0 without role separation). lattice is
//     the smoothed text and lattice2, when the account has it, the raw one: lattice is read,
//     lattice2 only when lattice is empty.
//   - Requests are signed with signa = Base64(HmacSHA1(key: secret key, message: the hex MD5
//     of appId+ts)); see IflytekSigna.

// IflytekNotice is what iFlytek's completion callback says.
type IflytekNotice struct {
	OrderID string
	// Status is StatusDone (status=1: fetch the result with getResult) or StatusFailed
	// (status=-1: getResult's failType says why).
	Status Status
	// ResultType is empty or transfer for a transcription; translate and predict name the
	// other results an order can have, which hold no transcript.
	ResultType string
}

// DecodeIflytekCallback reads iFlytek's completion callback (its query string, or a form body
// with the same fields). Errors are *DecodeError (ErrInvalid).
func DecodeIflytekCallback(q url.Values) (IflytekNotice, error) {
	n := IflytekNotice{
		OrderID:    clip(strings.TrimSpace(formValue(q, "orderId")), maxField),
		ResultType: clip(strings.TrimSpace(formValue(q, "resultType")), 64),
	}
	if n.OrderID == "" {
		return n, fail(ErrInvalid, "orderId", "iFlytek's callback has no orderId")
	}
	switch s := strings.TrimSpace(formValue(q, "status")); s {
	case "1":
		n.Status = StatusDone
	case "-1":
		n.Status = StatusFailed
	default:
		return n, fail(ErrInvalid, "status", "iFlytek's callback for order %s has status %q; expected 1 (done) or -1 (failed)", n.OrderID, clip(s, 32))
	}
	return n, nil
}

// IflytekSigna is the signa of iFlytek's lfasr v2 requests (upload, getResult) for appID at
// ts (Unix seconds): Base64(HmacSHA1(secretKey, hex(MD5(appID + ts)))).
func IflytekSigna(appID, secretKey string, ts int64) string {
	sum := md5.Sum([]byte(appID + strconv.FormatInt(ts, 10)))
	mac := hmac.New(sha1.New, []byte(secretKey))
	mac.Write([]byte(hex.EncodeToString(sum[:])))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

type iflytekContent struct {
	OrderInfo *struct {
		OrderID          jsonText `json:"orderId"`
		Status           jsonInt  `json:"status"`
		FailType         jsonInt  `json:"failType"`
		OriginalDuration jsonInt  `json:"originalDuration"`
	} `json:"orderInfo"`
	OrderResult string `json:"orderResult"`
	// OrderID is in upload's answer, which has no orderInfo.
	OrderID jsonText `json:"orderId"`
}

// iflytekBody is getResult's answer.
type iflytekBody struct {
	Code     jsonText        `json:"code"`
	DescInfo jsonText        `json:"descInfo"`
	Content  *iflytekContent `json:"content"`
}

// iflytekOrderResult is orderResult: lattice's json_1best is a JSON string, lattice2's an object.
type iflytekOrderResult struct {
	Lattice []struct {
		JSON1Best string `json:"json_1best"`
	} `json:"lattice"`
	Lattice2 []struct {
		JSON1Best json.RawMessage `json:"json_1best"`
	} `json:"lattice2"`
}

type iflytekSentence struct {
	St *struct {
		Bg jsonInt  `json:"bg"`
		Ed jsonInt  `json:"ed"`
		Rl jsonText `json:"rl"`
		Rt []struct {
			Ws []struct {
				Cw []struct {
					W string `json:"w"`
				} `json:"cw"`
			} `json:"ws"`
		} `json:"rt"`
	} `json:"st"`
}

// iflytekFailTypes are orderInfo.failType's meanings.
var iflytekFailTypes = map[int64]string{
	1:  "音频上传失败 (upload failed)",
	2:  "音频转码失败 (transcoding failed)",
	3:  "音频识别失败 (recognition failed)",
	4:  "音频时长超限 (longer than 5 hours)",
	5:  "音频校验失败 (duration does not match the audio)",
	6:  "静音文件 (silent recording)",
	7:  "翻译失败 (translation failed)",
	8:  "账号无翻译权限 (no translation permission)",
	9:  "转写质检失败 (quality check failed)",
	10: "转写质检未匹配出关键词 (quality check matched no keyword)",
	11: "未开启质检或者翻译能力 (quality check or translation not enabled)",
	99: "其他 (other)",
}

// iflytekRunningCodes are getResult codes that mean "ask again later"; iflytekAPICodes are
// refusals of the request itself. Every other code other than 000000 is the order's failure.
var (
	iflytekRunningCodes = map[string]bool{"26605": true, "26682": true}
	iflytekAPICodes     = map[string]bool{"26600": true, "26601": true, "26603": true, "26604": true, "26610": true}
)

func decodeIflytekResult(body []byte) (Transcript, error) {
	t := Transcript{Vendor: FormatIflytek, Shape: "iflytek.getResult"}
	var x iflytekBody
	err := unmarshal(body, &x)
	code, desc := x.Code, clip(x.DescInfo.s, 512)
	var c iflytekContent
	if x.Content != nil {
		c = *x.Content
	}
	if c.OrderInfo != nil {
		t.TaskID = c.OrderInfo.OrderID.s
		t.AudioMS = length(c.OrderInfo.OriginalDuration)
	}
	if err != nil {
		return t, jsonFault(err, "")
	}
	switch {
	case code.bad != "":
		return t, fail(ErrInvalid, "code", "code %s is not iFlytek's (000000 is success)", code.bad)
	case code.s != "" && code.s != "000000":
		reason := fmt.Sprintf("%s (code %s)", nonEmpty(desc, "no descInfo"), code.s)
		switch {
		case iflytekRunningCodes[code.s]:
			return pending(t, "iFlytek", "processing ("+reason+")")
		case iflytekAPICodes[code.s]:
			return t, fail(ErrVendorAPI, "code", "iFlytek refused the request: %s; nothing is known about order %s", reason, nonEmpty(t.TaskID, "(no id)"))
		}
		return failed(t, "iFlytek", reason)
	case c.OrderInfo == nil:
		if c.OrderID.s != "" {
			t.TaskID = c.OrderID.s
			return t, fail(ErrNoResult, "content.orderInfo", "the body is iFlytek's upload answer for order %s: it holds no transcript; fetch it with getResult once the order is done", t.TaskID)
		}
		return t, fail(ErrUnrecognised, "content.orderInfo", "iFlytek's answer has no content.orderInfo; expected %s", expected[FormatIflytek])
	}
	info := c.OrderInfo
	switch {
	case info.Status.bad != "":
		return t, fail(ErrInvalid, "content.orderInfo.status", "content.orderInfo.status %q is not iFlytek's order status (0 created, 3 processing, 4 done, -1 failed)", info.Status.bad)
	case !info.Status.set:
		return t, fail(ErrInvalid, "content.orderInfo.status", "iFlytek order %s has no content.orderInfo.status (0 created, 3 processing, 4 done, -1 failed)", nonEmpty(t.TaskID, "(no id)"))
	case info.Status.n == 0:
		return pending(t, "iFlytek", "created")
	case info.Status.n == 3:
		return pending(t, "iFlytek", "processing")
	case info.Status.n == -1:
		why := iflytekFailTypes[info.FailType.n]
		if why == "" {
			why = "failType " + strconv.FormatInt(info.FailType.n, 10)
		}
		return failed(t, "iFlytek", why)
	case info.Status.n != 4:
		return t, fail(ErrInvalid, "content.orderInfo.status", "content.orderInfo.status %d is none of iFlytek's (0 created, 3 processing, 4 done, -1 failed)", info.Status.n)
	}
	b := builder{t: t}
	if err := iflytekTurns(&b, c.OrderResult); err != nil {
		return t, err
	}
	return b.finish(fmt.Sprintf("iFlytek order %s is done but recognised no speech: no sentence has text; check that the recording holds the call", nonEmpty(t.TaskID, "(no id)")))
}

func iflytekTurns(b *builder, result string) *DecodeError {
	if strings.TrimSpace(result) == "" {
		return nil
	}
	if err := checkElements([]byte(result), "content.orderResult"); err != nil {
		return err
	}
	var r iflytekOrderResult
	if err := unmarshal([]byte(result), &r); err != nil {
		return jsonFault(err, "content.orderResult")
	}
	if len(r.Lattice) > 0 {
		for i, l := range r.Lattice {
			field := fmt.Sprintf("content.orderResult.lattice[%d].json_1best", i)
			if err := iflytekSentenceTurn(b, field, []byte(l.JSON1Best)); err != nil {
				return err
			}
		}
		return nil
	}
	for i, l := range r.Lattice2 {
		field := fmt.Sprintf("content.orderResult.lattice2[%d].json_1best", i)
		one := []byte(l.JSON1Best)
		if len(one) > 0 && one[0] == '"' { // as in lattice, should it come so
			var s string
			if err := json.Unmarshal(one, &s); err != nil {
				return jsonFault(err, field)
			}
			one = []byte(s)
		}
		if err := iflytekSentenceTurn(b, field, one); err != nil {
			return err
		}
	}
	return nil
}

// iflytekSentenceTurn adds the sentence of one json_1best: its words joined.
func iflytekSentenceTurn(b *builder, field string, one []byte) *DecodeError {
	if len(one) > MaxNestedBytes {
		return fail(ErrTooLarge, field, "%s is %d bytes, more than the %d one sentence may have", field, len(one), MaxNestedBytes)
	}
	if len(bytes.TrimSpace(one)) == 0 || string(one) == "null" {
		return nil
	}
	if err := checkElements(one, field); err != nil {
		return err
	}
	var s iflytekSentence
	if err := unmarshal(one, &s); err != nil {
		return jsonFault(err, field)
	}
	if s.St == nil {
		return nil
	}
	if s.St.Rl.bad != "" {
		return fail(ErrInvalid, field+".st.rl", "%s.st.rl %s is not a speaker number", field, s.St.Rl.bad)
	}
	var text strings.Builder
	for _, rt := range s.St.Rt {
		for _, ws := range rt.Ws {
			if len(ws.Cw) > 0 && text.Len() < MaxTurnText {
				text.WriteString(ws.Cw[0].W)
			}
		}
	}
	return b.add(where{field, -1}, s.St.Rl.s, RoleUnknown, s.St.Bg, s.St.Ed, text.String(), jsonFloat{})
}
