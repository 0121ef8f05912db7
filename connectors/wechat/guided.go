package wechat

import (
	"strings"
	"sync"
	"time"

	"gongdan/connectors"
	"gongdan/draft"
	"gongdan/normalize"
)

// Fields guided intake can ask for: what the normalize extractors find in a reply.
const (
	askPhone   = "customer.phone"
	askAddress = "location.address"
	askDevice  = "device.id"
)

var askable = []string{askPhone, askAddress, askDevice}

var defaultPrompts = map[string]string{
	askPhone:   "请留下您的联系电话，方便工程师与您联系。",
	askAddress: "请告诉我们报修地址（小区或园区、楼栋、门牌号）。",
	askDevice:  "请发送设备编号（设备铭牌上的序列号）。",
}

const (
	defaultGreeting = "您好，已收到您的报修。"
	defaultComplete = "信息已收到，我们会尽快安排工程师处理，请留意后续通知。"
	menuGreeting    = "您好，请描述您遇到的问题。"
	// maxConversations bounds the conversations a guide remembers; past it the ones whose
	// window has run out are forgotten first.
	maxConversations = 100_000
)

// askRule is one guided_intake item: the fields a conversation of a category must have.
type askRule struct {
	category string // empty: any category
	fields   []string
}

// guide asks customers for what their request lacks, in passive replies, and remembers per
// conversation (thread key) what they have given. It remembers in memory only: after a
// restart it may ask once more for something already given, never less.
type guide struct {
	rules    []askRule
	prompts  map[string]string
	greeting string
	complete string
	window   time.Duration
	enricher normalize.Enricher

	mu    sync.Mutex
	convs map[string]*conversation
}

// conversation is what one customer has told in their current conversation.
type conversation struct {
	last     time.Time
	has      map[string]bool
	category string
	asked    bool // a prompt was sent
	done     bool // the complete reply was sent
}

func newGuide(conf *connectors.Conf, window time.Duration, enricher normalize.Enricher) *guide {
	items := conf.ObjectList(fieldGuidedIntake)
	if len(items) == 0 {
		return nil
	}
	g := &guide{prompts: map[string]string{}, greeting: conf.String(fieldGreeting), complete: conf.String(fieldCompleteReply),
		window: window, enricher: enricher, convs: map[string]*conversation{}}
	for _, it := range items {
		g.rules = append(g.rules, askRule{category: it.String(fieldCategory), fields: it.StringList(fieldAskFor)})
	}
	for k, v := range defaultPrompts {
		g.prompts[k] = v
	}
	for k, v := range conf.StringMap(fieldPrompts) {
		g.prompts[k] = v
	}
	return g
}

// validatePrompts reports prompts for fields guided intake cannot ask for.
func validatePrompts(conf *connectors.Conf) error {
	for _, k := range conf.StringMapKeys(fieldPrompts) {
		if _, ok := defaultPrompts[k]; !ok {
			return conf.Errorf(fieldPrompts+"."+k, "guided intake asks only for %s", strings.Join(askable, ", "))
		}
	}
	return nil
}

// required is what a conversation of category must have: the rule of its category, else the
// first rule without one.
func (g *guide) required(category string) []string {
	var fallback []string
	found := false
	for _, r := range g.rules {
		if r.category != "" && r.category == category {
			return r.fields
		}
		if r.category == "" && !found {
			fallback, found = r.fields, true
		}
	}
	return fallback
}

// next takes the draft of a customer's message, as the pipeline will enrich it, and returns
// the passive reply to send: what is still missing, the complete reply once, or "" (answer
// success).
func (g *guide) next(d draft.Draft, now time.Time, menu bool) string {
	d = g.enricher.Enrich(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.convs[d.ThreadKey]
	if c == nil || (g.window > 0 && now.Sub(c.last) > g.window) {
		if len(g.convs) >= maxConversations {
			g.forget(now)
		}
		c = &conversation{has: map[string]bool{}}
		g.convs[d.ThreadKey] = c
	}
	c.last = now
	if d.Customer.Phone != "" {
		c.has[askPhone] = true
	}
	if d.Location.Address != "" {
		c.has[askAddress] = true
	}
	if d.Device.ID != "" {
		c.has[askDevice] = true
	}
	if c.category == "" {
		c.category = d.Category
	}
	var ask []string
	for _, f := range g.required(c.category) {
		if !c.has[f] {
			ask = append(ask, g.prompts[f])
		}
	}
	switch {
	case len(ask) > 0:
		reply := strings.Join(ask, "\n")
		if menu {
			reply = menuGreeting + "\n" + reply
		} else if !c.asked {
			reply = g.greeting + "\n" + reply
		}
		c.asked = true
		return reply
	case menu:
		return menuGreeting
	case c.asked && !c.done:
		c.done = true
		return g.complete
	}
	return ""
}

// forget drops the conversations whose window has run out, or, with no window, the oldest
// half.
func (g *guide) forget(now time.Time) {
	window := g.window
	if window <= 0 {
		window = 24 * time.Hour
	}
	for k, c := range g.convs {
		if now.Sub(c.last) > window {
			delete(g.convs, k)
		}
	}
	if len(g.convs) >= maxConversations {
		for k := range g.convs { // map order: an arbitrary half
			if len(g.convs) < maxConversations/2 {
				break
			}
			delete(g.convs, k)
		}
	}
}
