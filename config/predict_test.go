package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/core/routing"
)

const predictRouting = `routing:
  engineers:
    - {id: eng-li}
    - {id: eng-wu}
  teams:
    - {id: suzhou-a, members: [eng-li]}
    - {id: maintenance, members: [eng-wu]}
  rules:
    - {id: everything, route_to: {team: suzhou-a}}
`

func TestPredictSection(t *testing.T) {
	cfg, err := config.Parse("inline.yaml", []byte("server: {}\n"))
	require.NoError(t, err)
	assert.Nil(t, cfg.Predict, "no section: off")

	cfg, err = config.Parse("inline.yaml", []byte("predict: {}\n"))
	require.NoError(t, err)
	require.NotNil(t, cfg.Predict)
	assert.Equal(t, 3, cfg.Predict.Cluster.Devices)
	assert.Equal(t, 7*24*time.Hour, cfg.Predict.Cluster.Within.Std())
	assert.True(t, config.On(cfg.Predict.Cluster.Enabled))
	assert.Equal(t, 3, cfg.Predict.Chronic.Tickets)
	assert.Equal(t, 30*24*time.Hour, cfg.Predict.Chronic.Within.Std())
	assert.Equal(t, "频繁故障", cfg.Predict.Chronic.Tag)
	assert.Nil(t, cfg.Predict.ClusterRule(), "no team: the routing rules decide")

	cfg, err = config.Parse("inline.yaml", []byte(predictRouting+`predict:
  cluster: {devices: 4, within: 36h, team: maintenance}
  chronic: {tickets: 5, within: 14d, tag: 老毛病}
`))
	require.NoError(t, err)
	assert.Equal(t, 4, cfg.Predict.Cluster.Devices)
	assert.Equal(t, 36*time.Hour, cfg.Predict.Cluster.Within.Std())
	assert.Equal(t, 14*24*time.Hour, cfg.Predict.Chronic.Within.Std())
	assert.Equal(t, "14d", cfg.Predict.Chronic.Within.String())
	assert.Equal(t, "老毛病", cfg.Predict.Chronic.Tag)

	// Preventive tickets go to the team, before the config's own catch-all rule; other tickets
	// are routed as before.
	r := cfg.Routing.Router
	d := r.Decide(routing.Request{Ticket: routing.Env{Source: "predict", Category: "预防性维护"}, Now: time.Now()})
	assert.Equal(t, "predict-cluster", d.Rule)
	require.NotEmpty(t, d.Teams)
	assert.Equal(t, "maintenance", d.Teams[0].Team)
	d = r.Decide(routing.Request{Ticket: routing.Env{Source: "plant", Category: "过热"}, Now: time.Now()})
	assert.Equal(t, "everything", d.Rule)
}

func TestPredictSectionProblems(t *testing.T) {
	cases := []struct {
		name, input string
		want        []string
	}{
		{"a team without routing", "predict:\n  cluster: {team: maintenance}\n", []string{
			`inline.yaml:2: predict.cluster.team: needs routing: there is no routing section to route preventive tickets to team "maintenance" with`}},
		{"an unknown team", predictRouting + "predict:\n  cluster: {team: ghosts}\n", []string{
			`inline.yaml:11: predict.cluster.team: no team "ghosts" in routing.teams (there are: suzhou-a, maintenance)`}},
		{"too few", "predict:\n  cluster: {devices: 1}\n  chronic: {tickets: 1}\n", []string{
			`inline.yaml:2: predict.cluster.devices: 1: a cluster is at least 2 devices (default 3)`,
			`inline.yaml:3: predict.chronic.tickets: 1: chronic is at least 2 tickets (default 3)`}},
		{"a period that is not one", "predict:\n  cluster: {within: 7days}\n", []string{
			`inline.yaml:2: predict.cluster.within: want a period like 7d or 36h, got "7days"`}},
		{"an unknown key", "predict:\n  clusters: {}\n", []string{
			`inline.yaml:2: predict.clusters: unknown key "clusters"; did you mean "cluster"?`}},
		{"a connector named predict", "connectors: [{name: predict, type: webhook}]\npredict: {}\n", []string{
			`inline.yaml:1: connectors[0].name: "predict" is reserved for predictive maintenance's tickets (the predict section); name the connector otherwise`}},
		{"the config's rule errors keep their indexes", predictRouting + "    - {id: bad, route_to: {team: nobody}}\npredict:\n  cluster: {team: maintenance}\n", []string{
			`inline.yaml:10: routing.rules[1].route_to.team: team "nobody" does not exist`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("inline.yaml", []byte(tc.input))
			require.Error(t, err)
			assert.Equal(t, tc.want, errorLines(t, err))
		})
	}
}
