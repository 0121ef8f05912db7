package ticket_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gongdan/core/ticket"
	"gongdan/draft"
)

func TestOnlyTheLinksCustomerActs(t *testing.T) {
	h := newHistory(t)
	mine := ticket.TrackingActor(h.t.ID)
	for _, who := range []ticket.Actor{ticket.TrackingActor("GD-20261123-000002"), {ID: mine.ID, Role: ticket.RoleAgent}, system, eng} {
		_, err := ticket.CustomerNote(h.t, who, ticket.CustomerNoteData{Text: "x"}, t0)
		assert.ErrorIs(t, err, ticket.ErrForbidden, "%v", who)
		_, err = ticket.Urge(h.t, who, t0)
		assert.ErrorIs(t, err, ticket.ErrForbidden, "%v", who)
	}
	_, err := ticket.CustomerNote(h.t, customer, ticket.CustomerNoteData{Text: "x"}, t0)
	assert.NoError(t, err, "the customer of the ticket's customer id, too")
	ev, err := ticket.CustomerNote(h.t, mine, ticket.CustomerNoteData{Text: "  门口有狗  ", Attachments: []draft.Attachment{{Kind: "image", URI: "attachment:ab"}}}, t0)
	require.NoError(t, err)
	assert.False(t, ev.Automatic)
	assert.Equal(t, h.t.State, ev.To, "no state changes")
	h.append(t, ev)
	assert.Len(t, h.t.Attachments, 1)
	assert.Equal(t, t0, h.t.AwaitingUpdate)
}

func TestACustomerNoteIsBounded(t *testing.T) {
	h := newHistory(t)
	me := ticket.TrackingActor(h.t.ID)
	for _, d := range []ticket.CustomerNoteData{{Text: "   "}, {Text: strings.Repeat("长", ticket.MaxNoteRunes+1)},
		{Attachments: make([]draft.Attachment, ticket.MaxNoteAttachments+1)}} {
		_, err := ticket.CustomerNote(h.t, me, d, t0)
		assert.ErrorIs(t, err, ticket.ErrInvalidData)
	}
	h.must(t, pathTo["closed"]...)
	_, err := ticket.CustomerNote(h.t, me, ticket.CustomerNoteData{Text: "又坏了"}, t0)
	assert.ErrorIs(t, err, ticket.ErrIllegalTransition, "a closed ticket takes nothing more")
}

func TestUrgesAreCountedOnceAnHour(t *testing.T) {
	h := newHistory(t)
	me := ticket.TrackingActor(h.t.ID)
	ev, err := ticket.Urge(h.t, me, t0)
	require.NoError(t, err)
	h.append(t, ev)
	_, err = ticket.Urge(h.t, me, t0.Add(59*time.Minute))
	assert.ErrorIs(t, err, ticket.ErrTooSoon)
	ev, err = ticket.Urge(h.t, me, t0.Add(time.Hour))
	require.NoError(t, err)
	h.append(t, ev)
	assert.Equal(t, 2, h.t.Urges)
	h.must(t, pathTo["resolved"]...)
	_, err = ticket.Urge(h.t, me, t0.Add(5*time.Hour))
	assert.ErrorIs(t, err, ticket.ErrIllegalTransition, "nothing to hurry once resolved")
}

func TestRemindersAndTheFollowup(t *testing.T) {
	h := newHistory(t)
	_, err := ticket.RemindConfirm(h.t, 1, t0)
	assert.ErrorIs(t, err, ticket.ErrIllegalTransition, "only a resolved ticket is confirmed")
	h.must(t, pathTo["resolved"]...)
	ev, err := ticket.RemindConfirm(h.t, 1, h.now)
	require.NoError(t, err)
	h.append(t, ev)
	assert.Equal(t, 1, h.t.Reminders)
	assert.Equal(t, ticket.SystemActor, ev.Actor)

	_, err = ticket.FollowupAsked(h.t, h.now)
	assert.ErrorIs(t, err, ticket.ErrIllegalTransition, "asked only after the close")
	h.must(t, "confirm", "close")
	me := ticket.TrackingActor(h.t.ID)
	_, err = ticket.FollowupAnswered(h.t, me, ticket.FollowupData{}, h.now)
	assert.ErrorIs(t, err, ticket.ErrIllegalTransition, "not asked yet")
	ev, err = ticket.FollowupAsked(h.t, h.now)
	require.NoError(t, err)
	h.append(t, ev)
	ev, err = ticket.FollowupAnswered(h.t, me, ticket.FollowupData{Recurred: true, Repeat: "GD-20261125-000001"}, h.now)
	require.NoError(t, err)
	h.append(t, ev)
	require.NotNil(t, h.t.Followup)
	assert.True(t, h.t.Followup.Recurred)
	assert.False(t, h.t.Followup.AskedAt.IsZero())
	_, err = ticket.FollowupAnswered(h.t, me, ticket.FollowupData{}, h.now)
	assert.ErrorIs(t, err, ticket.ErrIllegalTransition, "one answer")

	// Reopened and closed again: a new follow-up.
	h.must(t, "reopen")
	assert.NotNil(t, h.t.Followup, "kept while reopened")
	h.must(t, "resolve")
	assert.Zero(t, h.t.Reminders, "a new resolve asks afresh")
	h.must(t, "confirm", "close")
	assert.Nil(t, h.t.Followup, "this close gets its own follow-up")
}

// TestRecordsStaleNoDecision: a command's expected_version survives gongdan's records of what
// it did (a delivery, an SLA mark, a reminder) but not a change someone made.
func TestRecordsStaleNoDecision(t *testing.T) {
	h := newHistory(t)
	h.must(t, "assign", "accept")
	accepted := h.t.Version
	ev, err := ticket.Notified(h.t, ticket.DeliveryData{Key: "3/sms", Channel: "sms", OK: true, Attempt: 1}, h.now)
	require.NoError(t, err)
	h.append(t, ev)
	ev, err = ticket.SLA(h.t, ticket.SLAData{Key: "response/warning", Policy: "p", Target: "response", Kind: "warning"}, h.now)
	require.NoError(t, err)
	h.append(t, ev)
	_, err = ticket.Decide(h.t, ticket.Command{TicketID: h.t.ID, Action: ticket.ActionStart, Actor: eng, ExpectedVersion: accepted}, h.now)
	require.NoError(t, err, "only records came after the version the engineer saw")
	_, err = ticket.Decide(h.t, ticket.Command{TicketID: h.t.ID, Action: ticket.ActionStart, Actor: eng, ExpectedVersion: accepted - 1}, h.now)
	assert.ErrorIs(t, err, ticket.ErrStaleVersion, "the accept itself came after")
	_, err = ticket.Decide(h.t, ticket.Command{TicketID: h.t.ID, Action: ticket.ActionStart, Actor: eng, ExpectedVersion: h.t.Version + 1}, h.now)
	assert.ErrorIs(t, err, ticket.ErrStaleVersion, "a version from the future")

	note, err := ticket.CustomerNote(h.t, ticket.TrackingActor(h.t.ID), ticket.CustomerNoteData{Text: "门禁密码改了"}, h.now)
	require.NoError(t, err)
	h.append(t, note)
	_, err = ticket.Decide(h.t, ticket.Command{TicketID: h.t.ID, Action: ticket.ActionStart, Actor: eng, ExpectedVersion: accepted}, h.now)
	assert.ErrorIs(t, err, ticket.ErrStaleVersion, "the customer said something new: decide again")
}
