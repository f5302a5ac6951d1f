package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"
	"unicode/utf8"
)

// MaxLeakReport is the most strings one leak report may hold.
const MaxLeakReport = 100

// Leak report labels, as GitHub's secret scanning partner program names
// them.
const (
	LeakTruePositive  = "true_positive"
	LeakFalsePositive = "false_positive"
)

// LeakItem is one string a scanner found, where, and by what means.
type LeakItem struct {
	Token  string
	URL    string
	Source string
}

// LeakResult is the answer about one LeakItem: the SHA-256 of the string
// as found (hex), the kind of key it is, and whether it is one of ours.
// It never says whose.
type LeakResult struct {
	TokenHash string
	TokenType string
	Label     string
}

// Token types a leak report answer names.
const (
	LeakTypePersonal = "tokend_personal_access_token"
	LeakTypeSystem   = "tokend_system_access_token"
	LeakTypeUnknown  = "unknown"
)

// maxLeakURLLen bounds the URL kept with a leaked token.
const maxLeakURLLen = 2048

// ReportLeaks acts on a leak report: every string that is a working key of
// this tokend (a token's secret, or the one before its last rotation while
// in its grace) revokes its token at once, with reason leaked and the URL
// it was found at, in one transaction. A key of ours that no longer works
// is marked leaked but changes nothing else. Each string is answered
// true_positive if it is a key this tokend issued, false_positive
// otherwise.
func (d *DB) ReportLeaks(ctx context.Context, items []LeakItem) ([]LeakResult, error) {
	if len(items) == 0 || len(items) > MaxLeakReport {
		return nil, fieldError("tokens", "A report holds from 1 to %d strings.", MaxLeakReport)
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	results := make([]LeakResult, len(items))
	var seq int64
	for i, it := range items {
		sum := sha256.Sum256([]byte(it.Token))
		results[i] = LeakResult{TokenHash: hex.EncodeToString(sum[:]), TokenType: LeakTypeUnknown, Label: LeakFalsePositive}
		text := strings.TrimSpace(it.Token)
		kind, ok := ParseTokenText(text)
		if !ok {
			continue
		}
		results[i].TokenType = LeakTypePersonal
		if kind == KindSystem {
			results[i].TokenType = LeakTypeSystem
		}
		digest := DigestOf(text)
		var id int64
		var current bool
		err := tx.QueryRowContext(ctx, `SELECT id, digest = ? FROM tokens WHERE digest = ? OR prev_digest = ?`, digest[:], digest[:], digest[:]).Scan(&id, &current)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		} else if err != nil {
			return nil, err
		}
		results[i].Label = LeakTruePositive
		t, err := findToken(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		url := cleanLeakURL(it.URL)
		live := t.Active() && !expired(t.ExpiresAt, tx.now) && (current || t.InGrace(tx.now))
		details := map[string]any{"url": url, "source": cleanLeakURL(it.Source), "secret": "current", "revoked": live}
		if !current {
			details["secret"] = "previous"
		}
		if live {
			if seq == 0 {
				if seq, err = nextChangeSeq(ctx, tx); err != nil {
					return nil, err
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?, revoke_reason = ?, leaked_at = ?, leak_url = ?, change_seq = ?
				WHERE id = ? AND revoked_at IS NULL`, tx.now.Unix(), ReasonLeaked, tx.now.Unix(), url, seq, id); err != nil {
				return nil, err
			}
		} else if _, err := tx.ExecContext(ctx, `UPDATE tokens SET leaked_at = coalesce(leaked_at, ?), leak_url = coalesce(leak_url, ?) WHERE id = ?`,
			tx.now.Unix(), url, id); err != nil {
			return nil, err
		}
		who := eventActor{kind: ActorAnonymous, label: "leak report"}
		if err := recordAs(ctx, tx, t.OrgID, who, tokenEvent(ActionTokenLeaked, t, details)); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if seq != 0 {
		d.changed(seq)
	}
	return results, nil
}

// cleanLeakURL keeps what a report says of where a key was found fit to
// store and show.
func cleanLeakURL(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	for len(s) > maxLeakURLLen {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}
