package store

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxDescriptionLen is the longest description, in characters.
const MaxDescriptionLen = 500

// More audit actions of a token's life.
const (
	ActionTokenUpdated       = "token.updated"
	ActionTokenRotated       = "token.rotated"
	ActionTokenGraceEnded    = "token.grace_ended"
	ActionTokenOldSecretUsed = "token.old_secret_used"
	ActionTokenLeaked        = "token.leaked"
)

func init() {
	AuditActions = append(AuditActions, []struct{ Key, Title string }{
		{ActionTokenUpdated, "Token edited"},
		{ActionTokenRotated, "Token rotated"},
		{ActionTokenGraceEnded, "Rotation grace ended"},
		{ActionTokenOldSecretUsed, "Old secret presented after rotation"},
		{ActionTokenLeaked, "Token reported leaked"},
	}...)
}

// TokenEdit is a change to a token's details; nil fields stay as they are.
type TokenEdit struct {
	Name        *string
	Description *string
	// Roles are a system token's new roles; only who may make system
	// tokens may change them.
	Roles []Role
	// AllowedIPs replaces the allow-list; an empty list allows any address.
	AllowedIPs *AllowList
}

// cleanDescription is a description as it is kept: without the spaces
// around it, and with a browser's CR LF line breaks as LF.
func cleanDescription(d string) string {
	return strings.TrimSpace(strings.ReplaceAll(d, "\r\n", "\n"))
}

// checkDescription is the rule for a (clean) description: at most
// MaxDescriptionLen characters, storable, no control characters but new
// lines and tabs.
func checkDescription(d string) error {
	if utf8.RuneCountInString(d) > MaxDescriptionLen {
		return fieldError("description", "A description can be at most %d characters.", MaxDescriptionLen)
	}
	if !storable(d) || strings.ContainsFunc(d, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }) {
		return fieldError("description", "The description holds characters that cannot be kept.")
	}
	return nil
}

// UpdateToken changes a token actor may manage: its name and description
// (either kind), its roles (a system token; the owner or an admin token),
// its allow-list. Roles and allow-list hold at the token's next use on
// every instance: they are stamped like a revoke. A revoked token cannot
// be edited.
func (d *DB) UpdateToken(ctx context.Context, actor Actor, id int64, e TokenEdit) (Token, error) {
	a := actor.acting()
	if e.Description != nil {
		*e.Description = cleanDescription(*e.Description)
		if err := checkDescription(*e.Description); err != nil {
			return Token{}, err
		}
	}
	if e.Name != nil {
		if msg := nameProblem("Token name", *e.Name, MaxTokenNameLen); msg != "" {
			return Token{}, fieldError("name", "%s", msg)
		}
		*e.Name = cleanName(*e.Name)
	}
	if e.Roles != nil {
		e.Roles = sortRoles(slices.Clone(e.Roles))
		if err := (NewToken{Kind: KindSystem, Name: "x", Roles: e.Roles}).rolesProblem(); err != nil {
			return Token{}, err
		}
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return Token{}, err
	}
	defer tx.Rollback()
	t, err := manageableToken(ctx, tx, a, id)
	if err != nil {
		return Token{}, err
	}
	if !t.Active() {
		return Token{}, Errorf(ECONFLICT, "A revoked token cannot be changed.")
	}
	if e.Roles != nil && t.Kind != KindSystem {
		return Token{}, fieldError("roles", "A personal token acts with its member's roles and takes none of its own.")
	}
	if e.Roles != nil && !a.manager {
		return Token{}, Errorf(EFORBIDDEN, "Only the organization owner, or a token acting as admin, can change a system token's roles.")
	}
	changes := map[string]any{}
	sets, args := []string{}, []any{}
	set := func(column string, v any) { sets, args = append(sets, column+" = ?"), append(args, v) }
	if e.Name != nil && *e.Name != t.Name {
		if NameKey(*e.Name) != NameKey(t.Name) {
			if err := checkNameFree(ctx, tx, acting{orgID: t.OrgID, memberID: t.MemberID}, NewToken{Kind: t.Kind, Name: *e.Name}); err != nil {
				return Token{}, err
			}
		}
		set("name", *e.Name)
		set("name_key", NameKey(*e.Name))
		changes["name"] = map[string]any{"from": t.Name, "to": *e.Name}
	}
	if e.Description != nil && *e.Description != t.Description {
		set("description", *e.Description)
		changes["description"] = map[string]any{"from": t.Description, "to": *e.Description}
	}
	stamp := false
	if e.Roles != nil && !slices.Equal(e.Roles, t.Roles) {
		set("roles", joinRoles(e.Roles, " "))
		changes["roles"] = map[string]any{"from": t.Roles, "to": e.Roles}
		stamp = true
	}
	if e.AllowedIPs != nil && e.AllowedIPs.String() != t.AllowedIPs.String() {
		set("allowed_ips", e.AllowedIPs.String())
		changes["allowed_ips"] = map[string]any{"from": t.AllowedIPs.Strings(), "to": e.AllowedIPs.Strings()}
		stamp = true
	}
	if len(sets) == 0 {
		return t, nil
	}
	var seq int64
	if stamp {
		if seq, err = nextChangeSeq(ctx, tx); err != nil {
			return Token{}, err
		}
		set("change_seq", seq)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tokens SET `+strings.Join(sets, ", ")+` WHERE id = ?`, append(args, id)...); err != nil {
		return Token{}, d.conflictOnUnique(err, map[string]error{"tokens_active_name": errNameTaken(t.Kind)})
	}
	if t, err = findToken(ctx, tx, id); err != nil {
		return Token{}, err
	}
	if err := record(ctx, tx, a.orgID, a, tokenEvent(ActionTokenUpdated, t, changes)); err != nil {
		return Token{}, err
	}
	if err := tx.Commit(); err != nil {
		return Token{}, err
	}
	if stamp {
		d.changed(seq)
	}
	return t, nil
}

// Grace periods a rotation offers: how long the old secret keeps working.
var GracePeriods = []time.Duration{0, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// RotateToken gives a token actor may manage a new secret: the same
// token (id, name, description, roles, allow-list, history) with a new key,
// returned here and nowhere else. The old secret keeps working for grace
// (one of GracePeriods; 0 stops it now) and is refused after. A token
// with an expiry keeps its lifetime, counted from now, within the
// organization's maximum. A token whose old secret is still in its grace
// cannot be rotated again until that grace is ended (EndGrace).
func (d *DB) RotateToken(ctx context.Context, actor Actor, id int64, grace time.Duration) (Token, TokenText, error) {
	a := actor.acting()
	if !slices.Contains(GracePeriods, grace) {
		return Token{}, "", fieldError("grace", "The old secret can stop now, or in 1 hour, 24 hours or 7 days.")
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return Token{}, "", err
	}
	defer tx.Rollback()
	t, err := manageableToken(ctx, tx, a, id)
	if err != nil {
		return Token{}, "", err
	}
	now := tx.now
	switch {
	case !t.Active():
		return Token{}, "", Errorf(ECONFLICT, "A revoked token cannot be rotated.")
	case expired(t.ExpiresAt, now):
		return Token{}, "", Errorf(ECONFLICT, "An expired token cannot be rotated; create a new one.")
	case t.InGrace(now):
		return Token{}, "", Errorf(ECONFLICT, "The previous secret still works until %s. End that grace period before rotating again.", t.GraceUntil.Format(time.RFC3339))
	}
	var expires *time.Time
	if !t.ExpiresAt.IsZero() {
		e := now.Add(t.ExpiresAt.Sub(t.CreatedAt))
		if latest := LatestExpiry(now); e.After(latest) {
			e = latest
		}
		var maxDays sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT max_token_days FROM orgs WHERE id = ?`, t.OrgID).Scan(&maxDays); err != nil {
			return Token{}, "", err
		}
		if limit := now.AddDate(0, 0, int(maxDays.Int64)); maxDays.Valid && e.After(limit) {
			e = limit
		}
		if !a.expires.IsZero() && e.After(a.expires) {
			e = a.expires // a token cannot give another a longer life than its own
		}
		expires = &e
	}
	text := newTokenText(t.Kind)
	digest := DigestOf(string(text))
	seq, err := nextChangeSeq(ctx, tx)
	if err != nil {
		return Token{}, "", err
	}
	graceUntil := now.Add(grace)
	if _, err := tx.ExecContext(ctx, `UPDATE tokens SET prev_digest = digest, prev_last_four = last_four, digest = ?, last_four = ?,
		rotated_at = ?, grace_until = ?, expires_at = ?, old_secret_used_at = NULL, old_secret_used_ip = NULL, change_seq = ?
		WHERE id = ? AND revoked_at IS NULL`, digest[:], text.LastFour(), now.Unix(), graceUntil.Unix(), nullTimePtr(expires), seq, id); err != nil {
		return Token{}, "", err
	}
	if t, err = findToken(ctx, tx, id); err != nil {
		return Token{}, "", err
	}
	details := map[string]any{"previous": t.PrevHint, "grace_until": graceUntil.Format(time.RFC3339), "expires_at": nil}
	if expires != nil {
		details["expires_at"] = expires.Format(time.RFC3339)
	}
	if err := record(ctx, tx, a.orgID, a, tokenEvent(ActionTokenRotated, t, details)); err != nil {
		return Token{}, "", err
	}
	if err := tx.Commit(); err != nil {
		return Token{}, "", err
	}
	d.changed(seq)
	return t, text, nil
}

// EndGrace stops the secret before a token's last rotation now, so it can
// be rotated again. Ending a grace that is not running changes nothing.
func (d *DB) EndGrace(ctx context.Context, actor Actor, id int64) (Token, error) {
	a := actor.acting()
	tx, err := d.begin(ctx)
	if err != nil {
		return Token{}, err
	}
	defer tx.Rollback()
	t, err := manageableToken(ctx, tx, a, id)
	if err != nil {
		return Token{}, err
	}
	if !t.InGrace(tx.now) {
		return t, nil
	}
	seq, err := nextChangeSeq(ctx, tx)
	if err != nil {
		return Token{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tokens SET grace_until = ?, change_seq = ? WHERE id = ?`, tx.now.Unix(), seq, id); err != nil {
		return Token{}, err
	}
	if t, err = findToken(ctx, tx, id); err != nil {
		return Token{}, err
	}
	if err := record(ctx, tx, a.orgID, a, tokenEvent(ActionTokenGraceEnded, t, map[string]any{"previous": t.PrevHint})); err != nil {
		return Token{}, err
	}
	if err := tx.Commit(); err != nil {
		return Token{}, err
	}
	d.changed(seq)
	return t, nil
}
