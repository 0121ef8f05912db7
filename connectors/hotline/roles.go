package hotline

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// RoleConfig says how a call's speakers map to roles: the channel (Aliyun's ChannelId, on a
// stereo recording) or the speaker id (Tencent's SpeakerId, iFlytek's rl) the agent is on. A
// nil field is not configured.
type RoleConfig struct {
	AgentChannel *int
	AgentSpeaker *int
}

// Roles is what was decided about who spoke which turn, and why, for the draft's evidence.
type Roles struct {
	// Turns are the transcript's turns with Role set.
	Turns []Turn
	// How names the way the roles were decided: "body" (the call centre said), "config"
	// (agent_channel, agent_speaker), "cues" (the agent's words told it apart), "turns"
	// (mono: each turn by its own words).
	How string
	// Why says it in words, naming the turn that decided when cues did.
	Why string
	// Sure is how sure the decision is, 0–1.
	Sure float64
}

// Words only the agent of a service hotline says: the greeting with a job number, the offer
// of help, asking for the customer's number or address, confirming back (您的…), the closing.
var agentCues = newLexicon(slices.Concat(strongAgentCues, weakAgentCues))

// strongAgentCues are said by agents alone; weakAgentCues by agents mostly, but by a polite
// caller too (请问是售后吗？请问今天能来吗？): they count half.
var (
	strongAgentCues = slices.Concat(
		[]string{"工号", "为您服务", "很高兴为您", "有什么可以帮", "怎么称呼", "您贵姓", "感谢您的来电", "感谢来电",
			"还有其他问题", "还有其他需要", "祝您"},
		product([]string{"您的"}, []string{"电话", "手机", "号码", "地址", "联系方式", "设备", "机器", "编号"}),
		product([]string{"安排", "派"}, []string{"师傅", "工程师", "人员", "维修"}),
	)
	weakAgentCues = slices.Concat(
		[]string{"请问", "为您", "给您", "帮您", "请您", "请稍等"},
		product([]string{"编号", "型号", "序列号", "电话", "手机", "地址", "位置"}, []string{"是多少", "多少", "吗", "呢", "在哪"}),
	)
	strongAgent = newLexicon(strongAgentCues)
)

// Words a customer says of themselves and their problem.
var customerCues = newLexicon(slices.Concat(
	[]string{"我的", "我家", "坏了", "不行了", "不制冷", "不出", "漏水", "报警", "故障", "困人", "冒烟", "跳闸", "停机",
		"停了", "怎么回事", "投诉", "催一下", "快点"},
	product([]string{"我们"}, []string{"家", "公司", "厂", "小区", "这边"}),
	product([]string{"麻烦", "麻烦你们", "麻烦您"}, []string{"派", "来", "过来", "安排", "尽快", "快点"}),
))

// A lexicon finds the first of its words in a text in one pass over the text, by the words'
// first runes: a regexp of their alternation cost half of a long call's normalization.
type lexicon struct {
	// byFirst lists the words by their first rune, the longest first.
	byFirst map[rune][]string
	// firsts has the bit of every word's first rune (by its low 16 bits) set: most runes of
	// a text begin no word, and a bit says so in a fraction of a map lookup's time.
	firsts [1 << 16 / 64]uint64
}

func newLexicon(words []string) *lexicon {
	l := &lexicon{byFirst: map[rune][]string{}}
	for _, w := range words {
		r, _ := utf8.DecodeRuneInString(w)
		l.byFirst[r] = append(l.byFirst[r], w)
		l.firsts[r>>6&1023] |= 1 << (r & 63)
	}
	for r := range l.byFirst {
		// The longest first, so that 感谢您的来电 is found whole, not as 感谢.
		slices.SortStableFunc(l.byFirst[r], func(a, b string) int { return len(b) - len(a) })
	}
	return l
}

// find is the leftmost word of l in text, or "".
func (l *lexicon) find(text string) string {
	for i, r := range text {
		if l.firsts[r>>6&1023]&(1<<(r&63)) == 0 {
			continue
		}
		for _, w := range l.byFirst[r] {
			if strings.HasPrefix(text[i:], w) {
				return w
			}
		}
	}
	return ""
}

// product is every a followed by every b.
func product(as, bs []string) []string {
	var out []string
	for _, a := range as {
		for _, b := range bs {
			out = append(out, a+b)
		}
	}
	return out
}

// decideRoles gives every turn of t a role. In order: what the body says (the generic
// format), then the config (agent_channel for a vendor that reports channels, agent_speaker
// for one that diarizes), then, for two or more speakers, the speaker whose words are most an
// agent's, and for a mono call (one speaker, or none said) each turn by its own words, a
// turn without cues being the customer's. Getting this wrong puts the agent's words in the
// customer's fields, so Why says what decided.
func decideRoles(t Transcript, rc RoleConfig) Roles {
	turns := slices.Clone(t.Turns)
	given, some := true, false
	for _, tu := range turns {
		given = given && tu.Role != RoleUnknown
		some = some || tu.Role != RoleUnknown
	}
	if given {
		return Roles{Turns: turns, How: "body", Why: "the call centre said who spoke each turn", Sure: 1}
	}
	if some {
		// The body says who spoke most turns: those stay as said, the others by their words.
		for i := range turns {
			if turns[i].Role == RoleUnknown {
				turns[i].Role = turnRole(turns[i].Text)
			}
		}
		return Roles{Turns: turns, How: "body", Why: "the call centre said who spoke the turns it named; the others by their own words", Sure: 0.8}
	}
	speakers := speakersOf(turns)
	agent, key, ok := configuredAgent(t.Vendor, rc)
	if ok && len(speakers) >= 2 && slices.Contains(speakers, agent) {
		for i := range turns {
			turns[i].Role = roleOf(turns[i].Speaker == agent)
		}
		return Roles{Turns: turns, How: "config", Why: fmt.Sprintf("%s: %s is the agent", key, agent), Sure: 1}
	}
	if len(speakers) >= 2 {
		scores, whys := speakerScores(turns)
		best, score, runner := "", -1<<30, -1<<30
		for _, s := range speakers {
			if sc := scores[s]; sc > score {
				best, runner, score = s, score, sc
			} else if sc > runner {
				runner = sc
			}
		}
		if score > runner {
			for i := range turns {
				turns[i].Role = roleOf(turns[i].Speaker == best)
			}
			sure := 0.9
			if score-runner < 2 {
				sure = 0.6
			}
			why := whys[best]
			if why == "" {
				why = "fewest of the customer's words"
			}
			return Roles{Turns: turns, How: "cues", Why: fmt.Sprintf("speaker %s is the agent: %s", best, why), Sure: sure}
		}
	}
	// Mono, or speakers the cues cannot tell apart: each turn by its own words.
	for i := range turns {
		turns[i].Role = turnRole(turns[i].Text)
	}
	why := "one voice: each turn by its own words, the agent's greeting and questions (您好…为您服务, 请问您的…) against the customer's"
	if len(speakers) >= 2 {
		why = "the speakers' words did not tell the agent apart: each turn by its own words"
	}
	return Roles{Turns: turns, How: "turns", Why: why, Sure: 0.5}
}

// configuredAgent is the speaker id the config names as the agent's for vendor, and the key:
// agent_channel for Aliyun, whose ChannelId is a channel of the recording, agent_speaker for the
// vendors that diarize (Tencent's SpeakerId, iFlytek's rl). With format auto one connector may
// take both: each key speaks only of its own vendors' ids.
func configuredAgent(vendor Format, rc RoleConfig) (string, string, bool) {
	if vendor == FormatAliyun {
		if rc.AgentChannel == nil {
			return "", "", false
		}
		return strconv.Itoa(*rc.AgentChannel), fieldAgentChannel, true
	}
	if rc.AgentSpeaker == nil {
		return "", "", false
	}
	return strconv.Itoa(*rc.AgentSpeaker), fieldAgentSpeaker, true
}

// speakersOf lists the distinct speaker ids, in order of first turn; an empty id is none.
func speakersOf(turns []Turn) []string {
	var out []string
	for _, t := range turns {
		if t.Speaker != "" && !slices.Contains(out, t.Speaker) {
			out = append(out, t.Speaker)
		}
	}
	return out
}

// speakerScores are how much each speaker's turns sound like the agent's: agent cues count
// for, customer cues against; whys quote each speaker's first agent cue heard.
func speakerScores(turns []Turn) (map[string]int, map[string]string) {
	scores, whys := map[string]int{}, map[string]string{}
	for _, t := range turns {
		if m := agentCues.find(t.Text); m != "" {
			scores[t.Speaker]++
			if strongAgent.find(t.Text) != "" {
				scores[t.Speaker]++
			}
			if whys[t.Speaker] == "" {
				whys[t.Speaker] = fmt.Sprintf("%q (%s)", clip(t.Text, 120), m)
			}
		}
		if customerCues.find(t.Text) != "" {
			scores[t.Speaker]--
		}
	}
	return scores, whys
}

// turnRole is a turn's role by its own words: the agent's when it has the agent's words and
// none of the customer's.
func turnRole(text string) Role {
	return roleOf(agentCues.find(text) != "" && customerCues.find(text) == "")
}

func roleOf(agent bool) Role {
	if agent {
		return RoleAgent
	}
	return RoleCustomer
}
