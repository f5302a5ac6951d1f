package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"tokend/store"
	"tokend/views"
)

// auditPageSize is how many events the Audit Log shows at once.
const auditPageSize = store.DefaultAuditPage

// auditFilterParams are the filters of the page and its exports, as the URL
// names them: the GET form's fields.
var auditFilterParams = []string{"action", "actor_kind", "token_id", "member_id", "actor_token_id", "actor_member_id", "from", "to"}

// auditActorKinds are the kinds of actor the filter offers, as people read
// them.
var auditActorKinds = []views.Option{
	{Value: store.ActorMember, Label: "Member"},
	{Value: store.ActorToken, Label: "Token"},
	{Value: store.ActorCLI, Label: "Command line"},
	{Value: store.ActorAnonymous, Label: "Anonymous"},
}

func actorKindTitle(kind string) string {
	for _, k := range auditActorKinds {
		if k.Value == kind {
			return k.Label
		}
	}
	return kind
}

// auditIDLabels name the id filters in messages and in the active filters.
var auditIDLabels = map[string]string{
	"token_id": "Token id", "member_id": "Member id", "actor_token_id": "Done by token id",
	"actor_member_id": "Done by member id", "before": "before",
}

// readAuditQuery reads the filters of the Audit Log and its exports from q:
// the store's filter, the filters given (for links that keep them, without
// before) and, by field, what could not be read. An empty value is no
// filter, as the form sends every field; a value given twice is refused
// rather than one of them guessed at.
func readAuditQuery(q url.Values) (store.AuditFilter, url.Values, map[string]string) {
	var f store.AuditFilter
	kept := url.Values{}
	errs := map[string]string{}
	var from, to time.Time
	for _, k := range append(slices.Clone(auditFilterParams), "before") {
		vs := q[k]
		if len(vs) == 0 {
			continue
		}
		if len(vs) > 1 {
			errs[k] = "Give " + k + " once, not " + strconv.Itoa(len(vs)) + " times."
			continue
		}
		v := strings.TrimSpace(vs[0])
		if v == "" {
			continue
		}
		switch k {
		case "action":
			if store.ActionTitle(v) == v {
				errs[k] = "Choose an action from the list."
				continue
			}
			f.Action = v
		case "actor_kind":
			if actorKindTitle(v) == v {
				errs[k] = "Choose who did it from the list: a member, a token, the command line or anonymous."
				continue
			}
			f.ActorKind = v
		case "from", "to":
			d, err := time.Parse(time.DateOnly, v)
			if err != nil {
				errs[k] = "“" + map[string]string{"from": "From", "to": "To"}[k] + "” must be a date, such as 2026-11-26."
				continue
			}
			if k == "from" {
				from, f.Since = d, d
			} else {
				// To includes its whole day.
				to, f.Until = d, d.AddDate(0, 0, 1)
			}
		default:
			id, ok := parseID(v)
			if !ok {
				errs[k] = "“" + auditIDLabels[k] + "” must be an id: a whole number such as 12."
				continue
			}
			switch k {
			case "token_id":
				f.TokenID = id
			case "member_id":
				f.MemberID = id
			case "actor_token_id":
				f.ActorTokenID = id
			case "actor_member_id":
				f.ActorMemberID = id
			case "before":
				f.BeforeID = id
				continue // paging, not a filter
			}
		}
		kept.Set(k, v)
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		errs["to"] = "“To” must not be before “From”."
	}
	return f, kept, errs
}

// parseID reads an id as this server writes it: a positive number, no sign,
// no leading zeros.
func parseID(v string) (int64, bool) {
	id, err := strconv.ParseInt(v, 10, 64)
	return id, err == nil && id > 0 && strconv.FormatInt(id, 10) == v
}

func (s *Server) auditPage(c echo.Context) error {
	return s.showAudit(c, c.Request().URL.RawQuery, "")
}

// showAudit renders the Audit Log as the query rawQuery filters it. With
// retentionErr, the retention form posted was refused: the page comes
// back with the message beside that field, as 422.
func (s *Server) showAudit(c echo.Context, rawQuery, retentionErr string) error {
	m, _ := memberOf(c)
	ctx := c.Request().Context()
	flash, err := s.takeFlash(c)
	if err != nil {
		return err
	}
	org, err := s.db.Org(ctx, m)
	if err != nil {
		return err
	}
	q, qerr := url.ParseQuery(rawQuery)
	f, kept, errs := readAuditQuery(q)
	if qerr != nil {
		errs[""] = "the address's query does not parse."
	}
	p := views.AuditPage{
		Viewer: viewerOf(c, m), Flash: flash, Filter: auditFilterForm(q),
		Retention: retentionOptions(org.AuditRetentionDays), RetentionError: retentionErr, Errors: errs,
	}
	status := http.StatusOK
	if retentionErr != "" {
		status = http.StatusUnprocessableEntity
	}
	if len(errs) > 0 {
		return render(c, http.StatusBadRequest, views.AuditView(p))
	}
	f.Limit = auditPageSize + 1 // one more tells whether there are older ones
	es, err := s.db.AuditEvents(ctx, m, f)
	if err != nil {
		return err
	}
	if len(es) > auditPageSize {
		es = es[:auditPageSize]
		more := cloneQuery(kept)
		more.Set("before", strconv.FormatInt(es[len(es)-1].ID, 10))
		p.MoreURL = withQuery(auditRoot, more)
	}
	if f.BeforeID != 0 {
		p.NewestURL = withQuery(auditRoot, kept)
	}
	p.Events = make([]views.AuditRow, len(es))
	for i, e := range es {
		p.Events[i] = auditRow(e)
	}
	if p.Active, err = s.activeFilters(ctx, m, kept); err != nil {
		return err
	}
	csvQ, jsonlQ := cloneQuery(kept), cloneQuery(kept)
	csvQ.Set("format", "csv")
	jsonlQ.Set("format", "jsonl")
	p.ExportCSV, p.ExportJSONL = withQuery("/audit/export", csvQ), withQuery("/audit/export", jsonlQ)
	return render(c, status, views.AuditView(p))
}

func cloneQuery(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// auditFilterForm is the filter form filled in with what the URL says,
// readable or not, so that a mistake can be corrected where it was made.
func auditFilterForm(q url.Values) views.AuditFilterForm {
	form := views.AuditFilterForm{
		TokenID: q.Get("token_id"), MemberID: q.Get("member_id"),
		ActorTokenID: q.Get("actor_token_id"), ActorMemberID: q.Get("actor_member_id"),
		From: q.Get("from"), To: q.Get("to"),
	}
	for _, a := range store.AuditActions {
		form.Actions = append(form.Actions, views.Option{Value: a.Key, Label: a.Title, Selected: a.Key == q.Get("action")})
	}
	for _, k := range auditActorKinds {
		k.Selected = k.Value == q.Get("actor_kind")
		form.ActorKinds = append(form.ActorKinds, k)
	}
	return form
}

// activeFilters says which filters are in force, naming the token or member
// an id filter is about when it is one of the organization's.
func (s *Server) activeFilters(ctx context.Context, m store.Member, kept url.Values) ([]views.AuditActiveFilter, error) {
	var active []views.AuditActiveFilter
	for _, k := range auditFilterParams {
		v := kept.Get(k)
		if v == "" {
			continue
		}
		a := views.AuditActiveFilter{Value: v}
		switch k {
		case "action":
			a.Name, a.Value = "Action", store.ActionTitle(v)
		case "actor_kind":
			a.Name, a.Value = "Done by", actorKindTitle(v)
		case "from":
			a.Name = "From"
		case "to":
			a.Name = "To"
		case "token_id", "actor_token_id":
			a.Name = map[string]string{"token_id": "Token", "actor_token_id": "Done by token"}[k]
			id, _ := parseID(v)
			t, err := s.db.Token(ctx, m, id)
			if err == nil {
				a.Value = t.Hint() + " (" + t.Name + ")"
			} else if store.ErrorCode(err) != store.ENOTFOUND {
				return nil, err
			} else {
				a.Value = "#" + v
			}
		case "member_id", "actor_member_id":
			a.Name = map[string]string{"member_id": "Member", "actor_member_id": "Done by member"}[k]
			id, _ := parseID(v)
			mm, err := s.db.MemberByID(ctx, m, id)
			if err == nil {
				a.Value = mm.Name + " <" + mm.Email + ">"
			} else if store.ErrorCode(err) != store.ENOTFOUND {
				return nil, err
			} else {
				a.Value = "#" + v
			}
		}
		rest := cloneQuery(kept)
		rest.Del(k)
		a.RemoveURL = withQuery(auditRoot, rest)
		active = append(active, a)
	}
	return active, nil
}

// auditTimeLayout is an event's time on the page: to the second, in UTC.
const auditTimeLayout = "Jan 2, 2006 15:04:05 MST"

func auditRow(e store.AuditEvent) views.AuditRow {
	r := views.AuditRow{
		ID: e.ID, Time: e.At.UTC().Format(auditTimeLayout), TimeISO: e.At.UTC().Format(time.RFC3339),
		Action: store.ActionTitle(e.Action), ActionKey: e.Action,
		ActorKind: actorKindTitle(e.ActorKind), Actor: e.Actor,
		Target: e.Target, ClientIP: e.ClientIP, UserAgent: e.UserAgent,
		Details: detailPairs(e.Details),
	}
	// "command line" says what the badge would: say it once.
	if strings.EqualFold(r.Actor, r.ActorKind) {
		r.Actor, r.ActorKind = r.ActorKind, ""
	}
	switch {
	case e.ActorKind == store.ActorToken && e.ActorTokenID != 0:
		r.ActorURL = fmt.Sprintf("/audit?token_id=%d", e.ActorTokenID)
	case e.ActorKind == store.ActorMember && e.ActorMemberID != 0:
		r.ActorURL = fmt.Sprintf("/audit?member_id=%d", e.ActorMemberID)
	}
	switch {
	case e.TargetKind == store.TargetToken && e.TargetTokenID != 0:
		r.TargetURL = fmt.Sprintf("/audit?token_id=%d", e.TargetTokenID)
	case e.TargetKind == store.TargetMember && e.TargetMemberID != 0:
		r.TargetURL = fmt.Sprintf("/audit?member_id=%d", e.TargetMemberID)
	}
	return r
}

// detailPairs are an event's details as "key: value" lines, keys in
// alphabetical order, lists joined with commas and null as "none".
func detailPairs(raw json.RawMessage) []views.AuditDetail {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		if s := strings.TrimSpace(string(raw)); s != "" {
			return []views.AuditDetail{{Key: "details", Value: s}}
		}
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	pairs := make([]views.AuditDetail, len(keys))
	for i, k := range keys {
		pairs[i] = views.AuditDetail{Key: strings.ReplaceAll(k, "_", " "), Value: detailValue(m[k])}
	}
	return pairs
}

func detailValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case []any:
		if len(v) == 0 {
			return "none"
		}
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = detailValue(x)
		}
		return strings.Join(parts, ", ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// retentionOptions is the choice of how long audit events are kept.
func retentionOptions(current int) []views.Option {
	opts := make([]views.Option, len(store.AuditRetentionChoices))
	for i, d := range store.AuditRetentionChoices {
		opts[i] = views.Option{Value: strconv.Itoa(d), Label: retentionLabel(d), Selected: d == current}
	}
	return opts
}

func retentionLabel(days int) string {
	switch days {
	case 0:
		return "Forever"
	case 365:
		return "1 year"
	}
	return fmt.Sprintf("%d days", days)
}

// saveAuditRetention sets how long the organization keeps its audit events.
// The store records the change as an event of its own.
func (s *Server) saveAuditRetention(c echo.Context) error {
	m, _ := memberOf(c)
	form, err := formOf(c)
	if err != nil {
		return err
	}
	if len(form["audit_retention_days"]) > 1 {
		return s.showAudit(c, "", "Choose one retention, not several.")
	}
	days, ok := listedDays(form.Get("audit_retention_days"), store.AuditRetentionChoices)
	if !ok {
		days = -1 // not a choice: the store refuses it, in its words
	}
	if _, err := s.db.SetAuditRetention(c.Request().Context(), m, days); store.ErrorCode(err) == store.EINVALID {
		return s.showAudit(c, "", sentence(store.ErrorMessage(err)))
	} else if err != nil {
		return err
	}
	msg := "Audit events are now kept forever."
	if days > 0 {
		msg = "Audit events are now kept for " + retentionLabel(days) + "; older ones are removed within the hour."
	}
	return s.redirectSaying(c, auditRoot, msg)
}

// auditColumns are the fields of an exported event, in the CSV's order and
// under the JSON lines' names.
var auditColumns = []string{"id", "time", "action", "actor_kind", "actor", "actor_member_id", "actor_token_id",
	"target_kind", "target", "target_token_id", "target_member_id", "client_ip", "user_agent", "details"}

// exportAudit is GET /audit/export: every event the filters match, not one
// page, as CSV or JSON lines. Pages of store.MaxAuditPage events are read
// and written one at a time, so an export of any size holds one page in
// memory.
func (s *Server) exportAudit(c echo.Context) error {
	m, _ := memberOf(c)
	ctx := c.Request().Context()
	q, err := url.ParseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The address's query does not parse.")
	}
	format := q.Get("format")
	if len(q["format"]) != 1 || format != "csv" && format != "jsonl" {
		return echo.NewHTTPError(http.StatusBadRequest, "Choose the export's format: format=csv or format=jsonl.")
	}
	f, _, errs := readAuditQuery(q)
	if len(errs) > 0 {
		return echo.NewHTTPError(http.StatusBadRequest, views.AuditPage{Errors: errs}.Problem())
	}
	f.Limit = store.MaxAuditPage
	// The first page before anything is sent: a failure now is an error
	// page, not a file cut short.
	es, err := s.db.AuditEvents(ctx, m, f)
	if err != nil {
		return err
	}

	var enc auditEncoder = newCSVEncoder(c.Response())
	contentType := "text/csv; charset=utf-8"
	if format == "jsonl" {
		enc, contentType = newJSONLEncoder(c.Response()), "application/jsonl; charset=utf-8"
	}
	name := fmt.Sprintf("tokend-audit-%s-%s.%s", fileSlug(m.OrgName), s.db.Now().UTC().Format(time.DateOnly), format)
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentType)
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	noStore(c)
	c.Response().WriteHeader(http.StatusOK)

	if err := enc.begin(); err != nil {
		return s.abortExport(c, err)
	}
	for {
		for _, e := range es {
			if err := enc.encode(e); err != nil {
				return s.abortExport(c, err)
			}
		}
		if err := enc.flush(); err != nil {
			return s.abortExport(c, err)
		}
		c.Response().Flush()
		if len(es) < store.MaxAuditPage {
			return nil
		}
		f.BeforeID = es[len(es)-1].ID
		if es, err = s.db.AuditEvents(ctx, m, f); err != nil {
			return s.abortExport(c, err)
		}
	}
}

// abortExport ends an export that failed after its first bytes were sent.
// The status cannot change any more, so the connection is cut: the browser
// reports a failed download rather than keeping a file that looks whole.
func (s *Server) abortExport(c echo.Context, err error) error {
	if c.Request().Context().Err() != nil {
		return nil // the client went away
	}
	s.logFailure(c, err)
	panic(http.ErrAbortHandler)
}

// fileSlug is an organization's name fit for a file name in a header:
// lower-case ASCII letters and digits, other runs made one hyphen.
func fileSlug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 {
		return "org"
	}
	return b.String()
}

// auditEncoder writes exported events, buffered until flush.
type auditEncoder interface {
	begin() error
	encode(store.AuditEvent) error
	flush() error
}

type csvEncoder struct {
	out io.Writer
	w   *csv.Writer
}

func newCSVEncoder(w io.Writer) *csvEncoder { return &csvEncoder{w, csv.NewWriter(w)} }

// utf8BOM starts the CSV: without it Excel reads the file in the system's
// code page, and "tks_…a1B9" comes out as "tks_â€¦a1B9".
const utf8BOM = "\uFEFF"

func (e *csvEncoder) begin() error {
	if _, err := io.WriteString(e.out, utf8BOM); err != nil {
		return err
	}
	return e.write(auditColumns)
}

func (e *csvEncoder) encode(ev store.AuditEvent) error {
	details := ev.Details
	if len(details) == 0 {
		details = json.RawMessage("{}")
	}
	return e.write([]string{
		strconv.FormatInt(ev.ID, 10), ev.At.UTC().Format(time.RFC3339), ev.Action, ev.ActorKind, ev.Actor,
		optID(ev.ActorMemberID), optID(ev.ActorTokenID), ev.TargetKind, ev.Target,
		optID(ev.TargetTokenID), optID(ev.TargetMemberID), ev.ClientIP, ev.UserAgent, string(details),
	})
}

// write writes one row, every cell neutralised.
func (e *csvEncoder) write(row []string) error {
	for i, cell := range row {
		row[i] = neutraliseCell(cell)
	}
	return e.w.Write(row)
}

func (e *csvEncoder) flush() error {
	e.w.Flush()
	return e.w.Error()
}

func optID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// neutraliseCell keeps a spreadsheet from running a cell as a formula: a
// cell that starts with =, +, -, @, a tab or a carriage return gets a
// single quote in front (OWASP, CSV injection). Names, labels and user
// agents are typed by whoever made the request, so every cell is checked.
func neutraliseCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

type jsonlEncoder struct {
	w   *bufio.Writer
	enc *json.Encoder
}

func newJSONLEncoder(w io.Writer) *jsonlEncoder {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &jsonlEncoder{bw, enc}
}

func (e *jsonlEncoder) begin() error { return nil }

func (e *jsonlEncoder) flush() error { return e.w.Flush() }

// auditRecord is an exported event in JSON lines: the CSV's columns, with
// ids null where there are none and the details an object.
type auditRecord struct {
	ID             int64           `json:"id"`
	Time           string          `json:"time"`
	Action         string          `json:"action"`
	ActorKind      string          `json:"actor_kind"`
	Actor          string          `json:"actor"`
	ActorMemberID  *int64          `json:"actor_member_id"`
	ActorTokenID   *int64          `json:"actor_token_id"`
	TargetKind     string          `json:"target_kind"`
	Target         string          `json:"target"`
	TargetTokenID  *int64          `json:"target_token_id"`
	TargetMemberID *int64          `json:"target_member_id"`
	ClientIP       string          `json:"client_ip"`
	UserAgent      string          `json:"user_agent"`
	Details        json.RawMessage `json:"details"`
}

func (e *jsonlEncoder) encode(ev store.AuditEvent) error {
	details := ev.Details
	if !json.Valid(details) {
		details = json.RawMessage("{}")
	}
	return e.enc.Encode(auditRecord{
		ID: ev.ID, Time: ev.At.UTC().Format(time.RFC3339), Action: ev.Action, ActorKind: ev.ActorKind, Actor: ev.Actor,
		ActorMemberID: nullableID(ev.ActorMemberID), ActorTokenID: nullableID(ev.ActorTokenID),
		TargetKind: ev.TargetKind, Target: ev.Target,
		TargetTokenID: nullableID(ev.TargetTokenID), TargetMemberID: nullableID(ev.TargetMemberID),
		ClientIP: ev.ClientIP, UserAgent: ev.UserAgent, Details: details,
	})
}

// nullableID is an id for JSON: null for none.
func nullableID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}
