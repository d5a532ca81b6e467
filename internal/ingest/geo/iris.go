package geo

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// IRIS field names: IGN shapefiles (upper case, DCOMIRIS/DEPCOM before 2.1), IGN
// GeoPackages (lower case, compared without regard to case anyway) and OpenDataSoft
// exports (iris_code, list-valued).
var (
	irisCodeFields    = []string{"CODE_IRIS", "DCOMIRIS", "iris_code"}
	irisCommuneFields = []string{"INSEE_COM", "code_insee", "DEPCOM", "com_arm_code", "com_code"}
	irisNameFields    = []string{"NOM_IRIS", "iris_name", "LIB_IRIS"}
	irisTypeFields    = []string{"TYP_IRIS", "type_iris", "iris_type"}
	irisYearFields    = []string{"year"}
)

var irisCodeRE = regexp.MustCompile(`^(?:[0-9]{2}|2[AB])[0-9]{7}$`)

// ValidIRISCode reports whether code is a 9-character IRIS code.
func ValidIRISCode(code string) bool { return irisCodeRE.MatchString(code) }

// IRISType returns the one-letter IRIS type (H habitat, A activité, D divers, Z commune
// not split) of a value written as a letter or spelled out ("iris d'habitat").
func IRISType(v string) (string, bool) {
	s := strings.ToLower(strings.TrimSpace(v))
	switch {
	case s == "h" || strings.Contains(s, "habitat"):
		return "H", true
	case s == "a" || strings.Contains(s, "activit"):
		return "A", true
	case s == "d" || strings.Contains(s, "divers"):
		return "D", true
	case s == "z" || strings.Contains(s, "non iris") || strings.Contains(s, "commune"):
		return "Z", true
	}
	return "", false
}

// IRIS is one IRIS polygon of one vintage.
type IRIS struct {
	Feature *Feature
	Vintage string // year of the geography, "2023"
	Code    string // 9 characters
	Commune string // INSEE code of the commune or arrondissement: the code's first 5
	Name    string
	Type    string // H, A, D, Z; the raw value when unknown (see TypeKnown)
	// TypeKnown is false when the type field held a value IRISType does not know.
	TypeKnown bool
	// CommuneField is the commune the file states, when it disagrees with the code.
	CommuneField string
}

// IRISReader reads IRIS contours, keeping one vintage or all.
type IRISReader struct {
	*Reader
	vintage string
	layout  string
}

// NewIRISReader reads r keeping only features of vintage, or all with "". Features
// without a year property belong to the given vintage; with "", they are refused.
func NewIRISReader(r *Reader, vintage string) *IRISReader {
	return &IRISReader{Reader: r, vintage: vintage}
}

// Layout returns "ign" or "opendatasoft", from the field names of the first feature.
func (ir *IRISReader) Layout() string { return ir.layout }

// Next returns the next IRIS of the vintage kept, or io.EOF.
func (ir *IRISReader) Next() (*IRIS, error) {
	for {
		f, err := ir.Reader.Next()
		if err != nil {
			return nil, err
		}
		fail := func(format string, args ...any) error {
			return ir.Errorf(f.Line, f.Col, "feature %d: %s", ir.Count(), fmt.Sprintf(format, args...))
		}
		year, _, hasYear, err := f.Properties.Get(irisYearFields...)
		if err != nil {
			return nil, fail("%v", err)
		}
		if year = strings.TrimSpace(year); year == "" {
			hasYear = false
		}
		switch {
		case ir.vintage != "" && hasYear && year != ir.vintage:
			continue
		case ir.vintage != "" && !hasYear:
			year = ir.vintage
		case !hasYear:
			return nil, fail("no year property: give the vintage of the file (--vintage)")
		}
		code, name, found, err := f.Properties.Get(irisCodeFields...)
		switch {
		case err != nil:
			return nil, fail("%v", err)
		case !found:
			return nil, fail("no IRIS code property (%s)", strings.Join(irisCodeFields, ", "))
		}
		code = strings.ToUpper(strings.TrimSpace(code))
		if !ValidIRISCode(code) {
			return nil, fail("%s %q is not an IRIS code (9 characters: commune + 4 digits)", name, code)
		}
		if ir.layout == "" {
			ir.layout = "ign"
			if strings.EqualFold(name, "iris_code") {
				ir.layout = "opendatasoft"
			}
		}
		it := &IRIS{Feature: f, Vintage: year, Code: code, Commune: code[:5], TypeKnown: true}
		if com, _, found, err := f.Properties.Get(irisCommuneFields...); err != nil {
			return nil, fail("%v", err)
		} else if com = strings.TrimSpace(com); found && com != it.Commune {
			it.CommuneField = com
		}
		if it.Name, _, _, err = f.Properties.Get(irisNameFields...); err != nil {
			return nil, fail("%v", err)
		}
		t, _, found, err := f.Properties.Get(irisTypeFields...)
		if err != nil {
			return nil, fail("%v", err)
		}
		if found {
			if it.Type, it.TypeKnown = IRISType(t); !it.TypeKnown {
				it.Type = t
			}
		} else if strings.HasSuffix(code, "0000") { // a commune not split is one IRIS, type Z
			it.Type = "Z"
		} else {
			it.Type, it.TypeKnown = "", false
		}
		return it, nil
	}
}

// IRISVintages reads a whole file and returns the distinct values of its year property,
// sorted: the vintages a load of every vintage replaces. A feature without a year is an
// error: the caller must then say which vintage the file is.
func IRISVintages(r *Reader) ([]string, error) {
	var years []string
	for {
		f, err := r.Next()
		if errors.Is(err, io.EOF) {
			slices.Sort(years)
			return years, nil
		}
		if err != nil {
			return nil, err
		}
		y, _, found, err := f.Properties.Get(irisYearFields...)
		if y = strings.TrimSpace(y); err == nil && (!found || y == "") {
			err = errors.New("no year property: give the vintage of the file (--vintage)")
		}
		if err != nil {
			return nil, r.Errorf(f.Line, f.Col, "feature %d: %v", r.Count(), err)
		}
		if !slices.Contains(years, y) {
			years = append(years, y)
		}
	}
}
