package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/api"
	"gongdan/core/engine"
	"gongdan/core/store"
	"gongdan/devices"
	"gongdan/draft"
	"gongdan/internal/testkit/enginekit"
)

// The API's clock in the tests: 2026-11-23 09:42 in Suzhou.
var deviceClock = time.Date(2026, 11, 23, 1, 42, 0, 0, time.UTC)

// deviceServer starts a server whose registry holds fromConfig and keeps edits in its store
// (as gongdan serve does), unless save is given.
func deviceServer(t *testing.T, fromConfig []devices.Device, save devices.SaveFunc) (*client, *devices.Registry, store.Store) {
	t.Helper()
	ctx := context.Background()
	st := enginekit.OpenStore(t, "")
	eng := enginekit.Start(t, engine.Options{Store: st, Now: func() time.Time { return deviceClock }})
	if save == nil {
		save = func(d devices.Device) error {
			body, err := json.Marshal(d)
			if err != nil {
				return err
			}
			return st.Write(ctx, func(tx store.Tx) error { return tx.PutDevice(d.ID, body) })
		}
	}
	reg := devices.New(fromConfig, nil, save)
	h, err := api.New(api.Options{Engine: eng, Store: st, Tokens: tokens, Registerer: prometheus.NewRegistry(), MaxBodyBytes: 4096, Devices: reg})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.CloseStreams(); srv.Close() })
	return &client{t: t, url: srv.URL, api: h}, reg, st
}

var compressor = devices.Device{ID: "E202308001", Model: "GA37VSD+", Firmware: "3.2.1", ProductType: "空压机",
	Customer: draft.Customer{ID: "C-1024", Name: "王建国", Phone: "13812345678", Org: "华东仓"},
	Location: draft.Location{Address: "苏州工业园区星湖街328号", City: "苏州", Lat: 31.3196, Lon: 120.7239}}

func decodeDevice(t *testing.T, body []byte) devices.Device {
	t.Helper()
	var d devices.Device
	require.NoError(t, json.Unmarshal(body, &d), string(body))
	return d
}

func TestGetADevice(t *testing.T) {
	c, _, _ := deviceServer(t, []devices.Device{compressor}, nil)
	r := c.do("GET", "/api/v1/devices/E202308001", "tok-agent", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	want := compressor
	want.Source = "config"
	assert.Equal(t, want, decodeDevice(t, r.body))
	assert.NotContains(t, r.json(t), "updated_at", "a config entry was never updated through the API")

	p := requireProblem(t, c.do("GET", "/api/v1/devices/E404", "tok-agent", ""), http.StatusNotFound, "not-found")
	assert.Contains(t, p["detail"], `"E404"`)
	requireProblem(t, c.do("GET", "/api/v1/devices/E202308001", "tok-cust", ""), http.StatusForbidden, "forbidden")
	requireProblem(t, c.do("GET", "/api/v1/devices/E202308001", "", ""), http.StatusUnauthorized, "unauthorized")
}

// A PUT replaces the entry, records who and when, reaches the shared registry (the next
// message sees it) and the store (the next start does).
func TestPutADevice(t *testing.T) {
	c, reg, st := deviceServer(t, []devices.Device{compressor}, nil)
	body := `{"model":"GA45VSD+","firmware":"3.3.0","product_type":"空压机",
		"customer":{"name":"王建国","phone":"139 1555 0917","org":"华东仓"},
		"location":{"address":"苏州工业园区星湖街328号3号楼","city":"苏州","lat":31.32,"lon":120.72}}`
	r := c.do("PUT", "/api/v1/devices/E202308001", "tok-disp", body)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	want := devices.Device{ID: "E202308001", Model: "GA45VSD+", Firmware: "3.3.0", ProductType: "空压机",
		Customer: draft.Customer{Name: "王建国", Phone: "139 1555 0917", Org: "华东仓"},
		Location: draft.Location{Address: "苏州工业园区星湖街328号3号楼", City: "苏州", Lat: 31.32, Lon: 120.72},
		Source:   "api", UpdatedAt: deviceClock, UpdatedBy: "disp-chen"}
	got := decodeDevice(t, r.body)
	assert.True(t, deviceClock.Equal(got.UpdatedAt), "updated_at %s", got.UpdatedAt)
	assert.Equal(t, "2026-11-23T09:42:00+08:00", r.json(t)["updated_at"], "in the configured time zone")
	got.UpdatedAt = deviceClock
	assert.Equal(t, want, got)

	inMemory, ok := reg.Device("E202308001")
	require.True(t, ok)
	assert.Equal(t, "GA45VSD+", inMemory.Model, "the registry the connectors read has it at once")

	r = c.do("GET", "/api/v1/devices/E202308001", "tok-eng", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "GA45VSD+", decodeDevice(t, r.body).Model)

	stored, err := st.Devices(context.Background())
	require.NoError(t, err)
	require.Contains(t, stored, "E202308001")
	kept := decodeDevice(t, stored["E202308001"])
	assert.Equal(t, []string{"GA45VSD+", "disp-chen", "api"}, []string{kept.Model, kept.UpdatedBy, kept.Source})

	// A new device, with its id in the body too; then what GET answered goes back as it is.
	r = c.do("PUT", "/api/v1/devices/CH-0917", "tok-sup", `{"id":"CH-0917","model":"YK"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r = c.do("GET", "/api/v1/devices/CH-0917", "tok-sup", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r = c.do("PUT", "/api/v1/devices/CH-0917", "tok-admin", string(r.body))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "admin-1", decodeDevice(t, r.body).UpdatedBy)
	assert.Equal(t, 2, reg.Len())
}

func TestPutADeviceRefusals(t *testing.T) {
	c, reg, st := deviceServer(t, []devices.Device{compressor}, nil)
	const path = "/api/v1/devices/E202308001"
	cases := []struct {
		name, token, body string
		status            int
		typ, field        string
	}{
		{"another id in the body", "tok-disp", `{"id":"E202308002","model":"X"}`, 400, "bad-request", "id"},
		{"latitude out of range", "tok-disp", `{"location":{"lat":91,"lon":120.7}}`, 422, "invalid-data", "location.lat"},
		{"longitude out of range", "tok-disp", `{"location":{"lat":31.3,"lon":-180.5}}`, 422, "invalid-data", "location.lon"},
		{"half a position", "tok-disp", `{"location":{"lat":31.3}}`, 422, "invalid-data", "location.lon"},
		{"not a phone", "tok-disp", `{"customer":{"phone":"12345"}}`, 422, "invalid-data", "customer.phone"},
		{"an unknown field", "tok-disp", `{"modle":"X"}`, 400, "malformed-json", "modle"},
		{"a wrong type", "tok-disp", `{"location":{"lat":"31.3"}}`, 400, "malformed-json", "location.lat"},
		{"no body", "tok-disp", ``, 400, "malformed-json", ""},
		{"an engineer", "tok-eng", `{"model":"X"}`, 403, "forbidden", ""},
		{"an agent", "tok-agent", `{"model":"X"}`, 403, "forbidden", ""},
		{"qa", "tok-qa", `{"model":"X"}`, 403, "forbidden", ""},
		{"a customer", "tok-cust", `{"model":"X"}`, 403, "forbidden", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := requireProblem(t, c.do("PUT", path, tc.token, tc.body), tc.status, tc.typ)
			if tc.field != "" {
				assert.Equal(t, tc.field, p["field"])
			}
		})
	}
	d, _ := reg.Device("E202308001")
	assert.Equal(t, "config", d.Source, "nothing was changed")
	assert.Equal(t, compressor.Model, d.Model)
	stored, err := st.Devices(context.Background())
	require.NoError(t, err)
	assert.Empty(t, stored, "nothing was stored")
	// An id that is not one: the path's id is checked like the body's.
	requireProblem(t, c.do("PUT", "/api/v1/devices/%20E1", "tok-disp", `{}`), 422, "invalid-data")
}

// When the store refuses the edit, the answer is a 500 and the registry is as it was.
func TestPutADeviceTheStoreRefuses(t *testing.T) {
	c, reg, _ := deviceServer(t, []devices.Device{compressor}, func(devices.Device) error { return errors.New("disk I/O error") })
	requireProblem(t, c.do("PUT", "/api/v1/devices/E202308001", "tok-disp", `{"model":"X"}`), http.StatusInternalServerError, "internal")
	d, _ := reg.Device("E202308001")
	assert.Equal(t, compressor.Model, d.Model)
}

func TestListDevicesByIDInPages(t *testing.T) {
	var fromConfig []devices.Device
	for _, id := range []string{"E5", "E1", "E4", "E2", "E3"} {
		fromConfig = append(fromConfig, devices.Device{ID: id})
	}
	c, _, _ := deviceServer(t, fromConfig, nil)
	page := func(query string) ([]string, string) {
		t.Helper()
		r := c.do("GET", "/api/v1/devices"+query, "tok-disp", "")
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var p struct {
			Devices    []devices.Device `json:"devices"`
			NextCursor string           `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal(r.body, &p))
		var got []string
		for _, d := range p.Devices {
			got = append(got, d.ID)
		}
		return got, p.NextCursor
	}
	all, next := page("")
	assert.Equal(t, []string{"E1", "E2", "E3", "E4", "E5"}, all)
	assert.Empty(t, next)

	first, next := page("?limit=2")
	assert.Equal(t, []string{"E1", "E2"}, first)
	require.NotEmpty(t, next)
	second, next := page("?limit=2&cursor=" + next)
	assert.Equal(t, []string{"E3", "E4"}, second)
	require.NotEmpty(t, next)
	last, next := page("?limit=2&cursor=" + next)
	assert.Equal(t, []string{"E5"}, last)
	assert.Empty(t, next)
	exact, next := page("?limit=5")
	assert.Len(t, exact, 5)
	assert.Empty(t, next, "no next page when the last one is exactly full")

	// A device added between pages, after the cursor, is on a later page.
	r := c.do("PUT", "/api/v1/devices/E21", "tok-disp", `{}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	_, next = page("?limit=2")
	second, _ = page("?limit=2&cursor=" + next)
	assert.Equal(t, []string{"E21", "E3"}, second)

	requireProblem(t, c.do("GET", "/api/v1/devices?limit=0", "tok-disp", ""), http.StatusBadRequest, "bad-request")
	requireProblem(t, c.do("GET", fmt.Sprintf("/api/v1/devices?limit=%d", store.MaxLimit+1), "tok-disp", ""), http.StatusBadRequest, "bad-request")
	p := requireProblem(t, c.do("GET", "/api/v1/devices?cursor=nonsense", "tok-disp", ""), http.StatusBadRequest, "bad-request")
	assert.Equal(t, "cursor", p["field"])
	requireProblem(t, c.do("GET", "/api/v1/devices", "tok-cust", ""), http.StatusForbidden, "forbidden")
}

func TestDevicesWithoutARegistryAnswer503(t *testing.T) {
	c := newServer(t)
	requireProblem(t, c.do("GET", "/api/v1/devices", "tok-admin", ""), http.StatusServiceUnavailable, "unavailable")
	requireProblem(t, c.do("GET", "/api/v1/devices/E1", "tok-admin", ""), http.StatusServiceUnavailable, "unavailable")
	requireProblem(t, c.do("PUT", "/api/v1/devices/E1", "tok-admin", `{}`), http.StatusServiceUnavailable, "unavailable")
}

// TestSearchDevices: ?q= keeps the devices it is found in (id, model, customer, address),
// whatever the case, and pages through them with the cursor.
func TestSearchDevices(t *testing.T) {
	other := devices.Device{ID: "M-7", Model: "ga90", Customer: draft.Customer{Name: "李娜", Org: "华北厂"}, Location: draft.Location{Address: "天津西青区"}}
	third := devices.Device{ID: "X-1", Model: "GA37", Customer: draft.Customer{Name: "赵六"}}
	c, _, _ := deviceServer(t, []devices.Device{compressor, other, third}, nil)
	ids := func(query string) ([]string, string) {
		t.Helper()
		r := c.do("GET", "/api/v1/devices"+query, "tok-eng", "")
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var p struct {
			Devices    []devices.Device `json:"devices"`
			NextCursor string           `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal(r.body, &p))
		var got []string
		for _, d := range p.Devices {
			got = append(got, d.ID)
		}
		return got, p.NextCursor
	}
	for q, want := range map[string][]string{
		"?q=ga":                 {"E202308001", "M-7", "X-1"},
		"?q=GA90":               {"M-7"},
		"?q=%E5%8D%8E":          {"E202308001", "M-7"}, // 华: in both organisations
		"?q=%E6%98%9F%E6%B9%96": {"E202308001"},        // 星湖: the address
		"?q=13812345678":        {"E202308001"},
		"?q=nothing":            nil,
		"?q=+":                  {"E202308001", "M-7", "X-1"},
	} {
		got, _ := ids(q)
		assert.Equal(t, want, got, q)
	}
	first, next := ids("?q=ga&limit=2")
	assert.Equal(t, []string{"E202308001", "M-7"}, first)
	rest, next := ids("?q=ga&limit=2&cursor=" + next)
	assert.Equal(t, []string{"X-1"}, rest)
	assert.Empty(t, next)
}

// TestListCustomers: the registry's customers, each once with its devices, by name; searched
// by ?q=; staff read them, customers may not.
func TestListCustomers(t *testing.T) {
	second := compressor
	second.ID = "E202308002"
	anonymous := devices.Device{ID: "N-1", Customer: draft.Customer{Name: "李娜", Org: "华北厂"}}
	c, _, _ := deviceServer(t, []devices.Device{compressor, second, anonymous, {ID: "bare"}}, nil)
	r := c.do("GET", "/api/v1/customers", "tok-agent", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var answer struct {
		Customers []struct {
			Key      string         `json:"key"`
			Customer draft.Customer `json:"customer"`
			Devices  []string       `json:"devices"`
		} `json:"customers"`
		Truncated bool `json:"truncated"`
	}
	require.NoError(t, json.Unmarshal(r.body, &answer))
	require.Len(t, answer.Customers, 2)
	assert.Equal(t, "name:华北厂/李娜", answer.Customers[0].Key)
	assert.Equal(t, "id:C-1024", answer.Customers[1].Key)
	assert.Equal(t, []string{"E202308001", "E202308002"}, answer.Customers[1].Devices)
	assert.Equal(t, "13812345678", answer.Customers[1].Customer.Phone)
	assert.False(t, answer.Truncated)

	r = c.do("GET", "/api/v1/customers?q=1381234", "tok-eng", "")
	require.NoError(t, json.Unmarshal(r.body, &answer))
	require.Len(t, answer.Customers, 1)
	assert.Equal(t, "王建国", answer.Customers[0].Customer.Name)
	requireProblem(t, c.do("GET", "/api/v1/customers", "tok-cust", ""), http.StatusForbidden, "forbidden")
}
