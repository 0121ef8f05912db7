package wechat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/config"
	"gongdan/configs/dictionaries"
	"gongdan/connectors"
	"gongdan/draft"
	"gongdan/normalize"
)

// fakeArchive serves decrypted message fixtures by seq (the i-th line is seq i+1).
type fakeArchive struct {
	mu   sync.Mutex
	msgs []archiveMessage
	err  error
}

func loadArchive(t *testing.T, path string) *fakeArchive {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	a := &fakeArchive{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		var m struct {
			MsgID string `json:"msgid"`
		}
		require.NoError(t, json.Unmarshal(line, &m))
		a.msgs = append(a.msgs, archiveMessage{Seq: uint64(len(a.msgs) + 1), MsgID: m.MsgID, Plain: append([]byte(nil), line...)})
	}
	return a
}

func (f *fakeArchive) Fetch(seq uint64, limit int) ([]archiveMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []archiveMessage
	for _, m := range f.msgs {
		if m.Seq > seq && len(out) < limit {
			out = append(out, m)
		}
	}
	return out, nil
}

func (f *fakeArchive) Close() {}

// archiveRig builds an Archive from yaml as the registry would parse it (its Validate, which
// refuses an untagged binary, is what this test goes around), with src as the archive.
func archiveRig(t *testing.T, yamlItem, dir string, src *fakeArchive) (*Archive, *[]draft.Envelope) {
	t.Helper()
	check := func(file string, c config.Connector) []*config.Error {
		_, _, errs := connectors.Global.Parse(file, c)
		return errs
	}
	var b strings.Builder
	b.WriteString("connectors:\n")
	for i, line := range strings.Split(strings.TrimRight(yamlItem, "\n"), "\n") {
		if i == 0 {
			b.WriteString("  - " + line + "\n")
		} else {
			b.WriteString("    " + line + "\n")
		}
	}
	cfg, err := config.ParseWith("archive.yaml", []byte(b.String()), check)
	require.NoError(t, err)
	_, conf, errs := connectors.Global.Parse(cfg.File, cfg.Connectors[0])
	require.Empty(t, errs)
	dict, err := normalize.LoadDictionary(bytes.NewReader(dictionaries.Faults))
	require.NoError(t, err)
	var mu sync.Mutex
	var published []draft.Envelope
	env := connectors.Env{
		Publish: func(_ context.Context, e draft.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			published = append(published, e)
			return nil
		},
		Stats: &connectors.Stats{}, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC) },
		Location: time.UTC, NewID: func() string { return "env" }, StateDir: dir,
		Enricher: normalize.DefaultEnricher(dict),
	}
	conn, err := newArchive(conf, env)
	require.NoError(t, err)
	a := conn.(*Archive)
	a.open = func() (archiveSource, error) { return src, nil }
	return a, &published
}

const archiveYAML = "name: groups\ntype: wechat.archive\ncorp_id: ww5823bf96d3bd56c7\ncorp_secret: s3cret-archive\nprivate_key: not-used-by-the-fake\n" +
	"every_message_of: [wrServiceLine00000000000000000]\npoll_every: 1h\n"

func TestGroupMessagesThatAreRequestsBecomeTickets(t *testing.T) {
	src := loadArchive(t, "testdata/archive/group_chat.jsonl")
	a, published := archiveRig(t, archiveYAML, t.TempDir(), src)
	require.NoError(t, a.poll(context.Background(), src))

	var got []string
	for _, env := range *published {
		drafts, err := normalizer{}.Normalize(env)
		require.NoError(t, err)
		for _, d := range drafts {
			require.NoError(t, d.Validate())
			got = append(got, d.Customer.ID+": "+d.Title)
		}
	}
	assert.Equal(t, []string{
		// "大家早上好" is chatter; the elevator is a request (坏了), and the phone number a
		// minute later is its follow-up.
		"wmErxtDgAA9AW32YyyuYRimKr7D1KWlw: 3号楼的电梯又坏了，困在2楼下不来",
		"wmErxtDgAA9AW32YyyuYRimKr7D1KWlw: 我电话13812345678",
		// the service line group takes every customer message, an image too
		"wmThirdCustomer0000000000000001: [图片]",
		// a fault of the dictionary without a keyword (漏水 is not one of the keywords)
		"wmFourthCustomer000000000000001: 地下车库一直在漏水，地上都是水",
	}, got, "the staff's reply, the other customer's chatter, a recall, a private chat and a thank-you an hour later are not requests")

	first, err := normalizer{}.Normalize((*published)[0])
	require.NoError(t, err)
	d := first[0]
	assert.Equal(t, "archive:groups:wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA:wmErxtDgAA9AW32YyyuYRimKr7D1KWlw", d.ThreadKey)
	assert.Equal(t, "groups/msg/CAQQ2a3a4QUY0On2rYSAgAMgxOyBlAI=", d.DedupKey)
	assert.Equal(t, []string{"wechat_group"}, d.Tags)
	assert.True(t, d.OccurredAt.Equal(time.UnixMilli(1764637260000)))

	img, err := normalizer{}.Normalize((*published)[2])
	require.NoError(t, err)
	assert.Equal(t, []draft.Attachment{{Kind: "image", URI: "wecom-archive:CtYBMzA2OTAyMDEwMjA0NjIzMDYwMDIwMTAwMDIwNDBkM"}}, img[0].Attachments)
	assert.Equal(t, ArchiveStatus{Seq: 10, Fetched: 10, Published: 4}, a.Details())
}

// TestAnUnreadableArchiveMessageIsSkipped: one message encrypted under a key the connector
// lacks is counted and passed over; the ones after it are taken.
func TestAnUnreadableArchiveMessageIsSkipped(t *testing.T) {
	src := loadArchive(t, "testdata/archive/group_chat.jsonl")
	src.msgs[1].Plain, src.msgs[1].Err = nil, errors.New("decrypting (publickey_ver 1): -40007")
	a, published := archiveRig(t, archiveYAML, t.TempDir(), src)
	require.NoError(t, a.poll(context.Background(), src))
	assert.Equal(t, ArchiveStatus{Seq: 10, Fetched: 10, Published: 2, Skipped: 1}, a.Details(),
		"the elevator request is lost to the key, so its phone follow-up is not a follow-up; the image and the leak go in")
	assert.Len(t, *published, 2)
	assert.Equal(t, int64(1), a.env.Stats.Rejected.Load())
}

func TestTheArchiveSeqSurvivesARestartAndMovesOnlyWhenDurable(t *testing.T) {
	dir := t.TempDir()
	src := loadArchive(t, "testdata/archive/group_chat.jsonl")
	all := src.msgs
	src.msgs = all[:4]
	a, published := archiveRig(t, archiveYAML, dir, src)
	require.NoError(t, a.poll(context.Background(), src))
	assert.Len(t, *published, 2)

	// A restart: from the saved seq, only what is new.
	src.msgs = all
	b, published2 := archiveRig(t, archiveYAML, dir, src)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	require.Eventually(t, func() bool { return b.Details().(ArchiveStatus).Seq == 10 }, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	assert.Len(t, *published2, 2, "the image and the door, not the first two again")

	// A bus that refuses: the seq stays where it was.
	src.msgs = append(all, archiveMessage{Seq: 11, MsgID: "x", Plain: []byte(`{"msgid":"x","action":"send","from":"wmNew","roomid":"wrServiceLine00000000000000000","msgtime":1764642000000,"msgtype":"text","text":{"content":"门禁坏了"}}`)})
	c, _ := archiveRig(t, archiveYAML, dir, src)
	c.env.Publish = func(context.Context, draft.Envelope) error { return errors.New("bus down") }
	require.NoError(t, c.loadSeq())
	err := c.poll(context.Background(), src)
	require.ErrorContains(t, err, "the seq stays")
	require.NoError(t, c.loadSeq())
	assert.Equal(t, uint64(10), c.Details().(ArchiveStatus).Seq)
}

func TestWithoutTheSDKTheArchiveIsRefused(t *testing.T) {
	if SDKBuilt {
		t.Skip("this binary has WeCom's SDK")
	}
	t.Setenv("T_ARCHIVE_KEY", "x")
	_, err := config.ParseWith("archive.yaml", []byte("connectors:\n  - {name: groups, type: wechat.archive, corp_id: ww5823bf96d3bd56c7, corp_secret: s, private_key: \"${T_ARCHIVE_KEY}\"}\n"), connectors.Global.Validate)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "archive.yaml:2")
	assert.Contains(t, err.Error(), "go build -tags msgaudit")
}

// TestAFollowUpAfterARestartJoinsItsRequest: the open conversations are saved with the seq,
// so a customer's phone number a minute after a restart is taken as the follow-up it is.
func TestAFollowUpAfterARestartJoinsItsRequest(t *testing.T) {
	dir := t.TempDir()
	src := loadArchive(t, "testdata/archive/group_chat.jsonl")
	all := src.msgs
	src.msgs = all[:3] // up to the request and the staff's answer
	a, published := archiveRig(t, archiveYAML, dir, src)
	require.NoError(t, a.poll(context.Background(), src))
	require.Len(t, *published, 1)

	src.msgs = all // restart; the phone number comes next
	b, published2 := archiveRig(t, archiveYAML, dir, src)
	require.NoError(t, b.loadSeq())
	require.NoError(t, b.poll(context.Background(), src))
	require.NotEmpty(t, *published2)
	var first archiveBody
	require.NoError(t, json.Unmarshal((*published2)[0].Payload, &first))
	assert.Equal(t, "我电话13812345678", first.Text.Content)
}
