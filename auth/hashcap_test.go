package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// TestPasswordChecksAreCapped: with every slot for password checks taken,
// a sign-in waits briefly and is then told the server is busy, and that
// answer costs its address no attempt; once a slot is free it goes through.
func TestPasswordChecksAreCapped(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hash, _ := HashPassword("correct horse battery")
	if err := st.CreateUser(ctx, &model.User{Username: "ann", Display: "Ann", Role: model.RoleStaff, State: model.StateActive, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	a := New(st, Options{MaxHashing: 2, LoginBurst: 1, LoginEvery: time.Hour})
	a.hashing.wait = 10 * time.Millisecond
	a.hashing.slots <- struct{}{}
	a.hashing.slots <- struct{}{}
	for _, name := range []string{"ann", "nobody"} {
		_, err := a.Login(ctx, "192.0.2.1", name, "correct horse battery")
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeUnavailable {
			t.Fatalf("%s with the cap full: %v", name, err)
		}
	}
	<-a.hashing.slots
	// The one attempt of the address's allowance is still there.
	if res, err := a.Login(ctx, "192.0.2.1", "ann", "correct horse battery"); err != nil || res.Token == "" {
		t.Fatalf("with a slot free: %v", err)
	}
	if len(a.hashing.slots) != 1 {
		t.Fatalf("%d slots taken after the check, want the 1 still held", len(a.hashing.slots))
	}
}
