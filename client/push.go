package client

import (
	"context"
)

// PushSubscription is a Web Push subscription as a browser's PushManager
// makes it (PushSubscription.toJSON()): the push service's endpoint and
// the keys, base64url, that encrypt to the browser.
type PushSubscription struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256DH string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

// PushKey returns the server's VAPID public key (base64url), which a
// subscription is made with, or "" when the server has push off.
func (c *Client) PushKey(ctx context.Context) (string, error) {
	var cfg struct {
		Push *struct {
			VAPIDKey string `json:"vapid_key"`
		} `json:"push"`
	}
	if err := c.api.do(ctx, "GET", "/api/v1/config", nil, &cfg); err != nil || cfg.Push == nil {
		return "", err
	}
	return cfg.Push.VAPIDKey, nil
}

// SubscribePush registers this device's Web Push subscription, replacing
// any it had.
func (c *Client) SubscribePush(ctx context.Context, sub PushSubscription) error {
	return c.api.do(ctx, "PUT", "/api/v1/devices/me/push", sub, nil)
}

// UnsubscribePush deletes this device's subscription.
func (c *Client) UnsubscribePush(ctx context.Context) error {
	return c.api.do(ctx, "DELETE", "/api/v1/devices/me/push", nil, nil)
}

// PushSubscribed reports whether the server holds a subscription for this
// device.
func (c *Client) PushSubscribed(ctx context.Context) (bool, error) {
	var out struct {
		Subscribed bool `json:"subscribed"`
	}
	err := c.api.do(ctx, "GET", "/api/v1/devices/me/push", nil, &out)
	return out.Subscribed, err
}
