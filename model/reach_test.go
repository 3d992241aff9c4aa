package model

import "testing"

func TestReaches(t *testing.T) {
	staff := &Reach{User: 1, Role: RoleStaff}
	admin := &Reach{User: 2, Role: RoleAdmin}
	ext := &Reach{User: 3, Role: RoleExternal}
	ext2 := &Reach{User: 4, Role: RoleExternal}
	pat := &Reach{User: 5, Role: RolePatient, Links: map[int64]bool{1: true}}
	pat2 := &Reach{User: 6, Role: RolePatient}
	gone := &Reach{User: 7}
	tests := []struct {
		a, b *Reach
		want bool
	}{
		{staff, admin, true},
		{staff, ext, true},
		{ext, ext2, false},
		{pat, staff, true}, // care team
		{pat, admin, false},
		{pat, ext, false},
		{pat, pat2, false},
		{pat2, staff, false},
		{staff, gone, false},
		{pat, pat, true},
		{gone, gone, false},
	}
	for _, tt := range tests {
		if got := tt.a.Reaches(tt.b); got != tt.want {
			t.Errorf("%d (%s) reaches %d (%s) = %v, want %v", tt.a.User, tt.a.Role, tt.b.User, tt.b.Role, got, tt.want)
		}
		if got := tt.b.Reaches(tt.a); got != tt.want {
			t.Errorf("not symmetric: %d (%s) reaches %d (%s) = %v, want %v", tt.b.User, tt.b.Role, tt.a.User, tt.a.Role, got, tt.want)
		}
	}
}
