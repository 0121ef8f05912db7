package knowledge

import (
	"testing"

	"gongdan/draft"
)

// FuzzParseRange: a range never panics; one that parses writes itself (String) as a range
// that parses again to the same thing, holding the same versions.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{
		"2.3.1", ">=2.3.0 <2.3.2", ">= 2.3.0, < 2.3.2", "<2.0 || >=3.1.4", "v2.3.1", "==V5.06", ">2.3.1 <2.3.1",
		"~2.3", "^2", "2.3.x", "*", "=>2", "2.3.0-2.3.5", ">=2.3.0<2.3.2", "||", "> ", "\xff", "1.2.3.4.5",
		"9999999999", ">=0 <=0", "<0",
	} {
		f.Add(s, "2.3.1")
	}
	f.Fuzz(func(t *testing.T, s, version string) {
		r, err := ParseRange(s)
		if err != nil {
			return
		}
		again, err := ParseRange(r.String())
		if err != nil {
			t.Fatalf("%q parses, but as written, %q, it does not: %v", s, r.String(), err)
		}
		if again.String() != r.String() {
			t.Fatalf("%q is written %q, then %q", s, r.String(), again.String())
		}
		if v, err := ParseVersion(version); err == nil && r.Contains(v) != again.Contains(v) {
			t.Fatalf("%q and %q disagree about %q", s, r.String(), version)
		}
	})
}

// FuzzParseArticle: an article never panics, whatever its bytes; one without problems keeps
// the rules the loader promises (an id, a title, something to match on, models with a
// firmware range), indexes, and suggests within a draft's limits.
func FuzzParseArticle(f *testing.F) {
	for _, s := range []string{
		"---\ntitle: TL-X9 指纹模块休眠\ncategories: [门锁故障]\nkeywords: [指纹, 没反应]\nmodels: [TL-X9]\nfirmware: \">=2.3.0 <2.3.2\"\n---\n先远程升级。\n",
		"---\nid: a\ncategories: 门锁故障\n---\n# 标题\n",
		"---\r\ntitle: x\r\nkeywords: [reset]\r\n---\r\n",
		"---\n---\n", "---\n- a\n---\n", "---\ntitle: &a x\nkeywords: [*a, *a]\n---\n",
		"---\ntitle: x\n<<: {keywords: [a]}\n---\n", "---\ntitle: [\n---\n", "\ufeff---\ntitle: x\nkeywords: [ab]\n...\n",
		"---\ntitle: x\nkeywords: [ab]\nfirmware: 2.3\nmodels: m\n---\n", "no front matter",
	} {
		f.Add(s, "指纹锁 reset 没反应 ab", "TL-X9", "2.3.1")
	}
	f.Fuzz(func(t *testing.T, text, ticket, model, firmware string) {
		a, errs := ParseArticle("kb/fuzz.md", []byte(text), Options{})
		for _, e := range errs {
			if e.File != "kb/fuzz.md" || e.Line < 0 || e.Msg == "" {
				t.Fatalf("a problem without its place or message: %+v", e)
			}
		}
		if len(errs) > 0 {
			return
		}
		if !idPattern.MatchString(a.ID) || a.Title == "" || len(a.Categories)+len(a.Keywords) == 0 || a.Firmware != nil && len(a.Models) == 0 {
			t.Fatalf("an article without problems breaks a rule: %+v", a)
		}
		b, err := New([]Article{a})
		if err != nil {
			t.Fatal(err)
		}
		d := draft.Draft{Title: "x", Description: ticket, Category: "门锁故障", Device: draft.Device{Model: model, Firmware: firmware}}
		if len(d.Description) > draft.MaxDescriptionRunes || len(model) > 128 || len(firmware) > 128 {
			return
		}
		d.Suggestions = b.Suggest(d)
		if err := d.Validate(); err != nil {
			t.Fatalf("suggestions beyond the draft's limits: %v", err)
		}
		b.Explain(d)
	})
}
