// Package territory describes the party's territorial tree, national → fédération →
// section, and what each section covers: whole communes or single bureaux de vote.
package territory

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/errs"
)

// Kind is the level of a territory.
type Kind string

// The three levels, from the top.
const (
	National   Kind = "national"
	Federation Kind = "federation"
	Section    Kind = "section"
)

// Territory is one node of the tree. Ancestors lists ids from the national territory
// down to this one, itself included, so a grant on X covers T when X is in T.Ancestors.
type Territory struct {
	ID        int64   `json:"id"`
	Kind      Kind    `json:"kind"`
	Code      string  `json:"code"`
	Name      string  `json:"name"`
	ParentID  *int64  `json:"parent_id,omitempty"`
	Ancestors []int64 `json:"ancestors"`
}

// Covers reports whether t is id or lies below it.
func (t Territory) Covers(id int64) bool { return slices.Contains(t.Ancestors, id) }

// Area is what a section covers: a whole commune (Bureau empty) or one bureau of it.
type Area struct {
	Commune string `json:"commune"`          // INSEE code, "92002"
	Bureau  string `json:"bureau,omitempty"` // canonical key, "92002_0001"
}

// Filter selects territories; nil fields do not filter.
type Filter struct {
	Under    *int64 // the territory and everything below it
	ParentID *int64
	Kind     *Kind
}

// codeRE keeps territory codes printable and URL-safe: "FR", "92", "2A", "92050-nord".
var codeRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z_-]{0,39}$`)

// bureauKeyRE bounds what a canonical bureau key may hold once parsed: electoral's
// parser keeps odd bureau codes as they are, which is right for files but not for keys
// typed into the API.
var bureauKeyRE = regexp.MustCompile(`^[0-9][0-9AB][0-9]{3}_[0-9A-Z.-]{1,12}$`)

// Validate checks a territory about to be created; parent is nil for the national one.
func Validate(t Territory, parent *Territory) error {
	if !codeRE.MatchString(t.Code) {
		return fmt.Errorf("territory code %q: letters, digits, - and _ only: %w", t.Code, errs.ErrInvalid)
	}
	if strings.TrimSpace(t.Name) == "" || len(t.Name) > 200 {
		return fmt.Errorf("territory name: 1 to 200 characters: %w", errs.ErrInvalid)
	}
	want := map[Kind]Kind{Federation: National, Section: Federation}
	switch t.Kind {
	case National:
		return fmt.Errorf("there is one national territory: %w", errs.ErrConflict)
	case Federation:
		if _, err := electoral.DeptCode(t.Code); err != nil {
			return fmt.Errorf("a fédération's code is its département (\"92\", \"2A\", \"971\"): %w", errs.ErrInvalid)
		}
	case Section:
	default:
		return fmt.Errorf("territory kind %q: %w", t.Kind, errs.ErrInvalid)
	}
	if parent == nil || parent.Kind != want[t.Kind] {
		return fmt.Errorf("a %s must be under a %s: %w", t.Kind, want[t.Kind], errs.ErrInvalid)
	}
	return nil
}

// ParseArea normalises a commune code or a bureau key given by a person or a file.
func ParseArea(commune, bureau string) (Area, error) {
	if bureau != "" {
		key, c, _, err := electoral.ParseBureauKey(bureau)
		if err != nil {
			return Area{}, err
		}
		if !bureauKeyRE.MatchString(key) {
			return Area{}, fmt.Errorf("bureau key %q: %w", bureau, errs.ErrInvalid)
		}
		if commune != "" && commune != c {
			return Area{}, fmt.Errorf("bureau %s is not in commune %s: %w", key, commune, errs.ErrInvalid)
		}
		return Area{Commune: c, Bureau: key}, nil
	}
	c, err := electoral.CommuneCode("", commune)
	if err != nil || len(c) != 5 {
		return Area{}, fmt.Errorf("commune code %q: %w", commune, errs.ErrInvalid)
	}
	return Area{Commune: c}, nil
}

// Dept returns the département of an INSEE commune code: "92002" → "92", "2A004" →
// "2A", "97101" → "971".
func Dept(commune string) string {
	if len(commune) != 5 {
		return ""
	}
	if strings.HasPrefix(commune, "97") || strings.HasPrefix(commune, "98") {
		return commune[:3]
	}
	return commune[:2]
}
