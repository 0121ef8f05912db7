package knowledge

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/draft"
)

// article parses one article for a test.
func article(t testing.TB, id, frontMatter string) Article {
	t.Helper()
	a, errs := ParseArticle(id+".md", []byte("---\n"+frontMatter+"\n---\n"), Options{})
	require.Empty(t, errs)
	return a
}

func base(t testing.TB, articles ...Article) *Base {
	t.Helper()
	b, err := New(articles)
	require.NoError(t, err)
	return b
}

// fingerprint is the example: v2.3.1 sleeps the fingerprint module of the TL-X9.
func fingerprint(t testing.TB) Article {
	return article(t, "tl-x9-fp-sleep", `title: TL-X9 固件 2.3.1 指纹模块休眠：先远程升级
categories: [门锁故障]
keywords: [指纹, 没反应]
models: [TL-X9, TL-X9 Pro]
firmware: ">=2.3.0 <2.3.2"`)
}

func battery(t testing.TB) Article {
	return article(t, "lock-battery", `title: 智能锁没电：应急供电开门
categories: [门锁故障]
keywords: [没电, 低电量, 电池]`)
}

func lockDraft(model, firmware string) draft.Draft {
	return draft.Draft{Title: "指纹锁按了没反应", Description: "家里的指纹锁今天早上开始指纹没反应，密码可以开，电池上周刚换过",
		Category: "门锁故障", Device: draft.Device{ID: "E202405017", Model: model, Firmware: firmware}}
}

// TestAFirmwareArticleReachesExactlyTheDevicesItIsFor: the fix for v2.3.1 reaches the TL-X9
// locks on 2.3.0–2.3.1 and no other: not another model, not another firmware, and not a lock
// whose firmware (or model) is unknown, for on those it would be the wrong fix.
func TestAFirmwareArticleReachesExactlyTheDevicesItIsFor(t *testing.T) {
	b := base(t, fingerprint(t), battery(t))
	for _, tc := range []struct {
		model, firmware string
		suggested       bool
		passedOver      string
	}{
		{"TL-X9", "2.3.1", true, ""},
		{"TL-X9", "v2.3.1", true, ""},
		{"TL-X9", "2.3.0", true, ""},
		{"tl x9 pro", "2.3.1", true, ""},
		{"TL-X9", "2.3.2", false, "firmware 2.3.2 not in >=2.3.0 <2.3.2"},
		{"TL-X9", "2.2.9", false, "firmware 2.2.9 not in >=2.3.0 <2.3.2"},
		{"TL-X9", "", false, "firmware unknown: the article is for firmware >=2.3.0 <2.3.2"},
		{"TL-X9", "2.3.1-beta", false, `firmware "2.3.1-beta" cannot be compared`},
		{"TL-X7", "2.3.1", false, "model TL-X7 is not one of TL-X9, TL-X9 Pro"},
		{"", "2.3.1", false, "model unknown: the article is for TL-X9, TL-X9 Pro, firmware >=2.3.0 <2.3.2"},
		{"", "", false, "model unknown"},
	} {
		d := lockDraft(tc.model, tc.firmware)
		got := b.Suggest(d)
		ids := make([]string, len(got))
		for i, s := range got {
			ids[i] = s.ID
		}
		assert.Equal(t, tc.suggested, contains(ids, "tl-x9-fp-sleep"), "%s %s: %v", tc.model, tc.firmware, ids)
		assert.Contains(t, ids, "lock-battery", "an article without models or firmware is for every lock")
		if tc.passedOver != "" {
			var c Candidate
			for _, x := range b.Explain(d) {
				if x.ID == "tl-x9-fp-sleep" {
					c = x
				}
			}
			assert.False(t, c.Suggested)
			assert.Contains(t, c.PassedOver, tc.passedOver, "%s %s", tc.model, tc.firmware)
		}
	}
	got := b.Suggest(lockDraft("TL-X9", "2.3.1"))
	require.NotEmpty(t, got)
	assert.Equal(t, draft.Suggestion{ID: "tl-x9-fp-sleep", Title: "TL-X9 固件 2.3.1 指纹模块休眠：先远程升级",
		Why: "category 门锁故障, keywords 指纹/没反应, model TL-X9, firmware 2.3.1 in >=2.3.0 <2.3.2", Score: 3 + 2 + 2 + 2}, got[0])
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestScoring(t *testing.T) {
	generic := article(t, "lock-generic", "title: 门锁故障排查\ncategories: [门锁故障]")
	keywordsOnly := article(t, "fp-clean", "title: 指纹头脏污\nkeywords: [指纹, 脏, 擦拭]")
	oneKeyword := article(t, "reset", "title: 复位\nkeywords: [没反应]")
	modelOnly := article(t, "x9-keyword", "title: TL-X9 面板\nkeywords: [面板]\nmodels: [TL-X9]")
	estop := article(t, "estop", "title: 急停复位\ncategories: [急停故障]\nkeywords: [复位]")
	b := base(t, generic, keywordsOnly, oneKeyword, modelOnly, estop)

	d := draft.Draft{Title: "指纹锁面板按了没反应", Description: "指纹头有点脏", Category: "门锁故障", Device: draft.Device{Model: "TL-X9"}}
	var got []string
	for _, c := range b.Explain(d) {
		got = append(got, fmt.Sprintf("%s %d %v %q %q", c.ID, c.Score, c.Suggested, c.Why, c.PassedOver))
	}
	assert.Equal(t, []string{
		`lock-generic 3 true "category 门锁故障" ""`,
		`x9-keyword 3 true "keyword 面板, model TL-X9" ""`,
		`fp-clean 2 true "keywords 指纹/脏" ""`,
		`reset 0 false "keyword 没反应" "too little: keyword 没反应 alone"`,
	}, got, "the category alone is enough, one keyword with the model is, two keywords are; one keyword alone is not; another category's article is not a candidate")

	// A keyword is counted once however often it is said, Latin letters in any case and only
	// as whole words, and at most five count.
	many := article(t, "many", "title: 多\nkeywords: [reset, 指纹, 没反应, 电池, 门, 面板, 密码]")
	b = base(t, many)
	s := b.Suggest(draft.Draft{Title: "RESET 指纹 指纹 指纹 没反应 电池 门 面板 密码"})
	require.Len(t, s, 1)
	assert.Equal(t, MaxKeywordHits, s[0].Score)
	assert.Equal(t, "keywords reset/指纹/没反应/电池/门/…", s[0].Why)
	assert.Empty(t, b.Suggest(draft.Draft{Title: "preset 和 resets 指纹"}), "reset is not found inside other words; 指纹 alone is too little")

	// A keyword within another of the article's found with it is one hit, not two.
	nested := article(t, "nested", "title: 套\nkeywords: [没反应, 按了没反应, 指纹]")
	b = base(t, nested)
	s = b.Suggest(draft.Draft{Title: "指纹锁按了没反应"})
	require.Len(t, s, 1)
	assert.Equal(t, "keywords 按了没反应/指纹", s[0].Why)
	assert.Equal(t, 2, s[0].Score)
	assert.Empty(t, b.Suggest(draft.Draft{Title: "按了没反应"}), "one hit is too little")
	s = b.Suggest(draft.Draft{Title: "没反应, 按了也没反应"})
	assert.Empty(t, s, "没反应 alone is one keyword")
}

// At most three, the best first, ties by id; the same draft always gets the same ones.
func TestAtMostThreeInAFixedOrder(t *testing.T) {
	var articles []Article
	for _, id := range []string{"e", "c", "a", "d", "b"} {
		articles = append(articles, article(t, id, "title: 门锁 "+id+"\ncategories: [门锁故障]"))
	}
	articles = append(articles, article(t, "z-best", "title: 最相关\ncategories: [门锁故障]\nkeywords: [指纹]"))
	b := base(t, articles...)
	d := draft.Draft{Title: "指纹锁坏了", Category: "门锁故障"}
	want := []string{"z-best", "a", "b"}
	for range 50 {
		got := b.Suggest(d)
		require.Len(t, got, MaxSuggestions)
		assert.Equal(t, want, []string{got[0].ID, got[1].ID, got[2].ID})
	}
	ex := b.Explain(d)
	require.Len(t, ex, 6)
	assert.Equal(t, "scored 3: below the best 3", ex[3].PassedOver)
	assert.Equal(t, []string{"c", "d", "e"}, []string{ex[3].ID, ex[4].ID, ex[5].ID})
}

func TestNothingToSuggest(t *testing.T) {
	var none *Base
	assert.Nil(t, none.Suggest(lockDraft("TL-X9", "2.3.1")), "no knowledge base")
	b := base(t, fingerprint(t))
	assert.Nil(t, b.Suggest(draft.Draft{Title: "空调不制冷", Category: "空调故障"}))
	assert.Nil(t, b.Explain(draft.Draft{Title: "空调不制冷", Category: "空调故障"}))
	_, err := New([]Article{battery(t), battery(t)})
	assert.ErrorIs(t, err, ErrDuplicateID)
}

// Every suggestion fits the draft's limits, however long what the article says.
func TestSuggestionsFitTheDraft(t *testing.T) {
	long := func(c string, n int) string {
		s := ""
		for range n {
			s += c
		}
		return s
	}
	var kws, models string
	for i := range 64 {
		kws += fmt.Sprintf("%s%d, ", long("词", 60), i)
		models += fmt.Sprintf("%s%d, ", long("M", 60), i)
	}
	a := article(t, long("a", 128), "title: "+long("标", 200)+"\ncategories: [门锁故障]\nkeywords: ["+kws+"]\nmodels: ["+models+"]\nfirmware: \">=1 <2 || >=3 <4 || >=5 <6 || >=7 <8 || >=9 <10 || >=11 <12 || >=13 <14 || >=15 <16\"")
	text := ""
	for i := range 64 {
		text += fmt.Sprintf("%s%d ", long("词", 60), i)
	}
	d := draft.Draft{Title: "x", Description: text, Category: "门锁故障", Device: draft.Device{Model: long("M", 60) + "7", Firmware: "15.0.0.1"}}
	d.Suggestions = base(t, a).Suggest(d)
	require.Len(t, d.Suggestions, 1)
	assert.NoError(t, d.Validate())
}
