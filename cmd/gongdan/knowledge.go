package main

import (
	"fmt"
	"io"
	"strings"

	"gongdan/config"
	"gongdan/devices"
	"gongdan/draft"
)

// intakeEnrich is what every draft goes through after its connector's normalizer, in the
// pipeline and in the dry runs alike, in this order: the normalize section fills it from its
// text (category, serial, …); the device registry adds its device's model and firmware; the
// knowledge base then matches it with all of that known. Its suggestions replace any the
// payload had: they are gongdan's own.
func intakeEnrich(cfg *config.Config, reg devices.Lookup) func(draft.Draft) draft.Draft {
	enricher, kb := cfg.Normalize.Enricher, cfg.KnowledgeBase
	return func(d draft.Draft) draft.Draft {
		d = enricher.Enrich(d)
		d = devices.FillDraft(d, reg)
		d.Suggestions = kb.Suggest(d)
		return d
	}
}

const knowledgeUsage = `usage: gongdan knowledge test "<text>" [--config FILE] [--data DIR] [--model M] [--firmware V] [--category C]
       gongdan knowledge test - < call.txt

Prints the knowledge articles (the config's knowledge: folder) a ticket with this text would be
suggested, and why; and the articles the text points to that it would not get, and why not.
The text goes through the normalize section as a draft's would (the category, a device serial),
and the serial through the devices registry (the model and firmware); --category, --model and
--firmware say them instead.`

// knowledgeCmd is `gongdan knowledge test`.
func knowledgeCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		return usageError("%s", knowledgeUsage)
	}
	fs := newFlagSet("knowledge test", stderr)
	conf := addConfigFlags(fs, "config file whose knowledge: folder to match against (default: the embedded quickstart)")
	model := fs.String("model", "", "the device's model (default: the registry's, for a serial in the text)")
	firmware := fs.String("firmware", "", "the device's firmware (default: the registry's)")
	category := fs.String("category", "", "the ticket's category (default: what the fault dictionary reads in the text)")
	// The text may come before the flags, as the usage writes it, or after them.
	var texts []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return &exitError{2, err}
		}
		if fs.NArg() == 0 {
			break
		}
		texts = append(texts, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(texts) != 1 {
		return usageError("%s", knowledgeUsage)
	}
	text := texts[0]
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, draft.MaxDescriptionRunes*4))
		if err != nil {
			return err
		}
		text = string(b)
	}
	if strings.TrimSpace(text) == "" {
		return usageError("knowledge test: the text is empty\n\n%s", knowledgeUsage)
	}
	cfg, err := conf.load()
	if err != nil {
		return err
	}
	if cfg.KnowledgeBase == nil {
		return userError(fmt.Errorf("%s has no knowledge: folder; add one, like knowledge: knowledge (a folder of Markdown articles next to the config; configs/knowledge/ has examples)", configName(cfg)))
	}
	d := draft.Draft{Description: draft.Clip(text, draft.MaxDescriptionRunes), Category: *category,
		Device: draft.Device{Model: *model, Firmware: *firmware}}
	d = intakeEnrich(cfg, devices.New(cfg.Devices.Loaded, nil, nil))(d)
	writeKnowledgeTest(stdout, d, cfg)
	return nil
}

func writeKnowledgeTest(w io.Writer, d draft.Draft, cfg *config.Config) {
	kb := cfg.KnowledgeBase
	facts := []string{"分类 " + orNone(d.Category)}
	if d.Device.ID != "" {
		facts = append(facts, "设备 "+d.Device.ID)
	}
	facts = append(facts, "型号 "+orNone(d.Device.Model), "固件 "+orNone(d.Device.Firmware))
	fmt.Fprintf(w, "工单：%s\n", strings.Join(facts, "，"))
	cands := kb.Explain(d)
	var suggested, passed int
	for _, c := range cands {
		if c.Suggested {
			suggested++
		} else {
			passed++
		}
	}
	if suggested == 0 {
		fmt.Fprintf(w, "推荐：无（知识库共 %d 篇，没有一篇匹配）\n", kb.Len())
	} else {
		fmt.Fprintf(w, "推荐 %d 篇（知识库共 %d 篇，每张工单最多 %d 篇）：\n", suggested, kb.Len(), draft.MaxSuggestions)
	}
	n := 0
	for _, c := range cands {
		if !c.Suggested {
			continue
		}
		n++
		fmt.Fprintf(w, "  %d. %s  score %d\n     %s\n     why: %s\n", n, c.ID, c.Score, c.Title, c.Why)
	}
	if passed > 0 {
		fmt.Fprintln(w, "未推荐：")
		for _, c := range cands {
			if !c.Suggested {
				fmt.Fprintf(w, "  - %s: %s\n", c.ID, c.PassedOver)
			}
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "未知"
	}
	return s
}
