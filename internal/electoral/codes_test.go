package electoral

import (
	"errors"
	"testing"

	"github.com/coopol/coopol/internal/errs"
)

func TestCommuneCode(t *testing.T) {
	tests := []struct {
		name, dept, commune, want string
	}{
		{"metro", "92", "002", "92002"},
		{"lost zeros", "92", "2", "92002"},
		{"unpadded dept", "1", "1", "01001"},
		{"five chars kept", "92", "92002", "92002"},
		{"four digits lost a zero", "1", "1001", "01001"},
		{"corsica", "2A", "004", "2A004"},
		{"corsica lower", "2a", "2a004", "2A004"},
		{"guadeloupe letters", "ZA", "101", "97101"},
		{"saint-martin", "ZX", "701", "97701"},
		{"saint-barthelemy", "ZX", "801", "97801"},
		{"nouvelle-caledonie", "ZN", "801", "98801"},
		{"polynesie", "ZP", "014", "98714"},
		{"abroad", "ZZ", "1", "ZZ001"},
		{"guadeloupe numeric", "971", "101", "97101"},
		{"marseille sector", "13", "055SR01", "13055"},
		{"quoted", "\"92\"", " \"002\" ", "92002"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CommuneCode(tc.dept, tc.commune)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("CommuneCode(%q, %q) = %q, want %q", tc.dept, tc.commune, got, tc.want)
			}
		})
	}
	for _, bad := range [][2]string{{"92", "abc"}, {"XX", "001"}, {"92", ""}, {"92", "123456"}} {
		if _, err := CommuneCode(bad[0], bad[1]); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("CommuneCode(%q, %q): err = %v, want ErrInvalid", bad[0], bad[1], err)
		}
	}
}

func TestBureauCodeAndKey(t *testing.T) {
	for raw, want := range map[string]string{"1": "0001", "19": "0019", "0001": "0001", "01.1": "01.1", "BV1": "0BV1", "069A": "069A"} {
		got, err := BureauCode(raw)
		if err != nil || got != want {
			t.Errorf("BureauCode(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	if _, err := BureauCode("  "); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("BureauCode(blank): err = %v, want ErrInvalid", err)
	}
	key, c, b, err := ParseBureauKey("92002_19")
	if err != nil || key != "92002_0019" || c != "92002" || b != "0019" {
		t.Errorf("ParseBureauKey = %q %q %q %v", key, c, b, err)
	}
	if _, _, _, err := ParseBureauKey("920020019"); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("ParseBureauKey without underscore: err = %v", err)
	}
}

func TestArrondissement(t *testing.T) {
	tests := []struct{ commune, bureau, want string }{
		{"75056", "1512", "75115"},
		{"69123", "0305", "69383"},
		{"13055", "1604", "13216"},
		{"69123", "0001", ""},
		{"75056", "JU01", ""},
		{"75056", "2101", ""},
		{"13055", "1701", ""},
		{"92002", "0101", ""},
	}
	for _, tc := range tests {
		if got := Arrondissement(tc.commune, tc.bureau); got != tc.want {
			t.Errorf("Arrondissement(%q, %q) = %q, want %q", tc.commune, tc.bureau, got, tc.want)
		}
	}
	for code, want := range map[string]string{"75115": "75056", "69383": "69123", "13216": "13055", "75100": "", "92002": ""} {
		if got := PLMCity(code); got != want {
			t.Errorf("PLMCity(%q) = %q, want %q", code, got, want)
		}
	}
}
