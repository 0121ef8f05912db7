package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"gongdan/core/store"
	"gongdan/core/ticket"
	"gongdan/devices"
	"gongdan/draft"
	"gongdan/predict"
)

// routeDevices adds the device registry's endpoints. Staff read it; the desk (dispatchers,
// supervisors, admins) edits it, as it edits engineers' skills.
func (s *Server) routeDevices(mux *http.ServeMux, staff []ticket.Role) {
	desk := []ticket.Role{ticket.RoleAdmin, ticket.RoleSupervisor, ticket.RoleDispatcher}
	s.handle(mux, "GET /api/v1/devices", staff, s.listDevices)
	s.handle(mux, "GET /api/v1/devices/{id}", staff, s.getDevice)
	s.handle(mux, "PUT /api/v1/devices/{id}", desk, s.putDevice)
	s.handle(mux, "GET /api/v1/reports/devices", staff, s.devicesReport)
	s.handle(mux, "POST /api/v1/reports/devices/rebuild", []ticket.Role{ticket.RoleAdmin}, s.rebuildDeviceHistory)
	s.handle(mux, "GET /api/v1/customers", staff, s.listCustomers)
}

// customerEntry is a customer of the device registry and the devices it is the customer of.
type customerEntry struct {
	// Key is ticket.CustomerKey of the customer (id, phone, openid or userid), or "name:"
	// with the organisation and name for a customer with none of them.
	Key      string         `json:"key"`
	Customer draft.Customer `json:"customer"`
	Devices  []string       `json:"devices"`
}

// listCustomers answers GET /api/v1/customers?q=: the customers the device registry names,
// each once with its devices, by name; ?q= keeps those whose name, organisation, phone, id or
// email holds it. At most store.MaxLimit, with truncated set when there are more. Customers
// known only from tickets are not listed: nothing indexes the tickets by customer.
func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) {
	reg, ok := s.registry(w, r)
	if !ok {
		return
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	byKey := map[string]*customerEntry{}
	var order []*customerEntry
	for _, d := range reg.List() {
		c := d.Customer
		key := ticket.CustomerKey(c)
		if key == "" {
			if strings.TrimSpace(c.Name) == "" && strings.TrimSpace(c.Org) == "" {
				continue
			}
			key = "name:" + strings.TrimSpace(c.Org) + "/" + strings.TrimSpace(c.Name)
		}
		e := byKey[key]
		if e == nil {
			e = &customerEntry{Key: key, Customer: c}
			byKey[key] = e
			order = append(order, e)
		}
		e.Devices = append(e.Devices, d.ID)
	}
	out := make([]customerEntry, 0, len(order))
	for _, e := range order {
		if q == "" || slices.ContainsFunc([]string{e.Customer.Name, e.Customer.Org, e.Customer.Phone, e.Customer.ID, e.Customer.Email},
			func(f string) bool { return strings.Contains(strings.ToLower(f), q) }) {
			out = append(out, *e)
		}
	}
	slices.SortFunc(out, func(a, b customerEntry) int {
		return cmp.Or(strings.Compare(a.Customer.Name, b.Customer.Name), strings.Compare(a.Key, b.Key))
	})
	truncated := len(out) > store.MaxLimit
	writeJSON(w, http.StatusOK, map[string]any{"customers": out[:min(len(out), store.MaxLimit)], "truncated": truncated})
}

// DeviceHistory is what the API shows of predictive maintenance (predict.Tracker).
type DeviceHistory interface {
	// Device returns a device's history and its model's figures (model: the registry's, for
	// a device whose history names none); known false when no ticket of it was counted.
	Device(ctx context.Context, id, model string) (predict.DeviceView, bool, error)
	// Report ranks the top devices: chronic first, then the soonest to fail.
	Report(ctx context.Context, top int) (predict.Report, error)
	// Rebuild records device history again from every event; it returns the events read.
	Rebuild(ctx context.Context) (int, error)
}

// deviceAnswer is a device as GET /api/v1/devices/{id} answers it: the registry's entry and,
// with predictive maintenance on, its history. A device with a history and no entry answers
// with its id and no source.
type deviceAnswer struct {
	devices.Device
	// Chronic is the registry's flag of a chronic device (频繁故障): its next ticket is tagged.
	Chronic     *bool                `json:"chronic,omitempty"`
	Health      *predict.Health      `json:"health,omitempty"`
	ModelHealth *predict.ModelHealth `json:"model_health,omitempty"`
}

// devicePage is one page of GET /api/v1/devices.
type devicePage struct {
	Devices []devices.Device `json:"devices"`
	// NextCursor fetches the next page; empty on the last one.
	NextCursor string `json:"next_cursor"`
}

// listDevices lists the registry by id, store.DefaultLimit at a time (?limit= up to
// store.MaxLimit), with a cursor like the tickets' list; ?q= keeps the devices it is found in
// (deviceMatches), the cursor paging through those.
func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	reg, ok := s.registry(w, r)
	if !ok {
		return
	}
	qv := r.URL.Query()
	limit, bad := parseLimit(qv, store.DefaultLimit)
	if bad != nil {
		s.fail(w, r, bad)
		return
	}
	var after string
	if c := qv.Get("cursor"); c != "" {
		var err error
		if after, err = decodeDeviceCursor(c); err != nil {
			s.fail(w, r, badParam("cursor", err.Error()))
			return
		}
	}
	all := reg.List()
	if q := strings.TrimSpace(qv.Get("q")); q != "" {
		all = slices.DeleteFunc(all, func(d devices.Device) bool { return !deviceMatches(d, q) })
	}
	// List is sorted by id: the page starts after the cursor's id, whether or not that device
	// is still there.
	start, _ := slices.BinarySearchFunc(all, after, func(d devices.Device, id string) int { return strings.Compare(d.ID, id) })
	if start < len(all) && after != "" && all[start].ID == after {
		start++
	}
	page := devicePage{Devices: all[start:min(start+limit, len(all))]}
	if end := start + limit; end < len(all) {
		page.NextCursor = encodeDeviceCursor(all[end-1].ID)
	}
	writeJSON(w, http.StatusOK, page)
}

// deviceMatches reports whether q is in one of d's id, model, product type, customer (name,
// organisation, phone, id) or address, whatever the case: the search of ?q=.
func deviceMatches(d devices.Device, q string) bool {
	q = strings.ToLower(q)
	for _, f := range []string{d.ID, d.Model, d.ProductType, d.Customer.Name, d.Customer.Org, d.Customer.Phone, d.Customer.ID, d.Location.Address, d.Location.City} {
		if strings.Contains(strings.ToLower(f), q) {
			return true
		}
	}
	return false
}

// A device cursor is the last id of the page before, opaque to clients.
func encodeDeviceCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("d" + id))
}

func decodeDeviceCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != 'd' {
		return "", fmt.Errorf("invalid cursor %q: pass next_cursor from the previous page unchanged", c)
	}
	return string(b[1:]), nil
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) {
	reg, ok := s.registry(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	d, known := reg.Device(id)
	answer := deviceAnswer{Device: d}
	if h := s.opts.DeviceHistory; h != nil {
		view, counted, err := h.Device(r.Context(), id, d.Model)
		if err != nil {
			s.fail(w, r, fmt.Errorf("device %s: %w", id, err))
			return
		}
		if counted || known {
			answer.Chronic, answer.Health, answer.ModelHealth = &view.Health.Chronic, &view.Health, view.Model
		}
		if counted && !known {
			answer.Device = devices.Device{ID: id}
			known = true
		}
	}
	if !known {
		s.fail(w, r, newProblem(http.StatusNotFound, "not-found", fmt.Sprintf("no device %q in the registry; PUT /api/v1/devices/{id} adds it", id)))
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

// devicesReport answers GET /api/v1/reports/devices?top=20: the devices to look at first
// (predict.Report for the order).
func (s *Server) devicesReport(w http.ResponseWriter, r *http.Request) {
	h := s.opts.DeviceHistory
	if h == nil {
		s.fail(w, r, newProblem(http.StatusNotFound, "not-found", "predictive maintenance is off: add a predict section to the config"))
		return
	}
	top := 20
	if v := r.URL.Query().Get("top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > predict.MaxTop {
			s.fail(w, r, badParam("top", fmt.Sprintf("top must be 1 to %d, got %q", predict.MaxTop, v)))
			return
		}
		top = n
	}
	rep, err := h.Report(r.Context(), top)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// rebuildDeviceHistory answers POST /api/v1/reports/devices/rebuild: device history recorded
// again from every event (after a change of the chronic rule, or a restored backup). No
// preventive ticket is opened by it.
func (s *Server) rebuildDeviceHistory(w http.ResponseWriter, r *http.Request) {
	h := s.opts.DeviceHistory
	if h == nil {
		s.fail(w, r, newProblem(http.StatusNotFound, "not-found", "predictive maintenance is off: add a predict section to the config"))
		return
	}
	n, err := h.Rebuild(context.WithoutCancel(r.Context()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"events": n})
}

// putDevice replaces a device's entry (or adds one) with the body: every field of the device,
// the ones left out becoming empty. The id is the path's; a body naming another is refused.
// The entry is kept in the store and used for the next message at once.
func (s *Server) putDevice(w http.ResponseWriter, r *http.Request) {
	reg, ok := s.registry(w, r)
	if !ok {
		return
	}
	// The body is a Device, so that what GET answers can be changed and sent back as it is;
	// source, updated_at and updated_by are the server's to set.
	var fields map[string]json.RawMessage
	if err := decodeJSON(w, r, s.opts.MaxBodyBytes, &fields, false); err != nil {
		s.fail(w, r, err)
		return
	}
	// What GET adds is the server's to say: dropped, so that an answer can be sent back as it is.
	for _, k := range []string{"chronic", "health", "model_health"} {
		delete(fields, k)
	}
	var d devices.Device
	if err := decodeStrict(fields, &d, s.opts.MaxBodyBytes); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	switch {
	case d.ID == "":
		d.ID = id
	case d.ID != id:
		p := newProblem(http.StatusBadRequest, "bad-request", fmt.Sprintf("the body is device %q, the path %q; leave id out of the body, or make them the same", d.ID, id))
		p.Field = "id"
		s.fail(w, r, p)
		return
	}
	if ps := devices.Check(d); len(ps) > 0 {
		msgs := make([]string, len(ps))
		for i, p := range ps {
			msgs[i] = p.Error()
		}
		p := newProblem(http.StatusUnprocessableEntity, "invalid-data", strings.Join(msgs, "; "))
		p.Field = ps[0].Field
		s.fail(w, r, p)
		return
	}
	d.UpdatedAt = s.opts.Engine.Now().In(s.opts.Engine.Location())
	d.UpdatedBy = actorOf(r).ID
	kept, err := reg.Put(d)
	if err != nil {
		s.fail(w, r, fmt.Errorf("device %s: %w", id, err))
		return
	}
	writeJSON(w, http.StatusOK, kept)
}

// registry returns the device registry, or answers 503 when the server keeps none.
func (s *Server) registry(w http.ResponseWriter, r *http.Request) (*devices.Registry, bool) {
	if s.opts.Devices == nil {
		writeProblem(w, r, newProblem(http.StatusServiceUnavailable, "unavailable", "this server keeps no device registry"))
		return nil, false
	}
	return s.opts.Devices, true
}

// decodeStrict decodes the fields of a JSON object into v, refusing fields v does not have.
func decodeStrict(fields map[string]json.RawMessage, v any, limit int64) error {
	b, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err, limit)
	}
	return nil
}
