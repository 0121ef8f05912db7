package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"gongdan/core/routing"
	"gongdan/internal/yamlkit"
)

// Predict is the predict section: predictive maintenance (package predict). Present, even
// empty (`predict: {}`), it turns on: device history is kept from the core's events, device
// answers and the devices report show it, and the rules below apply with their defaults.
type Predict struct {
	// Cluster: one preventive ticket when devices of one model show the same fault on
	// enough different devices within a window.
	Cluster PredictCluster `yaml:"cluster"`
	// Chronic: a device with enough tickets within a window is chronic (频繁故障).
	Chronic PredictChronic `yaml:"chronic"`
}

// PredictCluster is predict.cluster.
type PredictCluster struct {
	// Enabled turns clusters on (default true).
	Enabled *bool `yaml:"enabled"`
	// Devices is how many different devices make a cluster (default 3, at least 2).
	Devices int `yaml:"devices"`
	// Within is the window they must fall in (default 7d).
	Within Period `yaml:"within"`
	// Team is the routing team preventive tickets go to; without, the routing rules decide
	// as for any ticket (category 预防性维护, source predict).
	Team string `yaml:"team"`
}

// PredictChronic is predict.chronic.
type PredictChronic struct {
	// Tickets is how many tickets on one device make it chronic (default 3, at least 2).
	Tickets int `yaml:"tickets"`
	// Within is the window they must fall in (default 30d).
	Within Period `yaml:"within"`
	// Tag goes on a chronic device's next tickets (default 频繁故障).
	Tag string `yaml:"tag"`
}

// PredictConnector is the name predict's tickets come from: no connector may take it.
const PredictConnector = "predict"

func (p *Predict) setDefaults() {
	if p.Cluster.Devices == 0 {
		p.Cluster.Devices = 3
	}
	if p.Cluster.Within == 0 {
		p.Cluster.Within = Period(7 * 24 * time.Hour)
	}
	if p.Chronic.Tickets == 0 {
		p.Chronic.Tickets = 3
	}
	if p.Chronic.Within == 0 {
		p.Chronic.Within = Period(30 * 24 * time.Hour)
	}
	if p.Chronic.Tag == "" {
		p.Chronic.Tag = "频繁故障"
	}
}

func (p *Predict) validate(r *Routing) []problem {
	var ps []problem
	if p.Cluster.Devices < 2 {
		ps = append(ps, problemf("cluster.devices", "%d: a cluster is at least 2 devices (default 3)", p.Cluster.Devices))
	}
	if p.Cluster.Within < 0 {
		ps = append(ps, problemf("cluster.within", "must not be negative"))
	}
	if p.Chronic.Tickets < 2 {
		ps = append(ps, problemf("chronic.tickets", "%d: chronic is at least 2 tickets (default 3)", p.Chronic.Tickets))
	}
	if p.Chronic.Within < 0 {
		ps = append(ps, problemf("chronic.within", "must not be negative"))
	}
	if n := len([]rune(p.Chronic.Tag)); n > 64 || strings.TrimSpace(p.Chronic.Tag) != p.Chronic.Tag {
		ps = append(ps, problemf("chronic.tag", "%q: a tag of at most 64 characters, without spaces around it", p.Chronic.Tag))
	}
	if team := p.Cluster.Team; team != "" {
		switch {
		case r == nil:
			ps = append(ps, problemf("cluster.team", "needs routing: there is no routing section to route preventive tickets to team %q with", team))
		case !slices.ContainsFunc(r.Teams, func(t routing.Team) bool { return t.ID == team }):
			var ids []string
			for _, t := range r.Teams {
				ids = append(ids, t.ID)
			}
			ps = append(ps, problemf("cluster.team", "no team %q in routing.teams (there are: %s)", team, strings.Join(ids, ", ")))
		}
	}
	return ps
}

// reservedConnectorName reports connectors named as predict's tickets' source.
func reservedConnectorName(connectors []Connector) []problem {
	var ps []problem
	for i, c := range connectors {
		if c.Name == PredictConnector {
			ps = append(ps, problemf(indexPath("connectors", i)+".name",
				"%q is reserved for predictive maintenance's tickets (the predict section); name the connector otherwise", c.Name))
		}
	}
	return ps
}

// ClusterRule is the routing rule that sends preventive tickets to predict.cluster.team, put
// before the config's own rules (a rule of source predict matches no other ticket); nil
// without a team.
func (p *Predict) ClusterRule() *routing.Rule {
	if p == nil || p.Cluster.Team == "" || !On(p.Cluster.Enabled) {
		return nil
	}
	return &routing.Rule{ID: "predict-cluster", When: `source == "` + PredictConnector + `"`, RouteTo: routing.Target{Team: p.Cluster.Team}}
}

// Period is a length of time in days ("7d", "30d") or written the Go way ("36h", "90m").
type Period time.Duration

// Std returns the period as a time.Duration.
func (p Period) Std() time.Duration { return time.Duration(p) }

// String writes whole days as "7d", anything else as time.Duration does.
func (p Period) String() string {
	d := time.Duration(p)
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// MarshalYAML writes the period in the form UnmarshalYAML reads.
func (p Period) MarshalYAML() (any, error) { return p.String(), nil }

// UnmarshalYAML reads a period from a scalar.
func (p *Period) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a period like 7d or 36h, got %s", yamlkit.Describe(n))
	}
	if days, ok := strings.CutSuffix(n.Value, "d"); ok {
		v, err := strconv.ParseUint(days, 10, 16)
		if err != nil || v == 0 {
			return fmt.Errorf("want a period like 7d or 36h, got %q", n.Value)
		}
		*p = Period(time.Duration(v) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("want a period like 7d or 36h, got %q", n.Value)
	}
	*p = Period(v)
	return nil
}

var _ yaml.Unmarshaler = (*Period)(nil)
