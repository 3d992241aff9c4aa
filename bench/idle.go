package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/protocol"
)

// IdleResult is the server's memory with and without idle connections.
type IdleResult struct {
	Conns         int
	Before, After int64 // server RSS, bytes
	ConnectTime   time.Duration
}

// PerConn is the RSS growth per connection in bytes.
func (r *IdleResult) PerConn() float64 { return float64(r.After-r.Before) / float64(r.Conns) }

// IdleRSS opens one relay WebSocket per identity to the server at url
// (process pid), reads each hello, and then leaves them idle. It samples
// the server's RSS after settle with none open, and again settle after the
// last one opened. The WebSockets are plain coder/websocket connections,
// not client.Conns, so the harness's own memory per connection stays small;
// each has a goroutine that reads (and so answers the server's pings).
// If inspect is not nil, it is called while the connections are open,
// after the second sample.
func IdleRSS(ctx context.Context, url string, pid int, ids []Identity, settle time.Duration, inspect func()) (*IdleResult, error) {
	time.Sleep(settle)
	before, err := RSS(pid)
	if err != nil {
		return nil, err
	}
	res := &IdleResult{Conns: len(ids), Before: before}
	conns := make([]*websocket.Conn, len(ids))
	defer func() {
		var wg sync.WaitGroup
		for _, c := range conns {
			if c != nil {
				wg.Add(1)
				go func() { defer wg.Done(); c.CloseNow() }()
			}
		}
		wg.Wait()
	}()
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	const dialers = 32
	next := make(chan int)
	errs := make(chan error, dialers)
	var wg sync.WaitGroup
	for range dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := dialIdle(lctx, hc, url, ids[i].Token, ids[i].Device)
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				conns[i] = c
				go func() {
					for {
						if _, _, err := c.Read(lctx); err != nil {
							return
						}
					}
				}()
			}
		}()
	}
	var failed error
feed:
	for i := range ids {
		select {
		case next <- i:
		case failed = <-errs:
			break feed
		case <-ctx.Done():
			failed = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if failed == nil {
		select {
		case failed = <-errs:
		default:
		}
	}
	if failed != nil {
		return nil, failed
	}
	res.ConnectTime = time.Since(start)
	time.Sleep(settle)
	if res.After, err = RSS(pid); err != nil {
		return nil, err
	}
	if inspect != nil {
		inspect()
	}
	return res, nil
}

func dialIdle(ctx context.Context, hc *http.Client, url, token string, device int64) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(dctx, url+"/api/v1/relay", &websocket.DialOptions{
		HTTPClient:   hc,
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + token}},
		Subprotocols: []string{protocol.Subprotocol},
	})
	if err != nil {
		return nil, err
	}
	_, data, err := c.Read(dctx)
	if err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("waiting for hello: %w", err)
	}
	var h protocol.Hello
	if err := json.Unmarshal(data, &h); err != nil || h.Type != protocol.THello || h.Device != device {
		c.CloseNow()
		return nil, fmt.Errorf("first frame is not this device's hello: %s", data)
	}
	return c, nil
}
