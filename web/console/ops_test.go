package console_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/routing"
	"gongdan/core/ticket"
	"gongdan/devices"
	"gongdan/draft"
	"gongdan/pipeline/deadletter"
)

// replayer marks a dead letter replayed, as the pipeline does once it has published it again;
// broken is a dead letter whose replay fails.
type replayer struct {
	store  deadletter.Store
	broken string
}

func (r replayer) Replay(ctx context.Context, id string) (deadletter.DeadLetter, error) {
	if id == r.broken {
		return deadletter.DeadLetter{}, errors.New("the bus is down")
	}
	return r.store.MarkReplayed(ctx, id, time.Date(2026, 11, 24, 2, 30, 0, 0, time.UTC))
}

// opsSite is a site whose API runs a pipeline: connectors (one MQTT connector with its worst
// devices, one webhook whose last error is hostile), dead letters in the store, a replayer and
// a device registry.
type opsSite struct {
	*site
	dead     deadletter.Store
	registry *devices.Registry
	letters  []deadletter.DeadLetter
}

var hostileDevice = devices.Device{ID: "E-XSS", Model: xssScript, ProductType: "空压机",
	Customer: draft.Customer{Name: xssAttr, Org: "华东仓", Phone: "13812345678"}, Location: draft.Location{Address: "苏州工业园区星湖街328号", City: "苏州"}}

func newOpsSite(t *testing.T) *opsSite {
	t.Helper()
	o := &opsSite{registry: devices.New([]devices.Device{
		{ID: "E202308001", Model: "GA37VSD+", ProductType: "空压机", Customer: draft.Customer{Name: "王建国", Org: "华东仓"}, Location: draft.Location{Address: "苏州工业园区星湖街328号"}},
		hostileDevice,
	}, nil, nil)}
	o.site = newSiteAPI(t, func(ao *api.Options) {
		o.dead = ao.Store.(deadletter.Store)
		ao.DeadLetters, ao.Devices = o.dead, o.registry
		ao.Replayer = replayer{store: o.dead, broken: "DL-000003"}
		ao.Connectors = func() any {
			at := time.Date(2026, 11, 24, 1, 59, 0, 0, time.UTC)
			return []map[string]any{
				{"name": "plant-mqtt", "type": "mqtt", "state": "running", "received": 120, "published": 118, "rejected": 2, "dead_lettered": 0,
					"details": map[string]any{"subscribed": true, "devices": 40, "bad_payloads": 7,
						"bad_payloads_by_device": []map[string]any{{"device": "E-77", "count": 5}, {"device": xssScript, "count": 2}}}},
				{"name": "hooks", "type": "webhook", "state": "failed", "received": 3, "published": 1, "rejected": 1, "dead_lettered": 1,
					"last_error": xssScript + xssAttr, "last_error_at": at, "details": map[string]any{"refused_by_reason": map[string]any{"signature": 1}}},
			}
		}
	})
	now := time.Date(2026, 11, 24, 1, 42, 0, 0, time.UTC)
	for _, dl := range []deadletter.DeadLetter{
		{Key: "normalize.crm/env-1", Connector: "crm", Handler: "normalize.crm", Topic: "raw.crm", Error: "mapping title: " + xssAttr,
			Attempts: 1, FirstFailedAt: now, LastFailedAt: now, Payload: []byte(`{"subject":"` + xssScript + `"}`),
			Metadata: map[string]string{"trace": xssScript}},
		{Key: "intake/env-2", Connector: "hooks", Handler: "intake", Topic: "drafts", Error: "store busy", Attempts: 3,
			FirstFailedAt: now, LastFailedAt: now.Add(time.Minute), Payload: []byte("</pre><script>alert(1)</script>")},
		{Key: "intake/env-3", Connector: "hooks", Handler: "intake", Topic: "drafts", Error: "store busy", Attempts: 1,
			FirstFailedAt: now, LastFailedAt: now.Add(2 * time.Minute), Payload: []byte{0xff, 0x00, 0x3c}},
	} {
		got, err := o.dead.PutDeadLetter(context.Background(), dl)
		require.NoError(t, err)
		o.letters = append(o.letters, got)
	}
	require.Equal(t, "DL-000003", o.letters[2].ID, "the broken one")
	return o
}

func isDesk(r ticket.Role) bool {
	return r == ticket.RoleAdmin || r == ticket.RoleSupervisor || r == ticket.RoleDispatcher
}

func isOperator(r ticket.Role) bool { return r == ticket.RoleAdmin || r == ticket.RoleSupervisor }

// TestOpsRoles: connectors and dead letters are for admins and supervisors (the API's
// operators); every console role reads the device registry and the engineers, the desk edits
// devices and skills, an engineer their own status. What a role may not do is not shown, and
// posted by hand it is refused by the API with a 403 page.
func TestOpsRoles(t *testing.T) {
	o := newOpsSite(t)
	dl := o.letters[0].ID
	for _, role := range consoleRoles {
		b := o.signIn(t, role, "/console/ops/engineers")
		res := b.get("/console/ops")
		if isOperator(role) {
			require.Equal(t, http.StatusOK, res.status, "%s: %s", role, res.body)
			assert.Contains(t, res.body, `href="/console/ops"`, role)
			assert.Contains(t, res.body, "plant-mqtt", role)
		} else {
			assert.Equal(t, http.StatusForbidden, res.status, role)
			assert.NotContains(t, res.body, `href="/console/ops"`, role)
		}
		res = b.get("/console/ops/deadletters")
		if isOperator(role) {
			require.Equal(t, http.StatusOK, res.status, role)
			assert.Contains(t, res.body, `name="id" value="`+dl+`"`, role)
			assert.Contains(t, res.body, "重放所选", role)
			assert.Equal(t, http.StatusOK, b.get("/console/ops/deadletters/"+dl).status, role)
		} else {
			assert.Equal(t, http.StatusForbidden, res.status, role)
			assert.Equal(t, http.StatusForbidden, b.get("/console/ops/deadletters/"+dl).status, role)
			res = b.post("/console/ops/deadletters/"+dl+"/replay", nil)
			assert.Equal(t, http.StatusForbidden, res.status, role)
			res = b.post("/console/ops/deadletters/replay", url.Values{"id": {dl}})
			assert.Equal(t, http.StatusForbidden, res.status, role)
		}

		res = b.get("/console/ops/devices")
		require.Equal(t, http.StatusOK, res.status, "%s: %s", role, res.body)
		assert.Contains(t, res.body, "E202308001", role)
		dev := b.get("/console/ops/devices/E202308001")
		require.Equal(t, http.StatusOK, dev.status, role)
		if isDesk(role) {
			assert.Contains(t, res.body, `>编辑</a>`, role)
			assert.Contains(t, dev.body, `id="dev-form"`, role)
		} else {
			assert.NotContains(t, res.body, `>编辑</a>`, role)
			assert.NotContains(t, dev.body, `id="dev-form"`, role)
			assert.NotContains(t, dev.body, `name="model"`, role)
			res = b.post("/console/ops/devices/E202308001", url.Values{"model": {"GA90"}})
			assert.Equal(t, http.StatusForbidden, res.status, role)
			d, _ := o.registry.Device("E202308001")
			assert.Equal(t, "GA37VSD+", d.Model, "%s changed nothing", role)
			assert.Equal(t, http.StatusNotFound, b.get("/console/ops/devices/NEW-1").status, "%s may not add one", role)
		}

		res = b.get("/console/ops/customers")
		require.Equal(t, http.StatusOK, res.status, "%s: %s", role, res.body)
		assert.Contains(t, section(t, res.body, "cust-list"), "王建国", role)

		res = b.get("/console/ops/engineers")
		require.Equal(t, http.StatusOK, res.status, role)
		assert.Contains(t, res.body, "李工", role)
		switch {
		case isDesk(role):
			assert.Contains(t, res.body, `id="eng-skills-eng-zhao"`, role)
			assert.Contains(t, res.body, `id="eng-status-eng-zhao"`, role)
		case role == ticket.RoleEngineer: // eng-li
			assert.Contains(t, res.body, `id="eng-status-eng-li"`, "his own status")
			assert.NotContains(t, res.body, `id="eng-status-eng-zhao"`)
			assert.NotContains(t, res.body, `name="skills"`)
			res = b.post("/console/ops/engineers/eng-li", url.Values{"skills": {"plc, 变频器"}})
			assert.Equal(t, http.StatusForbidden, res.status, "skills are the desk's")
			res = b.post("/console/ops/engineers/eng-zhao", url.Values{"status": {"off"}})
			assert.Equal(t, http.StatusForbidden, res.status, "not his record")
			res = b.post("/console/ops/engineers/eng-li", url.Values{"status": {"leave"}})
			require.Equal(t, http.StatusOK, res.status, res.body)
			assert.Contains(t, section(t, res.body, "eng-eng-li"), "请假")
		default:
			assert.NotContains(t, res.body, `<form method="post" action="/console/ops/engineers/`, role)
			res = b.post("/console/ops/engineers/eng-li", url.Values{"status": {"off"}})
			assert.Equal(t, http.StatusForbidden, res.status, role)
		}
	}
	// Nothing a refused role posted was replayed.
	got, err := o.dead.DeadLetter(context.Background(), dl)
	require.NoError(t, err)
	assert.Equal(t, deadletter.StateDead, got.State)
}

// TestOpsConnectors: each connector's counters, last error and details, the MQTT connector's
// worst devices as a table; what connectors bring is escaped.
func TestOpsConnectors(t *testing.T) {
	o := newOpsSite(t)
	res := o.signIn(t, ticket.RoleSupervisor, "/console/ops").get("/console/ops")
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Contains(t, res.body, "<dd>120</dd>")
	assert.Contains(t, res.body, "<th scope=\"col\">count</th><th scope=\"col\">device</th>")
	assert.Contains(t, res.body, "<td>5</td><td>E-77</td>")
	assert.Contains(t, res.body, "2026-11-24 09:59:00", "the last error's time in the server's zone")
	assert.Contains(t, res.body, "refused_by_reason")
	assertEscaped(t, res.body)
}

// TestOpsDeadLetterReplay: one dead letter shown with its payload escaped in a <pre>; replay
// one; replay many, each outcome reported (one replayed, one whose replay fails, one unknown).
func TestOpsDeadLetterReplay(t *testing.T) {
	o := newOpsSite(t)
	b := o.signIn(t, ticket.RoleAdmin, "/console/ops/deadletters")
	res := b.get("/console/ops/deadletters?connector=hooks")
	require.Equal(t, http.StatusOK, res.status)
	list := section(t, res.body, "dl-list")
	assert.NotContains(t, list, o.letters[0].ID, "filtered by connector")
	assert.Contains(t, list, o.letters[1].ID)

	res = b.get("/console/ops/deadletters/" + o.letters[0].ID)
	require.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, res.body, `<pre class="payload" id="dl-payload">{
  &#34;subject&#34;: &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;
}</pre>`, "JSON indented, escaped")
	assertEscaped(t, res.body)
	res = b.get("/console/ops/deadletters/" + o.letters[1].ID)
	assert.Contains(t, res.body, `id="dl-payload">&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;</pre>`)
	assertEscaped(t, res.body)
	res = b.get("/console/ops/deadletters/" + o.letters[2].ID)
	assert.Contains(t, res.body, `id="dl-payload">ff 00 3c</pre>`, "binary in hex")
	assert.Equal(t, http.StatusNotFound, b.get("/console/ops/deadletters/DL-999999").status)

	res = b.post("/console/ops/deadletters/"+o.letters[0].ID+"/replay", nil)
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Contains(t, section(t, res.body, "replay-results"), o.letters[0].ID+"</a>: 已重放")
	got, err := o.dead.DeadLetter(context.Background(), o.letters[0].ID)
	require.NoError(t, err)
	assert.Equal(t, deadletter.StateReplayed, got.State)

	res = b.post("/console/ops/deadletters/replay", url.Values{"id": {o.letters[1].ID, o.letters[2].ID, "DL-999999"}})
	require.Equal(t, http.StatusOK, res.status, res.body)
	results := section(t, res.body, "replay-results")
	assert.Contains(t, results, o.letters[1].ID+"</a>: 已重放")
	assert.Contains(t, results, o.letters[2].ID+"</a>: 失败")
	assert.Contains(t, results, "DL-999999</a>: 失败 — dead letter not found")
	assert.Contains(t, res.body, `class="flash bad"`)
	assert.Contains(t, res.body, "已重放: 1 / 3")
	got, err = o.dead.DeadLetter(context.Background(), o.letters[1].ID)
	require.NoError(t, err)
	assert.Equal(t, deadletter.StateReplayed, got.State)
	got, err = o.dead.DeadLetter(context.Background(), o.letters[2].ID)
	require.NoError(t, err)
	assert.Equal(t, deadletter.StateDead, got.State, "its replay failed")

	res = b.post("/console/ops/deadletters/replay", nil)
	assert.Contains(t, res.body, "请至少选择一条死信")
	res = b.get("/console/ops/deadletters?state=replayed")
	assert.Contains(t, section(t, res.body, "dl-list"), o.letters[1].ID)
	assert.NotContains(t, section(t, res.body, "dl-list"), o.letters[2].ID)
	// Without the CSRF token nothing is replayed.
	res = b.post("/console/ops/deadletters/"+o.letters[2].ID+"/replay", url.Values{"csrf": {"forged"}})
	assert.Equal(t, http.StatusForbidden, res.status)
}

// TestOpsDeviceEdit: search the registry, edit a device (the registry the connectors read has
// the change at once), add one, and see the API's refusal of a bad phone on the form.
func TestOpsDeviceEdit(t *testing.T) {
	o := newOpsSite(t)
	b := o.signIn(t, ticket.RoleDispatcher, "/console/ops/devices")
	res := b.get("/console/ops/devices?q=" + url.QueryEscape("王建国"))
	require.Equal(t, http.StatusOK, res.status)
	list := section(t, res.body, "dev-list")
	assert.Contains(t, list, "E202308001")
	assert.NotContains(t, list, "E-XSS")

	form := url.Values{"model": {"GA90"}, "firmware": {"4.0"}, "product_type": {"空压机"}, "customer_name": {"王建国"}, "customer_org": {"华东仓"},
		"customer_phone": {"0512-67891234"}, "address": {"苏州工业园区星湖街328号"}, "city": {"苏州"}, "lat": {"31.3196"}, "lon": {"120.7239"}}
	res = b.post("/console/ops/devices/E202308001", form)
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Contains(t, res.body, "已保存")
	assert.Contains(t, res.body, `value="GA90"`)
	d, _ := o.registry.Device("E202308001")
	assert.Equal(t, "GA90", d.Model)
	assert.Equal(t, "0512-67891234", d.Customer.Phone)
	assert.Equal(t, 31.3196, d.Location.Lat)
	assert.Equal(t, "disp-chen", d.UpdatedBy)

	form.Set("customer_phone", "12345")
	res = b.post("/console/ops/devices/E202308001", form)
	assert.Equal(t, http.StatusUnprocessableEntity, res.status)
	assert.Contains(t, res.body, "is not a phone number")
	assert.Contains(t, res.body, `value="12345"`, "the form keeps what was typed")
	form.Set("customer_phone", "")
	form.Set("lat", "north")
	res = b.post("/console/ops/devices/E202308001", form)
	assert.Equal(t, http.StatusUnprocessableEntity, res.status)
	d, _ = o.registry.Device("E202308001")
	assert.Equal(t, "0512-67891234", d.Customer.Phone, "nothing refused was kept")

	res = b.get("/console/ops/devices/NEW-1")
	require.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, res.body, "新设备")
	res = b.post("/console/ops/devices/NEW-1", url.Values{"model": {"GA11"}})
	require.Equal(t, http.StatusOK, res.status, res.body)
	d, ok := o.registry.Device("NEW-1")
	require.True(t, ok)
	assert.Equal(t, "GA11", d.Model)
}

// TestOpsCustomers: the registry's customers, each with its devices, searched.
func TestOpsCustomers(t *testing.T) {
	o := newOpsSite(t)
	b := o.signIn(t, ticket.RoleAgent, "/console/ops/customers")
	res := b.get("/console/ops/customers?q=" + url.QueryEscape("王建国"))
	require.Equal(t, http.StatusOK, res.status, res.body)
	list := section(t, res.body, "cust-list")
	assert.Contains(t, list, `<a href="/console/ops/devices/E202308001">E202308001</a>`)
	assert.NotContains(t, list, "E-XSS")
	assert.Contains(t, res.body, `value="王建国"`)
	res = b.get("/console/ops/customers?q=nobody")
	assert.Contains(t, res.body, "没有找到客户")
}

// TestOpsEngineerEdit: the desk sets an engineer's status and skills; routing uses them.
func TestOpsEngineerEdit(t *testing.T) {
	o := newOpsSite(t)
	b := o.signIn(t, ticket.RoleSupervisor, "/console/ops/engineers")
	res := b.post("/console/ops/engineers/eng-zhao", url.Values{"status": {"off"}, "skills": {"plc，变频器 电气"}})
	require.Equal(t, http.StatusOK, res.status, res.body)
	row := section(t, res.body, "eng-eng-zhao")
	assert.Contains(t, row, "下班")
	assert.Contains(t, row, "plc, 变频器, 电气")
	v, err := o.Engine.Engineer(context.Background(), "eng-zhao")
	require.NoError(t, err)
	assert.Equal(t, routing.StatusOff, v.EffectiveStatus)
	res = b.post("/console/ops/engineers/eng-zhao", url.Values{"status": {"asleep"}})
	assert.Equal(t, http.StatusUnprocessableEntity, res.status)
	assert.Contains(t, res.body, "unknown status")
}

// TestOpsEscapes: device names and models, dead-letter errors and metadata are escaped.
func TestOpsEscapes(t *testing.T) {
	o := newOpsSite(t)
	b := o.signIn(t, ticket.RoleAdmin, "/console/ops/devices")
	for _, path := range []string{"/console/ops/customers", "/console/ops/devices", "/console/ops/devices/E-XSS", "/console/ops/deadletters", "/console/ops/deadletters/" + o.letters[0].ID, "/console/ops"} {
		res := b.get(path)
		require.Equal(t, http.StatusOK, res.status, path)
		assertEscaped(t, res.body)
		assert.True(t, strings.Contains(res.body, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(res.body, "&lt;img src=x"), path)
	}
}

// assertEscaped: neither hostile string came through as markup.
func assertEscaped(t *testing.T, body string) {
	t.Helper()
	assert.NotContains(t, body, xssScript)
	assert.NotContains(t, body, "<img src=x")
	assert.NotContains(t, body, `"><img`)
}
