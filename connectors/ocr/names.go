package ocr

import "slices"

// A name is read on its own, from a small grey label, and Tesseract misreads one character
// of one now and then (a name of five messages read once with 王 as 干). A wrong sender
// breaks the thread and dedup keys of the message, so a name one character away from a name
// known surely — the connector's staff, or the same name read more often or more surely in
// the same picture — is taken to be that name. Names of one character, and names that differ
// from every known one by more, stay as read with their confidence: two people may well be
// called 张三 and 张四, and only a misread that is also the less sure reading is undone.
//
// A snap to a staff name drops the message from the drafts (staff are never customers), so it
// is taken only for a reading Tesseract was unsure of, and of three characters or more: a
// customer called 李总 or 王工 beside staff 李工 stays a customer. Two two-character readings
// that were both sure are two people (李娜 and 李娟), and are not merged.

// unsureName is the confidence below which a name reading may be a misread of a staff name;
// sureName the one from which two readings are taken for two people.
const (
	unsureName = 75
	sureName   = 85
)

// checkNames snaps each message's sender to a known name or a surer reading in the picture,
// and says so in the message's cues.
func checkNames(msgs []*Message, staff []string) {
	type reading struct {
		count int
		conf  float64 // the best confidence it was read with
	}
	seen := map[string]*reading{}
	for _, m := range msgs {
		r := seen[m.Sender]
		if r == nil {
			r = &reading{}
			seen[m.Sender] = r
		}
		r.count++
		r.conf = max(r.conf, m.SenderConfidence)
	}
	for _, m := range msgs {
		name := m.Sender
		if slices.Contains(staff, name) {
			continue
		}
		best, bestScore := "", 0.0
		if m.SenderConfidence < unsureName && len([]rune(name)) >= 3 {
			for _, k := range staff {
				if oneApart(name, k) && len([]rune(k)) >= 3 {
					best, bestScore = k, 1e9
					break
				}
			}
		}
		if best == "" {
			mine := seen[name]
			for other, r := range seen {
				if other == name || !oneApart(name, other) || len([]rune(name)) == 2 && mine.conf >= sureName && r.conf >= sureName {
					continue
				}
				// The other reading is surer: more often, or as often and more confidently.
				surer := r.count > mine.count || r.count == mine.count && r.conf > mine.conf
				if score := float64(r.count)*100 + r.conf; surer && score > bestScore {
					best, bestScore = other, score
				}
			}
		}
		if best != "" {
			m.Cues = append(m.Cues, "name≈"+best+" (read "+name+")")
			m.Sender = best
		}
	}
}

// oneApart reports two names of at least two characters each that differ by one character
// (one replaced, added or left out).
func oneApart(a, b string) bool {
	x, y := []rune(a), []rune(b)
	if len(x) < 2 || len(y) < 2 {
		return false
	}
	return editDistance(x, y) == 1
}

// editDistance is the Levenshtein distance between two strings of runes.
func editDistance(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
