package normalize

import (
	"regexp"
	"strings"
	"time"

	"gongdan/draft"
)

// Enricher fills the draft fields a connector left empty from the draft's own text (its title
// and description), with the shared extractors, and records for each field the text it came
// from. It never overwrites what a connector or a mapping set, except to put a phone number it
// set into its canonical form. The zero value extracts nothing but phone numbers.
type Enricher struct {
	// Dictionary picks the category and tags; nil skips them.
	Dictionary *Dictionary
	// Urgency keywords raise the urgency of a draft that has none; nil lists skip it.
	Urgency UrgencyKeywords
	// DevicePatterns find device serials; none skips them.
	DevicePatterns []*regexp.Regexp
	// Addresses turns on address extraction.
	Addresses bool
	// Times turns on reading the occurrence time (上午 9:42, 昨天 14:05) relative to received_at.
	Times bool
}

// DefaultEnricher uses every extractor, with the given dictionary.
func DefaultEnricher(dict *Dictionary) Enricher {
	return Enricher{Dictionary: dict, Urgency: DefaultUrgencyKeywords(), Addresses: true, Times: true}
}

// evidenceFrom names the extractors in Evidence.From.
const evidenceFrom = "text"

// Enrich returns d with empty fields filled from its text.
func (e Enricher) Enrich(d draft.Draft) draft.Draft {
	if d.Tags == nil {
		d.Tags = []string{} // a list in JSON either way
	}
	text := strings.TrimSpace(d.Title + "\n" + d.Description)
	note := func(field, t string) {
		// Within the draft's limit: a draft that came with as much evidence as a draft may
		// carry keeps it, rather than being refused for what enrichment added.
		if len(d.Evidence) < draft.MaxEvidence {
			d.Evidence = append(d.Evidence, draft.Evidence{Field: field, Text: t, From: evidenceFrom})
		}
	}
	if d.Customer.Phone != "" {
		// A phone a mapping copied as written ("+86 139 1234 5678") in canonical form.
		if ms := ExtractPhones(d.Customer.Phone); len(ms) == 1 && ms[0].Value != d.Customer.Phone {
			d.Customer.Phone = ms[0].Value
		}
	} else if ms := ExtractPhones(text); len(ms) > 0 {
		d.Customer.Phone = ms[0].Value
		note("customer.phone", ms[0].Text)
	}
	if d.Device.ID == "" && len(e.DevicePatterns) > 0 {
		if ms := ExtractDeviceIDs(text, e.DevicePatterns); len(ms) > 0 {
			d.Device.ID = ms[0].Value
			note("device.id", ms[0].Text)
		}
	}
	if e.Addresses && d.Location.Address == "" {
		if a, ok := ExtractAddress(text); ok {
			d.Location.Address = a.Full
			note("location.address", a.Full)
			if d.Location.City == "" && a.City != "" {
				d.Location.City = a.City
				note("location.city", a.Full)
			}
		}
	}
	if e.Times && d.OccurredAt.IsZero() && !d.ReceivedAt.IsZero() {
		if t, m, ok := ParseChineseTime(text, d.ReceivedAt); ok && !t.After(d.ReceivedAt.Add(time.Minute)) {
			d.OccurredAt = t
			note("occurred_at", m.Text)
		}
	}
	if d.Urgency == "" {
		if u, m, ok := UrgencyFromText(text, e.Urgency); ok {
			d.Urgency = u
			note("urgency", m.Text)
		}
	}
	if d.Category == "" && e.Dictionary != nil {
		if cat, tags, m, ok := e.Dictionary.Classify(text); ok {
			d.Category = cat
			note("category", m.Text)
			for _, t := range tags {
				if !contains(d.Tags, t) && len(d.Tags) < draft.MaxTags {
					d.Tags = append(d.Tags, t)
				}
			}
		}
	}
	return d
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Enriching wraps a normalizer so that every draft it makes is enriched.
func Enriching(n draft.Normalizer, e Enricher) draft.Normalizer {
	return draft.NormalizerFunc(func(env draft.Envelope) ([]draft.Draft, error) {
		drafts, err := n.Normalize(env)
		if err != nil {
			return nil, err
		}
		for i := range drafts {
			drafts[i] = e.Enrich(drafts[i])
		}
		return drafts, nil
	})
}
