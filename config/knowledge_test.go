package config_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
)

// knowledge: is a folder next to the config file (like normalize.dictionary and devices.file);
// its articles are loaded and their categories are the fault dictionary's.
func TestKnowledgeIsAFolderNextToTheConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "kb", "lock-battery.md"), "---\ntitle: 智能锁没电\ncategories: [门锁故障]\nkeywords: [没电]\n---\n换电池。\n")
	writeFile(t, filepath.Join(dir, "gongdan.yaml"), "knowledge: kb\n")
	cfg, err := config.Load(filepath.Join(dir, "gongdan.yaml"))
	require.NoError(t, err)
	require.Equal(t, 1, cfg.KnowledgeBase.Len())
	assert.Equal(t, "lock-battery", cfg.KnowledgeBase.Articles()[0].ID)

	cfg, err = config.Parse("inline.yaml", []byte("server: {}\n"))
	require.NoError(t, err)
	assert.Nil(t, cfg.KnowledgeBase, "no knowledge: no suggestions")
}

// The shipped example folder loads with the shipped dictionary.
func TestTheExampleKnowledgeFolderLoads(t *testing.T) {
	example, err := filepath.Abs(filepath.Join("..", "configs", "knowledge"))
	require.NoError(t, err)
	cfg, err := config.Parse("inline.yaml", []byte("knowledge: "+example+"\n"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, cfg.KnowledgeBase.Len(), 3)
}

// Problems of the articles are reported as the devices file's are, each at its file:line,
// after the config's own; a category must be one of the dictionary's, including a dictionary
// of the config's own.
func TestKnowledgeErrorsAreLocated(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gongdan.yaml")
	kb := filepath.Join(dir, "kb")
	writeFile(t, filepath.Join(kb, "a.md"), "---\ntitle: 指纹锁\ncategories: [门锁故障]\nkeywords: [指纹]\nmodels: [TL-X9]\nfirmware: \">=2.3.2 <2.3.0\"\n---\n")
	writeFile(t, filepath.Join(kb, "b.md"), "---\nid: a\ntitle: 门锁\ncategories: [门锁故障]\ntags: [x]\n---\n")
	writeFile(t, filepath.Join(kb, "c.md"), "---\ntitle: 门锁\ncategories: [锁坏了]\n---\n")
	writeFile(t, filepath.Join(kb, "d.md"), "---\ntitle: [\n---\n")
	writeFile(t, filepath.Join(dir, "faults.yaml"), "categories:\n  - {name: 门锁故障, keywords: [门锁]}\n")
	writeFile(t, cfgPath, "server: {timezon: UTC}\nnormalize: {dictionary: faults.yaml}\nknowledge: kb\n")
	_, err := config.Load(cfgPath)
	assert.Equal(t, []string{
		cfgPath + `:1: server.timezon: unknown key "timezon"; did you mean "timezone"?`,
		filepath.Join(kb, "a.md") + `:6: firmware: ">=2.3.2 <2.3.0" matches no version: its lower end is above its upper end`,
		filepath.Join(kb, "b.md") + `:5: tags: unknown key "tags" (known here: id, title, categories, keywords, models, firmware)`,
		filepath.Join(kb, "c.md") + `:3: categories[0]: "锁坏了" is not a category of the fault dictionary, so no ticket has it (it has: 门锁故障)`,
		filepath.Join(kb, "d.md") + `:2: front matter: YAML syntax: did not find expected node content`,
	}, errorLines(t, err))

	// Mended, the second article's id is the first's: a duplicate, named with where the
	// first one is.
	writeFile(t, filepath.Join(kb, "a.md"), "---\ntitle: 指纹锁\ncategories: [门锁故障]\n---\n")
	writeFile(t, filepath.Join(kb, "b.md"), "---\nid: a\ntitle: 门锁\ncategories: [门锁故障]\n---\n")
	writeFile(t, filepath.Join(kb, "c.md"), "---\ntitle: 门锁\ncategories: [门锁故障]\n---\n")
	writeFile(t, filepath.Join(kb, "d.md"), "---\ntitle: 门锁\nkeywords: [门锁]\n---\n")
	writeFile(t, cfgPath, "normalize: {dictionary: faults.yaml}\nknowledge: kb\n")
	_, err = config.Load(cfgPath)
	assert.Equal(t, []string{
		filepath.Join(kb, "b.md") + `:2: id: duplicate id "a": ` + filepath.Join(kb, "a.md") + `:1 has it already; each article has its own (set id: or rename the file)`,
	}, errorLines(t, err))
}

func TestKnowledgeFolderMissing(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gongdan.yaml")
	writeFile(t, cfgPath, "server: {}\nknowledge: no-such\n")
	_, err := config.Load(cfgPath)
	assert.Equal(t, []string{cfgPath + `:2: knowledge: cannot read the knowledge folder: stat ` + filepath.Join(dir, "no-such") + `: no such file or directory`},
		errorLines(t, err))
	writeFile(t, cfgPath, "server: {}\nknowledge: gongdan.yaml\n")
	_, err = config.Load(cfgPath)
	assert.Equal(t, []string{cfgPath + `:2: knowledge: ` + cfgPath + ` is a file; knowledge: names a folder of Markdown articles (*.md)`},
		errorLines(t, err))
	writeFile(t, cfgPath, "server: {}\nknowledge: [kb]\n")
	_, err = config.Load(cfgPath)
	assert.Equal(t, []string{cfgPath + `:2: knowledge: want a string, got a list`}, errorLines(t, err))
}
