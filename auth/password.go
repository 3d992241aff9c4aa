package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/curbside-health/curbside/model"
	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's first recommended set (46 MiB, one pass, one
// lane), which costs tens of milliseconds here and makes offline guessing of
// a stolen hash expensive. They are stored with each hash, so raising them
// later leaves old hashes verifiable.
const (
	argonMemoryKiB = 46 * 1024
	argonTime      = 1
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// MaxPasswordBytes bounds a password so hashing cannot be used to burn CPU.
const MaxPasswordBytes = 1024

// HashPassword returns the argon2id PHC string of a password.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("admin: malformed password hash")

// CheckPassword reports whether password matches a PHC string made by
// HashPassword, in time independent of where they differ.
func CheckPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<22 {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is checked against when a username does not exist, so a failed
// login takes as long whether or not the user exists. It is made on first
// use: hashing at start-up would slow every CLI command.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("curbside timing equaliser")
	return h
})

// CheckNewPassword reports why a new password breaks the policy (length and
// character classes), or nil.
func CheckNewPassword(password string, pol *model.Policy) error {
	if err := CheckPasswordPolicy(password, pol.PasswordMinLength); err != nil {
		return err
	}
	if n := PasswordClasses(password); n < pol.PasswordClasses {
		return fmt.Errorf("the password mixes %d of lower-case letters, upper-case letters, digits and symbols; the policy asks for %d", n, pol.PasswordClasses)
	}
	return nil
}

// PasswordClasses counts which of lower-case letters, upper-case letters,
// digits and other characters (symbols, spaces) a password uses.
func PasswordClasses(password string) int {
	var lower, upper, digit, other int
	for _, c := range password {
		switch {
		case unicode.IsLower(c):
			lower = 1
		case unicode.IsUpper(c):
			upper = 1
		case unicode.IsDigit(c):
			digit = 1
		default:
			other = 1
		}
	}
	return lower + upper + digit + other
}

// CheckPasswordPolicy reports why a new password is shorter than minLength
// or otherwise unusable, or nil.
func CheckPasswordPolicy(password string, minLength int) error {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return errors.New("the password is not valid UTF-8")
	case len(password) > MaxPasswordBytes:
		return fmt.Errorf("the password is longer than %d bytes", MaxPasswordBytes)
	case n < minLength:
		return fmt.Errorf("the password has %d characters; the policy asks for at least %d", n, minLength)
	case strings.TrimSpace(password) == "":
		return errors.New("the password is blank")
	}
	return nil
}
