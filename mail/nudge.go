package mail

import (
	"context"
	"time"
)

// nudgeBatch bounds the users one round of nudges looks at.
const nudgeBatch = 200

// Nudge mails each user who has had a message waiting for longer than the
// policy's email_nudge_after, for none of whose devices it was delivered,
// who has no device connected now (connected, which the relay answers)
// and who was not nudged since a device of theirs was last seen. The mail
// says only that a message waits, with a link to the app at appURL. It
// returns how many were queued.
func (s *Service) Nudge(ctx context.Context, now time.Time, connected func(user int64) bool, appURL string) (int, error) {
	pol, err := s.st.LoadPolicy(ctx)
	if err != nil || pol.EmailNudgeAfter <= 0 {
		return 0, err
	}
	practice := s.Practice(ctx)
	if practice == "" {
		return 0, nil
	}
	cands, err := s.st.NudgeCandidates(ctx, now.Add(-pol.EmailNudgeAfter).UnixMilli(), nudgeBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range cands {
		if connected(c.User) {
			continue
		}
		if err := s.Enqueue(ctx, Nudge(practice, c.Email, appURL)); err != nil {
			return n, err
		}
		// Marked once queued: at most one nudge, even if this send fails.
		if err := s.st.MarkNudged(ctx, c.User, now.UnixMilli()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
