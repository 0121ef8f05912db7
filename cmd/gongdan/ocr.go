package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/ocr"
	"gongdan/draft"
)

const ocrUsage = `usage: gongdan ocr [--config FILE] [--connector NAME] [--taken-at TIME] [--group NAME] IMAGE…

Reads chat screenshots as the ocr connector NAME of the config does (default: its first ocr
connector, or one with the defaults) and prints, for each, the messages read off it — sender,
side, time, text, confidence, box — and the drafts they make, as JSON. Nothing is stored or sent.
--taken-at is when the screenshots were taken (RFC 3339; default: each file's modification time),
which time separators such as 昨天 14:05 are read against.`

// ocrReport is what gongdan ocr prints of one image.
type ocrReport struct {
	File     string        `json:"file"`
	Error    string        `json:"error,omitempty"`
	Title    string        `json:"title,omitempty"`
	Messages []ocr.Message `json:"messages"`
	Notices  []string      `json:"notices,omitempty"`
	Drafts   []draft.Draft `json:"drafts"`
}

func ocrCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ocr", stderr)
	conf := addConfigFlags(fs, "config file (default: the embedded quickstart)")
	name := fs.String("connector", "", "the ocr connector to read as (default: the config's first)")
	takenFlag := fs.String("taken-at", "", "when the screenshots were taken, RFC 3339 (default: each file's modification time)")
	group := fs.String("group", "", "the group's name, when the title bar is cropped off")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() == 0 {
		return usageError("%s", ocrUsage)
	}
	takenAt, err := timeFlag("taken-at", *takenFlag, "2026-01-07T10:30:00+08:00", time.Time{})
	if err != nil {
		return err
	}
	cfg, err := conf.load()
	if err != nil {
		return err
	}
	conn, err := ocrConnector(cfg, *name)
	if err != nil {
		return userError(err)
	}
	defer conn.Close(context.Background())
	var reports []ocrReport
	failed := 0
	for _, path := range fs.Args() {
		rep := ocrReport{File: path, Messages: []ocr.Message{}, Drafts: []draft.Draft{}}
		if err := readScreenshot(conn, cfg, path, takenAt, *group, &rep); err != nil {
			rep.Error = err.Error()
			failed++
		}
		reports = append(reports, rep)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(reports); err != nil {
		return err
	}
	if failed > 0 {
		return userError(fmt.Errorf("%d of %d screenshots could not be read (see error in the output)", failed, len(reports)))
	}
	return nil
}

// readScreenshot reads one file into rep, as the connector would take and normalize it.
func readScreenshot(conn *ocr.Connector, cfg *config.Config, path string, takenAt time.Time, group string, rep *ocrReport) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if takenAt.IsZero() {
		if fi, err := os.Stat(path); err == nil {
			takenAt = fi.ModTime()
		}
	}
	envs, err := conn.Sample(b, map[string]string{"file": filepath.Base(path), "group": group, "taken_at": takenAt.Format(time.RFC3339)})
	if err != nil {
		return fmt.Errorf("the connector refuses it (an upload would get an error): %w", err)
	}
	page, drafts, err := conn.Read(context.Background(), envs[0])
	if err != nil {
		return fmt.Errorf("the pipeline would dead-letter it: %w", err)
	}
	rep.Title, rep.Messages, rep.Notices = page.Title, page.Messages, page.Notices
	for _, d := range drafts {
		rep.Drafts = append(rep.Drafts, cfg.Normalize.Enricher.Enrich(d))
	}
	return nil
}

// ocrConnector builds the config's ocr connector name (its first, or one with the defaults).
func ocrConnector(cfg *config.Config, name string) (*ocr.Connector, error) {
	dr, err := newDryRunner(cfg, time.Now()) // the connectors as a dry run builds them
	if err != nil {
		return nil, err
	}
	var have []string
	for _, inst := range dr.conns.Instances() {
		c, ok := inst.Connector.(*ocr.Connector)
		if !ok {
			continue
		}
		if name == "" || inst.Name == name {
			return c, nil
		}
		have = append(have, inst.Name)
	}
	if name != "" {
		return nil, fmt.Errorf("no ocr connector named %q in the config (ocr connectors: %s)", name, strings.Join(have, ", "))
	}
	// None in the config: one with the defaults.
	def, err := config.ParseWith("ocr-defaults.yaml", []byte("connectors:\n  - {name: ocr, type: ocr}\n"), connectors.Global.Validate)
	if err != nil {
		return nil, err
	}
	def.Normalize = cfg.Normalize
	def.Server.Location = cfg.Server.Location
	return ocrConnector(def, "ocr")
}
