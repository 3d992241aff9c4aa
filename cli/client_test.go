package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = Run(context.Background(), "test", args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestClientUsageErrors(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.json")
	os.WriteFile(existing, []byte("{}"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"client"}, "subcommand"},
		{"unknown subcommand", []string{"client", "frobnicate"}, "unknown client subcommand"},
		{"login without state", []string{"client", "login", "--server", "http://127.0.0.1:1", "--username", "a", "--password-stdin"}, "--state"},
		{"login without server", []string{"client", "login", "--state", "x", "--username", "a", "--password-stdin"}, "--server"},
		{"login with the password as a flag", []string{"client", "login", "--state", "x", "--server", "http://h", "--username", "a", "--password", "p"}, "password"},
		{"login without --password-stdin", []string{"client", "login", "--state", "x", "--server", "http://h", "--username", "a"}, "--password-stdin"},
		{"send without text", []string{"client", "send", "--state", existing, "--to", "bob"}, "no message text"},
		{"send without recipients", []string{"client", "send", "--state", existing, "hi"}, "--to"},
		{"send to both", []string{"client", "send", "--state", existing, "--to", "bob", "--group", "g", "hi"}, "not both"},
		{"send with a bad id", []string{"client", "send", "--state", existing, "--to", "bob", "--id", "x", "hi"}, "--id"},
		{"recv with arguments", []string{"client", "recv", "--state", existing, "extra"}, "no arguments"},
		{"receipt with a bad kind", []string{"client", "receipt", "--state", existing, "--msg", "abcdefghijklmnop", "--kind", "seen"}, "--kind"},
		{"recall without msg", []string{"client", "recall", "--state", existing}, "--msg"},
		{"safety without user", []string{"client", "safety", "--state", existing}, "--user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCLI(t, "", tc.args...)
			if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (exit %d); want a usage error mentioning %q", err, ExitCode(err), tc.want)
			}
		})
	}
}

func TestClientLoginKeepsAnExistingState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "s.json")
	os.WriteFile(state, []byte("precious"), 0o600)
	_, _, err := runCLI(t, "pw\n", "client", "login", "--server", "http://127.0.0.1:1", "--username", "a", "--password-stdin", "--state", state)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("err = %v; want a refusal that mentions --force", err)
	}
	if b, _ := os.ReadFile(state); string(b) != "precious" {
		t.Fatal("the state file was touched")
	}
}

func TestClientSendMissingState(t *testing.T) {
	_, _, err := runCLI(t, "", "client", "send", "--state", filepath.Join(t.TempDir(), "nope.json"), "--to", "bob", "hi")
	if err == nil || ExitCode(err) != 1 || !strings.Contains(err.Error(), "client login") {
		t.Fatalf("err = %v; want one that says to log in first", err)
	}
}

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  []string
		to   string
		ack  bool
	}{
		{[]string{"--to", "bob", "hello"}, []string{"hello"}, "bob", false},
		{[]string{"hello", "--to", "bob", "--ack"}, []string{"hello"}, "bob", true},
		{[]string{"hello", "world", "--ack"}, []string{"hello", "world"}, "", true},
		{[]string{"--ack", "--", "--to", "x"}, []string{"--to", "x"}, "", true},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		to := fs.String("to", "", "")
		ack := fs.Bool("ack", false, "")
		pos, err := parseInterspersed(fs, tc.args)
		if err != nil || !reflect.DeepEqual(pos, tc.pos) || *to != tc.to || *ack != tc.ack {
			t.Errorf("parseInterspersed(%q) = %q, to=%q ack=%v, %v; want %q to=%q ack=%v", tc.args, pos, *to, *ack, err, tc.pos, tc.to, tc.ack)
		}
	}
}
