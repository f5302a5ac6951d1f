package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// MaxTokenLifetimeDays is the longest maximum lifetime an owner may set.
const MaxTokenLifetimeDays = 3650

// Org is an organization as its settings page shows it.
type Org struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	// MaxTokenDays is the longest lifetime a new token may have; 0: no limit,
	// and "No expiration" may be chosen.
	MaxTokenDays int
}

// Org returns the actor's organization.
func (d *DB) Org(ctx context.Context, actor Actor) (Org, error) {
	var o Org
	var created int64
	var maxDays sql.NullInt64
	err := d.db.QueryRowContext(ctx, `SELECT id, name, created_at, max_token_days FROM orgs WHERE id = ?`, actor.acting().orgID).
		Scan(&o.ID, &o.Name, &created, &maxDays)
	if errors.Is(err, sql.ErrNoRows) {
		return Org{}, Errorf(ENOTFOUND, "No such organization.")
	} else if err != nil {
		return Org{}, err
	}
	o.CreatedAt, o.MaxTokenDays = unixTime(created), int(maxDays.Int64)
	return o, nil
}

// SetMaxTokenLifetime sets the longest lifetime new tokens of the actor's
// organization may have, in days; 0 lifts the limit. Only the owner (on the
// API, a token acting as admin) may. Tokens made before keep their expiry.
func (d *DB) SetMaxTokenLifetime(ctx context.Context, actor Actor, days int) (Org, error) {
	a := actor.acting()
	if !a.manager {
		return Org{}, Errorf(EFORBIDDEN, "Only the organization owner can set the maximum token lifetime.")
	}
	if days < 0 || days > MaxTokenLifetimeDays {
		return Org{}, fieldError("max_token_days", "The maximum lifetime must be between 1 and %d days, or none.", MaxTokenLifetimeDays)
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return Org{}, err
	}
	defer tx.Rollback()
	if err := checkActor(ctx, tx, a); err != nil {
		return Org{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE orgs SET max_token_days = ? WHERE id = ?`, nullID(int64(days)), a.orgID); err != nil {
		return Org{}, err
	}
	if err := tx.Commit(); err != nil {
		return Org{}, err
	}
	return d.Org(ctx, actor)
}
