package electoral

import (
	"fmt"
	"strings"

	"github.com/coopol/coopol/internal/errs"
)

// The Ministère de l'Intérieur codes overseas départements with letters in files
// published before 2024; INSEE codes are numeric. ZX depends on the commune number
// and ZP, ZW and ZZ follow their own rules (see CommuneCode).
var miOverseas = map[string]string{
	"ZA": "971", "ZB": "972", "ZC": "973", "ZD": "974", "ZS": "975", "ZM": "976",
	"ZW": "986", "ZP": "987", "ZN": "988",
}

// clean trims the spaces and quotes that spreadsheets and re-exports leave around codes.
func clean(s string) string {
	return strings.ToUpper(strings.Trim(s, " \t\"'\u00a0"))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat("0", n-len(s)) + s
}

// DeptCode returns the INSEE code of a département written as in any source:
// "1" → "01", "2a" → "2A", "ZA" → "971". ZX, ZZ stay as they are: they need the
// commune number, or have no INSEE equivalent.
func DeptCode(raw string) (string, error) {
	d := clean(raw)
	switch {
	case d == "2A" || d == "2B":
		return d, nil
	case isDigits(d) && len(d) <= 2:
		return pad(d, 2), nil
	case isDigits(d) && len(d) == 3 && d[0] == '9' && (d[1] == '7' || d[1] == '8'):
		return d, nil
	case d == "ZX" || d == "ZZ":
		return d, nil
	}
	if insee, ok := miOverseas[d]; ok {
		return insee, nil
	}
	return "", fmt.Errorf("département code %q: %w", raw, errs.ErrInvalid)
}

// CommuneCode returns the 5-character INSEE code of a commune from a département field
// and a commune field as found in Ministère files: "92" + "2" → "92002", "ZA" + "101" →
// "97101", "ZP" + "014" → "98714", "13" + "055SR01" → "13055" (a municipal-2020 sector of
// Marseille is the city). A commune field already 5 characters long is kept; one of 4
// digits lost its leading zero. The dept may be empty when the commune field is complete.
func CommuneCode(dept, commune string) (string, error) {
	c := clean(commune)
	if i := strings.Index(c, "SR"); i > 0 { // municipal 2020 sectors of Paris, Lyon, Marseille
		c = c[:i]
	}
	switch {
	case len(c) == 5 && (isDigits(c) || (c[:2] == "2A" || c[:2] == "2B") && isDigits(c[2:])):
		return c, nil
	case len(c) == 4 && isDigits(c) && (dept == "" || len(clean(dept)) <= 2):
		return "0" + c, nil
	case !isDigits(c) || len(c) > 3:
		return "", fmt.Errorf("commune code %q: %w", commune, errs.ErrInvalid)
	}
	c = pad(c, 3)
	d := clean(dept)
	switch d {
	case "ZA", "ZB", "ZC", "ZD", "ZM", "ZS", "ZN":
		return "9" + miOverseas[d][1:2] + c, nil
	case "ZX": // Saint-Martin 7xx → 977xx, Saint-Barthélemy 8xx → 978xx
		return "97" + c, nil
	case "ZP": // Polynésie: 987 + the last two digits
		return "987" + c[1:], nil
	case "ZW", "ZZ": // Wallis-et-Futuna's pseudo-commune, consulates abroad: no INSEE code
		return d + c, nil
	}
	dc, err := DeptCode(d)
	if err != nil {
		return "", fmt.Errorf("commune %q: %w", commune, err)
	}
	if len(dc) == 3 { // 971 + "101" → 97101: the commune number already carries the third digit
		return dc[:2] + c, nil
	}
	return dc + c, nil
}

// BureauCode returns a bureau code left-padded with zeros to 4 characters; codes are
// strings and non-numeric ones ("01.1", "BV01", "069A") are kept as they are.
func BureauCode(raw string) (string, error) {
	b := clean(raw)
	if b == "" {
		return "", fmt.Errorf("empty bureau code: %w", errs.ErrInvalid)
	}
	if strings.ContainsAny(b, "_;, ") {
		return "", fmt.Errorf("bureau code %q: %w", raw, errs.ErrInvalid)
	}
	return pad(b, 4), nil
}

// BureauKey returns the canonical key of a bureau, "92002_0001": INSEE commune code,
// underscore, 4-character bureau code. It equals data.gouv's codeBureauVote.
func BureauKey(commune, bureau string) string { return commune + "_" + bureau }

// ParseBureauKey normalises a key written as "92002_1", "92002_0001" or "2002_1" and
// returns the canonical form with its parts.
func ParseBureauKey(raw string) (key, commune, bureau string, err error) {
	c, b, ok := strings.Cut(clean(raw), "_")
	if !ok {
		return "", "", "", fmt.Errorf("bureau key %q: no underscore: %w", raw, errs.ErrInvalid)
	}
	if commune, err = CommuneCode("", c); err != nil {
		return "", "", "", fmt.Errorf("bureau key %q: %w", raw, err)
	}
	if bureau, err = BureauCode(b); err != nil {
		return "", "", "", fmt.Errorf("bureau key %q: %w", raw, err)
	}
	return BureauKey(commune, bureau), commune, bureau, nil
}

// Paris, Lyon and Marseille are one commune in results files but arrondissements in
// INSEE, BAN and REU files; the arrondissement is the first two characters of the
// bureau code.
var plm = map[string]struct {
	base, max int
}{
	"75056": {75100, 20},
	"69123": {69380, 9},
	"13055": {13200, 16},
}

// IsPLMCity reports whether a commune code is Paris, Lyon or Marseille as a whole.
func IsPLMCity(commune string) bool { _, ok := plm[commune]; return ok }

// Arrondissement returns the INSEE code of the municipal arrondissement holding a bureau
// of Paris, Lyon or Marseille ("75056", "1512" → "75115"), or "" for any other commune and
// for special bureaux whose code names no arrondissement.
func Arrondissement(commune, bureau string) string {
	p, ok := plm[commune]
	if !ok || len(bureau) < 2 || !isDigits(bureau[:2]) {
		return ""
	}
	n := int(bureau[0]-'0')*10 + int(bureau[1]-'0')
	if n < 1 || n > p.max {
		return ""
	}
	return fmt.Sprintf("%05d", p.base+n)
}

// PLMCity returns the city code of a municipal arrondissement code ("75115" → "75056"),
// or "" when the code is not an arrondissement.
func PLMCity(code string) string {
	for city, p := range plm {
		var n int
		if _, err := fmt.Sscanf(code, "%05d", &n); err == nil && len(code) == 5 && n > p.base && n <= p.base+p.max {
			return city
		}
	}
	return ""
}
