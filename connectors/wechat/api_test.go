package wechat_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/util"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/connectors/wechat"
	"gongdan/connectors/wechat/wechattest"
	"gongdan/draft"
)

func TestCustomerMessagesCacheTheTokenAndRenewARevokedOne(t *testing.T) {
	api := wechattest.Start(t)
	t.Setenv("T_WX_SECRET", "the-app-secret-0123")
	r := oaRig(t, time.Now(), "app_secret: ${T_WX_SECRET}\n")
	oa := r.conn.(*wechat.OfficialAccount)
	ctx := context.Background()
	require.NoError(t, oa.SendCustomerText(ctx, "oWang", "您的报修已受理"))
	require.NoError(t, oa.SendCustomerText(ctx, "oLi", "您的报修已处理完成"))
	assert.Equal(t, 1, api.Fetches(), "the access token is cached")
	assert.Equal(t, []wechattest.Sent{{API: "custom", To: "oWang", Content: "您的报修已受理"}, {API: "custom", To: "oLi", Content: "您的报修已处理完成"}}, api.Sent())

	api.RevokeTokens() // another server fetched a new token
	err := oa.SendCustomerText(ctx, "oZhao", "x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "errcode 40001")
	assert.Contains(t, err.Error(), "connector gzh")
	assert.NotContains(t, err.Error(), "TOKEN-", "no access token in errors")
	require.NoError(t, oa.SendCustomerText(ctx, "oZhao", "x"), "the retry fetches a new token")
	assert.Equal(t, 2, api.Fetches())

	api.Fail(1, -1)
	err = oa.SendCustomerText(ctx, "oZhao", "y")
	assert.ErrorContains(t, err, "errcode -1")
	assert.Equal(t, 2, api.Fetches(), "a failure that is not the token's keeps it")
}

func TestAnOfficialAccountWithoutSecretCannotSend(t *testing.T) {
	wechattest.Start(t)
	r := oaRig(t, time.Now(), "")
	err := r.conn.(*wechat.OfficialAccount).SendCustomerText(context.Background(), "o1", "x")
	assert.ErrorContains(t, err, "connector gzh has no app_secret")
}

func TestWeComAppMessages(t *testing.T) {
	api := wechattest.Start(t)
	t.Setenv("T_WECOM_TOKEN", wecomToken)
	t.Setenv("T_WECOM_AES_KEY", wecomAESKey)
	t.Setenv("T_WECOM_SECRET", "corp-secret-0123456")
	r := newRig(t, "name: wecom\ntype: wechat.work\ncorp_id: "+wecomCorpID+"\nagent_id: 1000002\ncorp_secret: ${T_WECOM_SECRET}\ntoken: ${T_WECOM_TOKEN}\nencoding_aes_key: ${T_WECOM_AES_KEY}\n", time.Now())
	w := r.conn.(*wechat.Callback)
	require.NoError(t, w.SendAppText(context.Background(), []string{"LiGong", "WangJingli"}, "新工单 GD-20261202-000001"))
	assert.Equal(t, []wechattest.Sent{{API: "app", To: "LiGong|WangJingli", Content: "新工单 GD-20261202-000001", AgentID: "1000002"}}, api.Sent())

	api.UnknownUsers("nobody")
	err := w.SendAppText(context.Background(), []string{"nobody"}, "x")
	var iu *wechat.InvalidUsersError
	require.ErrorAs(t, err, &iu)
	assert.Equal(t, "nobody", iu.Users)

	noAgent := newRig(t, "name: wecom2\ntype: wechat.work\ncorp_id: "+wecomCorpID+"\ncorp_secret: ${T_WECOM_SECRET}\ntoken: ${T_WECOM_TOKEN}\nencoding_aes_key: ${T_WECOM_AES_KEY}\n", time.Now())
	assert.ErrorContains(t, noAgent.conn.(*wechat.Callback).SendAppText(context.Background(), []string{"a"}, "x"), "no agent_id")
}

// TestAPIErrorsNameNoCredential: a network failure while the token is fetched quotes a URL
// with the app's secret in it; the error keeps what failed and where, not the secret.
func TestAPIErrorsNameNoCredential(t *testing.T) {
	old := util.DefaultHTTPClient
	util.DefaultHTTPClient = &http.Client{Transport: failing{}}
	t.Cleanup(func() { util.DefaultHTTPClient = old })
	t.Setenv("T_KF_TOKEN", wecomToken)
	t.Setenv("T_KF_AES_KEY", wecomAESKey)
	t.Setenv("T_KF_SECRET", "kf-secret-0123456")
	r := newRig(t, "name: kf\ntype: wechat.kf\ncorp_id: "+wecomCorpID+"\ncorp_secret: ${T_KF_SECRET}\ntoken: ${T_KF_TOKEN}\nencoding_aes_key: ${T_KF_AES_KEY}\n", time.Now())
	source := draft.Draft{Source: draft.Source{ExternalID: "wk1/m1"}}
	_, err := r.conn.(*wechat.KF).TellCustomer(context.Background(), source, draft.Customer{ID: "wm1"}, "x")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "kf-secret-0123456")
	assert.Contains(t, err.Error(), "qyapi.weixin.qq.com/cgi-bin/gettoken")
	assert.Contains(t, err.Error(), "connection refused")

	t.Setenv("T_WX_SECRET", "the-app-secret-0123")
	oa := oaRig(t, time.Now(), "app_secret: ${T_WX_SECRET}\n")
	err = oa.conn.(*wechat.OfficialAccount).SendCustomerText(context.Background(), "o1", "x")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "the-app-secret-0123")
}

type failing struct{}

func (failing) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("dial tcp 10.0.0.1:443: connection refused")
}

// TestTemplateMessages: a template message goes to the customer by openid, with its data, and
// a retry with the same client_msg_id is one message.
func TestTemplateMessages(t *testing.T) {
	api := wechattest.Start(t)
	t.Setenv("T_WX_SECRET", "the-app-secret-0123")
	r := oaRig(t, time.Now(), "app_secret: ${T_WX_SECRET}\n")
	oa := r.conn.(*wechat.OfficialAccount)
	data := map[string]string{"first": "您的报修已处理完成", "keyword1": "GD-20261202-000001"}
	for range 2 {
		sent, err := oa.SendTemplate(context.Background(), draft.Customer{WechatOpenID: "oWang"}, "TM00015", "https://svc.example.com/c/GD-20261202-000001", data, "gongdan-42")
		require.NoError(t, err)
		assert.True(t, sent)
	}
	assert.Equal(t, []wechattest.Sent{{API: "template", To: "oWang", TemplateID: "TM00015", URL: "https://svc.example.com/c/GD-20261202-000001",
		Content: `{"first":"您的报修已处理完成","keyword1":"GD-20261202-000001"}`, AgentID: "gongdan-42"}}, api.Sent())

	api.Fail(1, 45015)
	err := oa.SendCustomerText(context.Background(), "oWang", "x")
	var ae *wechat.APIError
	require.ErrorAs(t, err, &ae)
	assert.True(t, ae.OutsideWindow())
}
