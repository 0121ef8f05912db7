package knowledge

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/configs/dictionaries"
	"gongdan/normalize"
)

var dictionary = []string{"急停故障", "设备过热", "门锁故障"}

var checked = Options{Category: func(c string) bool { return slices.Contains(dictionary, c) }, Categories: dictionary}

func TestAnArticleReadsItsFrontMatter(t *testing.T) {
	a, errs := ParseArticle("kb/tl-x9-fp.md", []byte(`---
title: TL-X9 指纹模块休眠
categories: [门锁故障]
keywords:
  - 指纹
  - 没反应
models: [TL-X9]
firmware: ">=2.3.0 <2.3.2"
---

先远程升级。
`), checked)
	require.Empty(t, errs)
	assert.Equal(t, "tl-x9-fp", a.ID, "the file name")
	assert.Equal(t, "TL-X9 指纹模块休眠", a.Title)
	assert.Equal(t, []string{"门锁故障"}, a.Categories)
	assert.Equal(t, []string{"指纹", "没反应"}, a.Keywords)
	assert.Equal(t, []string{"TL-X9"}, a.Models)
	require.NotNil(t, a.Firmware)
	assert.Equal(t, ">=2.3.0 <2.3.2", a.Firmware.String())
	assert.Equal(t, "先远程升级。", a.Body)

	// An id of its own, a title from the heading, a single category as a list of one, a
	// firmware written as a number, CRLF line ends.
	a, errs = ParseArticle("kb/x.md", []byte("---\r\nid: lock-2\r\ncategories: 门锁故障\r\nmodels: [TL-X9]\r\nfirmware: 2.3\r\n---\r\n# 指纹锁没电\r\n正文\r\n"), checked)
	require.Empty(t, errs)
	assert.Equal(t, "lock-2", a.ID)
	assert.Equal(t, "指纹锁没电", a.Title)
	assert.Equal(t, []string{"门锁故障"}, a.Categories)
	assert.Equal(t, "2.3", a.Firmware.String())
}

// TestArticleProblemsAreReportedAtTheirLines: each broken article, and every problem in it
// as file:line: key: message.
func TestArticleProblemsAreReportedAtTheirLines(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"no front matter", "# 指纹锁\n正文\n",
			[]string{"kb/a.md:1: an article starts with front matter between two --- lines (title:, categories:, keywords:, models:, firmware:), then the text"}},
		{"front matter not closed", "---\ntitle: x\ncategories: [门锁故障]\n",
			[]string{"kb/a.md:1: an article starts with front matter"}},
		{"YAML syntax", "---\ntitle: x\ncategories: [门锁故障\nkeywords: [a]\n---\n",
			[]string{"kb/a.md:3: front matter: YAML syntax: did not find expected ',' or ']'"}},
		{"a tab", "---\ntitle: x\n\tkeywords: [指纹]\n---\n",
			[]string{"kb/a.md:3: front matter: YAML syntax:"}},
		{"empty front matter", "---\n---\n正文\n",
			[]string{"kb/a.md:2: the front matter is empty"}},
		{"a list, not a mapping", "---\n- title\n---\n",
			[]string{"kb/a.md:2: front matter is a mapping of keys (title: …), not a list"}},
		{"unknown key", "---\ntitle: x\ncategories: [门锁故障]\nfirmwares: \"2.3.1\"\n---\n",
			[]string{`kb/a.md:4: firmwares: unknown key "firmwares"; did you mean "firmware"?`}},
		{"unknown key far from any", "---\ntitle: x\ncategories: [门锁故障]\nsolution: 升级\n---\n",
			[]string{`kb/a.md:4: solution: unknown key "solution" (known here: id, title, categories, keywords, models, firmware)`}},
		{"a key twice", "---\ntitle: x\ncategories: [门锁故障]\ntitle: y\n---\n",
			[]string{"kb/a.md:4: title: set twice; line 2 sets it already"}},
		{"invalid firmware range", "---\ntitle: x\ncategories: [门锁故障]\nmodels: [TL-X9]\nfirmware: \">=2.3.2 <2.3.0\"\n---\n",
			[]string{`kb/a.md:5: firmware: ">=2.3.2 <2.3.0" matches no version: its lower end is above its upper end`}},
		{"firmware wildcard", "---\ntitle: x\ncategories: [门锁故障]\nmodels: [TL-X9]\nfirmware: 2.3.x\n---\n",
			[]string{`kb/a.md:5: firmware: "2.3.x": wildcards are not supported`}},
		{"firmware without models", "---\ntitle: x\ncategories: [门锁故障]\nfirmware: \"2.3.1\"\n---\n",
			[]string{"kb/a.md:4: firmware: needs models: a firmware version means something only for the models it names"}},
		{"firmware as a list", "---\ntitle: x\ncategories: [门锁故障]\nmodels: [TL-X9]\nfirmware: [2.3.1]\n---\n",
			[]string{"kb/a.md:5: firmware: want a text, got a list"}},
		{"unknown category", "---\ntitle: x\ncategories: [门锁故障, 门禁故障]\n---\n",
			[]string{`kb/a.md:3: categories[1]: "门禁故障" is not a category of the fault dictionary, so no ticket has it (it has: 急停故障, 设备过热, 门锁故障)`}},
		{"a mapping in a list", "---\ntitle: x\nkeywords:\n  - 指纹\n  - {a: b}\n---\n",
			[]string{"kb/a.md:5: keywords[1]: want a text, got a mapping"}},
		{"an empty keyword", "---\ntitle: x\nkeywords: [指纹, \"\"]\n---\n",
			[]string{"kb/a.md:3: keywords[1]: empty; remove it"}},
		{"a one-letter keyword", "---\ntitle: x\nkeywords: [指纹, x]\n---\n",
			[]string{`kb/a.md:3: keywords[1]: "x" is too short to look for`}},
		{"neither categories nor keywords", "---\ntitle: x\nmodels: [TL-X9]\n---\n",
			[]string{"kb/a.md:2: an article needs categories or keywords; without them it matches no ticket"}},
		{"no title", "---\ncategories: [门锁故障]\n---\n正文，没有标题\n",
			[]string{"kb/a.md:2: title: required: what a suggestion shows (or begin the text with a # heading)"}},
		{"a bad id", "---\nid: 指纹 休眠\ntitle: x\ncategories: [门锁故障]\n---\n",
			[]string{`kb/a.md:2: id: "指纹 休眠" is not an id`}},
		{"every problem at once", "---\ntitle: x\ncategories: [门锁]\nkeyword: [指纹]\nmodels: [TL-X9]\nfirmware: \"~2.3\"\n---\n",
			[]string{
				`kb/a.md:3: categories[0]: "门锁" is not a category of the fault dictionary`,
				`kb/a.md:4: keyword: unknown key "keyword"; did you mean "keywords"?`,
				`kb/a.md:6: firmware: "~2.3": ~ and ^ ranges are not supported; write the ends, like >=2.3.0 <2.4.0`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := ParseArticle("kb/a.md", []byte(tc.text), checked)
			errs.SortByLine()
			require.Len(t, errs, len(tc.want), "%v", errs)
			for i, want := range tc.want {
				assert.True(t, strings.HasPrefix(errs[i].Error(), want), "got  %s\nwant %s…", errs[i], want)
			}
		})
	}
}

func TestAFileNameThatIsNoIDSaysToRenameIt(t *testing.T) {
	_, errs := ParseArticle("kb/指纹 休眠.md", []byte("---\ntitle: x\ncategories: [门锁故障]\n---\n"), checked)
	require.Len(t, errs, 1)
	assert.Equal(t, `kb/指纹 休眠.md:1: id: the file name "指纹 休眠" is not an id (letters, digits, ., - and _); rename the file or set id:`, errs[0].Error())
}

func writeArticles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	}
	return dir
}

const lockArticle = "---\ntitle: 指纹锁没电\ncategories: [门锁故障]\nkeywords: [没电]\n---\n"

func TestLoadReadsAFolderInNameOrder(t *testing.T) {
	dir := writeArticles(t, map[string]string{
		"b.md":         lockArticle,
		"a.md":         lockArticle,
		"locks/c.md":   lockArticle,
		"README.txt":   "not an article",
		".drafts/d.md": "not read: hidden",
		".e.md":        "not read: hidden",
		"locks/F.MD":   lockArticle,
	})
	b, err := Load(dir, checked)
	require.NoError(t, err)
	var ids []string
	for _, a := range b.Articles() {
		ids = append(ids, a.ID)
	}
	assert.Equal(t, []string{"a", "b", "F", "c"}, ids)
}

func TestLoadReportsEveryBrokenArticleAndDuplicateIDs(t *testing.T) {
	dir := writeArticles(t, map[string]string{
		"a.md":       lockArticle,
		"locks/a.md": lockArticle,
		"c.md":       "---\nid: a\ntitle: x\ncategories: [门锁故障]\n---\n",
		"d.md":       "---\ntitle: x\ncategories: [门锁故障]\nmodels: [TL-X9]\nfirmware: \"2.3.1 <\"\n---\n",
	})
	_, err := Load(dir, checked)
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 3, err.Error())
	assert.Equal(t, filepath.Join(dir, "c.md")+`:2: id: duplicate id "a": `+filepath.Join(dir, "a.md")+":1 has it already; each article has its own (set id: or rename the file)", lines[0])
	assert.Equal(t, filepath.Join(dir, "d.md")+`:5: firmware: "<" has no version after it`, lines[1])
	assert.Equal(t, filepath.Join(dir, "locks", "a.md")+`:1: id: duplicate id "a": `+filepath.Join(dir, "a.md")+":1 has it already; each article has its own (set id: or rename the file)", lines[2])
}

func TestLoadIsBounded(t *testing.T) {
	t.Run("an article too large", func(t *testing.T) {
		dir := writeArticles(t, map[string]string{"big.md": lockArticle + strings.Repeat("正文", MaxArticleBytes/6+1)})
		_, err := Load(dir, checked)
		require.Error(t, err)
		assert.Equal(t, filepath.Join(dir, "big.md")+": larger than 64 KiB; an article is a short note of one fault and its fix (link to long manuals instead)", err.Error())
	})
	t.Run("too many articles", func(t *testing.T) {
		files := map[string]string{}
		for i := range MaxArticles + 1 {
			files[filepath.Join("many", strings.Repeat("a", 1+i%7)+"-"+strconv.Itoa(i)+".md")] = lockArticle
		}
		dir := writeArticles(t, files)
		_, err := Load(dir, checked)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "more than 2000 articles (*.md) under "+dir)
	})
	t.Run("not a folder", func(t *testing.T) {
		dir := writeArticles(t, map[string]string{"a.md": lockArticle})
		_, err := Load(filepath.Join(dir, "a.md"), checked)
		assert.ErrorContains(t, err, "is a file; knowledge: names a folder of Markdown articles (*.md)")
		_, err = Load(filepath.Join(dir, "missing"), checked)
		assert.ErrorContains(t, err, "cannot read the knowledge folder:")
	})
}

// The shipped example folder loads against the shipped dictionary's categories.
func TestTheExampleArticlesLoad(t *testing.T) {
	dict, err := normalize.LoadDictionary(bytes.NewReader(dictionaries.Faults))
	require.NoError(t, err)
	b, err := Load("../configs/knowledge", Options{Category: dict.Has, Categories: dict.Categories()})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, b.Len(), 3)
	var withFirmware int
	for _, a := range b.Articles() {
		if a.Firmware != nil {
			withFirmware++
		}
	}
	assert.Equal(t, 1, withFirmware)
}
