package wechat_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/attachments"
	"gongdan/connectors"
	"gongdan/connectors/ocr"
	"gongdan/connectors/wechat"
	"gongdan/connectors/wechat/wechattest"
	"gongdan/draft"
)

func TestAnImageIsKeptWithItsMessage(t *testing.T) {
	photo := []byte("\x89PNG\r\n\x1a\n the broken pump, photographed")
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/mmbiz/pump.png" {
			http.NotFound(w, r)
			return
		}
		w.Write(photo)
	}))
	defer cdn.Close()
	defer wechat.AllowMediaHosts(func(host string) bool { return host == "127.0.0.1" })()
	store := attachments.New(filepath.Join(t.TempDir(), "attachments"))
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	r := oaRig(t, now, "", func(env *connectors.Env) { env.Attachments = store })
	image := func(id int, pic string) string {
		return msg("image", fmt.Sprintf("<PicUrl><![CDATA[%s]]></PicUrl><MediaId><![CDATA[media-%d]]></MediaId><MsgId>%d</MsgId>", pic, id, id))
	}
	for i, pic := range []string{cdn.URL + "/mmbiz/pump.png", cdn.URL + "/mmbiz/gone.png"} {
		q, body := encrypted(t, oaToken, oaAppID, fmt.Sprint(now.Unix()), image(i+1, pic))
		status, answer := r.call(t, http.MethodPost, q, body)
		require.Equal(t, http.StatusOK, status, answer)
	}
	envs := r.envelopes()
	require.Len(t, envs, 2)
	sum := sha256.Sum256(photo)
	sha := hex.EncodeToString(sum[:])

	d := normalizeOne(t, r.conn, envs[0])
	assert.Equal(t, []draft.Attachment{{Kind: "image", URI: "attachment:" + sha, SHA256: sha}}, d.Attachments, "the picture itself")
	f, err := store.Open(sha)
	require.NoError(t, err)
	kept, _ := io.ReadAll(f)
	f.Close()
	assert.Equal(t, photo, kept)

	d = normalizeOne(t, r.conn, envs[1])
	assert.Equal(t, []draft.Attachment{{Kind: "image", URI: "wechat-media:media-2"}}, d.Attachments, "not fetched: the media id, and the message is taken all the same")
}

// TestPicturesComeOnlyFromWeChat: a picture link elsewhere (an internal address a forged
// message names) is not fetched; the message is taken with its media id.
func TestPicturesComeOnlyFromWeChat(t *testing.T) {
	fetched := false
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fetched = true }))
	defer inside.Close()
	store := attachments.New(filepath.Join(t.TempDir(), "attachments"))
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	r := oaRig(t, now, "", func(env *connectors.Env) { env.Attachments = store })
	q, body := encrypted(t, oaToken, oaAppID, fmt.Sprint(now.Unix()), msg("image", "<PicUrl><![CDATA["+inside.URL+"/latest/meta-data]]></PicUrl><MediaId>m-9</MediaId><MsgId>9</MsgId>"))
	status, _ := r.call(t, http.MethodPost, q, body)
	require.Equal(t, http.StatusOK, status)
	assert.False(t, fetched)
	d := normalizeOne(t, r.conn, r.envelopes()[0])
	assert.Equal(t, []draft.Attachment{{Kind: "image", URI: "wechat-media:m-9"}}, d.Attachments)
}

// TestMediaThroughTheAPI: with the app_secret, a voice message's file, and an image whose
// picture link cannot be fetched, are kept through media/get.
func TestMediaThroughTheAPI(t *testing.T) {
	api := wechattest.Start(t)
	voice := []byte("#!AMR\n a customer describing the noise")
	photo := []byte("\x89PNG\r\n\x1a\n the photo behind the media id")
	api.AddMedia("voice-1", voice)
	api.AddMedia("photo-1", photo)
	store := attachments.New(filepath.Join(t.TempDir(), "attachments"))
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	t.Setenv("T_WX_SECRET", "the-app-secret-0123")
	r := oaRig(t, now, "app_secret: ${T_WX_SECRET}\n", func(env *connectors.Env) { env.Attachments = store })
	for _, m := range []string{
		msg("voice", "<MediaId>voice-1</MediaId><Format>amr</Format><MsgId>21</MsgId>"),
		msg("image", "<PicUrl><![CDATA[http://10.0.0.1/not-wechat.png]]></PicUrl><MediaId>photo-1</MediaId><MsgId>22</MsgId>"),
		msg("voice", "<MediaId>gone</MediaId><Format>amr</Format><MsgId>23</MsgId>"),
	} {
		q, body := encrypted(t, oaToken, oaAppID, fmt.Sprint(now.Unix()), m)
		status, answer := r.call(t, http.MethodPost, q, body)
		require.Equal(t, http.StatusOK, status, answer)
	}
	envs := r.envelopes()
	require.Len(t, envs, 3)
	shaOf := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	d := normalizeOne(t, r.conn, envs[0])
	assert.Equal(t, []draft.Attachment{{Kind: "voice", URI: "attachment:" + shaOf(voice), SHA256: shaOf(voice)}}, d.Attachments)
	d = normalizeOne(t, r.conn, envs[1])
	assert.Equal(t, []draft.Attachment{{Kind: "image", URI: "attachment:" + shaOf(photo), SHA256: shaOf(photo)}}, d.Attachments)
	d = normalizeOne(t, r.conn, envs[2])
	assert.Equal(t, []draft.Attachment{{Kind: "voice", URI: "wechat-media:gone"}}, d.Attachments, "expired at WeChat: the id is kept")
}

// TestPicturesGoToOCR: with screenshots_to, a customer's picture (a forwarded group chat) is
// handed to the ocr connector as a screenshot, taken when the message was sent, and forwarded
// by that customer: anyone can follow the account and draw a chat, so the ocr connector keeps
// what it shows to the follower's own tickets. A picture that is no PNG or JPEG stays with its
// message only.
func TestPicturesGoToOCR(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, image.NewGray(image.Rect(0, 0, 64, 64))))
	pngShot := buf.Bytes()
	pictures := map[string][]byte{"/mmbiz/chat.png": pngShot, "/mmbiz/odd.png": []byte("\x89PNG\r\n\x1a\n not really")}
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, ok := pictures[r.URL.Path]; ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	defer cdn.Close()
	defer wechat.AllowMediaHosts(func(host string) bool { return host == "127.0.0.1" })()
	store := attachments.New(filepath.Join(t.TempDir(), "attachments"))
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai)
	r := oaRig(t, now, "screenshots_to: groups\n", func(env *connectors.Env) { env.Attachments = store })
	for i, pic := range []string{"/mmbiz/chat.png", "/mmbiz/odd.png"} {
		body := msg("image", fmt.Sprintf("<PicUrl><![CDATA[%s%s]]></PicUrl><MediaId><![CDATA[m-%d]]></MediaId><MsgId>%d</MsgId>", cdn.URL, pic, i, 70+i))
		q, enc := encrypted(t, oaToken, oaAppID, fmt.Sprint(now.Unix()), body)
		status, answer := r.call(t, http.MethodPost, q, enc)
		require.Equal(t, http.StatusOK, status, answer)
	}
	envs := r.envelopes()
	require.Len(t, envs, 3, "two messages, and one screenshot")
	var shots []draft.Envelope
	for _, e := range envs {
		if e.Connector == "groups" {
			shots = append(shots, e)
		}
	}
	require.Len(t, shots, 1)
	assert.Equal(t, ocr.EnvelopeType, shots[0].Type)
	assert.Equal(t, ocr.TypeOCR, shots[0].ConnectorType)
	assert.Equal(t, pngShot, shots[0].Payload)
	assert.True(t, shots[0].ReceivedAt.Equal(time.Unix(1764639000, 0)), "taken when the message was sent: %v", shots[0].ReceivedAt)
	assert.Equal(t, "wechat-gzh-70", shots[0].Headers["file"])
	assert.Equal(t, "gzh:oCUST", shots[0].Headers["forwarded_by"], "the connector and the follower's openid, from WeChat's signed message")
	assert.NotContains(t, shots[0].Headers, "group", "the picture's title bar names the group")
}
