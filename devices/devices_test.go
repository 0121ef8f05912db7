package devices_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/devices"
	"gongdan/draft"
)

func TestCheck(t *testing.T) {
	ok := devices.Device{ID: "E202308001", Customer: draft.Customer{Phone: "13812345678"},
		Location: draft.Location{Lat: 31.3196, Lon: 120.7239}}
	require.Empty(t, devices.Check(ok))

	cases := []struct {
		name   string
		change func(d *devices.Device)
		want   []string // the fields at fault
	}{
		{"no id", func(d *devices.Device) { d.ID = "" }, []string{"id"}},
		{"spaces around the id", func(d *devices.Device) { d.ID = " E1" }, []string{"id"}},
		{"a control character in the id", func(d *devices.Device) { d.ID = "E1\n" }, []string{"id"}},
		{"an id too long", func(d *devices.Device) { d.ID = fmt.Sprintf("%0129d", 1) }, []string{"id"}},
		{"an id just long enough", func(d *devices.Device) { d.ID = fmt.Sprintf("%0128d", 1) }, nil},
		{"lat above 90", func(d *devices.Device) { d.Location.Lat = 90.5 }, []string{"location.lat"}},
		{"lat -90 is the south pole", func(d *devices.Device) { d.Location.Lat = -90 }, nil},
		{"lon below -180", func(d *devices.Device) { d.Location.Lon = -181 }, []string{"location.lon"}},
		{"NaN", func(d *devices.Device) { d.Location.Lat, d.Location.Lon = math.NaN(), math.Inf(1) }, []string{"location.lat", "location.lon"}},
		{"lat without lon", func(d *devices.Device) { d.Location.Lon = 0 }, []string{"location.lon"}},
		{"lon without lat", func(d *devices.Device) { d.Location.Lat = 0 }, []string{"location.lat"}},
		{"no position at all", func(d *devices.Device) { d.Location.Lat, d.Location.Lon = 0, 0 }, nil},
		{"not a phone", func(d *devices.Device) { d.Customer.Phone = "12345" }, []string{"customer.phone"}},
		{"no phone", func(d *devices.Device) { d.Customer.Phone = "" }, nil},
		{"everything wrong", func(d *devices.Device) {
			*d = devices.Device{Customer: draft.Customer{Phone: "x"}, Location: draft.Location{Lat: 100}}
		},
			[]string{"id", "customer.phone", "location.lat"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := ok
			tc.change(&d)
			var fields []string
			for _, p := range devices.Check(d) {
				fields = append(fields, p.Field)
				assert.NotEmpty(t, p.Msg)
			}
			assert.Equal(t, tc.want, fields)
		})
	}
}

func TestIsPhone(t *testing.T) {
	for phone, want := range map[string]bool{
		"13812345678":               true,
		"+86 138 1234 5678":         true,
		"138-1234-5678":             true,
		" 13812345678 ":             true,
		"0512-67891234":             true,
		"(021)12345678":             true,
		"0512-62881234 转 8012":      true,
		"0512-62881234 ext.12":      true,
		"":                          false,
		"12345":                     false,
		"1381234567":                false, // ten digits
		"138123456789":              false, // twelve
		"13812345678 / 13912345678": false, // two numbers
		"电话13812345678":             false, // something before it
		"13812345678 王工":            false, // something after it
		"0512-62881234 转":           false,
	} {
		assert.Equal(t, want, devices.IsPhone(phone), "%q", phone)
	}
}

func TestRegistryAPIEditsWinOverTheConfig(t *testing.T) {
	var saved []devices.Device
	r := devices.New(
		[]devices.Device{{ID: "E1", Model: "from the file"}, {ID: "E2", Model: "from the file"}},
		[]devices.Device{{ID: "E2", Model: "edited"}, {ID: "E3", Model: "added"}},
		func(d devices.Device) error { saved = append(saved, d); return nil })
	e1, _ := r.Device("E1")
	e2, _ := r.Device("E2")
	assert.Equal(t, []string{"from the file", "config"}, []string{e1.Model, e1.Source})
	assert.Equal(t, []string{"edited", "api"}, []string{e2.Model, e2.Source})
	assert.Equal(t, 3, r.Len())

	kept, err := r.Put(devices.Device{ID: "E1", Model: "changed", Source: "whatever the caller says"})
	require.NoError(t, err)
	assert.Equal(t, "api", kept.Source)
	assert.Equal(t, []devices.Device{kept}, saved, "saved as kept")
	e1, _ = r.Device("E1")
	assert.Equal(t, kept, e1)
	ids := []string{}
	for _, d := range r.List() {
		ids = append(ids, d.ID)
	}
	assert.Equal(t, []string{"E1", "E2", "E3"}, ids)
}

// A Put whose save fails changes nothing in memory: the edit is not half applied.
func TestRegistryFailedSaveChangesNothing(t *testing.T) {
	r := devices.New([]devices.Device{{ID: "E1", Model: "A"}}, nil, func(devices.Device) error { return errors.New("disk full") })
	_, err := r.Put(devices.Device{ID: "E1", Model: "B"})
	require.Error(t, err)
	d, _ := r.Device("E1")
	assert.Equal(t, "A", d.Model)
}

// Concurrent edits of one device end with the store and the memory agreeing on the last.
func TestRegistryConcurrentPutsAgree(t *testing.T) {
	var mu sync.Mutex
	var last devices.Device
	r := devices.New(nil, nil, func(d devices.Device) error {
		mu.Lock()
		last = d
		mu.Unlock()
		time.Sleep(time.Duration(len(d.Firmware)) * 100 * time.Microsecond) // lets another Put overtake
		return nil
	})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			_, err := r.Put(devices.Device{ID: "E1", Firmware: fmt.Sprint(i)})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	inMemory, _ := r.Device("E1")
	assert.Equal(t, last, inMemory)
}

func TestNilRegistryKnowsNothing(t *testing.T) {
	var r *devices.Registry
	_, ok := r.Device("E1")
	assert.False(t, ok)
}

// A draft that names a registered device gets its model, firmware and product type, where it
// says none, with evidence; nothing else of the entry, and nothing it says is overwritten.
func TestFillDraftFromTheRegistry(t *testing.T) {
	reg := devices.New([]devices.Device{{ID: "E202405017", Model: "TL-X9", Firmware: "v2.3.1", ProductType: "智能门锁",
		Customer: draft.Customer{Name: "王建国", Phone: "13812345678"}, Location: draft.Location{Address: "苏州工业园区星湖街328号"}}}, nil, nil)
	d := devices.FillDraft(draft.Draft{Title: "指纹锁没反应", Device: draft.Device{ID: "E202405017", Model: "tl-x9"}}, reg)
	assert.Equal(t, draft.Device{ID: "E202405017", Model: "tl-x9", Firmware: "v2.3.1", ProductType: "智能门锁"}, d.Device)
	assert.Equal(t, []draft.Evidence{
		{Field: "device.firmware", Text: "E202405017", From: "registry"},
		{Field: "device.product_type", Text: "E202405017", From: "registry"},
	}, d.Evidence)

	// The draft says another model: the registry's firmware is not this device's, and a
	// firmware fix of one model must never reach another (a review's finding).
	d = devices.FillDraft(draft.Draft{Title: "指纹锁没反应", Device: draft.Device{ID: "E202405017", Model: "TL-X9 Pro"}}, reg)
	assert.Equal(t, draft.Device{ID: "E202405017", Model: "TL-X9 Pro"}, d.Device)
	require.Len(t, d.Evidence, 1)
	assert.Contains(t, d.Evidence[0].Text, "nothing taken from the registry")

	// A registry's model longer than a draft may hold is clipped, not a dead letter.
	long := devices.New([]devices.Device{{ID: "E1", Model: strings.Repeat("M", 300)}}, nil, nil)
	d = devices.FillDraft(draft.Draft{Title: "急停", Device: draft.Device{ID: "E1"}}, long)
	assert.NoError(t, d.Validate())
	assert.Empty(t, d.Customer, "the device's customer is not necessarily the writer")
	assert.Empty(t, d.Location)

	unknown := draft.Draft{Title: "x", Device: draft.Device{ID: "E999"}}
	assert.Equal(t, unknown, devices.FillDraft(unknown, reg))
	assert.Equal(t, unknown, devices.FillDraft(unknown, nil))
	full := draft.Draft{Title: "x", Device: draft.Device{ID: "E202405017"}, Evidence: make([]draft.Evidence, draft.MaxEvidence)}
	full = devices.FillDraft(full, reg)
	assert.Equal(t, "v2.3.1", full.Device.Firmware)
	assert.Len(t, full.Evidence, draft.MaxEvidence, "within the draft's limit")
}
