package hotline

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var decodeKinds = []error{
	ErrMalformed, ErrUnknownFormat, ErrUnrecognised, ErrInvalid, ErrNotFinished,
	ErrVendorFailed, ErrVendorAPI, ErrNoResult, ErrEmptyTranscript, ErrTooLarge,
}

// FuzzDecode: Decode never panics; an error is a *DecodeError of a known kind with a 4xx
// status and no turns; a transcript has 1..MaxTurns turns sorted by start, each with clean,
// bounded text and 0 <= start <= end; a vendor forced reads the body as auto recognised it.
//
//	go test ./connectors/hotline -run '^$' -fuzz FuzzDecode -fuzztime 60s
func FuzzDecode(f *testing.F) {
	for _, fx := range fixtures(f) {
		f.Add(fx.body, uint8(0), strings.HasSuffix(fx.path, ".form"))
	}
	f.Add([]byte(`{"Data":{"TaskId":1,"Status":2,"Result":"[0:1.0,0:2.0,1]  hi\nmore\n[0:0.5,0:0.9]  first"}}`), uint8(2), false)
	f.Add([]byte(`{"code":"000000","content":{"orderInfo":{"orderId":"o","status":4},"orderResult":{"lattice2":[{"json_1best":{"st":{"bg":"9","ed":"3","rl":"1","rt":[{"ws":[{"cw":[{"w":"好"}]}]}]}}}]}}}`), uint8(3), false)
	f.Add([]byte("code=0&requestId=1&resultDetail=%5B%7B%22FinalSentence%22%3A%22x%22%2C%22StartMs%22%3A%225%22%7D%5D"), uint8(2), true)
	f.Fuzz(func(t *testing.T, body []byte, format uint8, form bool) {
		ct := "application/json"
		if form {
			ct = "application/x-www-form-urlencoded"
		}
		fm := Formats[int(format)%len(Formats)]
		tr, err := Decode(fm, ct, body)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DecodeError", err, err)
			}
			if !slices.Contains(decodeKinds, de.Kind) || (de.Status != 400 && de.Status != 413 && de.Status != 422) || de.Reason == "" {
				t.Fatalf("error without kind, status or reason: %#v", de)
			}
			if len(tr.Turns) != 0 {
				t.Fatalf("an error came with %d turns", len(tr.Turns))
			}
			return
		}
		checkTranscript(t, tr)
		if fm == FormatAuto {
			again, err := Decode(tr.Vendor, ct, body)
			if err != nil || !slices.Equal(turnsKey(again), turnsKey(tr)) {
				t.Fatalf("format %s reads the body otherwise than auto: %v", tr.Vendor, err)
			}
		}
	})
}

func checkTranscript(t *testing.T, tr Transcript) {
	t.Helper()
	if tr.Status != StatusDone || !slices.Contains(Formats[1:], tr.Vendor) || tr.Shape == "" {
		t.Fatalf("status %q vendor %q shape %q", tr.Status, tr.Vendor, tr.Shape)
	}
	if len(tr.Turns) == 0 || len(tr.Turns) > MaxTurns {
		t.Fatalf("%d turns", len(tr.Turns))
	}
	for i, turn := range tr.Turns {
		switch {
		case turn.Text == "" || strings.TrimSpace(turn.Text) != turn.Text:
			t.Fatalf("turn %d text %q is empty or untrimmed", i, turn.Text)
		case !utf8.ValidString(turn.Text) || len(turn.Text) > MaxTurnText:
			t.Fatalf("turn %d text is not valid UTF-8 or longer than %d bytes", i, MaxTurnText)
		case turn.StartMS < 0 || turn.StartMS > turn.EndMS || turn.EndMS > maxOffsetMS:
			t.Fatalf("turn %d runs %d..%d ms", i, turn.StartMS, turn.EndMS)
		case i > 0 && tr.Turns[i-1].StartMS > turn.StartMS:
			t.Fatalf("turn %d starts before turn %d", i, i-1)
		case turn.Role != RoleUnknown && turn.Role != RoleAgent && turn.Role != RoleCustomer:
			t.Fatalf("turn %d role %q", i, turn.Role)
		case turn.Emotion != nil && !(*turn.Emotion > 0):
			t.Fatalf("turn %d emotion %v", i, *turn.Emotion)
		case len(turn.Speaker) > maxField:
			t.Fatalf("turn %d speaker is %d bytes", i, len(turn.Speaker))
		}
	}
}

func turnsKey(tr Transcript) []string {
	out := make([]string, len(tr.Turns))
	for i, turn := range tr.Turns {
		out[i] = turn.Speaker + "|" + string(turn.Role) + "|" + turn.Text
	}
	return out
}
