package crosstab

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/errs"
)

// Scope is the territory a crosstab, a ranking or an export covers; the zero value is
// all of France. Set at most one field.
type Scope struct {
	Commune         string   `json:"commune,omitempty"`
	Circonscription string   `json:"circonscription,omitempty"` // 9213
	Dept            string   `json:"dept,omitempty"`
	Bureaux         []string `json:"bureaux,omitempty"`
}

var (
	communeRE = regexp.MustCompile(`^[0-9][0-9AB][0-9]{3}$`)
	circoRE   = regexp.MustCompile(`^[0-9][0-9AB][0-9]?[0-9]{2}$`)
	deptRE    = regexp.MustCompile(`^([0-9]{2}|2[AB]|97[0-9])$`)
	bureauRE  = regexp.MustCompile(`^[0-9][0-9AB][0-9]{3}_[0-9A-Z.-]{1,12}$`)
)

// Validate checks the scope's codes, so nothing odd reaches a query.
func (s Scope) Validate() error {
	n := 0
	if s.Commune != "" {
		n++
		if !communeRE.MatchString(s.Commune) {
			return fmt.Errorf("commune %q: %w", s.Commune, errs.ErrInvalid)
		}
	}
	if s.Circonscription != "" {
		n++
		if !circoRE.MatchString(s.Circonscription) {
			return fmt.Errorf("circonscription %q: département + 2 digits, like 9213: %w", s.Circonscription, errs.ErrInvalid)
		}
	}
	if s.Dept != "" {
		n++
		if !deptRE.MatchString(s.Dept) {
			return fmt.Errorf("département %q: %w", s.Dept, errs.ErrInvalid)
		}
	}
	if len(s.Bureaux) > 0 {
		n++
		if len(s.Bureaux) > 5000 {
			return fmt.Errorf("at most 5,000 bureaux: %w", errs.ErrInvalid)
		}
		for _, b := range s.Bureaux {
			if !bureauRE.MatchString(b) {
				return fmt.Errorf("bureau %q: %w", b, errs.ErrInvalid)
			}
		}
	}
	if n > 1 {
		return fmt.Errorf("name one territory: commune, circonscription, département or bureaux: %w", errs.ErrInvalid)
	}
	return nil
}

// ParseBureaux splits a comma-separated list of bureau keys.
func ParseBureaux(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// ElectionResults are one election round's candidates and results by bureau.
type ElectionResults struct {
	Election   electoral.Election
	Candidates map[int]Candidate
	Groups     []string // column groups (nuances, or c<number>), in first-seen order
	ByBureau   map[string]*Result
}

// Row is one bureau of the bureau table.
type Row struct {
	Code            string
	Commune         string
	CommuneName     string
	Name            string
	Circonscription string
	Dept            string
	HasContour      bool
	AreaM2          float64
	Counts          []float64 // profile counts in Counts() order; nil without profile
	Geom            []byte    // WKB, lon/lat, when asked for
}

// Population is the bureau's population for small-cell rules: the census count, else
// the grid's; NaN when neither is known.
func (r *Row) Population() float64 {
	if r.Counts == nil {
		return math.NaN()
	}
	if p := r.Counts[CountIndex("pop")]; !math.IsNaN(p) {
		return p
	}
	return r.Counts[CountIndex("grid_ind")]
}

// Households is the number of households: census résidences principales, else grid
// households; NaN when neither is known.
func (r *Row) Households() float64 {
	if r.Counts == nil {
		return math.NaN()
	}
	if h := r.Counts[CountIndex("rp")]; !math.IsNaN(h) && h > 0 {
		return h
	}
	return r.Counts[CountIndex("grid_men")]
}

// RowOptions says what a bureau table reads besides codes and counts.
type RowOptions struct {
	Geometry     bool // WKB geometry of the contour
	AreaWeighted bool // census counts apportioned by area instead of through the grid
	// Extra adds bureaux without contour that have results here (their profile is empty).
	Extra map[string]*Result
}
