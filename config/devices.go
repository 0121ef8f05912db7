package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"gopkg.in/yaml.v3"

	"gongdan/devices"
	"gongdan/draft"
)

// Devices is the devices section: what the device registry knows from the config, each device's
// model, firmware, customer and install location. Devices not listed are still accepted (and
// flagged on their drafts); edits made through the API (PUT /api/v1/devices/{id}) are kept in the
// store and win over the entries here.
type Devices struct {
	// File is a YAML file holding a list of devices in the form of items
	// (configs/devices.example.yaml), relative to the config file's folder unless absolute.
	// Its problems are reported at their lines in that file.
	File string `yaml:"file"`
	// Items are devices listed in the config itself. An id may appear once in the file and the
	// items together.
	Items []DeviceEntry `yaml:"items"`

	// Loaded are the devices of the file, then the items; set by validation.
	Loaded []devices.Device `yaml:"-"`
}

// DeviceEntry is one device, as the devices file or devices.items lists it.
type DeviceEntry struct {
	// ID is the device's id as its messages carry it (a topic level or a payload field).
	// Required.
	ID string `yaml:"id"`
	// Model and Firmware as the maker names them.
	Model    string `yaml:"model"`
	Firmware string `yaml:"firmware"`
	// ProductType is the kind of equipment (空压机, 货梯, 冷水机组), for routing rules.
	ProductType string `yaml:"product_type"`
	// Customer is who the device belongs to, and whom to call.
	Customer DeviceCustomer `yaml:"customer"`
	// Location is where the device is installed.
	Location DeviceLocation `yaml:"location"`
}

// DeviceCustomer is the customer a device belongs to.
type DeviceCustomer struct {
	// ID is the customer's id in the CRM, if there is one.
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Phone is a mainland mobile or a landline with its area code.
	Phone string `yaml:"phone"`
	// Org is the customer's organisation or site (华东仓).
	Org string `yaml:"org"`
}

// DeviceLocation is where a device is installed.
type DeviceLocation struct {
	Address string `yaml:"address"`
	City    string `yaml:"city"`
	// Lat and Lon in degrees (WGS 84): both or neither.
	Lat float64 `yaml:"lat"`
	Lon float64 `yaml:"lon"`
}

func (e DeviceEntry) device() devices.Device {
	return devices.Device{
		ID: e.ID, Model: e.Model, Firmware: e.Firmware, ProductType: e.ProductType,
		Customer: draft.Customer{ID: e.Customer.ID, Name: e.Customer.Name, Phone: e.Customer.Phone, Org: e.Customer.Org},
		Location: draft.Location{Address: e.Location.Address, City: e.Location.City, Lat: e.Location.Lat, Lon: e.Location.Lon},
	}
}

// load reads the devices file and checks every device, of the file and of the items, into
// Loaded. Problems with the items are reported through main, at their lines in the config;
// problems in the devices file are returned, located in that file.
func (ds *Devices) load(main *decoder, dir string) Errors {
	var file *decoder
	var fromFile []DeviceEntry
	if ds.File != "" && !main.isBad("devices.file") {
		path := ds.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if data, err := os.ReadFile(path); err != nil {
			main.report(main.lineOf("devices.file"), "devices.file", "cannot read the devices file: %v", err)
		} else {
			file, fromFile = decodeDevicesFile(path, data)
		}
	}

	first := map[string]string{} // id -> "file:line" of the entry that has it first
	var out []devices.Device
	check := func(dec *decoder, list string, entries []DeviceEntry) {
		for i, e := range entries {
			at := indexPath(list, i)
			if dec.isBad(at) {
				continue // not a mapping; reported
			}
			d := e.device()
			for _, p := range devices.Check(d) {
				if key := joinPath(at, p.Field); !dec.isBad(key) {
					dec.report(dec.lineOf(key), key, "%s", p.Msg)
				}
			}
			if d.ID != "" {
				idKey := joinPath(at, "id")
				if where, dup := first[d.ID]; dup {
					dec.report(dec.lineOf(idKey), idKey, "duplicate device id %q: %s has it already; each device is listed once", d.ID, where)
					continue
				}
				first[d.ID] = fmt.Sprintf("%s:%d", dec.file, dec.lineOf(idKey))
			}
			out = append(out, d)
		}
	}
	if file != nil {
		check(file, "", fromFile)
	}
	check(main, "devices.items", ds.Items)
	ds.Loaded = out
	if file == nil {
		return nil
	}
	file.errs.SortByLine()
	return file.errs
}

// decodeDevicesFile decodes a devices file (a list of DeviceEntry) with the config's walker:
// unknown keys, wrong types and duplicate keys are reported at their lines in the file, with
// key paths relative to it ("[2].customer.phone"). Its strings are taken as written: no ${VAR}.
func decodeDevicesFile(path string, data []byte) (*decoder, []DeviceEntry) {
	dec := newDecoder(path, nil)
	root, errs := parseOne(path, data, "devices")
	switch {
	case errs != nil:
		dec.errs = errs
		return dec, nil
	case root == nil || isNull(root):
		dec.report(0, "", "the devices file is empty; list the devices (- id: E202308001 …), or write [] for none")
		return dec, nil
	case root.Kind != yaml.SequenceNode:
		dec.report(root.Line, "", "a devices file is a list of devices (items starting with - id: …), not %s", describe(root))
		return dec, nil
	}
	dec.lines[""] = root.Line
	dec.duplicates("", root)
	var entries []DeviceEntry
	dec.value("", root, reflect.ValueOf(&entries).Elem())
	return dec, entries
}
