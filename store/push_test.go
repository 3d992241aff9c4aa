package store

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/curbside-health/curbside/model"
)

func TestPushSubscriptions(t *testing.T) {
	st, _ := openTest(t)
	ctx := context.Background()
	const dev = 7001
	addDevice(t, st, addUser(t, st, "pat"), dev)
	sub := model.PushSubscription{Device: dev, Endpoint: "https://fcm.googleapis.com/fcm/send/a", P256DH: bytes.Repeat([]byte{4}, 65), Auth: bytes.Repeat([]byte{1}, 16)}
	if err := st.PutPushSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	// A second subscription replaces the first: one per device.
	sub.Endpoint = "https://fcm.googleapis.com/fcm/send/b"
	if err := st.PutPushSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	got, err := st.PushSubscription(ctx, dev)
	if err != nil || got.Endpoint != sub.Endpoint || !bytes.Equal(got.Auth, sub.Auth) {
		t.Fatalf("got %+v, %v; want the second subscription", got, err)
	}
	// "Gone" for the old endpoint leaves the new one.
	if ok, err := st.DeletePushSubscription(ctx, dev, "https://fcm.googleapis.com/fcm/send/a"); ok || err != nil {
		t.Fatalf("deleting the old endpoint: %v %v", ok, err)
	}
	if _, err := st.PushSubscription(ctx, dev); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.DeletePushSubscription(ctx, dev, ""); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if _, err := st.PushSubscription(ctx, dev); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	// Wiping the device takes its subscription with it.
	if err := st.PutPushSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WipeDevice(ctx, dev, []byte("cmd")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PushSubscription(ctx, dev); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("a wiped device kept its subscription: %v", err)
	}
	if err := st.PutPushSubscription(ctx, sub); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("a revoked device subscribed: %v", err)
	}
}

func TestVAPIDKeyIsKept(t *testing.T) {
	st, _ := openTest(t)
	ctx := context.Background()
	k1, err := st.VAPIDKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := st.VAPIDKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) || len(k1.PublicKey().Bytes()) != 65 {
		t.Fatal("the VAPID key changed between calls")
	}
}
