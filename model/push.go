package model

// PushSubscription is one device's Web Push subscription, as the browser's
// PushManager made it: the push service's endpoint URL and the keys
// (RFC 8291) that encrypt what is sent to it. A device has at most one.
type PushSubscription struct {
	Device   int64
	Endpoint string // an https URL of a push service
	P256DH   []byte // the browser's P-256 public key, uncompressed (65 bytes)
	Auth     []byte // the browser's authentication secret (16 bytes)
}

// Wake asks for an offline device to be woken by Web Push. It carries no
// message content: only whether what waits is urgent, and the opaque
// conversation id the app opens when the notification is tapped.
type Wake struct {
	Device int64
	Urgent bool
	Conv   string
}
