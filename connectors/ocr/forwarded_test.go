package ocr

// Attacks through screenshots_to (issue 17 review): a WeChat follower forwards a chat
// screenshot to the ocr connector. Before its envelopes named who forwarded them, the drafts'
// keys came only from what the picture showed, so a drawn picture joined or pre-empted the
// tickets of the staff's uploads.

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/draft"
)

// Only a connector that forwards a picture says who sent it: an upload that names a
// forwarder — as a request header, a form field, a query parameter — is an upload of the
// staff like any other, and its envelope names no forwarder.
func TestAnUploadCannotSayItWasForwarded(t *testing.T) {
	rig := newUploadRig(t, withToken)
	body, ct := multipartBody(t, [][2]string{{"a.png", string(pngOf(t, 64, 64, 0))}},
		map[string]string{"forwarded_by": "gzh:oSOMEONE", "group": "维修群"})
	req := uploadRequest(body, ct, "Authorization", "Bearer "+uploadToken,
		"forwarded_by", "gzh:oSOMEONE", "Forwarded-By", "gzh:oSOMEONE", "X-Forwarded-By", "gzh:oSOMEONE")
	req.URL.RawQuery = "forwarded_by=gzh:oSOMEONE"
	w := rig.serve(req)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	require.Len(t, rig.published, 1)
	env := rig.published[0]
	assert.NotContains(t, env.Headers, headerForwardedBy)
	assert.Equal(t, map[string]string{headerFile: "a.png", headerGroup: "维修群", headerSHA256: env.Headers[headerSHA256], headerUploadedBy: "phones"},
		env.Headers, "only what the connector itself says")

	fwd, err := ForwardedScreenshotEnvelope("groups", "gzh:oFOLLOWER", env.Payload, "wechat-gzh-70", uploadNow, DefaultLimits)
	require.NoError(t, err)
	assert.Equal(t, "gzh:oFOLLOWER", fwd.Headers[headerForwardedBy])
	assert.NotContains(t, fwd.Headers, headerGroup, "the title bar names the group, or the connector's group")
	_, err = ForwardedScreenshotEnvelope("groups", " ", env.Payload, "x.png", uploadNow, DefaultLimits)
	assert.Error(t, err, "a forwarded screenshot must name who sent it")
}

// The same picture, uploaded by the staff and forwarded by a follower, read as the pipeline
// reads it: the follower's drafts are in the follower's own keys and customer, the staff's
// are as they were, and none of one's keys is the other's.
func TestTheSamePictureUploadedAndForwardedDoesNotCollide(t *testing.T) {
	if testing.Short() {
		t.Skip("OCRs a screenshot")
	}
	shot := goodShot(t, 7)
	rig := newUploadRig(t, withToken+"workers: 1\n")
	body, ct := multipartBody(t, [][2]string{{"shot.png", string(shot)}}, map[string]string{"forwarded_by": "gzh:oFOLLOWER"})
	w := rig.serve(uploadRequest(body, ct, "Authorization", "Bearer "+uploadToken, "forwarded_by", "gzh:oFOLLOWER"))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	require.Len(t, rig.published, 1)
	fwd, err := ForwardedScreenshotEnvelope("groups", "gzh:oFOLLOWER", shot, "wechat-gzh-70", uploadNow, DefaultLimits)
	require.NoError(t, err)

	scope := draft.Scope{Connector: "groups", Type: TypeOCR, Intents: []string{draft.IntentUpdate}}
	read := func(env draft.Envelope) draft.Draft {
		_, ds, err := rig.conn.Read(context.Background(), env)
		require.NoError(t, err)
		require.Len(t, ds, 1, "%+v", ds)
		d, err := scope.Confine(ds[0])
		require.NoError(t, err)
		return d
	}
	staff, follower := read(rig.published[0]), read(fwd)
	t.Cleanup(func() { rig.conn.Close(context.Background()) })

	// The staff's keys are what the picture shows (its group: the title bar, else the
	// connector's), the follower's are those under the follower.
	assert.Regexp(t, `^groups/ocr:groups:[^/]+:客户7号$`, staff.ThreadKey)
	assert.Regexp(t, `^ocr:[^/]+:客户7号$`, staff.Customer.ID)
	assert.Regexp(t, `^groups/msg-[0-9a-f]{24}$`, staff.DedupKey)
	assert.Equal(t, "groups/forwarded/gzh:oFOLLOWER/"+strings.TrimPrefix(staff.ThreadKey, "groups/"), follower.ThreadKey)
	assert.Equal(t, "forwarded/gzh:oFOLLOWER/"+staff.Customer.ID, follower.Customer.ID)
	assert.Equal(t, "groups/forwarded/gzh:oFOLLOWER/"+strings.TrimPrefix(staff.DedupKey, "groups/"), follower.DedupKey)
	assert.NotEqual(t, staff.DedupKey, follower.DedupKey)
	assert.NotEqual(t, staff.ThreadKey, follower.ThreadKey)
	assert.NotEqual(t, staff.Customer.ID, follower.Customer.ID)
	assert.Equal(t, staff.Title, follower.Title)

	// A member of the organisation sending it through a WeCom app is staff: the same keys as
	// the upload, so one screenshot uploaded and also sent there makes one ticket.
	member, err := StaffScreenshotEnvelope("groups", "wecom:ZhangSan", shot, "wechat-wecom-71", uploadNow, DefaultLimits)
	require.NoError(t, err)
	assert.Equal(t, "wecom:ZhangSan", member.Headers[headerUploadedBy])
	assert.NotContains(t, member.Headers, headerForwardedBy)
	m := read(member)
	assert.Equal(t, staff.DedupKey, m.DedupKey)
	assert.Equal(t, staff.ThreadKey, m.ThreadKey)
	assert.Equal(t, staff.Customer.ID, m.Customer.ID)
}
