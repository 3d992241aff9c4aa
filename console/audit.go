package console

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// Audit log query limits.
const (
	defaultAuditPage = 100
	maxAuditText     = 200 // characters of the q parameter
	maxAuditAction   = 64
)

func (a *Console) auditRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/admin/audit", Access: web.Admin, Func: a.auditList},
		{Pattern: "GET /api/v1/admin/audit/export", Access: web.Admin, Func: a.auditExport},
		{Pattern: "GET /api/v1/admin/audit/verify", Access: web.Admin, Func: a.auditVerify},
	}
}

// AuditView is an audit entry as the console API sends it: hashes in hex,
// detail as the JSON object it is.
type AuditView struct {
	Seq       int64           `json:"seq"`
	At        int64           `json:"at"`
	Actor     int64           `json:"actor"`
	ActorName string          `json:"actor_name"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	IP        string          `json:"ip"`
	Outcome   string          `json:"outcome"`
	Emergency bool            `json:"emergency"`
	Detail    json.RawMessage `json:"detail"`
	Prev      string          `json:"prev"`
	Hash      string          `json:"hash"`
}

func viewAudit(e *store.AuditEntry) AuditView {
	v := AuditView{Seq: e.Seq, At: e.At, Actor: e.Actor, ActorName: e.ActorName, Action: e.Action, Target: e.Target,
		IP: e.IP, Outcome: e.Outcome, Emergency: e.Emergency, Prev: hex.EncodeToString(e.Prev), Hash: hex.EncodeToString(e.Hash)}
	switch {
	case e.Detail == "":
		v.Detail = json.RawMessage("{}")
	case json.Valid([]byte(e.Detail)):
		v.Detail = json.RawMessage(e.Detail)
	default:
		// Every entry the server writes holds a JSON object; anything else
		// is shown as the text it is.
		b, _ := json.Marshal(e.Detail)
		v.Detail = b
	}
	return v
}

func badParam(name, format string, a ...any) error {
	return protocol.Errorf(protocol.CodeBadRequest, "%s: %s", name, fmt.Sprintf(format, a...))
}

// ParseDay parses a YYYY-MM-DD date as the start of that UTC day.
func ParseDay(s string) (time.Time, error) {
	t, err := time.Parse(store.DayLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	if t.Year() < 1970 {
		// Times are ms since 1970; nothing is older.
		return time.Time{}, fmt.Errorf("%q is before 1970", s)
	}
	return t, nil
}

// parseTime parses a filter time: ms since the epoch, or a YYYY-MM-DD UTC
// date. A date as an end (end is true) means the end of that day, so
// from=2026-03-01&to=2026-03-01 is the whole day.
func parseTime(s string, end bool) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 {
		return ms, nil
	}
	d, err := ParseDay(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither ms since the epoch nor a date (YYYY-MM-DD)", s)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d.UnixMilli(), nil
}

// ParseAuditQuery reads the audit log's filters from URL parameters: q,
// action (a prefix), actor (a user id), outcome (ok or fail), emergency
// (true: only break-glass entries), from and to
// (ms since the epoch or YYYY-MM-DD, to exclusive as ms and inclusive as
// a date), before (a seq, the cursor of the next page) and limit (1-500).
func ParseAuditQuery(p url.Values) (store.AuditQuery, error) {
	q := store.AuditQuery{Limit: defaultAuditPage}
	q.Text = strings.TrimSpace(p.Get("q"))
	if len([]rune(q.Text)) > maxAuditText {
		return q, badParam("q", "at most %d characters", maxAuditText)
	}
	q.Action = strings.TrimSpace(p.Get("action"))
	if len(q.Action) > maxAuditAction || strings.IndexFunc(q.Action, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r == '.' || r == '_')
	}) >= 0 {
		return q, badParam("action", "an action or its prefix, like login.fail or user. (lower-case letters, dots and underscores, at most %d)", maxAuditAction)
	}
	var err error
	if s := p.Get("actor"); s != "" {
		if q.Actor, err = strconv.ParseInt(s, 10, 64); err != nil || q.Actor <= 0 {
			return q, badParam("actor", "a user id (a positive whole number)")
		}
	}
	switch q.Outcome = p.Get("outcome"); q.Outcome {
	case "", store.OutcomeOK, store.OutcomeFail:
	default:
		return q, badParam("outcome", "ok or fail")
	}
	switch p.Get("emergency") {
	case "", "false", "0":
	case "true", "1":
		q.Emergency = true
	default:
		return q, badParam("emergency", "true or false")
	}
	if s := p.Get("from"); s != "" {
		if q.From, err = parseTime(s, false); err != nil {
			return q, badParam("from", "%v", err)
		}
	}
	if s := p.Get("to"); s != "" {
		if q.To, err = parseTime(s, true); err != nil {
			return q, badParam("to", "%v", err)
		}
	}
	if q.From != 0 && q.To != 0 && q.To <= q.From {
		return q, badParam("to", "must be after from")
	}
	if s := p.Get("before"); s != "" {
		if q.Before, err = strconv.ParseInt(s, 10, 64); err != nil || q.Before <= 0 {
			return q, badParam("before", "a seq (a positive whole number) from next_before")
		}
	}
	if s := p.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 1 || q.Limit > store.MaxAuditPage {
			return q, badParam("limit", "1 to %d", store.MaxAuditPage)
		}
	}
	return q, nil
}

// filterDetail is the audit detail of a query: the filters that were set.
func filterDetail(q store.AuditQuery) map[string]any {
	d := map[string]any{}
	for k, v := range map[string]any{"q": q.Text, "action": q.Action, "actor": q.Actor, "outcome": q.Outcome, "from": q.From, "to": q.To, "emergency": q.Emergency} {
		if v != "" && v != int64(0) && v != false {
			d[k] = v
		}
	}
	return d
}

func (a *Console) auditList(w http.ResponseWriter, r *http.Request) error {
	q, err := ParseAuditQuery(r.URL.Query())
	if err != nil {
		return err
	}
	entries, next, err := a.Store.QueryAudit(r.Context(), q)
	if err != nil {
		return protocol.Internal(err)
	}
	views := make([]AuditView, 0, len(entries))
	for _, e := range entries {
		views = append(views, viewAudit(e))
	}
	// Looking at the audit log is itself recorded, once per search: the
	// first page, not every further page of the same search.
	if q.Before == 0 {
		a.Auth.AuditEvent(r, "audit.view", "audit", store.OutcomeOK, filterDetail(q))
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"entries": views, "next_before": next})
}

// AuditCSVHeader is the header row of an audit export.
var AuditCSVHeader = []string{"seq", "time_utc", "at_ms", "actor", "actor_name", "action", "target", "ip", "outcome", "emergency", "detail", "prev", "hash"}

// csvSafe defuses a cell a spreadsheet would run as a formula: one that
// starts with = + - @ (or a tab or carriage return, which some
// spreadsheets skip before looking) gets a leading apostrophe.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteAuditCSV writes the entries matching q, oldest first, as CSV with
// a header row, and returns how many it wrote. The hashes are included so
// the export can be checked against the chain, and the times twice: as a
// readable UTC time and as the ms the hash covers.
func WriteAuditCSV(ctx context.Context, st *store.Store, w io.Writer, q store.AuditQuery) (int64, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(AuditCSVHeader); err != nil {
		return 0, err
	}
	var n int64
	err := st.EachAudit(ctx, q, func(e *store.AuditEntry) error {
		n++
		em := "false"
		if e.Emergency {
			em = "true"
		}
		rec := []string{strconv.FormatInt(e.Seq, 10), time.UnixMilli(e.At).UTC().Format(time.RFC3339Nano), strconv.FormatInt(e.At, 10),
			strconv.FormatInt(e.Actor, 10), e.ActorName, e.Action, e.Target, e.IP, e.Outcome, em, e.Detail,
			hex.EncodeToString(e.Prev), hex.EncodeToString(e.Hash)}
		for i := range rec {
			rec[i] = csvSafe(rec[i])
		}
		return cw.Write(rec)
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return n, err
}

func (a *Console) auditExport(w http.ResponseWriter, r *http.Request) error {
	q, err := ParseAuditQuery(r.URL.Query())
	if err != nil {
		return err
	}
	if r.URL.Query().Get("limit") != "" || q.Before != 0 {
		return badParam("limit", "an export has every matching entry; narrow it with from, to and the other filters")
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="curbside-audit-%s.csv"`, time.Now().UTC().Format("20060102-150405")))
	h.Set("Cache-Control", "no-store")
	cw := &countingWriter{w: w}
	n, err := WriteAuditCSV(r.Context(), a.Store, cw, q)
	detail := filterDetail(q)
	detail["entries"] = n
	if err != nil {
		a.Auth.AuditEvent(r, "audit.export", "audit", store.OutcomeFail, detail)
		if cw.n == 0 {
			h.Del("Content-Disposition")
			return protocol.Internal(err)
		}
		a.Log.Error("audit export failed", "err", err, "entries", n)
		// The status line is gone: break the response off, so the
		// download fails instead of looking complete.
		panic(http.ErrAbortHandler)
	}
	a.Auth.AuditEvent(r, "audit.export", "audit", store.OutcomeOK, detail)
	return nil
}

func (a *Console) auditVerify(w http.ResponseWriter, r *http.Request) error {
	v, err := a.Store.VerifyAudit(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	outcome := store.OutcomeOK
	if !v.OK {
		outcome = store.OutcomeFail
	}
	a.Auth.AuditEvent(r, "audit.verify", "audit", outcome, map[string]any{"entries": v.Entries, "head_seq": v.HeadSeq, "first_bad": v.FirstBad})
	return web.WriteJSON(w, http.StatusOK, v)
}

// countingWriter counts what has gone to the client, to tell whether an
// error can still be sent as one.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
