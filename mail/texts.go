package mail

import (
	"fmt"
	"time"
)

// The texts of Curbside's mail. Each carries the practice's name and what
// the person needs to act, and nothing clinical: no message text, no
// sender, no patient, no count of messages.

// Invitation is the mail that carries an invitation or password-reset
// link to the person it is for.
func Invitation(practice, to, link string, expires time.Time, reset bool) Message {
	subject := fmt.Sprintf("Your account at %s", practice)
	what := "An account was made for you on " + practice + "'s secure messaging. Open this link to choose your password:"
	if reset {
		subject = fmt.Sprintf("Set a new password for %s", practice)
		what = "A new password was asked for your account on " + practice + "'s secure messaging. Open this link to choose it:"
	}
	body := fmt.Sprintf("%s\n\n%s\n\nThe link works once, until %s. If you did not expect this email, ignore it and tell %s.\n",
		what, link, expires.UTC().Format("2 January 2006 15:04 UTC"), practice)
	return Message{To: []string{to}, Subject: subject, Body: body, Kind: "invitation"}
}

// Nudge is the mail that tells someone who has not opened the app for a
// while that a message waits: only that, and where to read it.
func Nudge(practice, to, appURL string) Message {
	return Message{To: []string{to}, Kind: "nudge",
		Subject: fmt.Sprintf("A message is waiting for you at %s", practice),
		Body: fmt.Sprintf("You have a message waiting in %s's secure messaging. Open the app to read it:\n\n%s\n\n"+
			"You get this email at most once until you next open the app.\n", practice, appURL)}
}

// AlertMail is the mail that tells the practice's administrators of a
// condition of the server.
func AlertMail(practice string, to []string, a Alert) Message {
	return Message{To: to, Kind: "alert",
		Subject: fmt.Sprintf("Curbside alert at %s: %s", practice, a.Title),
		Body: fmt.Sprintf("%s\n\nSince %s. You get this email once a day while the condition lasts; the admin console shows it on the Email page, and the server's log has the details.\n",
			a.Detail, time.UnixMilli(a.Since).UTC().Format("2 January 2006 15:04 UTC"))}
}

// Test is the mail of the console's "Send a test email" button.
func Test(practice, to string) Message {
	return Message{To: []string{to}, Kind: "test",
		Subject: fmt.Sprintf("Test email from %s's Curbside", practice),
		Body:    "This is a test email from Curbside. Email is set up: invitations, password resets, unread reminders and alerts can be sent.\n"}
}
