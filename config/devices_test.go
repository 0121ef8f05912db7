package config_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/devices"
	"gongdan/draft"
)

// The devices file (relative to the config file) and the inline items both reach Loaded, the
// file's first, every field in place.
func TestDevicesFromTheFileAndInline(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "registry", "devices.yaml"), `- id: E202308001
  model: GA37VSD+
  firmware: 3.2          # a number in YAML, a string here
  product_type: 空压机
  customer: {id: C-1024, name: 王建国, phone: "13812345678", org: 华东仓}
  location: {address: 苏州工业园区星湖街328号, city: 苏州, lat: 31.3196, lon: 120.7239}
- id: E202308002
  customer: {phone: "0512-62881234 转 8012"}
`)
	writeFile(t, filepath.Join(dir, "gongdan.yaml"), `devices:
  file: registry/devices.yaml
  items:
    - {id: CH-0917, model: YK, location: {city: 苏州}}
`)
	cfg, err := config.Load(filepath.Join(dir, "gongdan.yaml"))
	require.NoError(t, err)
	assert.Equal(t, []devices.Device{
		{ID: "E202308001", Model: "GA37VSD+", Firmware: "3.2", ProductType: "空压机",
			Customer: draft.Customer{ID: "C-1024", Name: "王建国", Phone: "13812345678", Org: "华东仓"},
			Location: draft.Location{Address: "苏州工业园区星湖街328号", City: "苏州", Lat: 31.3196, Lon: 120.7239}},
		{ID: "E202308002", Customer: draft.Customer{Phone: "0512-62881234 转 8012"}},
		{ID: "CH-0917", Model: "YK", Location: draft.Location{City: "苏州"}},
	}, cfg.Devices.Loaded)
}

func TestNoDevicesSection(t *testing.T) {
	cfg, err := config.Parse("inline.yaml", []byte("server: {}\n"))
	require.NoError(t, err)
	assert.Empty(t, cfg.Devices.Loaded)
}

// The shipped example loads as it is.
func TestTheExampleDevicesFileLoads(t *testing.T) {
	example, err := filepath.Abs(filepath.Join("..", "configs", "devices.example.yaml"))
	require.NoError(t, err)
	cfg, err := config.Parse("inline.yaml", []byte("devices: {file: "+example+"}\n"))
	require.NoError(t, err)
	require.Len(t, cfg.Devices.Loaded, 3)
	for _, d := range cfg.Devices.Loaded {
		assert.NotEmpty(t, d.Customer.Name, d.ID)
		assert.Equal(t, "苏州", d.Location.City, d.ID)
		assert.Empty(t, devices.Check(d), d.ID)
	}
}

// Every problem in the devices file is reported at its line in that file, with its key path
// in the file; problems of the inline items at their lines in the config. The config's come
// first.
func TestDevicesErrorsAreLocated(t *testing.T) {
	dir := t.TempDir()
	cfgPath, devPath := filepath.Join(dir, "gongdan.yaml"), filepath.Join(dir, "devices.yaml")
	writeFile(t, devPath, `- id: E1
  customer:
    name: 王建国
    phone: "0512-6789"
  location: {lat: 31.3, lon: 200}
- id: E2
  firmwre: "1.2"
  location:
    lat: 31.3
- model: no id
- id: E1
- E5
- id: E6
  id: E7
- id: E8
  location: {lat: -91, lon: 120.6}
- id: E9
  customer: {wechat: wx-1}
`)
	writeFile(t, cfgPath, `server: {}
devices:
  file: devices.yaml
  items:
    - id: E2
    - id: E10
      location: {lat: 31.3, lon: 120.6, height: 5}
    - {id: E11, customer: {phone: "138-1234"}}
`)
	_, err := config.Load(cfgPath)
	assert.Equal(t, []string{
		cfgPath + `:5: devices.items[0].id: duplicate device id "E2": ` + devPath + `:6 has it already; each device is listed once`,
		cfgPath + `:7: devices.items[1].location.height: unknown key "height" (known here: address, city, lat, lon)`,
		cfgPath + `:8: devices.items[2].customer.phone: "138-1234" is not a phone number; write a mainland mobile (13812345678, +86 138 1234 5678) or a landline with its area code (0512-67891234, optionally 转123)`,
		devPath + `:4: [0].customer.phone: "0512-6789" is not a phone number; write a mainland mobile (13812345678, +86 138 1234 5678) or a landline with its area code (0512-67891234, optionally 转123)`,
		devPath + `:5: [0].location.lon: 200 is not a longitude: it must be -180 to 180 (Suzhou is about 120.6)`,
		devPath + `:7: [1].firmwre: unknown key "firmwre"; did you mean "firmware"?`,
		devPath + `:8: [1].location.lon: required with the other coordinate: give both lat and lon, or neither`,
		devPath + `:10: [2].id: required: the device's id as its messages carry it (a topic level or a payload field), like E202308001`,
		devPath + `:11: [3].id: duplicate device id "E1": ` + devPath + `:1 has it already; each device is listed once`,
		devPath + `:12: [4]: want a mapping (key: value lines), got a string`,
		devPath + `:14: [5].id: mapping key "id" already defined at line 13`,
		devPath + `:16: [6].location.lat: -91 is not a latitude: it must be -90 to 90 (Suzhou is about 31.3)`,
		devPath + `:18: [7].customer.wechat: unknown key "wechat" (known here: id, name, phone, org)`,
	}, errorLines(t, err))
}

func TestDevicesFileProblemsWithTheFileAsAWhole(t *testing.T) {
	dir := t.TempDir()
	cfgPath, devPath := filepath.Join(dir, "gongdan.yaml"), filepath.Join(dir, "devices.yaml")
	writeFile(t, cfgPath, "server: {}\ndevices:\n  file: devices.yaml\n")
	cases := []struct {
		name, file string
		want       []string
	}{
		{"empty", "# nothing yet\n", []string{devPath + `: the devices file is empty; list the devices (- id: E202308001 …), or write [] for none`}},
		{"a mapping, not a list", "devices:\n  - id: E1\n", []string{devPath + `:1: a devices file is a list of devices (items starting with - id: …), not a mapping`}},
		{"two documents", "- id: E1\n---\n- id: E2\n", []string{devPath + `:2: a devices file holds one YAML document, and a second one starts here; remove the --- and what follows, or merge it into the first`}},
		{"syntax", "- id: E1\n  model: [unclosed\n", []string{devPath + `:2: YAML syntax: did not find expected ',' or ']'`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			writeFile(t, devPath, tc.file)
			_, err := config.Load(cfgPath)
			assert.Equal(t, tc.want, errorLines(t, err))
		})
	}

	t.Run("an empty list is no devices", func(t *testing.T) {
		writeFile(t, devPath, "[]\n")
		cfg, err := config.Load(cfgPath)
		require.NoError(t, err)
		assert.Empty(t, cfg.Devices.Loaded)
	})
}

func TestDevicesFileMissing(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gongdan.yaml")
	writeFile(t, cfgPath, "server: {}\ndevices:\n  file: no-such.yaml\n")
	_, err := config.Load(cfgPath)
	assert.Equal(t, []string{cfgPath + `:3: devices.file: cannot read the devices file: open ` + filepath.Join(dir, "no-such.yaml") + `: no such file or directory`},
		errorLines(t, err))
}

// ${VAR} is the config's, not the data's: the devices file's strings are taken as written,
// while the inline items expand like every config string.
func TestDevicesFileStringsAreTakenAsWritten(t *testing.T) {
	t.Setenv("GONGDAN_TEST_ORG", "华东仓")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "devices.yaml"), "- {id: E1, customer: {org: '${GONGDAN_TEST_ORG}'}, model: 'A$$B'}\n")
	writeFile(t, filepath.Join(dir, "gongdan.yaml"), "devices:\n  file: devices.yaml\n  items: [{id: E2, customer: {org: '${GONGDAN_TEST_ORG}'}}]\n")
	cfg, err := config.Load(filepath.Join(dir, "gongdan.yaml"))
	require.NoError(t, err)
	require.Len(t, cfg.Devices.Loaded, 2)
	assert.Equal(t, "${GONGDAN_TEST_ORG}", cfg.Devices.Loaded[0].Customer.Org)
	assert.Equal(t, "A$$B", cfg.Devices.Loaded[0].Model)
	assert.Equal(t, "华东仓", cfg.Devices.Loaded[1].Customer.Org)
}

func TestResolvePathsKeepsTheDataDir(t *testing.T) {
	cfg := &config.Config{}
	cfg.ResolvePaths("/var/lib/gongdan")
	assert.Equal(t, "/var/lib/gongdan", cfg.DataDir)
}
