package geo

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/coopol/coopol/internal/electoral"
)

// ContourFields says where a contour file keeps the bureau key. The zero value reads the
// data.gouv schema (codeBureauVote, else codeCommune + numeroBureauVote). City files set:
//
//   - Code: one field holding a whole key, "92002_1" or "92002_0001";
//   - Commune and Bureau: a commune code field and a bureau number field;
//   - CommuneCode and Bureau: a constant commune for files without one (Toulouse:
//     31555 + uniq_bdv);
//   - Arrondissement and Bureau, with CommuneCode 75056 (the default), 69123 or 13055:
//     Paris open data's arrondissement (19 or 75119) + num_bv (5) → 75056_1905.
type ContourFields struct {
	Code            string
	Commune         string
	Bureau          string
	CommuneCode     string
	Arrondissement  string
	Circonscription string // default codeCirconscription
	Name            string // bureau name; default nomBureauVote, libelleBureauVote
	CommuneName     string // default nomCommune
}

// Layout names the key mapping, as recorded with the dataset.
func (c ContourFields) Layout() string {
	switch {
	case c.Code != "":
		return "code:" + c.Code
	case c.Arrondissement != "":
		return "arrondissement:" + c.Arrondissement + "+bureau:" + c.Bureau
	case c.Commune != "":
		return "commune:" + c.Commune + "+bureau:" + c.Bureau
	case c.CommuneCode != "":
		return "commune=" + c.CommuneCode + "+bureau:" + c.Bureau
	}
	return "datagouv"
}

// Check reports an inconsistent combination of fields.
func (c ContourFields) Check() error {
	switch {
	case c.Code != "" && (c.Commune != "" || c.Bureau != "" || c.Arrondissement != "" || c.CommuneCode != ""):
		return errors.New("a code field holds the whole key: give no commune, bureau or arrondissement field with it")
	case c.Commune != "" && c.CommuneCode != "":
		return errors.New("give a commune field or a constant commune code, not both")
	case c.Arrondissement != "" && c.Commune != "":
		return errors.New("an arrondissement field goes with a constant city code (75056, 69123, 13055), not a commune field")
	case (c.Commune != "" || c.CommuneCode != "" || c.Arrondissement != "") && c.Bureau == "":
		return errors.New("a bureau field is needed with a commune or arrondissement")
	case c.Bureau != "" && c.Commune == "" && c.CommuneCode == "" && c.Arrondissement == "":
		return errors.New("a bureau field needs a commune field or a constant commune code")
	}
	if c.CommuneCode != "" {
		code, err := electoral.CommuneCode("", c.CommuneCode)
		if err != nil {
			return err
		}
		if c.Arrondissement != "" && !electoral.IsPLMCity(code) {
			return fmt.Errorf("an arrondissement field needs the city code of Paris (75056), Lyon (69123) or Marseille (13055), not %s", code)
		}
	}
	return nil
}

// Contour is one bureau de vote polygon.
type Contour struct {
	Feature         *Feature
	Key             string // canonical 92002_0001
	Commune         string // INSEE code; the city code for Paris, Lyon, Marseille
	Bureau          string // 4 characters
	Arrondissement  string // Paris, Lyon, Marseille only
	Circonscription string
	CommuneName     string
	Name            string
}

// ContourReader reads bureau contours from a GeoJSON reader.
type ContourReader struct {
	*Reader
	fields ContourFields
	city   string
}

// NewContourReader reads contours from r with the given key fields.
func NewContourReader(r *Reader, fields ContourFields) (*ContourReader, error) {
	if err := fields.Check(); err != nil {
		return nil, fmt.Errorf("geo: contours: %w", err)
	}
	c := &ContourReader{Reader: r, fields: fields}
	if fields.CommuneCode != "" {
		c.city, _ = electoral.CommuneCode("", fields.CommuneCode)
	} else if fields.Arrondissement != "" {
		c.city = "75056"
	}
	return c, nil
}

// Layout names the key mapping in use.
func (c *ContourReader) Layout() string { return c.fields.Layout() }

// Next returns the next contour, or io.EOF at the end of the file.
func (c *ContourReader) Next() (*Contour, error) {
	f, err := c.Reader.Next()
	if err != nil {
		return nil, err
	}
	ct := &Contour{Feature: f}
	fail := func(format string, args ...any) error {
		return c.Errorf(f.Line, f.Col, "feature %d: %s", c.Count(), fmt.Sprintf(format, args...))
	}
	get := func(names ...string) (string, error) {
		v, _, found, err := f.Properties.Get(names...)
		if err != nil {
			return "", err
		}
		if !found || strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("no %s property", strings.Join(names, " or "))
		}
		return v, nil
	}
	fl := c.fields
	switch {
	case fl.Code != "" || (fl.Bureau == ""):
		names := []string{fl.Code}
		if fl.Code == "" {
			names = []string{"codeBureauVote"}
		}
		raw, err := get(names...)
		if err != nil && fl.Code == "" { // data.gouv files always have codeBureauVote; try its parts
			com, cerr := get("codeCommune")
			bur, berr := get("numeroBureauVote")
			if cerr == nil && berr == nil {
				raw, err = com+"_"+bur, nil
			}
		}
		if err != nil {
			return nil, fail("%v", err)
		}
		key, com, bur, err := electoral.ParseBureauKey(raw)
		if err != nil {
			return nil, fail("%v", err)
		}
		ct.Key, ct.Commune, ct.Bureau = key, com, bur
	case fl.Arrondissement != "":
		arr, err := get(fl.Arrondissement)
		if err != nil {
			return nil, fail("%v", err)
		}
		num, err := get(fl.Bureau)
		if err != nil {
			return nil, fail("%v", err)
		}
		bur, err := plmBureau(c.city, arr, num)
		if err != nil {
			return nil, fail("%v", err)
		}
		ct.Commune, ct.Bureau, ct.Key = c.city, bur, electoral.BureauKey(c.city, bur)
	default:
		com := c.city
		if fl.Commune != "" {
			raw, err := get(fl.Commune)
			if err != nil {
				return nil, fail("%v", err)
			}
			if com, err = electoral.CommuneCode("", raw); err != nil {
				return nil, fail("%v", err)
			}
		}
		raw, err := get(fl.Bureau)
		if err != nil {
			return nil, fail("%v", err)
		}
		bur, err := electoral.BureauCode(raw)
		if err != nil {
			return nil, fail("%v", err)
		}
		ct.Commune, ct.Bureau, ct.Key = com, bur, electoral.BureauKey(com, bur)
	}
	ct.Arrondissement = electoral.Arrondissement(ct.Commune, ct.Bureau)
	opt := func(field string, defaults ...string) (string, error) {
		names := defaults
		if field != "" {
			names = []string{field}
		}
		v, _, _, err := f.Properties.Get(names...)
		return strings.TrimSpace(v), err
	}
	if ct.Circonscription, err = opt(fl.Circonscription, "codeCirconscription"); err != nil {
		return nil, fail("%v", err)
	}
	if ct.CommuneName, err = opt(fl.CommuneName, "nomCommune"); err != nil {
		return nil, fail("%v", err)
	}
	if ct.Name, err = opt(fl.Name, "nomBureauVote", "libelleBureauVote"); err != nil {
		return nil, fail("%v", err)
	}
	return ct, nil
}

// plmBureau builds the 4-character bureau code of Paris, Lyon or Marseille from an
// arrondissement ("19", or its INSEE code "75119") and a bureau number within it ("5"):
// "1905", the Ministère's rule.
func plmBureau(city, arr, num string) (string, error) {
	a, err := strconv.Atoi(strings.TrimSpace(arr))
	if err != nil || a < 1 {
		return "", fmt.Errorf("arrondissement %q is not a number", arr)
	}
	if a > 99 { // an INSEE arrondissement code, 75119
		code := fmt.Sprintf("%05d", a)
		if electoral.PLMCity(code) != city {
			return "", fmt.Errorf("arrondissement %q is not one of %s", arr, city)
		}
		a -= map[string]int{"75056": 75100, "69123": 69380, "13055": 13200}[city]
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 1 || n > 99 {
		return "", fmt.Errorf("bureau number %q is not a number from 1 to 99", num)
	}
	bur := fmt.Sprintf("%02d%02d", a, n)
	if electoral.Arrondissement(city, bur) == "" {
		return "", fmt.Errorf("arrondissement %q is not one of %s", arr, city)
	}
	return bur, nil
}
