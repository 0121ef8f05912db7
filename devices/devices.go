// Package devices is the device registry: what is known of each device that raises tickets on
// its own — model, firmware, the customer it belongs to, where it is installed. Entries come
// from a config file and from the API (GET/PUT /api/v1/devices/{id}); the API's edits are kept
// in the store and win over the file. Connectors read it on their hot path, so lookups take a
// read lock only.
package devices

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"gongdan/draft"
)

// Device is one registry entry.
type Device struct {
	ID          string         `json:"id" yaml:"id"`
	Model       string         `json:"model" yaml:"model"`
	Firmware    string         `json:"firmware" yaml:"firmware"`
	ProductType string         `json:"product_type" yaml:"product_type"`
	Customer    draft.Customer `json:"customer" yaml:"customer"`
	// Location is the install address and its coordinates.
	Location draft.Location `json:"location" yaml:"location"`
	// Source says where the entry came from: "config" (the devices file) or "api".
	Source    string    `json:"source" yaml:"-"`
	UpdatedAt time.Time `json:"updated_at,omitzero" yaml:"-"`
	UpdatedBy string    `json:"updated_by,omitempty" yaml:"-"`
}

// Lookup is what connectors need of the registry.
type Lookup interface {
	// Device returns the entry of id, and whether there is one.
	Device(id string) (Device, bool)
}

// SaveFunc keeps an API edit durably (the store).
type SaveFunc func(Device) error

// Registry is the registry in memory. The zero value is not usable; use New.
type Registry struct {
	// putMu orders Puts: two edits of one device saved in one order and applied in the
	// other would leave the store and the memory disagreeing until the next restart.
	putMu sync.Mutex
	mu    sync.RWMutex
	m     map[string]Device
	save  SaveFunc
}

// New builds a registry from the config file's entries and the stored API edits (which win),
// keeping later edits through save (nil: in memory only).
func New(fromConfig, stored []Device, save SaveFunc) *Registry {
	r := &Registry{m: make(map[string]Device, len(fromConfig)+len(stored)), save: save}
	for _, d := range fromConfig {
		d.Source = "config"
		r.m[d.ID] = d
	}
	for _, d := range stored {
		d.Source = "api"
		r.m[d.ID] = d
	}
	return r
}

// Device returns the entry of id.
func (r *Registry) Device(id string) (Device, bool) {
	if r == nil {
		return Device{}, false
	}
	r.mu.RLock()
	d, ok := r.m[id]
	r.mu.RUnlock()
	return d, ok
}

// Put stores d (durably first, then in memory) and returns it as kept.
func (r *Registry) Put(d Device) (Device, error) {
	d.Source = "api"
	r.putMu.Lock()
	defer r.putMu.Unlock()
	if r.save != nil {
		if err := r.save(d); err != nil {
			return Device{}, err
		}
	}
	r.mu.Lock()
	r.m[d.ID] = d
	r.mu.Unlock()
	return d, nil
}

// List returns every entry, by id.
func (r *Registry) List() []Device {
	r.mu.RLock()
	out := make([]Device, 0, len(r.m))
	for _, d := range r.m {
		out = append(out, d)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Len is the number of entries.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.m)
}

// FillDraft fills what draft d does not say about its device — model, firmware, product type —
// from the registry entry of its device id, and records where each came from (evidence from
// "registry"): a webhook or a call that names a serial gets the device's firmware, so that
// what is known about that firmware (knowledge articles) reaches the ticket. It never
// overwrites what the draft says, and takes nothing else from the entry: the customer and the
// address of a device are not necessarily those of whoever writes about it. A draft without a
// device id, or with one the registry does not know, is returned as it is.
func FillDraft(d draft.Draft, l Lookup) draft.Draft {
	if d.Device.ID == "" || l == nil {
		return d
	}
	dev, ok := l.Device(d.Device.ID)
	if !ok {
		return d
	}
	if d.Device.Model != "" && dev.Model != "" && !strings.EqualFold(strings.TrimSpace(d.Device.Model), strings.TrimSpace(dev.Model)) {
		// The draft says another model than the registry: the registry's firmware is not this
		// device's (a firmware fix for one model must never reach another's).
		if len(d.Evidence) < draft.MaxEvidence {
			d.Evidence = append(slices.Clip(d.Evidence), draft.Evidence{Field: "device.firmware",
				Text: fmt.Sprintf("%s: the registry says model %s, the draft %s; nothing taken from the registry", d.Device.ID, dev.Model, d.Device.Model), From: EvidenceFrom})
		}
		return d
	}
	for _, f := range []struct {
		field    string
		dst      *string
		fromThis string
	}{
		{"device.model", &d.Device.Model, dev.Model},
		{"device.firmware", &d.Device.Firmware, dev.Firmware},
		{"device.product_type", &d.Device.ProductType, dev.ProductType},
	} {
		if *f.dst != "" || f.fromThis == "" {
			continue
		}
		// Within a draft's limits, whatever the registry holds (it is not bounded as drafts
		// are): a long model must not make every draft about the device a dead letter.
		*f.dst = draft.Clip(f.fromThis, maxRegistryField)
		if len(d.Evidence) < draft.MaxEvidence {
			d.Evidence = append(slices.Clip(d.Evidence), draft.Evidence{Field: f.field, Text: d.Device.ID, From: EvidenceFrom})
		}
	}
	return d
}

// maxRegistryField is the most of a registry field a draft takes: the draft's limit for device
// fields.
const maxRegistryField = 128

// EvidenceFrom names the registry in a draft's evidence.
const EvidenceFrom = "registry"
