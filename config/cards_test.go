package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/core/routing"
)

const cardsRouting = `routing:
  engineers: [{id: eng-li}]
  teams: [{id: a, lead: sup-wang, members: [eng-li]}]
  rules: [{id: all, route_to: {team: a}}]
`

// Without a cards section, the rule of old: no yellows, two 1s in a row a red card for 24 h.
func TestWithoutCardsTheDefaultsAreTheRuleOfOld(t *testing.T) {
	cfg, err := config.Parse("inline.yaml", []byte(cardsRouting))
	require.NoError(t, err)
	assert.Nil(t, cfg.Cards)
	assert.Equal(t, routing.CardRules{RedAfterOnes: 2, Suspend: 24 * time.Hour}, routing.DefaultCardRules)
}

// An empty section turns every yellow card on, with every default.
func TestAnEmptyCardsSectionHasEveryDefault(t *testing.T) {
	cfg, err := config.Parse("inline.yaml", []byte(cardsRouting+"cards: {}\n"))
	require.NoError(t, err)
	require.NotNil(t, cfg.Cards)
	assert.Equal(t, routing.YellowDefaults, cfg.Cards.Rules)
	assert.Equal(t, routing.CardRules{Rating: true, Dispute: true, Repeat: true, SLARed: true, LowRating: 2, SLATier: "red",
		YellowTTL: 30 * 24 * time.Hour, RedAfterYellows: 2, RedWithin: 30 * 24 * time.Hour, RedAfterOnes: 2, Suspend: 24 * time.Hour}, cfg.Cards.Rules)
}

func TestCardsSection(t *testing.T) {
	cfg, err := config.Parse("inline.yaml", []byte(cardsRouting+`cards:
  yellow: {rating: false, dispute: true, repeat: false, sla_red: false}
  low_rating: 1
  yellow_ttl: 14d
  red_after: {yellows: 3, within: 7d, ones_in_a_row: 0}
  suspend: 2d12h
`))
	require.NoError(t, err)
	assert.Equal(t, routing.CardRules{Dispute: true, LowRating: 1, SLATier: "red", YellowTTL: 14 * 24 * time.Hour,
		RedAfterYellows: 3, RedWithin: 7 * 24 * time.Hour, Suspend: 60 * time.Hour}, cfg.Cards.Rules)
}

func TestCardsErrorsAreLocated(t *testing.T) {
	_, err := config.Parse("inline.yaml", []byte(`cards:
  low_rating: 5
  yellow_ttl: 30
  red_after: {yellows: -1, within: -1h, ones: 2}
  suspend: -24h
  sla_tier: purple
sla:
  calendars: [{name: 24x7, always: true}]
  policies:
    - {id: all, calendar: 24x7, resolution: 4h, tiers: [{name: red, after: 30m, notify: [team_lead]}]}
`))
	assert.Equal(t, []string{
		`inline.yaml:1: cards: needs routing: cards are given to the engineers of the routing section`,
		`inline.yaml:2: cards.low_rating: must be 1 to 4 (ratings are 1 to 5; default 2)`,
		`inline.yaml:3: cards.yellow_ttl: want a duration like 30s, 5m or 7d, got "30"`,
		`inline.yaml:4: cards.red_after.ones: unknown key "ones" (known here: yellows, within, ones_in_a_row)`,
		`inline.yaml:4: cards.red_after.within: must be more than 0`,
		`inline.yaml:4: cards.red_after.yellows: must not be negative (0: never)`,
		`inline.yaml:5: cards.suspend: must be more than 0`,
		`inline.yaml:6: cards.sla_tier: no SLA policy has a tier named "purple": yellow.sla_red would never give a card (name one of the tiers, or set yellow.sla_red: false)`,
	}, errorLines(t, err))
}
