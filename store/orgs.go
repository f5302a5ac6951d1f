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
	// AuditRetentionDays is how long audit events are kept; 0: forever.
	AuditRetentionDays int
}

// Org returns the actor's organization.
func (d *DB) Org(ctx context.Context, actor Actor) (Org, error) {
	return d.orgByID(ctx, actor.acting().orgID)
}

func (d *DB) orgByID(ctx context.Context, id int64) (Org, error) {
	var o Org
	var created int64
	var maxDays, keepDays sql.NullInt64
	err := d.db.QueryRowContext(ctx, `SELECT id, name, created_at, max_token_days, audit_retention_days FROM orgs WHERE id = ?`, id).
		Scan(&o.ID, &o.Name, &created, &maxDays, &keepDays)
	if errors.Is(err, sql.ErrNoRows) {
		return Org{}, Errorf(ENOTFOUND, "No such organization.")
	} else if err != nil {
		return Org{}, err
	}
	o.CreatedAt, o.MaxTokenDays, o.AuditRetentionDays = unixTime(created), int(maxDays.Int64), int(keepDays.Int64)
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
	return d.changePolicy(ctx, a, "max_token_days", `max_token_days`, days)
}
