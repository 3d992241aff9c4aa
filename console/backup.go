package console

import (
	"net/http"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/replica"
)

// BackupSource is the server's replication, as the console reads it.
type BackupSource interface {
	// Status is the replica's state and the newest drill report (nil:
	// none yet).
	Status() (replica.Status, *replica.DrillReport)
}

func (a *Console) backupRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/admin/backup", Access: web.Admin, Func: a.getBackup},
	}
}

// backupOut is the Backup page: whether a replica is set, its state, and
// the last restore drill.
type backupOut struct {
	Configured bool                 `json:"configured"`
	Replica    *replica.Status      `json:"replica,omitempty"`
	LastDrill  *replica.DrillReport `json:"last_drill,omitempty"`
	MaxAgeMS   int64                `json:"max_age_ms"` // older than this raises an alert
}

func (a *Console) getBackup(w http.ResponseWriter, r *http.Request) error {
	out := backupOut{MaxAgeMS: replica.MaxAge.Milliseconds()}
	if a.Backup != nil {
		st, last := a.Backup.Status()
		out.Configured, out.Replica, out.LastDrill = true, &st, last
	}
	return web.WriteJSON(w, http.StatusOK, out)
}
