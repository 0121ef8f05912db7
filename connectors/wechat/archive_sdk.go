//go:build linux && cgo && msgaudit

package wechat

import (
	"encoding/json"
	"fmt"

	workconfig "github.com/silenceper/wechat/v2/work/config"
	"github.com/silenceper/wechat/v2/work/msgaudit"
)

// SDKBuilt: this binary links WeCom's Finance SDK (the msgaudit build tag).
const SDKBuilt = true

// errNoSDK is never reported by a binary with the SDK.
const errNoSDK = ""

// sdkSource reads the archive through WeCom's Finance SDK, which the library's msgaudit
// package links (libWeWorkFinanceSdk_C.so, shipped in the module).
type sdkSource struct{ c *msgaudit.Client }

// sdk opens the archive with the connector's credentials.
func (a *Archive) sdk() (archiveSource, error) {
	c, err := msgaudit.NewClient(&workconfig.Config{CorpID: a.corpID, CorpSecret: a.secret, RasPrivateKey: a.key})
	if err != nil {
		return nil, fmt.Errorf("wechat.archive %s: the Finance SDK refused to start: %v", a.name, err)
	}
	return sdkSource{c}, nil
}

// archiveTimeout is how long one SDK call may take, in seconds.
const archiveTimeout = 10

func (s sdkSource) Fetch(seq uint64, limit int) ([]archiveMessage, error) {
	data, err := s.c.GetChatData(seq, uint64(limit), "", "", archiveTimeout)
	if err != nil {
		return nil, err
	}
	out := make([]archiveMessage, 0, len(data))
	for _, d := range data {
		m, err := s.c.DecryptData(d.EncryptRandomKey, d.EncryptChatMsg)
		if err != nil {
			// Encrypted under a key this connector lacks (an old publickey_ver): it cannot
			// be read now or later, and must not hold up every message after it.
			out = append(out, archiveMessage{Seq: d.Seq, MsgID: d.MsgID, Err: fmt.Errorf("decrypting (publickey_ver %d): %w", d.PublickeyVer, err)})
			continue
		}
		body, err := m.GetOriginMessage()
		if err != nil {
			return nil, fmt.Errorf("seq %d: %w", d.Seq, err)
		}
		plain, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		out = append(out, archiveMessage{Seq: d.Seq, MsgID: d.MsgID, Plain: plain})
	}
	return out, nil
}

func (s sdkSource) Close() { s.c.Free() }
