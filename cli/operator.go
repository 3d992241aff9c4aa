package cli

import (
	"context"
	"fmt"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// operatorName is the audit log's actor for changes made from the server's
// shell: the command line has no signed-in user, only someone with access
// to the data directory.
const operatorName = "operator (command line)"

// operatorEntry is the audit entry of a change made from the command line.
func operatorEntry(action, target string, detail map[string]any) *store.Pending {
	if detail == nil {
		detail = map[string]any{}
	}
	detail["via"] = "cli"
	return &store.Pending{Entry: store.AuditEntry{ActorName: operatorName, Action: action, Target: target, Outcome: store.OutcomeOK}, Detail: detail}
}

// operatorRecord returns ctx carrying the entry of the change the command
// is about to write: the write made with it appends the entry in its own
// transaction, so the change and its record are made together or not at
// all, as in the console.
func operatorRecord(ctx context.Context, action, target string, detail map[string]any) context.Context {
	return store.WithAudit(ctx, operatorEntry(action, target, detail))
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
