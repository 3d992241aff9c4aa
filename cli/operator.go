package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// operatorName is the audit log's actor for changes made from the server's
// shell: the command line has no signed-in user, only someone with access
// to the data directory.
const operatorName = "operator (command line)"

// operatorAudit records a change made from the command line. The change has
// happened by the time it is called, so a failure to record it is reported
// as such rather than as a failure of the change.
func operatorAudit(ctx context.Context, st *store.Store, action, target string, detail map[string]any) error {
	e := &store.AuditEntry{ActorName: operatorName, Action: action, Target: target, Outcome: store.OutcomeOK}
	if detail == nil {
		detail = map[string]any{}
	}
	detail["via"] = "cli"
	b, _ := json.Marshal(detail)
	e.Detail = string(b)
	if err := st.Audit(ctx, e); err != nil {
		return fmt.Errorf("the change was made but its audit entry was not recorded: %w", err)
	}
	return nil
}

// storeAndUser opens the data directory's store and looks up a user by
// name, for the commands that change one user.
func storeAndUser(ctx context.Context, data, username string) (*store.Store, *model.User, error) {
	st, err := openStore(ctx, data)
	if err != nil {
		return nil, nil, err
	}
	u, err := st.UserByName(ctx, username)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("user %q: %w", username, err)
	}
	return st, u, nil
}

func userTarget(u *model.User) string { return fmt.Sprintf("user:%d", u.ID) }
