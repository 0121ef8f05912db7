// Package storetest is the contract every store.Store passes before it counts as one, as
// every watermill pub/sub passes tests.TestPubSub: each store's own tests call Run.
//
// The suite writes what the engine writes (tickets and events built with ticket.Create,
// ticket.Decide and ticket.Apply, never by hand), reads it back, and after every scenario
// checks that each ticket row is the fold of its event log. It must never depend on an
// implementation: only on store, ticket and draft.
package storetest

import (
	"testing"

	"gongdan/core/store"
)

// Run runs the contract every Store must pass. open returns a new, empty store; Run closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		test func(t *testing.T, f *fixture)
	}{
		{"Ping", testPing},
		{"InsertThenRead", testInsertThenRead},
		{"HistoryRoundTrip", testHistoryRoundTrip},
		{"NotFound", testNotFound},
		{"FailedWriteKeepsNothing", testFailedWriteKeepsNothing},
		{"TxSeesOwnWrites", testTxSeesOwnWrites},
		{"EmptyKeysNeverConflict", testEmptyKeysNeverConflict},
		{"Append", testAppend},
		{"AppendSeqTaken", testAppendSeqTaken},
		{"AppendCommandIDTaken", testAppendCommandIDTaken},
		{"FailedAppendWritesNothing", testFailedAppendWritesNothing},
		{"NextNumber", testNextNumber},
		{"NextNumberConcurrent", testNextNumberConcurrent},
		{"ListFilters", testListFilters},
		{"ListNewestFirst", testListNewestFirst},
		{"ListPaging", testListPaging},
		{"ListPagingWhileWriting", testListPagingWhileWriting},
		{"ListBadCursor", testListBadCursor},
		{"ListDefaultLimit", testListDefaultLimit},
		{"ListMaxLimit", testListMaxLimit},
		{"ListQueueFilters", testListQueueFilters},
		{"ListQueueTagsChange", testListQueueTagsChange},
		{"ListDuePaging", testListDuePaging},
		{"EventsAfter", testEventsAfter},
		{"CountByState", testCountByState},
		{"ConcurrentAppends", testConcurrentAppends},
		{"MergeKeys", testMergeKeys},
		{"MergeConflicts", testMergeConflicts},
		{"OpenTicketByThreadKey", testOpenTicketByThreadKey},
		{"RecentlyClosed", testRecentlyClosed},
		{"Routing", testRouting},
		{"SLABoard", testSLABoard},
		{"Devices", testDevices},
		{"Cards", testCards},
		{"DeviceHistory", testDeviceHistory},
		{"Console", testConsole},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newFixture(t, open)) })
	}
	t.Run("InsertConflict", func(t *testing.T) {
		for _, c := range insertConflicts {
			t.Run(c.name, func(t *testing.T) { testInsertConflict(t, newFixture(t, open), c) })
		}
	})
}
