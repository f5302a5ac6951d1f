package store

import "database/sql"

// rowScanner is a row being read: *sql.Row, or *sql.Rows at a row.
type rowScanner = interface{ Scan(dest ...any) error }

// scanAll reads every row of a query with scan and closes the rows. It
// takes the query's error too, so that a wrapper per type (scanTokens,
// scanMembers) takes a query's two results straight in.
func scanAll[T any](rows *sql.Rows, err error, scan func(rowScanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	return all, rows.Err()
}
