// Command gointerop is the Go half of the browser crypto interop test
// (webui/test/interop.mjs). It reads one JSON request on standard input and
// writes one JSON answer, using package e2ee and protocol exactly as the Go
// client does, so the browser's WebCrypto code is checked byte for byte
// against the reference implementation:
//
//	gointerop keys          a fresh device: its private keys and public list entry
//	gointerop seal          seal plaintext to recipient devices, as a given device
//	gointerop open          open an envelope as a given device
//	gointerop signlist      sign a device list as a given device
//	gointerop verifylist    verify a device list signed elsewhere
//	gointerop safety        the safety number of two device lists
//	gointerop blobseal      encrypt a file as an attachment (PROTOCOL.md section 8)
//	gointerop blobopen      decrypt one
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

type request struct {
	Keys       []byte               `json:"keys"` // e2ee.DeviceKeys.MarshalBinary
	Header     *protocol.Envelope   `json:"header"`
	Recipients []recipient          `json:"recipients"`
	Plaintext  []byte               `json:"plaintext"`
	Env        *protocol.Envelope   `json:"env"`
	SenderSign []byte               `json:"sender_sign"`
	List       *protocol.DeviceList `json:"list"`
	List2      *protocol.DeviceList `json:"list2"`
	Data       []byte               `json:"data"`
	Key        []byte               `json:"key"`
	SHA256     []byte               `json:"sha256"`
	// approval: the user, the new device, and the two nonces.
	User          int64                 `json:"user"`
	Device        protocol.ListedDevice `json:"device"`
	Nonce         []byte                `json:"nonce"`
	ApproverNonce []byte                `json:"approver_nonce"`
}

type recipient struct {
	User   int64  `json:"user"`
	Device int64  `json:"device"`
	Enc    []byte `json:"enc"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gointerop:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 2 {
		return errors.New("usage: gointerop keys|seal|open|signlist|verifylist|safety|approval|blobseal|blobopen < request.json")
	}
	var req request
	if os.Args[1] != "keys" {
		if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
			return fmt.Errorf("request: %w", err)
		}
	}
	var out any
	switch os.Args[1] {
	case "keys":
		k, err := e2ee.GenerateDeviceKeys()
		if err != nil {
			return err
		}
		raw, _ := k.MarshalBinary()
		out = map[string]any{"keys": raw, "device": k.Listed()}
	case "seal":
		k, err := e2ee.UnmarshalDeviceKeys(req.Keys)
		if err != nil {
			return err
		}
		var rs []e2ee.Recipient
		for _, r := range req.Recipients {
			rs = append(rs, e2ee.Recipient{User: r.User, Device: r.Device, Enc: r.Enc})
		}
		env, err := e2ee.Seal(*req.Header, rs, req.Plaintext, k.SignKey())
		if err != nil {
			return err
		}
		out = env
	case "open":
		k, err := e2ee.UnmarshalDeviceKeys(req.Keys)
		if err != nil {
			return err
		}
		if err := req.Env.Validate(); err != nil {
			return err
		}
		pt, err := e2ee.Open(req.Env, req.SenderSign, k)
		if err != nil {
			return err
		}
		out = map[string]any{"plaintext": pt}
	case "signlist":
		k, err := e2ee.UnmarshalDeviceKeys(req.Keys)
		if err != nil {
			return err
		}
		if err := e2ee.SignDeviceList(req.List, k); err != nil {
			return err
		}
		out = req.List
	case "verifylist":
		if err := e2ee.VerifyDeviceList(req.List); err != nil {
			return err
		}
		out = map[string]any{"ok": true}
	case "safety":
		out = map[string]any{"safety": e2ee.SafetyNumber(req.List, req.List2), "fingerprint": e2ee.Fingerprint(req.List)}
	case "approval":
		out = map[string]any{"commit": protocol.ApprovalCommit(req.Nonce), "code": protocol.ApprovalCode(req.User, req.Device, req.Nonce, req.ApproverNonce)}
	case "blobseal":
		var blob bytes.Buffer
		a, err := e2ee.EncryptAttachment(&blob, bytes.NewReader(req.Data))
		if err != nil {
			return err
		}
		out = map[string]any{"blob": blob.Bytes(), "key": a.Key, "sha256": a.SHA256}
	case "blobopen":
		pt, err := e2ee.DecryptAttachment(&e2ee.Attachment{Key: req.Key, SHA256: req.SHA256}, req.Data)
		if err != nil {
			return err
		}
		out = map[string]any{"data": pt}
	default:
		return fmt.Errorf("unknown command %q", os.Args[1])
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
