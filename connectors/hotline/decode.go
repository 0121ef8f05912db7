package hotline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Decode reads one body as a vendor delivered it (or as the call centre sent it in the generic
// format) into a Transcript. format forces a vendor or, as auto, recognises the body by its
// shape (its keys, never by content type alone); contentType only helps tell form data from
// JSON.
//
// A nil error means a finished call with at least one turn: Status done, turns sorted by start,
// each with text. Any error is a *DecodeError whose Kind and Status say what to do with the
// body (see the Err* values). With ErrNotFinished, ErrVendorFailed, ErrEmptyTranscript and
// ErrNoResult the returned Transcript still holds what the body said (vendor, shape, task id,
// status, the vendor's reason), so a poller can ask again and a dead letter can name the task;
// it never holds turns then.
func Decode(format Format, contentType string, body []byte) (Transcript, error) {
	if !slices.Contains(Formats, format) {
		return Transcript{}, fail(ErrUnknownFormat, "", "format %q is none of auto, aliyun, tencent, iflytek, generic", clip(string(format), 64))
	}
	if len(body) > MaxBodyBytes {
		return Transcript{}, fail(ErrTooLarge, "", "the body is %d bytes, more than the %d a transcript may have", len(body), MaxBodyBytes)
	}
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return Transcript{}, fail(ErrMalformed, "", "the body is empty; expected an ASR result as JSON, or Tencent's callback as form data")
	}
	if body[0] == '{' || body[0] == '[' || isJSON(contentType) {
		return decodeJSON(format, body)
	}
	if n := bytes.Count(body, []byte("&")) + 1; n > maxFormFields {
		return Transcript{}, fail(ErrUnrecognised, "", "the body is form data with %d fields; the vendors' callbacks have fewer than %d", n, maxFormFields)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || len(form) == 0 || !bytes.Contains(body, []byte("=")) {
		return Transcript{}, fail(ErrMalformed, "", "the body is neither JSON nor form data (it starts with %q); expected an ASR result as JSON, or Tencent's callback as form data", clip(string(body), 16))
	}
	return decodeForm(format, form)
}

// maxFormFields bounds the fields of a form body: Tencent's callback has 9, iFlytek's 3.
const maxFormFields = 64

// keySet is which of the keys that tell the vendors' shapes apart an object has at its top
// level (spelt exactly as the vendors spell them).
type keySet uint32

const (
	// Aliyun GetTaskResult and the version 4.0 callback.
	keyTaskID keySet = 1 << iota
	keyStatusCode
	keyStatusText
	keyResult
	// Aliyun's legacy (version 2.0) callback.
	keyLegacyTaskID
	keyLegacyStatusCode
	keyLegacyStatusText
	keyLegacyResult
	// Tencent DescribeTaskStatus: {"Response": {"Data": …}}, or {"Data": …} as its SDKs print it.
	keyResponse
	keyData
	// iFlytek getResult.
	keyCode
	keyDescInfo
	keyContent
	// Generic.
	keyCallID
	keyTurns
)

var shapeKeys = map[string]keySet{
	"TaskId": keyTaskID, "StatusCode": keyStatusCode, "StatusText": keyStatusText, "Result": keyResult,
	"task_id": keyLegacyTaskID, "status_code": keyLegacyStatusCode, "status_text": keyLegacyStatusText, "result": keyLegacyResult,
	"Response": keyResponse, "Data": keyData,
	"code": keyCode, "descInfo": keyDescInfo, "content": keyContent,
	"call_id": keyCallID, "turns": keyTurns,
}

func (k keySet) has(some keySet) bool { return k&some != 0 }

func (k keySet) isAliyun() bool { return k.has(keyTaskID | keyStatusCode | keyStatusText | keyResult) }

func (k keySet) isAliyunLegacy() bool {
	return k.has(keyLegacyTaskID | keyLegacyStatusCode | keyLegacyStatusText | keyLegacyResult)
}

func (k keySet) isTencent() bool { return k.has(keyResponse | keyData) }

func (k keySet) isIflytek() bool {
	return k.has(keyContent) || k&(keyCode|keyDescInfo) == keyCode|keyDescInfo
}

func (k keySet) isGeneric() bool { return k.has(keyTurns | keyCallID) }

// scanKeys reads the top-level keys of the JSON object in b without decoding its values, so
// that the body is decoded once, into the struct of the vendor it turns out to be; it also
// counts the elements of every array in it (see maxElements). ok is false when b does not
// scan as an object; json.Unmarshal then says what is wrong.
func scanKeys(b []byte) (keys keySet, elements int, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, 0, false
	}
	if i = skipSpace(b, i+1); i < len(b) && b[i] == '}' {
		return 0, 0, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return keys, elements, false
		}
		end := stringEnd(b, i)
		if end < 0 {
			return keys, elements, false
		}
		keys |= shapeKeys[string(b[i+1:end-1])] // a key with escapes matches none: vendors use none
		if i = skipSpace(b, end); i >= len(b) || b[i] != ':' {
			return keys, elements, false
		}
		if i = skipValue(b, skipSpace(b, i+1), &elements); i < 0 {
			return keys, elements, false
		}
		if i = skipSpace(b, i); i >= len(b) {
			return keys, elements, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return keys, elements, true
		default:
			return keys, elements, false
		}
	}
}

// maxElements bounds the array elements one JSON document may have. encoding/json makes a
// slice element (up to ~200 bytes here) of every element of an array it decodes, even of a
// "1" two bytes long; without a bound a 16 MB body could take gigabytes. Real bodies have far
// fewer: a five-hour call has some 5,000 sentences and 70,000 words.
const maxElements = 1 << 18

// checkElements refuses a JSON document (the body, or a JSON string inside it: field names
// it) with more array elements than maxElements, before encoding/json makes them.
func checkElements(b []byte, field string) *DecodeError {
	n := 0
	if skipValue(b, skipSpace(b, 0), &n); n <= maxElements {
		return nil
	}
	return fail(ErrTooLarge, field, "%s has %d array elements, more than the %d any transcript has", nonEmpty(field, "the body"), n, maxElements)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd is the index after the closing quote of the JSON string starting at b[i], or -1.
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1
		}
		q += j
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// maxDepth is how deep skipValue follows nesting, as deep as encoding/json goes.
const maxDepth = 10000

// skipValue is the index after the JSON value starting at b[i], or -1; it adds the elements
// of the arrays in the value to *elements. It only finds the value's end; json.Unmarshal
// checks the value.
func skipValue(b []byte, i int, elements *int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		var buf [64]byte
		stack := buf[:0] // the open brackets
		for j := i; j < len(b); j++ {
			switch c := b[j]; c {
			case '"':
				if j = stringEnd(b, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				if len(stack) == maxDepth {
					return -1
				}
				stack = append(stack, c)
				if k := skipSpace(b, j+1); c == '[' && k < len(b) && b[k] != ']' {
					*elements++
				}
			case ',':
				if stack[len(stack)-1] == '[' {
					*elements++
				}
			case '}', ']':
				if stack = stack[:len(stack)-1]; len(stack) == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	for j := i; j < len(b); j++ {
		switch b[j] {
		case ',', '}', ']', ' ', '\n', '\t', '\r':
			return j
		}
	}
	return len(b)
}

// ignored takes a value and keeps nothing of it: a sink for a key that must not fall to
// another field through encoding/json's case-insensitive matching (Aliyun's result and Result).
type ignored struct{}

func (*ignored) UnmarshalJSON([]byte) error { return nil }

// expected says what each format looks like, for errors about bodies that match none.
var expected = map[Format]string{
	FormatAliyun:  "Aliyun's GetTaskResult or callback (TaskId, StatusCode, Result.Sentences) or its legacy callback (task_id, status_code, result)",
	FormatTencent: "Tencent's DescribeTaskStatus (Response.Data with Status, ResultDetail) or its callback (form data: code, requestId, text, resultDetail)",
	FormatIflytek: "iFlytek's getResult (code, descInfo, content.orderInfo, content.orderResult)",
	FormatGeneric: "the generic format (call_id, caller, callee, started_at, turns[{speaker, start_ms, end_ms, text}])",
}

func expectation(format Format) string {
	if format != FormatAuto {
		return expected[format]
	}
	return strings.Join([]string{expected[FormatAliyun], expected[FormatTencent], expected[FormatIflytek], expected[FormatGeneric]}, "; or ")
}

func decodeJSON(format Format, body []byte) (Transcript, error) {
	keys, elements, ok := scanKeys(body)
	if elements > maxElements {
		return Transcript{}, fail(ErrTooLarge, "", "the body has %d array elements, more than the %d any transcript has", elements, maxElements)
	}
	if !ok {
		if !json.Valid(body) {
			return Transcript{}, jsonFault(json.Unmarshal(body, new(any)), "")
		}
		if body[0] != '{' {
			return Transcript{}, fail(ErrUnrecognised, "", "the body is a JSON %s, not an object; expected %s", kindOfJSON(body), expectation(format))
		}
		if err := checkElements(body, ""); err != nil {
			return Transcript{}, err
		}
		keys = slowKeys(body) // valid JSON the scan did not follow; never seen, but not to be refused
	}
	is := func(f Format, match bool) bool { return match && (format == FormatAuto || format == f) }
	switch {
	case is(FormatTencent, keys.isTencent()):
		return decodeTencentTask(body)
	case is(FormatAliyun, keys.isAliyun()):
		return decodeAliyun(body, keys)
	case is(FormatAliyun, keys.isAliyunLegacy()):
		return decodeAliyunLegacy(body, keys)
	case is(FormatIflytek, keys.isIflytek()):
		return decodeIflytekResult(body)
	case is(FormatGeneric, keys.isGeneric()):
		return decodeGeneric(body)
	}
	if !json.Valid(body) {
		return Transcript{}, jsonFault(json.Unmarshal(body, new(any)), "")
	}
	what := "no ASR vendor's shape"
	if format != FormatAuto {
		what = "not in format " + string(format)
	}
	return Transcript{}, fail(ErrUnrecognised, "", "the body is JSON but %s: its keys are %s; expected %s", what, topKeys(body), expectation(format))
}

func slowKeys(body []byte) keySet {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(body, &m)
	var keys keySet
	for k := range m {
		keys |= shapeKeys[k]
	}
	return keys
}

func decodeForm(format Format, form url.Values) (Transcript, error) {
	has := func(k string) bool { return formHas(form, k) }
	tencent := has("requestId") || has("resultDetail") || has("audioTime") || (has("code") && has("text"))
	iflytek := has("orderId") && has("status")
	switch {
	case tencent && (format == FormatAuto || format == FormatTencent):
		return decodeTencentCallback(form)
	case iflytek && (format == FormatAuto || format == FormatIflytek):
		n, err := DecodeIflytekCallback(form)
		if err != nil {
			return Transcript{Vendor: FormatIflytek, Shape: "iflytek.callback"}, err
		}
		t := Transcript{Vendor: FormatIflytek, Shape: "iflytek.callback", TaskID: n.OrderID, Status: n.Status}
		return t, fail(ErrNoResult, "", "the body is iFlytek's notice that order %s is %s: it holds no transcript; fetch it with getResult (POST the order id to /tasks)", n.OrderID, n.Status)
	}
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, clip(k, 32))
	}
	slices.Sort(keys)
	what := "no ASR vendor's callback"
	if format != FormatAuto {
		what = "not in format " + string(format)
	}
	return Transcript{}, fail(ErrUnrecognised, "", "the body is form data but %s: its keys are %s; expected %s", what, listKeys(keys), expectation(format))
}

// formValue is form's value of key, matched exactly or else in any case (iFlytek's docs spell
// both orderId and OrderId).
func formValue(form url.Values, key string) string {
	if v, ok := form[key]; ok && len(v) > 0 {
		return v[0]
	}
	for k, v := range form {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func formHas(form url.Values, key string) bool {
	for k := range form {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func kindOfJSON(b []byte) string {
	switch b[0] {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// topKeys lists an object's keys for an error message (sorted, at most 12).
func topKeys(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return "unreadable"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, clip(k, 32))
	}
	slices.Sort(keys)
	return listKeys(keys)
}

func listKeys(keys []string) string {
	if len(keys) == 0 {
		return "none"
	}
	more := ""
	if len(keys) > 12 {
		more = fmt.Sprintf(" and %d more", len(keys)-12)
		keys = keys[:12]
	}
	return strings.Join(keys, ", ") + more
}

// fail makes a DecodeError of kind with the HTTP status that kind answers with.
func fail(kind error, field, format string, args ...any) *DecodeError {
	status := 422
	switch kind {
	case ErrMalformed, ErrUnknownFormat:
		status = 400
	case ErrTooLarge:
		status = 413
	}
	return &DecodeError{Kind: kind, Status: status, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// jsonFault turns encoding/json's error about the JSON at field (the body when "") into a
// DecodeError that says where.
func jsonFault(err error, field string) *DecodeError {
	where := "the body"
	if field != "" {
		where = field
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fail(ErrMalformed, field, "%s is not valid JSON: %v (at byte %d)", where, syn, syn.Offset)
	case errors.As(err, &typ):
		at := typ.Field
		if field != "" && at != "" {
			at = field + "." + at
		} else if field != "" {
			at = field
		}
		return fail(ErrInvalid, at, "%s is a JSON %s where %s is expected (in %s)", nonEmpty(at, "a value"), typ.Value, goKind(typ.Type.Kind().String()), where)
	case err != nil && strings.Contains(err.Error(), "unexpected end of JSON input"):
		return fail(ErrMalformed, field, "%s is not valid JSON: it ends too soon", where)
	}
	return fail(ErrMalformed, field, "%s is not valid JSON: %v", where, err)
}

func goKind(k string) string {
	switch k {
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	}
	return "a number"
}

func nonEmpty(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

// jsonInt is a whole number that vendors send as a JSON number or as a string ("bg": "50").
// A value it cannot read is kept as bad, for the decoder to report with its field path.
type jsonInt struct {
	n   int64
	set bool
	bad string // the value as sent, when it is not a number
}

func (j *jsonInt) UnmarshalJSON(b []byte) error {
	*j = jsonInt{}
	num, ok := numberBytes(b)
	switch {
	case !ok:
		j.bad = clip(string(b), 32)
	case num == nil: // null or ""
	default:
		if n, ok := parseDecimal(num); ok {
			j.n, j.set = n, true
		} else if f, err := strconv.ParseFloat(string(num), 64); err == nil && math.Abs(f) < 1<<53 {
			j.n, j.set = int64(math.Round(f)), true
		} else {
			j.bad = clip(string(num), 32)
		}
	}
	return nil
}

// jsonFloat is a number sent as a JSON number or a string.
type jsonFloat struct {
	f   float64
	set bool
	bad string
}

func (j *jsonFloat) UnmarshalJSON(b []byte) error {
	*j = jsonFloat{}
	num, ok := numberBytes(b)
	switch {
	case !ok:
		j.bad = clip(string(b), 32)
	case num == nil:
	default:
		if f, err := strconv.ParseFloat(string(num), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			j.f, j.set = f, true
		} else {
			j.bad = clip(string(num), 32)
		}
	}
	return nil
}

// numberBytes is the number a JSON value holds, bare or in a string with spaces around:
// nil for null and "", ok false for any other kind of value.
func numberBytes(b []byte) (num []byte, ok bool) {
	switch c := b[0]; {
	case c == 'n':
		return nil, true
	case c == '"':
		if bytes.IndexByte(b, '\\') >= 0 {
			var s string
			if json.Unmarshal(b, &s) != nil {
				return nil, false
			}
			b = []byte(s)
		} else {
			b = b[1 : len(b)-1]
		}
		if b = bytes.TrimSpace(b); len(b) == 0 {
			return nil, true
		}
		return b, true
	case c == '-' || (c >= '0' && c <= '9'):
		return b, true
	}
	return nil, false
}

// parseDecimal reads an optional minus and up to 18 digits, the common case, without the
// allocation strconv would need.
func parseDecimal(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// jsonText is an id or label sent as a JSON string or number (Tencent's TaskId is a number,
// Aliyun's a string); a number keeps its literal. Other JSON values are kept as bad.
type jsonText struct {
	s   string
	bad string
}

func (j *jsonText) UnmarshalJSON(b []byte) error {
	*j = jsonText{}
	switch c := b[0]; {
	case c == 'n':
	case c == '"':
		if inner := b[1 : len(b)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			j.s = string(bytes.TrimSpace(inner))
		} else if err := json.Unmarshal(b, &j.s); err != nil {
			j.bad = clip(string(b), 32)
		} else {
			j.s = strings.TrimSpace(strings.ToValidUTF8(j.s, "\uFFFD"))
		}
		j.s = clip(j.s, maxField)
	case c == '-' || (c >= '0' && c <= '9'):
		j.s = clip(string(b), maxField)
	default:
		j.bad = clip(string(b), 32)
	}
	return nil
}

// builder collects a transcript's turns with the checks every vendor shares.
type builder struct {
	t Transcript
}

// expect makes room for the turns of n sentences (MaxTurns at most), so that a long call's
// turns are not copied over and over as they come.
func (b *builder) expect(n int) {
	b.t.Turns = slices.Grow(b.t.Turns, min(n, MaxTurns))
}

// where names a sentence for errors ("Result.Sentences[3]"): its list and its index, put
// together only for an error, since formatting the name of each of a long call's sentences
// was a twentieth of its normalization. An index below 0 names the list itself.
type where struct {
	list  string
	index int
}

func (w where) String() string {
	if w.index < 0 {
		return w.list
	}
	return fmt.Sprintf("%s[%d]", w.list, w.index)
}

// add appends one sentence: text cleaned (valid UTF-8, trimmed, cut at MaxTurnText), skipped
// when nothing is left; offsets checked (present or 0, within 0..48 h; an end before the start
// becomes the start). at names the sentence for errors.
func (b *builder) add(at where, speaker string, role Role, start, end jsonInt, text string, emotion jsonFloat) *DecodeError {
	text = cleanText(text)
	if text == "" {
		return nil
	}
	if len(b.t.Turns) == MaxTurns {
		return fail(ErrTooLarge, at.String(), "the transcript has more than %d sentences with text, more than any call; split the recording", MaxTurns)
	}
	s, err := offset(at, "start", start)
	if err != nil {
		return err
	}
	e, err := offset(at, "end", end)
	if err != nil {
		return err
	}
	turn := Turn{Speaker: speaker, Role: role, StartMS: s, EndMS: max(e, s), Text: text}
	if emotion.set && emotion.f > 0 {
		// Both vendors document 1–10; 0 is what they send when emotion was not asked for.
		f := emotion.f
		turn.Emotion = &f
	}
	b.t.Turns = append(b.t.Turns, turn)
	return nil
}

func offset(at where, which string, v jsonInt) (int64, *DecodeError) {
	switch {
	case v.bad != "":
		return 0, fail(ErrInvalid, at.String(), "%s: the %s time %q is not a number of milliseconds", at, which, v.bad)
	case v.n < 0:
		return 0, fail(ErrInvalid, at.String(), "%s: the %s time %d ms is negative", at, which, v.n)
	case v.n > maxOffsetMS:
		return 0, fail(ErrInvalid, at.String(), "%s: the %s time %d ms is more than 48 hours into the recording", at, which, v.n)
	}
	return v.n, nil
}

// finish sorts the turns and checks there are any: the last step of every done transcript.
func (b *builder) finish(emptyReason string) (Transcript, error) {
	b.t.Status = StatusDone
	if len(b.t.Turns) == 0 {
		t := b.t
		t.Turns = nil
		return t, fail(ErrEmptyTranscript, "", "%s", emptyReason)
	}
	slices.SortStableFunc(b.t.Turns, func(x, y Turn) int {
		switch {
		case x.StartMS < y.StartMS:
			return -1
		case x.StartMS > y.StartMS:
			return 1
		}
		return 0
	})
	return b.t, nil
}

// pending is the answer for a task that is not finished.
func pending(t Transcript, vendor, stage string) (Transcript, error) {
	t.Status = StatusRunning
	return t, fail(ErrNotFinished, "", "%s task %s is %s, not finished; ask for its result again later", vendor, nonEmpty(t.TaskID, "(no id)"), stage)
}

// failed is the answer for a task the vendor gave up on.
func failed(t Transcript, vendor, reason string) (Transcript, error) {
	t.Status = StatusFailed
	t.Failure = clip(reason, maxField)
	return t, fail(ErrVendorFailed, "", "%s task %s failed: %s", vendor, nonEmpty(t.TaskID, "(no id)"), t.Failure)
}

func cleanText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return clip(strings.TrimSpace(s), MaxTurnText)
}

// clip cuts s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return strings.TrimSpace(s[:i])
}

// millis turns seconds (Tencent's AudioDuration and audioTime) into whole milliseconds, 0 for
// what cannot be a length.
func millis(seconds float64) int64 {
	if !(seconds > 0) || seconds > maxOffsetMS/1000 {
		return 0
	}
	return int64(math.Round(seconds * 1000))
}

// length is a duration in milliseconds as a vendor sent it, 0 for what cannot be a length.
func length(v jsonInt) int64 {
	if !v.set || v.n < 0 || v.n > maxOffsetMS {
		return 0
	}
	return v.n
}
