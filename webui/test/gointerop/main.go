// Command gointerop is the Go half of the browser crypto interop test
// (webui/test/interop.mjs). It reads one JSON request on standard input and
// writes one JSON answer, using package e2ee and protocol exactly as the Go
// client does, so the browser's WebCrypto code is checked byte for byte
// against the reference implementation:
//
//	gointerop keys          a fresh device: its private keys and public list entry
//	gointerop pqkeys        the same, for a device with an X-Wing key (suite 2)
//	gointerop seal          seal plaintext to recipient devices, as a given device
//	gointerop open          open an envelope as a given device
//	gointerop signlist      sign a device list as a given device
//	gointerop verifylist    verify a device list signed elsewhere
//	gointerop safety        the safety number of two device lists
//	gointerop blobseal      encrypt a file as an attachment (PROTOCOL.md section 8)
//	gointerop blobopen      decrypt one
//	gointerop xwingkey      a suite-2 (X-Wing) key: its seed (given or fresh) and public key
//	gointerop xwingseal     seal a content key to an X-Wing public key (suite 2)
//	gointerop xwingopen     open one with a seed
//	gointerop twokeys       a dishonest sender's envelope: two content keys under one signature (salamander)
//	gointerop signattest    sign a receipt or recall attestation as a given device
//	gointerop verifyattest  verify one signed elsewhere
package main

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/internal/salamander"
	"github.com/curbside-health/curbside/protocol"
)

type request struct {
	Keys       []byte                `json:"keys"` // e2ee.DeviceKeys.MarshalBinary
	Header     *protocol.Envelope    `json:"header"`
	Recipients []recipient           `json:"recipients"`
	Plaintext  []byte                `json:"plaintext"`
	Env        *protocol.Envelope    `json:"env"`
	SenderSign []byte                `json:"sender_sign"`
	List       *protocol.DeviceList  `json:"list"`
	List2      *protocol.DeviceList  `json:"list2"`
	Data       []byte                `json:"data"`
	Key        []byte                `json:"key"`
	SHA256     []byte                `json:"sha256"`
	Attest     *protocol.Attestation `json:"attest"`
	Sig        []byte                `json:"sig"`
	SignPub    []byte                `json:"sign_pub"`
	// Suite 2 (X-Wing): a private key's seed, a public key, and the message
	// and device a sealed content key is bound to.
	Seed     []byte `json:"seed"`
	Public   []byte `json:"public"`
	MsgID    string `json:"msg_id"`
	DeviceID int64  `json:"device_id"`
	Sealed   []byte `json:"sealed"`
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
	PQ     []byte `json:"pq"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gointerop:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 2 {
		return errors.New("usage: gointerop keys|pqkeys|seal|open|signlist|verifylist|safety|approval|blobseal|blobopen|xwingkey|xwingseal|xwingopen|twokeys|signattest|verifyattest < request.json")
	}
	var req request
	if os.Args[1] != "keys" && os.Args[1] != "pqkeys" {
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
	case "pqkeys":
		k, err := e2ee.GenerateDeviceKeysPQ()
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
			rs = append(rs, e2ee.Recipient{User: r.User, Device: r.Device, Enc: r.Enc, PQ: r.PQ})
		}
		if req.Header.Suite == 0 {
			req.Header.Suite = e2ee.Suite(rs) // as the client chooses
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
	case "xwingkey":
		var k *e2ee.XWingKey
		var err error
		if req.Seed != nil {
			k, err = e2ee.NewXWingKey(req.Seed)
		} else {
			k, err = e2ee.GenerateXWingKey()
		}
		if err != nil {
			return err
		}
		out = map[string]any{"seed": k.Seed(), "public": k.PublicKey()}
	case "xwingseal":
		pub, err := e2ee.ParseXWingPublicKey(req.Public)
		if err != nil {
			return err
		}
		sealed, err := e2ee.SealKeyXWing(pub, req.MsgID, req.DeviceID, req.Key)
		if err != nil {
			return err
		}
		out = map[string]any{"sealed": sealed}
	case "xwingopen":
		k, err := e2ee.NewXWingKey(req.Seed)
		if err != nil {
			return err
		}
		key, err := e2ee.OpenKeyXWing(k, req.MsgID, req.DeviceID, req.Sealed)
		if err != nil {
			return err
		}
		out = map[string]any{"key": key}
	case "twokeys":
		k, err := e2ee.UnmarshalDeviceKeys(req.Keys)
		if err != nil {
			return err
		}
		env, err := twoKeys(*req.Header, req.Recipients, k)
		if err != nil {
			return err
		}
		out = env
	case "signattest":
		k, err := e2ee.UnmarshalDeviceKeys(req.Keys)
		if err != nil {
			return err
		}
		out = map[string]any{"sig": ed25519.Sign(k.SignKey(), req.Attest.SignedBytes())}
	case "verifyattest":
		out = map[string]any{"ok": len(req.SignPub) == ed25519.PublicKeySize && ed25519.Verify(req.SignPub, req.Attest.SignedBytes(), req.Sig)}
	default:
		return fmt.Errorf("unknown command %q", os.Args[1])
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// twoKeys is what a dishonest sender (or whoever seals the keys) builds to
// show recipients different messages under one signature: content key K1
// sealed to the first recipient and committed to in the header, K2 sealed
// to every other, and a body that AES-GCM opens under both.
func twoKeys(hdr protocol.Envelope, rs []recipient, k *e2ee.DeviceKeys) (*protocol.Envelope, error) {
	e := hdr
	e.V, e.Suite = protocol.EnvelopeVersion, protocol.SuiteX25519AES256
	k1, k2 := make([]byte, 32), make([]byte, 32)
	rand.Read(k1)
	rand.Read(k2)
	e.Commit = e2ee.Commitment(k1, e.ID)
	for i, r := range rs {
		key := k2
		if i == 0 {
			key = k1
		}
		pub, err := hpke.DHKEM(ecdh.X25519()).NewPublicKey(r.Enc)
		if err != nil {
			return nil, err
		}
		sealed, err := hpke.Seal(pub, hpke.HKDFSHA256(), hpke.AES256GCM(), protocol.KeyInfo(e.ID, r.Device), key)
		if err != nil {
			return nil, err
		}
		e.Keys = append(e.Keys, protocol.SealedKey{User: r.User, Device: r.Device, Sealed: sealed})
	}
	e.Nonce = make([]byte, protocol.NonceBytes)
	rand.Read(e.Nonce)
	body, err := salamander.Ciphertext(k1, k2, e.Nonce, e.HeaderBytes(), 4)
	if err != nil {
		return nil, err
	}
	e.Body = body
	e.Sig = ed25519.Sign(k.SignKey(), e.SignedBytes())
	return &e, e.Validate()
}
