package console

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
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
		if err := a.createImported(r, good); err != nil {
			return err
		}
		res.Imported = len(good)
		if res.Failed > 0 {
			res.Summary = fmt.Sprintf("Only the good rows were imported: %d users imported, %d rows with errors were left out.", res.Imported, res.Failed)
		} else {
			res.Summary = fmt.Sprintf("All %d users were imported.", res.Imported)
		}
	}
	if !dry {
		a.Auth.Audit(r, "user.import", "", store.OutcomeOK, map[string]any{"mode": mode, "rows": len(rows), "imported": res.Imported, "failed": res.Failed})
	}
	return web.WriteJSON(w, http.StatusOK, res)
}

// importAccount pairs an import row with the account it describes.
type importAccount struct {
	row    *ImportRow
	prof   userProfile
	groups []int64
}

// parseImport reads the file and checks every row, noting its line.
func (a *Console) parseImport(r *http.Request, body []byte, groups map[string]int64) ([]*ImportRow, []*importAccount, error) {
	cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(body), "\ufeff"))) // spreadsheets often write a BOM
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
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
		known := false
		for _, c := range importColumns {
			known = known || c == h
		}
		if !known {
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
	actor := auth.SessionOf(r.Context()).User
	seen := map[string]int{}
	var rows []*ImportRow
	var accs []*importAccount
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			return nil, nil, badRequest("line %d: %v; nothing was imported", line, csvErr(err))
		}
		line, _ := cr.FieldPos(0)
		if len(rows) == maxImportRows {
			return nil, nil, badRequest("the file has more than %d rows; split it", maxImportRows)
		}
		get := func(c string) string {
			if i, ok := col[c]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if strings.Join(rec, "") == "" {
			continue // a blank line
		}
		row := &ImportRow{Line: line, Username: get("username")}
		acc := &importAccount{row: row, prof: userProfile{Username: get("username"), Display: get("display"), Role: strings.ToLower(get("role")),
			Email: get("email"), AdminLevel: strings.ToLower(get("admin_level"))}}
		rows = append(rows, row)
		accs = append(accs, acc)
		fail := func(err error) {
			var e *protocol.Error
			if errors.As(err, &e) {
				row.Error = e.Message
			} else {
				row.Error = err.Error()
			}
		}
		if len(rec) != len(head) {
			fail(fmt.Errorf("the row has %d fields; the header has %d", len(rec), len(head)))
			continue
		}
		if err := acc.prof.check(); err != nil {
			fail(err)
			continue
		}
		if err := mayGrant(actor, acc.prof.AdminLevel); err != nil {
			fail(err)
			continue
		}
		key := strings.ToLower(acc.prof.Username)
		if first, dup := seen[key]; dup {
			fail(fmt.Errorf("username %q is also on line %d", acc.prof.Username, first))
			continue
		}
		seen[key] = line
		if _, err := a.Store.UserByName(r.Context(), acc.prof.Username); err == nil {
			fail(fmt.Errorf("a user named %q already exists", acc.prof.Username))
			continue
		} else if !errors.Is(err, model.ErrNotFound) {
			return nil, nil, protocol.Internal(err)
		}
		bad := ""
		for _, g := range strings.Split(get("groups"), ";") {
			if g = strings.TrimSpace(g); g == "" {
				continue
			}
			id, ok := groups[strings.ToLower(g)]
			if !ok {
				bad = g
				break
			}
			acc.groups = append(acc.groups, id)
		}
		if bad != "" {
			fail(fmt.Errorf("no group named %q; create it first", bad))
			continue
		}
		row.OK = true
	}
	return rows, accs, nil
}

func csvErr(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// createImported creates the accounts of the good rows in one transaction,
// each with a set-password link, and audits each.
func (a *Console) createImported(r *http.Request, good []*importAccount) error {
	pol, err := a.Store.LoadPolicy(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	actor := auth.SessionOf(r.Context()).User
	expires := time.Now().Add(pol.InvitationTTL).UnixMilli()
	accounts := make([]*store.NewAccount, len(good))
	tokens := make([]string, len(good))
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
	}
	err = a.Store.CreateAccounts(r.Context(), accounts)
	if errors.Is(err, model.ErrExists) {
		return protocol.Errorf(protocol.CodeConflict, "%v meanwhile; nothing was imported, try again", err)
	}
	if err != nil {
		return protocol.Internal(err)
	}
	for i, acc := range accounts {
		good[i].row.InvitationURL = auth.InvitationURL(a.origin(r), tokens[i])
		a.Auth.Audit(r, "user.create", auth.UserTarget(acc.User.ID), store.OutcomeOK, map[string]any{"username": acc.User.Username,
			"role": acc.User.Role, "admin_level": acc.User.AdminLevel, "groups": acc.Groups, "via": "import", "invitation": acc.Invitation.ID})
	}
	return nil
}
