package wechat_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors"
	"gongdan/draft"
)

// sample runs the connector's dry run and normalizer on one decrypted message.
func sample(t *testing.T, r *rig, xml string) []draft.Draft {
	t.Helper()
	envs, err := r.conn.(connectors.DryRunner).Sample([]byte(xml), nil)
	require.NoError(t, err)
	require.Len(t, envs, 1)
	drafts, err := r.conn.Normalizer().Normalize(envs[0])
	require.NoError(t, err)
	return drafts
}

func msg(typ, inner string) string {
	return "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oCUST]]></FromUserName><CreateTime>1764639000</CreateTime><MsgType><![CDATA[" +
		typ + "]]></MsgType>" + inner + "</xml>"
}

func TestMessagesBecomeDrafts(t *testing.T) {
	r := oaRig(t, time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai), "intake_menu_keys: [V1001_REPAIR]\n")
	tests := []struct {
		name  string
		xml   string
		check func(t *testing.T, d draft.Draft)
	}{
		{"text: the first line is the title", msg("text", "<Content><![CDATA[\n  3号线空调不制冷\n电话13812345678，苏州工业园区星湖街328号]]></Content><MsgId>11</MsgId>"), func(t *testing.T, d draft.Draft) {
			assert.Equal(t, "3号线空调不制冷", d.Title)
			assert.Equal(t, "3号线空调不制冷\n电话13812345678，苏州工业园区星湖街328号", d.Description)
			assert.Equal(t, "oCUST", d.Customer.WechatOpenID)
			assert.Equal(t, "text", d.Source.Kind)
			assert.Equal(t, "11", d.Source.ExternalID)
			assert.Equal(t, "gzh/msg/11", d.DedupKey)
		}},
		{"long text: a clipped title", msg("text", "<Content>"+strings.Repeat("冷", 100)+"</Content><MsgId>12</MsgId>"), func(t *testing.T, d draft.Draft) {
			assert.Equal(t, strings.Repeat("冷", 39)+"…", d.Title)
			assert.Equal(t, strings.Repeat("冷", 100), d.Description)
		}},
		{"image", msg("image", "<PicUrl><![CDATA[http://mmbiz.qpic.cn/abc]]></PicUrl><MediaId><![CDATA[media-1]]></MediaId><MsgId>13</MsgId>"), func(t *testing.T, d draft.Draft) {
			assert.Equal(t, "[图片]", d.Title)
			assert.Contains(t, d.Description, "http://mmbiz.qpic.cn/abc")
			assert.Equal(t, []draft.Attachment{{Kind: "image", URI: "wechat-media:media-1"}}, d.Attachments)
		}},
		{"voice with recognition", msg("voice", "<MediaId>v-1</MediaId><Format>amr</Format><Recognition><![CDATA[电梯困人了快来]]></Recognition><MsgId>14</MsgId>"), func(t *testing.T, d draft.Draft) {
			assert.Equal(t, "电梯困人了快来", d.Title)
			assert.Contains(t, d.Description, "电梯困人了快来")
			assert.Equal(t, []draft.Attachment{{Kind: "voice", URI: "wechat-media:v-1"}}, d.Attachments)
		}},
		{"voice without recognition", msg("voice", "<MediaId>v-2</MediaId><Format>amr</Format><MsgId>15</MsgId>"), func(t *testing.T, d draft.Draft) {
			assert.Equal(t, "[语音]", d.Title)
			assert.Len(t, d.Attachments, 1)
		}},
		{"shortvideo", msg("shortvideo", "<MediaId>s-1</MediaId><ThumbMediaId>th</ThumbMediaId><MsgId>16</MsgId>"), func(t *testing.T, d draft.Draft) {
			assert.Equal(t, "[视频]", d.Title)
			assert.Equal(t, []draft.Attachment{{Kind: "video", URI: "wechat-media:s-1"}}, d.Attachments)
		}},
		{"location", msg("location", "<Location_X>31.30</Location_X><Location_Y>120.62</Location_Y><Scale>15</Scale><Label><![CDATA[苏州工业园区星湖街328号]]></Label><MsgId>17</MsgId>"), func(t *testing.T, d draft.Draft) {
			assert.Equal(t, draft.Location{Address: "苏州工业园区星湖街328号", Lat: 31.30, Lon: 120.62}, d.Location)
			assert.Equal(t, "[位置] 苏州工业园区星湖街328号", d.Title)
		}},
		{"location out of range keeps the label only", msg("location", "<Location_X>131.30</Location_X><Location_Y>120.62</Location_Y><Label>某地</Label><MsgId>18</MsgId>"), func(t *testing.T, d draft.Draft) {
			assert.Zero(t, d.Location.Lat)
			assert.Equal(t, "某地", d.Location.Address)
		}},
		{"link", msg("link", "<Title>故障视频</Title><Description>请看</Description><Url>https://example.com/v</Url><MsgId>19</MsgId>"), func(t *testing.T, d draft.Draft) {
			assert.Equal(t, "故障视频", d.Title)
			assert.Equal(t, "故障视频\n请看\nhttps://example.com/v", d.Description)
		}},
		{"intake menu click", msg("event", "<Event>CLICK</Event><EventKey>V1001_REPAIR</EventKey>"), func(t *testing.T, d draft.Draft) {
			assert.Equal(t, "[菜单] V1001_REPAIR", d.Title)
			assert.Equal(t, "event.CLICK", d.Source.Kind)
			assert.Equal(t, "gzh/event/oCUST/1764639000/CLICK/V1001_REPAIR", d.DedupKey)
		}},
		{"a type not known yet is taken in, named", msg("miniprogrampage", "<Title>小程序</Title><MsgId>20</MsgId>"), func(t *testing.T, d draft.Draft) {
			assert.Equal(t, "[miniprogrampage 消息]", d.Title)
			assert.Contains(t, d.Description, "miniprogrampage")
		}},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			drafts := sample(t, r, c.xml)
			require.Len(t, drafts, 1)
			d := drafts[0]
			require.NoError(t, d.Validate())
			assert.Equal(t, "wechat:gzh:oCUST", d.ThreadKey)
			assert.Equal(t, draft.Window(30*time.Minute), d.ThreadWindow)
			assert.Equal(t, "wechat.officialaccount", d.Source.Type)
			assert.True(t, d.OccurredAt.Equal(time.Unix(1764639000, 0)))
			c.check(t, d)
		})
	}
	for _, ev := range []string{
		msg("event", "<Event>subscribe</Event>"),
		msg("event", "<Event>CLICK</Event><EventKey>V1002_NEWS</EventKey>"),
		msg("event", "<Event>LOCATION</Event><Latitude>31.3</Latitude><Longitude>120.6</Longitude>"),
	} {
		assert.Empty(t, sample(t, r, ev), "an event other than an intake click makes no ticket: %s", ev)
	}

	envs, err := r.conn.(connectors.DryRunner).Sample([]byte(msg("text", "<Content>   </Content><MsgId>30</MsgId>")), nil)
	require.NoError(t, err)
	_, err = r.conn.Normalizer().Normalize(envs[0])
	assert.ErrorContains(t, err, "no text", "a text message without text goes to the dead letters")
}

func TestThreadWindowZeroJoinsTheOpenTicket(t *testing.T) {
	r := oaRig(t, time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai), "thread_window: 0s\n")
	d := sample(t, r, msg("text", "<Content>你好</Content><MsgId>1</MsgId>"))[0]
	assert.Zero(t, d.ThreadWindow)
	assert.Equal(t, "wechat:gzh:oCUST", d.ThreadKey)
}

// FuzzNormalize: whatever a decrypted message holds, the normalizer returns drafts that
// validate, or an error; it never panics.
func FuzzNormalize(f *testing.F) {
	f.Add([]byte(msg("text", "<Content>你好</Content><MsgId>1</MsgId>")))
	f.Add([]byte(msg("location", "<Location_X>NaN</Location_X><Location_Y>1e400</Location_Y><Label>x</Label>")))
	f.Add([]byte(msg("event", "<Event>CLICK</Event><EventKey>V1001_REPAIR</EventKey>")))
	f.Add([]byte(msg("image", "<PicUrl>"+strings.Repeat("x", 3000)+"</PicUrl>")))
	f.Add([]byte("<xml><FromUserName>a</FromUserName><MsgType>\xff</MsgType></xml>"))
	// JSON: WeChat customer service (sync_msg) and the session archive, by the length's parity.
	f.Add([]byte(`{"msgid":"m1","open_kfid":"wk1","external_userid":"wm1","send_time":1764639000,"origin":3,"msgtype":"text","text":{"content":"空调坏了"}}`))
	f.Add([]byte(`{"msgid":"m2","action":"send","from":"wm1","roomid":"wr1","msgtime":1764639000000,"msgtype":"location","location":{"latitude":91,"longitude":-200,"address":"x"}} `))
	n := normalizerForFuzz(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		typ := "wechat.message"
		if len(payload) > 0 && payload[0] == '{' {
			typ = []string{"wechat.kf", "wechat.archive"}[len(payload)%2]
		}
		env := draft.Envelope{ID: "e", Connector: "gzh", ConnectorType: "wechat.officialaccount", Type: typ,
			ReceivedAt: time.Date(2026, 12, 2, 9, 30, 0, 0, shanghai), DedupKey: "msg/1", Payload: payload,
			Headers: map[string]string{"thread_window": "30m0s", "intake": "menu"}}
		drafts, err := n.Normalize(env)
		if err != nil {
			return
		}
		for _, d := range drafts {
			if err := d.Validate(); err != nil {
				t.Fatalf("draft does not validate: %v\n%+v", err, d)
			}
		}
	})
}

func normalizerForFuzz(f *testing.F) draft.Normalizer {
	f.Setenv("T_WX_TOKEN", oaToken)
	f.Setenv("T_WX_AES_KEY", oaAESKey)
	return buildNormalizer(f)
}
