package store

import (
	"context"
	"slices"
	"strings"
)

// MaxBulkRevoke is the most tokens one bulk revoke takes.
const MaxBulkRevoke = 1000

// Results of revoking one token of a bulk revoke.
const (
	BulkRevoked        = "revoked"
	BulkAlreadyRevoked = "already_revoked"
	BulkNotFound       = "not_found"
)

// BulkResult is what became of one id of a bulk revoke.
type BulkResult struct {
	ID     int64
	Result string // BulkRevoked, BulkAlreadyRevoked or BulkNotFound
	Token  Token  // as it is now; zero when not found
}

// RevokeTokens revokes, in one transaction, the tokens with these ids that
// actor may manage (see RevokeToken), and says per id what became of it,
// in the order given, duplicates once. An id actor may not manage, or of
// another organization, is not found, so ids reveal nothing. With
// allOrNothing, any such id refuses the whole request and changes nothing:
// the page's list holds only what it showed, so a stranger id means a
// crafted request.
func (d *DB) RevokeTokens(ctx context.Context, actor Actor, ids []int64, allOrNothing bool) ([]BulkResult, error) {
	a := actor.acting()
	ids = uniqueIDs(ids)
	switch {
	case len(ids) == 0:
		return nil, fieldError("ids", "Select at least one token.")
	case len(ids) > MaxBulkRevoke:
		return nil, fieldError("ids", "At most %d tokens can be revoked at once.", MaxBulkRevoke)
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if err := checkActor(ctx, tx, a); err != nil {
		return nil, err
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	found, err := tokensOf(ctx, tx, `t.id IN (`+marks+`)`, args...)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]Token, len(found))
	for _, t := range found {
		if canManage(a, t) {
			byID[t.ID] = t
		}
	}
	if allOrNothing && len(byID) < len(ids) {
		return nil, Errorf(ENOTFOUND, "%d of the %d selected tokens cannot be revoked by you or do not exist; nothing was revoked.", len(ids)-len(byID), len(ids))
	}
	results := make([]BulkResult, len(ids))
	var revoke []any
	for i, id := range ids {
		t, ok := byID[id]
		switch {
		case !ok:
			results[i] = BulkResult{ID: id, Result: BulkNotFound}
		case !t.Active():
			results[i] = BulkResult{ID: id, Result: BulkAlreadyRevoked, Token: t}
		default:
			results[i] = BulkResult{ID: id, Result: BulkRevoked}
			revoke = append(revoke, id)
		}
	}
	if len(revoke) == 0 {
		return results, nil
	}
	seq, err := nextChangeSeq(ctx, tx)
	if err != nil {
		return nil, err
	}
	marks = strings.TrimSuffix(strings.Repeat("?, ", len(revoke)), ", ")
	rows, err := tx.QueryContext(ctx, `UPDATE tokens SET revoked_at = ?, revoked_by = ?, revoked_by_token = ?, revoke_reason = ?, change_seq = ?
		WHERE revoked_at IS NULL AND id IN (`+marks+`) RETURNING id`,
		append([]any{tx.now.Unix(), nullID(a.createdBy()), nullID(a.tokenID), ReasonRevoked, seq}, revoke...)...)
	if err != nil {
		return nil, err
	}
	mine := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		mine[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	now, err := tokensOf(ctx, tx, `t.id IN (`+marks+`)`, revoke...)
	if err != nil {
		return nil, err
	}
	who, err := actorFor(ctx, tx, a)
	if err != nil {
		return nil, err
	}
	revoked := make(map[int64]Token, len(now))
	for _, t := range now {
		revoked[t.ID] = t
		if !mine[t.ID] {
			continue // revoked by someone else since the read: theirs
		}
		if err := recordAs(ctx, tx, a.orgID, who, tokenEvent(ActionTokenRevoked, t, map[string]any{"reason": ReasonRevoked, "kind": t.Kind, "bulk": true})); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	d.changed(seq)
	for i := range results {
		if results[i].Result == BulkRevoked {
			results[i].Token = revoked[results[i].ID]
			if !mine[results[i].ID] {
				results[i].Result = BulkAlreadyRevoked
			}
		}
	}
	return results, nil
}

// uniqueIDs is ids without repeats, in first-seen order.
func uniqueIDs(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	return slices.DeleteFunc(slices.Clone(ids), func(id int64) bool {
		dup := seen[id]
		seen[id] = true
		return dup
	})
}
