// Package config loads gongdan's one YAML config file (DESIGN.md §6, §9).
//
// It is strict, because a config that silently does less than its author meant is worse than
// one that does not load: every unknown key, every value of the wrong type, every ${VAR} that
// is not set and every section this version cannot act on is an error, and all of them are
// reported at once, each as "file:line: key.path: what is wrong". Secrets (Secret values) never
// appear in those messages nor anywhere the Config is printed.
//
// It checks only what it owns. The keys of a connector, beyond name and type, belong to the
// connector's spec, which this package does not know: the caller that does (cmd/gongdan, with
// the connector registry) passes a ConnectorCheck to LoadWith or ParseWith, and its problems
// are reported with the config's own, by line.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // server.timezone must load on hosts without system time zone data
	"unicode/utf8"

	"gongdan/configs"
	"gongdan/core/routing"
	"gongdan/core/ticket"
	"gongdan/internal/netaddr"
	"gongdan/internal/yamlkit"
	"gongdan/knowledge"
)

// Config is the whole config file.
type Config struct {
	// Server is the HTTP API: listen address, time zone, API tokens, logging.
	Server Server `yaml:"server"`
	// Store is where tickets and their events are kept.
	Store Store `yaml:"store"`
	// Bus is the message bus between intake and the engine.
	Bus Bus `yaml:"bus"`
	// Connectors are the intake channels, in file order.
	Connectors []Connector `yaml:"connectors"`
	// Normalize says how drafts are filled from their text: fault dictionary, device serial
	// patterns, urgency keywords.
	Normalize Normalize `yaml:"normalize"`
	// Routing is who gets which ticket: engineers, teams, rules.
	Routing *Routing `yaml:"routing"`
	// SLA holds the working calendars and the SLA policies.
	SLA SLAConfig `yaml:"sla"`
	// Notify says who outside gongdan is told what (WeChat customers, WeCom staff).
	Notify Notify `yaml:"notify"`
	// Devices is what the device registry knows from the config: a devices file and/or
	// devices listed inline.
	Devices Devices `yaml:"devices"`
	// Knowledge is a folder of Markdown articles about known faults and their fixes (see
	// package knowledge), relative to the config file's folder unless absolute: every draft
	// gets the articles that match it as suggestions. Default none.
	Knowledge string `yaml:"knowledge"`
	// Tracking, Confirm and Followup are the closing loop: the customer's tracking page,
	// how long a resolved ticket waits for its customer, the follow-up visit.
	Tracking Tracking `yaml:"tracking"`
	Confirm  Confirm  `yaml:"confirm"`
	Followup Followup `yaml:"followup"`
	// Cards are the engineers' yellow and red cards (红黄牌); nil: no yellow cards, and two
	// ratings of 1 in a row suspend for 24 hours. Needs Routing.
	Cards *Cards `yaml:"cards"`
	// Predict is predictive maintenance: model+fault clusters, chronic devices, MTBF/MTTR.
	// Nil (no section): off.
	Predict *Predict `yaml:"predict"`
	// Console is the web console at /console/: session lengths and WeCom web sign-in.
	Console Console `yaml:"console"`

	// KnowledgeBase is the Knowledge folder loaded; set by validation, nil without one.
	KnowledgeBase *knowledge.Base `yaml:"-"`

	// File is the name the config was loaded under; empty for the embedded quickstart.
	File string `yaml:"-"`
	// DataDir is the serve --data directory, the root of relative paths; set by the command
	// that reads the config (or ResolvePaths), empty until then.
	DataDir string `yaml:"-"`
}

// Server configures the HTTP API.
type Server struct {
	// HTTP is the listen address, host:port. Default 127.0.0.1:8080. Any address other than a
	// loopback one needs real (non-demo) tokens.
	HTTP string `yaml:"http"`
	// Timezone is the IANA zone that ticket ids and business days are reckoned in. Default
	// Asia/Shanghai.
	Timezone string `yaml:"timezone"`
	// Tokens are the API bearer tokens, each acting as one actor with one role.
	Tokens []Token `yaml:"tokens"`
	// Log configures the server log.
	Log Log `yaml:"log"`
	// MaxBodyBytes caps the size of a request body. Default 1 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// TrustedProxies are the reverse proxies in front of gongdan, as IP addresses or CIDR
	// prefixes ("127.0.0.1", "10.0.0.0/24"). Only when a request's TCP peer is one of them are
	// its X-Forwarded-For and X-Real-IP believed: the client is then the right-most address
	// there that is not a trusted proxy. Default none: the client is the TCP peer. Demo tokens
	// are refused on every request that came through a proxy, trusted or not.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// MetricsToken is a bearer token that may read /metrics (admin tokens may too). Without
	// it, /metrics answers without a token only to a loopback client that did not come
	// through a proxy.
	MetricsToken Secret `yaml:"metrics_token"`
	// PublicURL is the address customers reach gongdan at (https://gd.example.com): their
	// tracking links are {public_url}/t/{token}. Without it the links are relative (/t/…),
	// which only a page on gongdan itself can use, so notifications carry none.
	PublicURL string `yaml:"public_url"`

	// Location is Timezone loaded; set by validation.
	Location *time.Location `yaml:"-"`
	// Proxies are TrustedProxies parsed; set by validation.
	Proxies []netip.Prefix `yaml:"-"`
}

// Token is one API bearer token.
type Token struct {
	// Token is the bearer value. Required; at least 16 characters unless Demo.
	Token Secret `yaml:"token"`
	// Actor is the actor id the token acts as ("disp-chen"). Required.
	Actor string `yaml:"actor"`
	// Role is what the actor may do: one of ticket.Roles. Required.
	Role string `yaml:"role"`
	// Demo marks a well-known demo token (the quickstart's "demo-admin" and friends). The
	// server accepts demo tokens only while listening on loopback.
	Demo bool `yaml:"demo"`
}

// Log configures the server log.
type Log struct {
	// Format is text or json. Default text.
	Format string `yaml:"format"`
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
}

// Store configures the ticket store.
type Store struct {
	// Driver is sqlite or postgres. Default sqlite.
	Driver string `yaml:"driver"`
	// Path is the SQLite database file, relative to the data directory (serve --data) unless
	// absolute. Default gongdan.db. Only for sqlite.
	Path string `yaml:"path"`
	// DSN is the PostgreSQL connection string. Required for postgres, and only for postgres.
	DSN Secret `yaml:"dsn"`
}

// Bus configures the message bus.
type Bus struct {
	// Driver is nats or memory (in-process, nothing survives a restart). Default nats.
	Driver string `yaml:"driver"`
	// Embedded runs a NATS server inside gongdan. Default true when URL is empty; it cannot be
	// true together with a URL. Only for nats.
	Embedded *bool `yaml:"embedded"`
	// URL is an external NATS server (nats://host:4222, several separated by commas). Only for
	// nats.
	URL string `yaml:"url"`
	// Dir is where embedded NATS keeps its JetStream storage, relative to the data directory
	// unless absolute. Default nats. Only for embedded NATS.
	Dir string `yaml:"dir"`
	// SyncAlways makes embedded NATS fsync every message before it is acknowledged, so that
	// a power loss (not only a crash of gongdan) loses nothing a source was told is stored;
	// it costs publish throughput (docs/BENCHMARKS.md). Default false: written to the OS at
	// once, fsynced every 2 minutes. Only for embedded NATS; an external server is set with
	// jetstream { sync_interval: always }.
	SyncAlways bool `yaml:"sync_always"`
	// PublishTimeout is how long a publish waits for the bus to confirm that a message is
	// stored. A bus that cannot write (a full disk) never answers, so this is how long an
	// intake request waits before it is answered 503. Default 2s; 1s to 1m. Only for nats.
	PublishTimeout Duration `yaml:"publish_timeout"`
}

// Bounds of bus.publish_timeout.
const (
	DefaultBusPublishTimeout = 2 * time.Second
	// Below this, the NATS client's retries when no stream answers (twice, 250ms apart)
	// would always run out: a stream removed on the server would never be made again.
	minBusPublishTimeout = time.Second
	// Above this, a publish retried after a timeout could fall outside the bus's 2-minute
	// duplicate window and be stored twice.
	maxBusPublishTimeout = time.Minute
)

// Connector is one item of connectors. This package decodes only name and type; the other keys
// belong to the connector type and are decoded and checked by it, from Raw.
type Connector = yamlkit.Item

// ConnectorCheck judges the keys of one connector item beyond name and type, against the spec
// of its type: the connector registry's Validate is one. It returns the problems found, located
// in file (c.Raw has the lines), and an "unknown connector type" problem for a type it does not
// know.
type ConnectorCheck func(file string, c Connector) []*Error

// Load reads and parses the config file at path. It judges no connector's keys beyond name
// and type: LoadWith does.
func Load(path string) (*Config, error) { return LoadWith(path, nil) }

// LoadWith is Load with every connector item judged by check too (nil: not judged).
func LoadWith(path string, check ConnectorCheck) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err) // the *PathError names the file
	}
	return ParseWith(path, data, check)
}

// quickstartName is what errors in the embedded quickstart are attributed to.
const quickstartName = "configs/gongdan.yaml (embedded)"

// Quickstart parses the quickstart config embedded in the binary: loopback only, demo tokens,
// SQLite and embedded NATS. Its File is empty. Its connectors are judged by check (nil: not
// judged beyond name and type).
func Quickstart(check ConnectorCheck) (*Config, error) {
	c, err := ParseWith(quickstartName, configs.Quickstart, check)
	if err != nil {
		return nil, err
	}
	c.File = ""
	return c, nil
}

// Parse parses data, the contents of filename, expanding ${VAR} from the environment, applies
// the defaults and validates the result. On failure the error is Errors, sorted by line. It
// judges no connector's keys beyond name and type: ParseWith does.
func Parse(filename string, data []byte) (*Config, error) {
	return ParseWith(filename, data, nil)
}

// ParseWith is Parse with every connector item judged by check too (nil: not judged); check's
// problems are merged with the config's own, by line.
func ParseWith(filename string, data []byte, check ConnectorCheck) (*Config, error) {
	return parse(filename, data, os.LookupEnv, check)
}

func parse(filename string, data []byte, lookup func(string) (string, bool), check ConnectorCheck) (*Config, error) {
	root, errs := parseDocument(filename, data)
	if errs != nil {
		return nil, errs
	}
	d := newDecoder(filename, lookup)
	d.lines[""] = root.Line
	d.duplicates("", root)
	c := &Config{File: filename}
	d.value("", root, reflect.ValueOf(c).Elem())

	c.setDefaults()
	for _, p := range c.validate() {
		if !d.isBad(p.key) {
			d.report(d.lineOf(p.key), p.key, "%s", p.msg)
		}
	}
	for _, con := range c.Connectors {
		if check == nil || con.Raw == nil || con.Type == "" {
			continue // not judged here, not decoded, or already reported as missing its type
		}
		d.errs = append(d.errs, check(filename, con)...)
	}
	devicesFileErrs := c.Devices.load(d, c.dir())
	articleErrs := c.loadKnowledge(d)
	if len(d.errs) > 0 || len(devicesFileErrs) > 0 || len(articleErrs) > 0 {
		// The config's problems by line, then the devices file's, then the articles'.
		d.errs.SortByLine()
		return nil, append(append(d.errs, devicesFileErrs...), articleErrs...)
	}
	return c, nil
}

// loadKnowledge loads the knowledge folder into KnowledgeBase, its articles' categories
// checked against the fault dictionary. A folder that cannot be read is reported through main,
// at the knowledge key; the articles' problems are returned, each at its file:line.
func (c *Config) loadKnowledge(main *decoder) Errors {
	if c.Knowledge == "" || main.isBad("knowledge") {
		return nil
	}
	dir := c.Knowledge
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(c.dir(), dir)
	}
	var opts knowledge.Options
	if dict := c.Normalize.Enricher.Dictionary; dict != nil {
		opts = knowledge.Options{Category: dict.Has, Categories: dict.Categories()}
	}
	kb, err := knowledge.Load(dir, opts)
	var articleErrs Errors
	switch {
	case errors.As(err, &articleErrs):
		return articleErrs
	case err != nil:
		main.report(main.lineOf("knowledge"), "knowledge", "%v", err)
		return nil
	}
	c.KnowledgeBase = kb
	return nil
}

// ResolvePaths makes the relative file paths in the config (store.path, bus.dir) relative to
// dataDir, the serve --data directory, and keeps dataDir as DataDir. Absolute paths stay as they
// are.
func (c *Config) ResolvePaths(dataDir string) {
	c.DataDir = dataDir
	for _, p := range []*string{&c.Store.Path, &c.Bus.Dir} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dataDir, *p)
		}
	}
}

// IsLoopback reports whether the listen address addr (host:port) accepts connections from
// this machine only: host localhost, 127.0.0.0/8 or ::1. An empty host listens on every
// interface and is not loopback; so is anything that does not parse.
func IsLoopback(addr string) bool { return netaddr.IsLoopback(addr) }

// dir is the folder that file references in the config (normalize.dictionary, holiday set
// files, devices.file, knowledge) are relative to: the config file's.
func (c *Config) dir() string {
	if c.File == "" {
		return "."
	}
	return filepath.Dir(c.File)
}

func (c *Config) setDefaults() {
	c.Server.setDefaults()
	c.Store.setDefaults()
	c.Bus.setDefaults()
	c.setClosureDefaults()
	c.Notify.setDefaults()
	c.Console.setDefaults()
	if c.Predict != nil {
		c.Predict.setDefaults()
	}
}

func (c *Config) validate() []problem {
	var ps []problem
	ps = append(ps, under("server", c.Server.validate())...)
	ps = append(ps, under("store", c.Store.validate())...)
	ps = append(ps, under("bus", c.Bus.validate())...)
	dir := c.dir()
	ps = append(ps, under("normalize", c.Normalize.validate(dir))...)
	// Predict's routing rule, if it has one, goes before the routing section's own.
	var lead []routing.Rule
	if c.Predict != nil {
		predictProblems := c.Predict.validate(c.Routing)
		if rule := c.Predict.ClusterRule(); rule != nil && len(predictProblems) == 0 {
			lead = append(lead, *rule)
		}
		ps = append(ps, under("predict", predictProblems)...)
		ps = append(ps, reservedConnectorName(c.Connectors)...)
	}
	if c.Server.Location != nil {
		ps = append(ps, under("sla", c.SLA.validate(c.Server.Location, dir))...)
		if c.Routing == nil {
			for i, p := range c.SLA.Policies {
				for j, t := range p.Tiers {
					if t.Reroute {
						ps = append(ps, problemf(fmt.Sprintf("sla.policies[%d].tiers[%d].reroute", i, j), "needs routing: there is no routing section to route the ticket again with"))
					}
				}
			}
		}
		if c.Routing != nil {
			ps = append(ps, under("routing", c.Routing.validate(c.SLA.Built, lead...))...)
		}
		if c.Cards != nil {
			if c.Routing == nil {
				ps = append(ps, problemf("cards", "needs routing: cards are given to the engineers of the routing section"))
			}
			tiers := map[string]bool{}
			for _, p := range c.SLA.Policies {
				for _, t := range p.Tiers {
					tiers[t.Name] = true
				}
			}
			ps = append(ps, under("cards", c.Cards.validate(tiers))...)
		}
	}
	firstWithName := map[string]int{}
	for i, con := range c.Connectors {
		key := indexPath("connectors", i)
		ps = append(ps, under(key, validateConnector(&con))...)
		if con.Name == "" {
			continue
		}
		if j, dup := firstWithName[con.Name]; dup {
			ps = append(ps, problemf(key+".name", "duplicate connector name %q: connectors[%d] (line %d) has it already; names must be unique",
				con.Name, j, c.Connectors[j].Line))
			continue
		}
		firstWithName[con.Name] = i
	}
	ps = append(ps, under("notify", c.Notify.validate(c.Connectors))...)
	ps = append(ps, under("server", validatePublicURL(c.Server.PublicURL))...)
	ps = append(ps, under("tracking", c.Tracking.validate())...)
	ps = append(ps, under("confirm", c.Confirm.validate())...)
	ps = append(ps, under("followup", c.Followup.validate())...)
	ps = append(ps, under("console", c.Console.validate(c.Server.Tokens))...)
	if ttl, after := c.Tracking.TTL.Std(), c.Followup.After.Std(); !c.Followup.After.Never && ttl > 0 && ttl <= after {
		ps = append(ps, problemf("followup.after", "%v: the follow-up links the tracking page, which closes tracking.ttl (%v) after the close; ask before that", after, ttl))
	}
	return ps
}

func (s *Server) setDefaults() {
	if s.HTTP == "" {
		s.HTTP = "127.0.0.1:8080"
	}
	if s.Timezone == "" {
		s.Timezone = "Asia/Shanghai"
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = 1 << 20
	}
	s.Log.setDefaults()
}

// validate also sets Location.
func (s *Server) validate() []problem {
	var ps []problem
	if _, port, err := net.SplitHostPort(s.HTTP); err != nil || port == "" {
		ps = append(ps, problemf("http", "%q is not a listen address; want host:port like 127.0.0.1:8080", s.HTTP))
	} else if !IsLoopback(s.HTTP) && (len(s.Tokens) == 0 || s.anyDemoToken()) {
		ps = append(ps, problemf("http", "refusing to listen on %q with demo tokens (or no tokens); set real tokens in server.tokens", s.HTTP))
	}
	if loc, err := time.LoadLocation(s.Timezone); err != nil {
		ps = append(ps, problemf("timezone", "unknown time zone %q; want an IANA name like Asia/Shanghai or UTC", s.Timezone))
	} else {
		s.Location = loc
	}
	firstWithToken := map[Secret]int{}
	for i, t := range s.Tokens {
		key := indexPath("tokens", i)
		ps = append(ps, under(key, t.validate())...)
		if t.Token == "" {
			continue
		}
		if j, dup := firstWithToken[t.Token]; dup {
			ps = append(ps, problemf(key+".token", "the same token as server.tokens[%d]; every token must be different", j))
			continue
		}
		firstWithToken[t.Token] = i
	}
	if s.MaxBodyBytes < 0 {
		ps = append(ps, problemf("max_body_bytes", "must be more than 0 (the default is 1048576, 1 MiB)"))
	}
	s.Proxies = nil
	for i, v := range s.TrustedProxies {
		p, err := ParseProxy(v)
		if err != nil {
			ps = append(ps, problemf(indexPath("trusted_proxies", i), "%s", err))
			continue
		}
		s.Proxies = append(s.Proxies, p)
	}
	switch {
	case s.MetricsToken == "":
	case utf8.RuneCountInString(s.MetricsToken.Reveal()) < minTokenLength:
		ps = append(ps, problemf("metrics_token", "too short: a token needs at least %d characters (openssl rand -hex 24 makes a good one)", minTokenLength))
	default:
		if j, dup := firstWithToken[s.MetricsToken]; dup {
			ps = append(ps, problemf("metrics_token", "the same token as server.tokens[%d]; the metrics token must be one of its own (an admin token may read /metrics anyway)", j))
		}
	}
	return append(ps, under("log", s.Log.validate())...)
}

// ParseProxy reads one entry of server.trusted_proxies: an IP address ("10.0.0.5", one host)
// or a CIDR prefix ("10.0.0.0/24").
func ParseProxy(v string) (netip.Prefix, error) {
	v = strings.TrimSpace(v)
	var p netip.Prefix
	if strings.Contains(v, "/") {
		var err error
		if p, err = netip.ParsePrefix(v); err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix; write one like 10.0.0.0/24 or fd00::/64, or an address like 10.0.0.5", v)
		}
	} else {
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address; write one like 127.0.0.1 or 10.0.0.5, or a CIDR prefix like 10.0.0.0/24", v)
		}
		p = netip.PrefixFrom(ip, ip.BitLen())
	}
	if p.Bits() == 0 {
		// Every client could then say where it comes from, and be believed.
		return netip.Prefix{}, fmt.Errorf("%q trusts every address as a proxy; list the addresses of your proxies", v)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		// ::ffff:10.0.0.5 is 10.0.0.5, as peers' addresses are compared
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

func (s *Server) anyDemoToken() bool {
	for _, t := range s.Tokens {
		if t.Demo {
			return true
		}
	}
	return false
}

// minTokenLength is the shortest non-demo token accepted: long enough that guessing it is
// hopeless.
const minTokenLength = 16

func (t *Token) validate() []problem {
	var ps []problem
	switch {
	case t.Token == "":
		ps = append(ps, problemf("token", "required: the bearer token clients send"))
	case !t.Demo && utf8.RuneCountInString(t.Token.Reveal()) < minTokenLength:
		ps = append(ps, problemf("token", "too short: a token needs at least %d characters (openssl rand -hex 24 makes a good one); demo: true marks a well-known demo token instead", minTokenLength))
	}
	if t.Actor == "" {
		ps = append(ps, problemf("actor", "required: the actor id the token acts as, like disp-chen"))
	} else if strings.HasPrefix(t.Actor, "connector:") {
		// The audit trail's name for what a connector's drafts did; a token must not share it.
		ps = append(ps, problemf("actor", "%q: actor ids starting connector: are the connectors' own in the audit trail; pick another id", t.Actor))
	} else if strings.HasPrefix(t.Actor, "tracking:") {
		// A ticket's tracking link acts as tracking:<id>, the customer of that ticket: a token
		// under that name would be that customer for good.
		ps = append(ps, problemf("actor", "%q: actor ids starting tracking: are the customers' tracking links; pick another id", t.Actor))
	}
	if t.Role == "" {
		ps = append(ps, problemf("role", "required: %s", roleList()))
	} else if _, err := ticket.ParseRole(t.Role); err != nil {
		ps = append(ps, problemf("role", "%s", err))
	}
	return ps
}

func roleList() string {
	names := make([]string, len(ticket.Roles))
	for i, r := range ticket.Roles {
		names[i] = string(r)
	}
	return "one of " + strings.Join(names, ", ")
}

func (l *Log) setDefaults() {
	if l.Format == "" {
		l.Format = "text"
	}
	if l.Level == "" {
		l.Level = "info"
	}
}

func (l *Log) validate() []problem {
	var ps []problem
	if l.Format != "text" && l.Format != "json" {
		ps = append(ps, problemf("format", "unknown log format %q (one of: text, json)", l.Format))
	}
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		ps = append(ps, problemf("level", "unknown log level %q (one of: debug, info, warn, error)", l.Level))
	}
	return ps
}

func (s *Store) setDefaults() {
	if s.Driver == "" {
		s.Driver = "sqlite"
	}
	if s.Driver == "sqlite" && s.Path == "" {
		s.Path = "gongdan.db"
	}
}

func (s *Store) validate() []problem {
	var ps []problem
	switch s.Driver {
	case "sqlite":
		if s.DSN != "" {
			ps = append(ps, problemf("dsn", "only for driver postgres; sqlite takes path"))
		}
	case "postgres":
		if s.DSN == "" {
			ps = append(ps, problemf("dsn", "required with driver postgres, like dsn: \"${PG_DSN}\""))
		}
		if s.Path != "" {
			ps = append(ps, problemf("path", "only for driver sqlite; postgres takes dsn"))
		}
	default:
		ps = append(ps, problemf("driver", "unknown store driver %q (one of: sqlite, postgres)", s.Driver))
	}
	return ps
}

func (b *Bus) setDefaults() {
	if b.Driver == "" {
		b.Driver = "nats"
	}
	if b.Driver != "nats" {
		return
	}
	if b.Embedded == nil {
		embedded := b.URL == ""
		b.Embedded = &embedded
	}
	if *b.Embedded && b.Dir == "" {
		b.Dir = "nats"
	}
	if b.PublishTimeout == 0 {
		b.PublishTimeout = Duration(DefaultBusPublishTimeout)
	}
}

// natsSchemes are the URL schemes a NATS client dials.
var natsSchemes = map[string]bool{"nats": true, "tls": true, "ws": true, "wss": true}

func (b *Bus) validate() []problem {
	var ps []problem
	switch b.Driver {
	case "nats":
		switch {
		case *b.Embedded && b.URL != "":
			ps = append(ps, problemf("embedded", "embedded: true and a url together; drop url to run NATS inside gongdan, or drop embedded to use the server at url"))
		case !*b.Embedded && b.URL == "":
			ps = append(ps, problemf("url", "required when embedded is false: the NATS server to use, like nats://127.0.0.1:4222"))
		}
		if b.URL != "" && !validNATSURLs(b.URL) {
			// The URL may carry a password: say what is wrong without quoting it.
			ps = append(ps, problemf("url", "want a NATS URL like nats://host:4222 (schemes: nats, tls, ws, wss; several separated by commas)"))
		}
		if !*b.Embedded && b.Dir != "" {
			ps = append(ps, problemf("dir", "only for embedded NATS; an external server keeps its own storage"))
		}
		if !*b.Embedded && b.SyncAlways {
			ps = append(ps, problemf("sync_always", "only for embedded NATS; for an external server set jetstream { sync_interval: always } in its config"))
		}
		if t := b.PublishTimeout.Std(); t < minBusPublishTimeout || t > maxBusPublishTimeout {
			ps = append(ps, problemf("publish_timeout", "%v: want %v to %v; it bounds how long an intake request waits when the bus cannot store a message (default %v)",
				t, minBusPublishTimeout, maxBusPublishTimeout, DefaultBusPublishTimeout))
		}
	case "memory":
		if b.Embedded != nil {
			ps = append(ps, problemf("embedded", "only for driver nats"))
		}
		if b.URL != "" {
			ps = append(ps, problemf("url", "only for driver nats"))
		}
		if b.Dir != "" {
			ps = append(ps, problemf("dir", "only for driver nats"))
		}
		if b.SyncAlways {
			ps = append(ps, problemf("sync_always", "only for driver nats"))
		}
		if b.PublishTimeout != 0 {
			ps = append(ps, problemf("publish_timeout", "only for driver nats; the memory bus stores in memory and does not wait"))
		}
	default:
		ps = append(ps, problemf("driver", "unknown bus driver %q (one of: nats, memory)", b.Driver))
	}
	return ps
}

// validNATSURLs reports whether s is a comma-separated list of NATS server URLs.
func validNATSURLs(s string) bool {
	for u := range strings.SplitSeq(s, ",") {
		parsed, err := url.Parse(strings.TrimSpace(u))
		if err != nil || !natsSchemes[parsed.Scheme] || parsed.Host == "" {
			return false
		}
	}
	return true
}

// connectorName is what a connector name may look like: it becomes part of URLs and metric
// labels.
var connectorName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func validateConnector(c *Connector) []problem {
	if c.Raw == nil {
		return nil // not a mapping; already reported
	}
	var ps []problem
	switch {
	case c.Name == "":
		ps = append(ps, problemf("name", "required: the connector's name, used in URLs like /ingest/<name>"))
	case !connectorName.MatchString(c.Name):
		ps = append(ps, problemf("name", "%q is not a valid connector name; use lowercase letters, digits, - and _, starting with a letter or digit (it becomes part of URLs like /ingest/<name>)", c.Name))
	case c.Name == "api":
		// The namespace of drafts sent to POST /api/v1/tickets (source.connector "api", keys
		// "api/…"): a connector of that name would speak for the API's callers.
		ps = append(ps, problemf("name", `"api" is reserved for drafts sent to POST /api/v1/tickets; name the connector after its source`))
	}
	if c.Type == "" {
		ps = append(ps, problemf("type", "required: the kind of connector, like webhook or mqtt"))
	}
	return ps
}
