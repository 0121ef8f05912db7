package config

import (
	"time"

	"gongdan/core/routing"
)

// Cards is the cards section (红黄牌): what gives an engineer a yellow card, when yellows (or
// ratings of 1) make a red one, and how long a red card suspends new assignments. Without
// the section there are no yellow cards and two ratings of 1 in a row suspend for 24 hours
// (routing.DefaultCardRules); with it, every key has its default (routing.YellowDefaults),
// so `cards: {}` turns yellow cards on as they come.
type Cards struct {
	// Yellow switches each yellow card; each is on unless set to false.
	Yellow CardsYellow `yaml:"yellow"`
	// LowRating: a rating at or below it on either question (timeliness, professionalism) is
	// a yellow card. Default 2; 1 to 4.
	LowRating int `yaml:"low_rating"`
	// SLATier names the SLA tier whose firing on a ticket is a yellow card for whoever has
	// it. Default red.
	SLATier string `yaml:"sla_tier"`
	// YellowTTL is how long a yellow card counts toward a red one. Default 30d.
	YellowTTL Duration `yaml:"yellow_ttl"`
	// RedAfter says what makes a red card.
	RedAfter CardsRedAfter `yaml:"red_after"`
	// Suspend is how long a red card keeps new assignments away. Default 24h.
	Suspend Duration `yaml:"suspend"`

	// Rules are the section built; set by validation.
	Rules routing.CardRules `yaml:"-"`
}

// CardsYellow switches the yellow cards; an unset switch is on.
type CardsYellow struct {
	// Rating: a rating of low_rating or less.
	Rating *bool `yaml:"rating"`
	// Dispute: a confirmation with solved: false.
	Dispute *bool `yaml:"dispute"`
	// Repeat: a repeat request within 7 days of the close, for whoever closed the ticket.
	Repeat *bool `yaml:"repeat"`
	// SLARed: the sla_tier tier fired on the engineer's ticket (once per ticket).
	SLARed *bool `yaml:"sla_red"`
}

// CardsRedAfter is what makes a red card: yellows within a window, or ratings of 1 in a
// row; 0 turns either off.
type CardsRedAfter struct {
	// Yellows yellow cards within Within of each other (none expired). Default 2.
	Yellows *int `yaml:"yellows"`
	// Within is the window of Yellows. Default 30d.
	Within Duration `yaml:"within"`
	// OnesInARow ratings of 1 in a row (the lower of the two questions). Default 2.
	OnesInARow *int `yaml:"ones_in_a_row"`
}

// validate builds Rules, reporting problems at their keys. sla names the SLA tiers the
// policies have, to catch a sla_tier that no policy fires.
func (c *Cards) validate(tiers map[string]bool) []problem {
	var ps []problem
	r := routing.YellowDefaults
	r.Rating, r.Dispute, r.Repeat, r.SLARed = On(c.Yellow.Rating), On(c.Yellow.Dispute), On(c.Yellow.Repeat), On(c.Yellow.SLARed)
	if c.LowRating != 0 {
		r.LowRating = c.LowRating
		if c.LowRating < 1 || c.LowRating > 4 {
			ps = append(ps, problemf("low_rating", "must be 1 to 4 (ratings are 1 to 5; default 2)"))
		}
	}
	if c.SLATier != "" {
		r.SLATier = c.SLATier
	}
	if r.SLARed && len(tiers) > 0 && !tiers[r.SLATier] {
		ps = append(ps, problemf("sla_tier", "no SLA policy has a tier named %q: yellow.sla_red would never give a card (name one of the tiers, or set yellow.sla_red: false)", r.SLATier))
	}
	duration := func(key string, d Duration, into *time.Duration) {
		switch {
		case d < 0:
			ps = append(ps, problemf(key, "must be more than 0"))
		case d > 0:
			*into = d.Std()
		}
	}
	duration("yellow_ttl", c.YellowTTL, &r.YellowTTL)
	duration("red_after.within", c.RedAfter.Within, &r.RedWithin)
	duration("suspend", c.Suspend, &r.Suspend)
	count := func(key string, n *int, into *int) {
		if n == nil {
			return
		}
		*into = *n
		if *n < 0 {
			ps = append(ps, problemf(key, "must not be negative (0: never)"))
		}
	}
	count("red_after.yellows", c.RedAfter.Yellows, &r.RedAfterYellows)
	count("red_after.ones_in_a_row", c.RedAfter.OnesInARow, &r.RedAfterOnes)
	c.Rules = r
	return ps
}
