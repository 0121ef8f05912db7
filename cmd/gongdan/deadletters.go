package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"gongdan/config"
	"gongdan/draft"
	"gongdan/pipeline/deadletter"
	"gongdan/problem"
)

const deadlettersUsage = `usage:
  gongdan deadletters list   [--connector NAME] [--state dead|replayed] [--limit N]
  gongdan deadletters show   ID
  gongdan deadletters replay ID [ID ...]

They talk to the running server (--server, default http://<server.http> from --config) with
a token of role admin or supervisor (--token, else $GONGDAN_TOKEN, else the first such token
in the config).`

// deadlettersCmd is `gongdan deadletters`: an operator's view of what the pipeline could not
// process, through the server's API, so it works the same for every store and bus.
func deadlettersCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("%s", deadlettersUsage)
	}
	verb := args[0]
	fs := newFlagSet("deadletters "+verb, stderr)
	conf := addConfigFlags(fs, "config file (default: the embedded quickstart)")
	server := fs.String("server", "", "the server's base URL (default: from server.http)")
	token := fs.String("token", "", "API token (default: $GONGDAN_TOKEN, else an admin or supervisor token from the config)")
	connector := fs.String("connector", "", "list: only this connector's")
	state := fs.String("state", "dead", "list: dead, replayed, or all")
	limit := fs.Int("limit", 50, "list: at most this many")
	ids, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return &exitError{2, err}
	}
	cfg, err := conf.load()
	if err != nil {
		return err
	}
	c := newAPIClient(cfg, *server, *token)
	switch verb {
	case "list":
		if len(ids) > 0 {
			return usageError("%s", deadlettersUsage)
		}
		q := url.Values{"limit": {fmt.Sprint(*limit)}}
		if *connector != "" {
			q.Set("connector", *connector)
		}
		if *state != "all" {
			q.Set("state", *state)
		}
		var page deadletter.Page
		if err := c.do(http.MethodGet, "/api/v1/deadletters?"+q.Encode(), &page); err != nil {
			return err
		}
		if len(page.DeadLetters) == 0 {
			fmt.Fprintln(stdout, "no dead letters")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCONNECTOR\tHANDLER\tSTATE\tATTEMPTS\tLAST FAILURE\tERROR")
		for _, dl := range page.DeadLetters {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", dl.ID, dl.Connector, dl.Handler, dl.State, dl.Attempts,
				dl.LastFailedAt.Local().Format(time.DateTime), firstLine(dl.Error, 100))
		}
		tw.Flush()
		if page.NextCursor != "" {
			fmt.Fprintf(stdout, "(more: raise --limit)\n")
		}
		return nil
	case "show":
		if len(ids) != 1 {
			return usageError("%s", deadlettersUsage)
		}
		var dl deadletter.DeadLetter
		if err := c.do(http.MethodGet, "/api/v1/deadletters/"+url.PathEscape(ids[0]), &dl); err != nil {
			return err
		}
		printDeadLetter(stdout, dl)
		return nil
	case "replay":
		if len(ids) == 0 {
			return usageError("%s", deadlettersUsage)
		}
		var failed int
		for _, id := range ids {
			var dl deadletter.DeadLetter
			if err := c.do(http.MethodPost, "/api/v1/deadletters/"+url.PathEscape(id)+"/replay", &dl); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", id, err)
				failed++
				continue
			}
			fmt.Fprintf(stdout, "%s: replayed to %s (replay %d); if it fails again it is listed again\n", dl.ID, dl.Topic, dl.Replays)
		}
		if failed > 0 {
			return userError(fmt.Errorf("%d of %d replays failed", failed, len(ids)))
		}
		return nil
	}
	return usageError("unknown deadletters command %q\n%s", verb, deadlettersUsage)
}

func printDeadLetter(w io.Writer, dl deadletter.DeadLetter) {
	fmt.Fprintf(w, "id:            %s\nconnector:     %s\nhandler:       %s\ntopic:         %s\nstate:         %s\n",
		dl.ID, dl.Connector, dl.Handler, dl.Topic, dl.State)
	fmt.Fprintf(w, "attempts:      %d\nfirst failure: %s\nlast failure:  %s\n", dl.Attempts,
		dl.FirstFailedAt.Local().Format(time.RFC3339), dl.LastFailedAt.Local().Format(time.RFC3339))
	if dl.ReplayedAt != nil {
		fmt.Fprintf(w, "replays:       %d (last %s)\n", dl.Replays, dl.ReplayedAt.Local().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "error:\n  %s\n", strings.ReplaceAll(dl.Error, "\n", "\n  "))
	var env draft.Envelope
	if json.Unmarshal(dl.Payload, &env) == nil && env.ID != "" {
		fmt.Fprintf(w, "envelope:      %s (type %s, received %s)\n", env.ID, env.Type, env.ReceivedAt.Format(time.RFC3339))
		fmt.Fprintf(w, "payload:\n%s\n", indentJSON(env.Payload))
		return
	}
	fmt.Fprintf(w, "message:\n%s\n", indentJSON(dl.Payload))
}

func indentJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "  ", "  ") == nil {
		return "  " + out.String()
	}
	return "  " + string(b)
}

func firstLine(s string, n int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

// apiClient calls the server's API; problem+json answers become errors that say what the
// server said.
type apiClient struct {
	base, token string
}

// newAPIClient talks to server (default: server.http of cfg) with token (default:
// $GONGDAN_TOKEN, else the first admin or supervisor token of cfg).
func newAPIClient(cfg *config.Config, server, token string) *apiClient {
	c := &apiClient{base: strings.TrimRight(server, "/"), token: token}
	if c.base == "" {
		c.base = "http://" + cfg.Server.HTTP
	}
	if c.token == "" {
		c.token = os.Getenv("GONGDAN_TOKEN")
	}
	if c.token == "" {
		for _, t := range cfg.Server.Tokens {
			if t.Role == "admin" || t.Role == "supervisor" {
				c.token = t.Token.Reveal()
				break
			}
		}
	}
	return c
}

func (c *apiClient) do(method, path string, out any) error {
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		return usageError("--server %q: %v", c.base, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return userError(fmt.Errorf("cannot reach the server at %s: %v; is gongdan serve running? (--server sets the address)", c.base, errors.Unwrap(err)))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode >= 300 {
		var p problem.Problem
		if json.Unmarshal(body, &p) == nil && p.Title != "" {
			return userError(fmt.Errorf("%s: %s (%d)", p.Title, p.Detail, resp.StatusCode))
		}
		return userError(fmt.Errorf("the server answered %s", resp.Status))
	}
	return json.Unmarshal(body, out)
}

// parseInterspersed parses flags wherever they are among the arguments ("show DL-1 --config
// f" as well as "show --config f DL-1") and returns the arguments that are not flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
