package console_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
)

var (
	controlRe = regexp.MustCompile(`<(input|select|textarea)\b([^>]*)>`)
	attrRe    = func(name string) *regexp.Regexp { return regexp.MustCompile(`\b` + name + `="([^"]*)"`) }
	idRe      = attrRe("id")
	typeRe    = attrRe("type")
	labelFor  = regexp.MustCompile(`<label\b[^>]*\bfor="([^"]+)"`)
	ariaRe    = regexp.MustCompile(`\baria-label(ledby)?="[^"]+"`)
	buttonRe  = regexp.MustCompile(`<button\b[^>]*>\s*</button>`)
)

// TestEveryControlHasALabel (issue 22, accessibility): on every page, each form control a
// person fills in has a label that names it (<label for>, or aria-label for a lone search
// box), and no button is empty; the actions are <button>s, reachable by keyboard.
func TestEveryControlHasALabel(t *testing.T) {
	o := newOpsSite(t) // with dead letters, devices and connectors to show
	s := o.site
	tk := s.create(t, estop("无障碍检查"))
	pages := map[ticket.Role][]string{
		ticket.RoleAdmin: {"/console/queue", "/console/tickets/" + tk.ID, "/console/sla", "/console/dispatch", "/console/dispatch?ticket=" + tk.ID,
			"/console/dashboard", "/console/ops", "/console/ops/deadletters", "/console/ops/devices", "/console/ops/customers", "/console/ops/engineers"},
		ticket.RoleEngineer: {"/console/me", "/console/me/tickets/" + tk.ID, "/console/tickets/" + tk.ID},
	}
	check := func(path, body string) {
		labels := map[string]bool{}
		for _, m := range labelFor.FindAllStringSubmatch(body, -1) {
			labels[m[1]] = true
		}
		for _, m := range controlRe.FindAllStringSubmatch(body, -1) {
			attrs := m[2]
			if tm := typeRe.FindStringSubmatch(attrs); tm != nil && (tm[1] == "hidden" || tm[1] == "submit" || tm[1] == "button") {
				continue
			}
			if ariaRe.MatchString(attrs) {
				continue
			}
			id := idRe.FindStringSubmatch(attrs)
			if assert.NotNil(t, id, "%s: a %s without an id or aria-label: %s", path, m[1], m[0]) {
				assert.True(t, labels[id[1]], "%s: no <label for=%q>", path, id[1])
			}
		}
		assert.Empty(t, buttonRe.FindAllString(body, -1), "%s: an empty button", path)
	}
	for role, paths := range pages {
		b := s.as(t, role)
		for _, path := range paths {
			p := b.get(path)
			require.Equal(t, http.StatusOK, p.status, path)
			check(path, p.body)
		}
	}
	check("/console/signin", s.anonymous(t).get("/console/signin").body)
}
