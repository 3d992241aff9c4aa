package model

import (
	"testing"
)

// TestPolicyLists checks the list keys the console added: ranges are
// normalised, and a bad range or an unknown role is refused by name.
func TestPolicyLists(t *testing.T) {
	p := DefaultPolicy
	if err := p.Set("admin_networks", "192.168.1.7/24|10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Get("admin_networks"); v != `["192.168.1.0/24","10.0.0.1/32"]` {
		t.Fatalf("admin_networks = %s", v)
	}
	if !p.AdminAllowed("192.168.1.200") || p.AdminAllowed("192.168.2.1") || !p.AdminAllowed("::ffff:10.0.0.1") {
		t.Fatal("AdminAllowed does not follow the ranges")
	}
	for key, bad := range map[string]string{"admin_networks": "192.168.1.0/33", "mfa_required": "owner|nurse"} {
		if err := p.Set(key, bad); err == nil {
			t.Errorf("%s=%s accepted", key, bad)
		}
	}
	if err := p.Set("mfa_required", "staff|helpdesk"); err != nil {
		t.Fatal(err)
	}
	if !p.MFARequiredFor(&User{Role: RoleStaff}) || !p.MFARequiredFor(&User{Role: RolePatient, AdminLevel: LevelHelpdesk}) || p.MFARequiredFor(&User{Role: RolePatient}) {
		t.Fatal("MFARequiredFor does not follow the roles and levels")
	}
}

// TestPolicyPracticeName checks the practice's name: one line of text,
// trimmed, at most MaxPracticeName characters, empty by default.
func TestPolicyPracticeName(t *testing.T) {
	p := DefaultPolicy
	if p.PracticeName != "" {
		t.Fatalf("default practice_name = %q", p.PracticeName)
	}
	if err := p.Set("practice_name", "  Clínica São José — عيادة  "); err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Get("practice_name"); v != "Clínica São José — عيادة" {
		t.Fatalf("practice_name = %q", v)
	}
	long := ""
	for len([]rune(long)) < MaxPracticeName {
		long += "é"
	}
	if err := p.Set("practice_name", long); err != nil {
		t.Fatalf("%d characters refused: %v", MaxPracticeName, err)
	}
	for _, bad := range []string{long + "x", "Riverside\nPractice", "Riverside\tPractice", "Riverside\u202ePractice"} {
		if err := p.Set("practice_name", bad); err == nil {
			t.Errorf("practice_name=%q accepted", bad)
		}
	}
	if err := p.Set("practice_name", ""); err != nil || p.PracticeName != "" {
		t.Fatalf("clearing practice_name: %v, %q", err, p.PracticeName)
	}
}
