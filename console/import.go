package console

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// Import limits: a practice's whole staff list fits many times over.
const (
	MaxImportBytes = 1 << 20
	maxImportRows  = 5000
)

// Import modes.
const (
	importAll   = "all"   // nothing is imported if any row is bad
	importValid = "valid" // the good rows are imported, the bad ones reported
)

func (a *Console) importRoutes() []web.Route {
	return []web.Route{{Pattern: "POST /api/v1/admin/import", Access: web.Admin, Func: a.importUsers}}
}

// importColumns are the columns an import file may have; the first four
// are required.
var importColumns = []string{"username", "display", "role", "email", "groups", "admin_level"}

// ImportRow is the outcome of one data row of an import file.
type ImportRow struct {
	Line          int    `json:"line"` // in the file, counting the header as line 1
	Username      string `json:"username"`
	OK            bool   `json:"ok"`
	Error         string `json:"error,omitempty"`
	InvitationURL string `json:"invitation_url,omitempty"`
}

// ImportResult is the answer to an import.
type ImportResult struct {
	Mode     string       `json:"mode"`
	DryRun   bool         `json:"dry_run"`
	Imported int          `json:"imported"`
	Failed   int          `json:"failed"`
	Summary  string       `json:"summary"`
	Rows     []*ImportRow `json:"rows"`
}

func (a *Console) importUsers(w http.ResponseWriter, r *http.Request) error {
	mode := r.URL.Query().Get("mode")
	if mode != importAll && mode != importValid {
		return badRequest("mode must be %q (import nothing if any row is bad) or %q (import the good rows)", importAll, importValid)
	}
	dry := r.URL.Query().Get("dry_run") == "1"
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "text/csv" {
		return protocol.Errorf(protocol.CodeUnsupportedType, "send the file as text/csv")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxImportBytes))
	if err != nil {
		return protocol.Errorf(protocol.CodeTooLarge, "the file is larger than %d bytes; split it", MaxImportBytes)
	}
	ctx := r.Context()
	groups, err := a.Store.AllGroups(ctx)
	if err != nil {
		return protocol.Internal(err)
	}
	byName := map[string]int64{}
	for _, g := range groups {
		byName[strings.ToLower(g.Name)] = g.ID
	}
	rows, accounts, err := a.parseImport(r, body, byName)
	if err != nil {
		return err
	}
	res := &ImportResult{Mode: mode, DryRun: dry, Rows: rows}
	var good []*importAccount
	for _, acc := range accounts {
		if acc.row.OK {
			good = append(good, acc)
		} else {
			res.Failed++
		}
	}
	switch {
	case len(rows) == 0:
		res.Summary = "The file has no data rows: nothing was imported."
	case dry:
		res.Summary = fmt.Sprintf("Checked only: %d of %d rows are good; nothing was imported.", len(good), len(rows))
	case mode == importAll && res.Failed > 0:
		res.Summary = fmt.Sprintf("Nothing was imported: %d of %d rows have errors. Fix them and import again, or choose to import only the good rows.", res.Failed, len(rows))
		for _, acc := range good {
			acc.row.OK = false
			acc.row.Error = "not imported: other rows have errors"
		}
	case len(good) == 0:
		res.Summary = fmt.Sprintf("Nothing was imported: all %d rows have errors.", len(rows))
	default:
		// The import's own entry goes with the accounts' transaction.
		rec := auth.Entry(r, "user.import", "", map[string]any{"mode": mode, "rows": len(rows), "imported": len(good), "failed": res.Failed})
		if err := a.createImported(r, rec, good); err != nil {
			return err
		}
		res.Imported = len(good)
		if res.Failed > 0 {
			res.Summary = fmt.Sprintf("Only the good rows were imported: %d users imported, %d rows with errors were left out.", res.Imported, res.Failed)
		} else {
			res.Summary = fmt.Sprintf("All %d users were imported.", res.Imported)
		}
	}
	if !dry && res.Imported == 0 {
		// Nothing was written: the attempt is recorded on its own.
		a.Auth.AuditRefused(r, "user.import", "", map[string]any{"mode": mode, "rows": len(rows), "imported": 0, "failed": res.Failed})
	}
	return web.WriteJSON(w, http.StatusOK, res)
}

// importAccount pairs an import row with the account it describes.
type importAccount struct {
	row    *ImportRow
	prof   userProfile
	groups []int64
}

// parseImport reads the file and checks every row, noting its line. A
// file that cannot be read as a whole (a bad header, broken CSV, too many
// rows) is an error; a bad row is only marked as such in its ImportRow.
func (a *Console) parseImport(r *http.Request, body []byte, groups map[string]int64) ([]*ImportRow, []*importAccount, error) {
	cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(body), "\ufeff"))) // spreadsheets often write a BOM
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, col, err := readImportHeader(cr)
	if err != nil {
		return nil, nil, err
	}
	ck := &importChecker{a: a, actor: auth.SessionOf(r.Context()).User, groups: groups, head: head, col: col, seen: map[string]int{}}
	var rows []*ImportRow
	var accs []*importAccount
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, badRequest("line %d: %v; nothing was imported", csvLine(err), csvErr(err))
		}
		line, _ := cr.FieldPos(0)
		if len(rows) == maxImportRows {
			return nil, nil, badRequest("the file has more than %d rows; split it", maxImportRows)
		}
		if strings.Join(rec, "") == "" {
			continue // a blank line
		}
		acc := ck.account(rec, line)
		rows = append(rows, acc.row)
		accs = append(accs, acc)
		problems, err := ck.check(r.Context(), rec, acc)
		if err != nil {
			return nil, nil, err
		}
		if len(problems) > 0 {
			acc.row.Error = rowErrors(problems)
			continue
		}
		acc.row.OK = true
	}
	return rows, accs, nil
}

// readImportHeader reads the header row and returns it with the index of
// each column by name. Unknown or repeated columns are refused rather than
// ignored, since they are most likely a typo that would lose data.
func readImportHeader(cr *csv.Reader) ([]string, map[string]int, error) {
	head, err := cr.Read()
	if err == io.EOF {
		return nil, nil, badRequest("the file is empty: it needs a header row (%s)", strings.Join(importColumns, ","))
	}
	if err != nil {
		return nil, nil, badRequest("line 1: %v", csvErr(err))
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		if !slices.Contains(importColumns, h) {
			return nil, nil, badRequest("line 1: unknown column %q; the columns are %s", h, strings.Join(importColumns, ", "))
		}
		if _, dup := col[h]; dup {
			return nil, nil, badRequest("line 1: column %q appears twice", h)
		}
		col[h] = i
	}
	for _, c := range importColumns[:3] {
		if _, ok := col[c]; !ok {
			return nil, nil, badRequest("line 1: the header needs a %q column (columns: %s)", c, strings.Join(importColumns, ", "))
		}
	}
	return head, col, nil
}

// importChecker checks the data rows of one import file. It remembers the
// usernames of the rows checked so far, so that a name given twice in the
// file is caught as well as one already in the store.
type importChecker struct {
	a      *Console
	actor  *model.User
	groups map[string]int64 // group ids by lower-case name
	head   []string
	col    map[string]int // column indexes by name
	seen   map[string]int // the line of each lower-case username so far
}

// field returns the trimmed value of column c in rec, or "" if the file
// has no such column or the row is short.
func (ck *importChecker) field(rec []string, c string) string {
	if i, ok := ck.col[c]; ok && i < len(rec) {
		return strings.TrimSpace(rec[i])
	}
	return ""
}

// account reads the row rec on line into an account, not yet checked.
func (ck *importChecker) account(rec []string, line int) *importAccount {
	get := func(c string) string { return ck.field(rec, c) }
	return &importAccount{
		row: &ImportRow{Line: line, Username: get("username")},
		prof: userProfile{Username: get("username"), Display: get("display"), Role: strings.ToLower(get("role")),
			Email: get("email"), AdminLevel: strings.ToLower(get("admin_level"))},
	}
}

// check checks acc, read from rec, and resolves its groups. It returns
// everything wrong with the row as problems, in a fixed order, so that one
// round of fixes is enough; or, as err, a failure of the store that stops
// the whole import.
func (ck *importChecker) check(ctx context.Context, rec []string, acc *importAccount) (problems []error, err error) {
	if len(rec) != len(ck.head) {
		problems = append(problems, fmt.Errorf("the row has %d fields; the header has %d", len(rec), len(ck.head)))
	}
	problems = append(problems, acc.prof.problems(false)...)
	if err := mayGrant(ck.actor, acc.prof.AdminLevel); err != nil {
		problems = append(problems, err)
	}
	if model.ValidUsername(acc.prof.Username) {
		key := strings.ToLower(acc.prof.Username)
		if first, dup := ck.seen[key]; dup {
			problems = append(problems, fmt.Errorf("username %q is also on line %d", acc.prof.Username, first))
		} else {
			ck.seen[key] = acc.row.Line
			if _, err := ck.a.Store.UserByName(ctx, acc.prof.Username); err == nil {
				problems = append(problems, fmt.Errorf("a user named %q already exists", acc.prof.Username))
			} else if !errors.Is(err, model.ErrNotFound) {
				return nil, protocol.Internal(err)
			}
		}
	}
	return append(problems, ck.resolveGroups(rec, acc)...), nil
}

// resolveGroups sets acc's groups from the row's semicolon-separated group
// names, and returns a problem for each group that does not exist.
func (ck *importChecker) resolveGroups(rec []string, acc *importAccount) []error {
	var problems []error
	for _, g := range strings.Split(ck.field(rec, "groups"), ";") {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		id, ok := ck.groups[strings.ToLower(g)]
		if !ok {
			problems = append(problems, fmt.Errorf("no group named %q; create it first", g))
			continue
		}
		acc.groups = append(acc.groups, id)
	}
	return problems
}

// rowErrors is the text a row's problems are reported with, each as
// rowError gives it, one after another.
func rowErrors(problems []error) string {
	out := make([]string, len(problems))
	for i, p := range problems {
		out[i] = rowError(p)
	}
	return strings.Join(out, "; ")
}

// rowError is the text a row's problem is reported with: a protocol
// error's message alone, without its code.
func rowError(err error) string {
	var e *protocol.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// csvLine is the line a CSV error is on, or 0 if it does not say.
func csvLine(err error) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.StartLine
	}
	return 0
}

// csvErr is a CSV error's text without the line it is on, which the
// caller reports in its own words.
func csvErr(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// createImported creates the accounts of the good rows in one transaction,
// each with a set-password link, and audits each (user.create) after rec,
// the import's entry, in the same transaction.
func (a *Console) createImported(r *http.Request, rec *store.Pending, good []*importAccount) error {
	pol, err := a.Store.LoadPolicy(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	actor := auth.SessionOf(r.Context()).User
	expires := time.Now().Add(pol.InvitationTTL).UnixMilli()
	accounts := make([]*store.NewAccount, len(good))
	tokens := make([]string, len(good))
	recs := []*store.Pending{rec}
	for i, g := range good {
		token, hash := auth.NewToken()
		tokens[i] = token
		p := g.prof
		accounts[i] = &store.NewAccount{
			User:       &model.User{Username: p.Username, Display: p.Display, Role: p.Role, Email: p.Email, AdminLevel: p.AdminLevel},
			Groups:     g.groups,
			Invitation: &store.Invitation{CreatedBy: actor.ID, ExpiresAt: expires},
			TokenHash:  hash,
		}
		acc := accounts[i]
		e := auth.Entry(r, "user.create", "", map[string]any{"username": acc.User.Username,
			"role": acc.User.Role, "admin_level": acc.User.AdminLevel, "groups": acc.Groups, "via": "import"})
		e.Complete = func(p *store.Pending) {
			p.Entry.Target = auth.UserTarget(acc.User.ID)
			p.Detail["invitation"] = acc.Invitation.ID
		}
		recs = append(recs, e)
	}
	err = a.Store.CreateAccounts(store.WithAudit(r.Context(), recs...), accounts)
	if errors.Is(err, model.ErrExists) {
		return protocol.Errorf(protocol.CodeConflict, "%v meanwhile; nothing was imported, try again", err)
	}
	if err != nil {
		return protocol.Internal(err)
	}
	for i := range accounts {
		good[i].row.InvitationURL = auth.InvitationURL(a.origin(r), tokens[i])
	}
	return nil
}
