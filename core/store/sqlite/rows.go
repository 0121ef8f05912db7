package sqlite

import (
	"context"
	"database/sql"
	"strings"
)

// queryPage runs query (SELECT … FROM …) for a page of limit rows: those that meet every
// condition of where (args are their values), in order. It asks for one row more, which
// tells the caller that there is a next page.
func (s *Store) queryPage(ctx context.Context, query string, where []string, args []any, order string, limit int) (*sql.Rows, error) {
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	return s.r.QueryContext(ctx, query+" ORDER BY "+order+" LIMIT ?", append(args, limit+1)...)
}

// scanAll reads every row with scan, in order, and closes the rows. err is the query's, so
// that a caller hands QueryContext's results on as they are.
func scanAll[T any](rows *sql.Rows, err error, scan func(*sql.Rows) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanMap reads rows of (key, value) into a map and closes the rows; err is the query's.
func scanMap[K comparable, V any](rows *sql.Rows, err error) (map[K]V, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[K]V{}
	for rows.Next() {
		var k K
		var v V
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}
