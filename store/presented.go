package store

import (
	"context"
	"sync"
	"time"
)

// A revoked or expired token still being presented is an integration left
// behind, or someone trying a leaked key: the audit log says so, at most
// once an hour per token and action, written with the last-use batch, off
// the checking path.
const presentedInterval = time.Hour

// presentation is a queued audit event of a dead token, or of a rotated
// token's old secret after its grace, presented.
type presentation struct {
	tokenID, orgID  int64
	action          string
	at              int64
	addr, userAgent string
}

type presentedKey struct {
	tokenID int64
	action  string
}

type presentedQueue struct {
	mu      sync.Mutex
	pending map[presentedKey]presentation
}

// presentedDead queues an event for ct presented at now from addr, unless
// one was queued within the hour: a lock only then, never on a working
// token's check.
func (d *DB) presentedDead(ct *cachedToken, action string, now time.Time, addr, userAgent string) {
	last, t := ct.presented.Load(), now.Unix()
	if t-last < int64(presentedInterval/time.Second) || !ct.presented.CompareAndSwap(last, t) {
		return
	}
	q := &d.presented
	q.mu.Lock()
	if q.pending == nil {
		q.pending = make(map[presentedKey]presentation)
	}
	q.pending[presentedKey{ct.p.TokenID, action}] = presentation{tokenID: ct.p.TokenID, orgID: ct.p.OrgID, action: action, at: t, addr: addr, userAgent: userAgent}
	q.mu.Unlock()
}

// flushPresented writes the queued presentations in one transaction. Each
// instance queues at most one an hour per token; the write skips a token
// whose same event another instance wrote within the hour, so the log has
// at most one an hour across all of them.
func (d *DB) flushPresented(ctx context.Context) error {
	q := &d.presented
	q.mu.Lock()
	pending := q.pending
	q.pending = nil
	q.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	err := d.writePresented(ctx, pending)
	if err != nil {
		q.mu.Lock()
		if q.pending == nil {
			q.pending = make(map[presentedKey]presentation)
		}
		for id, p := range pending {
			if _, ok := q.pending[id]; !ok {
				q.pending[id] = p
			}
		}
		q.mu.Unlock()
	}
	return err
}

func (d *DB) writePresented(ctx context.Context, pending map[presentedKey]presentation) error {
	tx, err := d.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, p := range pending {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE target_token_id = ? AND action = ? AND at > ?`,
			p.tokenID, p.action, p.at-int64(presentedInterval/time.Second)).Scan(&n); err != nil {
			return err
		} else if n > 0 {
			continue
		}
		t, err := findToken(ctx, tx, p.tokenID)
		if err != nil {
			return err
		}
		who, err := actorFor(ctx, tx, acting{tokenID: t.ID})
		if err != nil {
			return err
		}
		e := tokenEvent(p.action, t, map[string]any{"kind": t.Kind, "state": t.State(unixTime(p.at))})
		switch {
		case p.action == ActionTokenOldSecretUsed:
			// The old secret acts as itself, by the hint it had.
			who.label = t.PrevHint + " (" + t.Name + ", previous secret)"
			e.details["previous"] = t.PrevHint
			e.details["grace_ended_at"] = t.GraceUntil.Format(time.RFC3339)
			if _, err := tx.ExecContext(ctx, `UPDATE tokens SET old_secret_used_at = ?, old_secret_used_ip = ? WHERE id = ?`,
				p.at, p.addr, t.ID); err != nil {
				return err
			}
		case !t.RevokedAt.IsZero():
			e.details["revoked_at"] = t.RevokedAt.Format(time.RFC3339)
			e.details["reason"] = t.RevokeReason
		case !t.ExpiresAt.IsZero():
			e.details["expired_at"] = t.ExpiresAt.Format(time.RFC3339)
		}
		tx.now = unixTime(p.at)
		if err := recordAs(WithClient(ctx, Client{Addr: p.addr, UserAgent: p.userAgent}), tx, p.orgID, who, e); err != nil {
			return err
		}
	}
	return tx.Commit()
}
