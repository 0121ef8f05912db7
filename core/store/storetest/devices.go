package storetest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Device registry edits read back as last written, byte for byte, one per id; a failed write
// keeps none of its own; engineers of the same id are other rows.
func testDevices(t *testing.T, f *fixture) {
	devices, err := f.s.Devices(f.ctx)
	require.NoError(t, err)
	assert.Empty(t, devices, "a new store")

	e1 := []byte(`{"id":"E202308001","model":"GA37VSD+","customer":{"name":"王建国"}}`)
	require.NoError(t, f.write(func(w *writer) error {
		return errors.Join(
			w.tx.PutDevice("E202308001", []byte(`{"id":"E202308001","model":"first"}`)),
			w.tx.PutDevice("E202308001", e1), // replaced in the same transaction
			w.tx.PutDevice("E202308002", []byte(`{"id":"E202308002"}`)),
			w.tx.PutEngineer("E202308002", []byte(`{"status":"leave"}`)),
		)
	}))
	e2 := []byte(`{"id":"E202308002","location":{"address":"苏州工业园区星湖街328号","lat":31.3196,"lon":120.7239}}`)
	require.NoError(t, f.write(func(w *writer) error { return w.tx.PutDevice("E202308002", e2) }))

	failed := errors.New("the batch fails")
	err = f.write(func(w *writer) error {
		require.NoError(t, w.tx.PutDevice("E202308001", []byte(`{"id":"E202308001","model":"lost"}`)))
		require.NoError(t, w.tx.PutDevice("E3", []byte(`{"id":"E3"}`)))
		return failed
	})
	require.ErrorIs(t, err, failed)

	devices, err = f.s.Devices(f.ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"E202308001": e1, "E202308002": e2}, devices)
	engineers, err := f.s.Engineers(f.ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"E202308002": []byte(`{"status":"leave"}`)}, engineers, "the engineer is another row")
}
