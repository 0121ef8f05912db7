package sqlite

import "context"

func (t *tx) PutDevice(id string, body []byte) error {
	_, err := t.exec(stmtPutDevice, id, body)
	return err
}

// Devices implements store.DeviceStore.
func (s *Store) Devices(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, body FROM devices`)
	return scanMap[string, []byte](rows, err)
}
