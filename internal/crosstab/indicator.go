package crosstab

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/coopol/coopol/internal/errs"
)

// CountSource says where a bureau count comes from.
type CountSource string

// The sources of counts.
const (
	FromCensus CountSource = "census"  // IRIS census bases, apportioned through the grid population
	FromGrid   CountSource = "grid"    // Filosofi 200 m cells, apportioned by area
	FromIRISPW CountSource = "iris_pw" // an intensive IRIS variable × population, for a population-weighted mean
)

// Count is an extensive quantity of a bureau's profile: summable across bureaux.
type Count struct {
	Key    string      // column name in profiles and exports: pop_0_14
	Source CountSource //
	// Census: suffixes of the INSEE column after the year prefix (POP0014 for P20_POP0014),
	// the first found wins; C-prefixed (complementary) columns are marked with "C:".
	// Grid: the grid_cells column. IRIS pw: the intensive variable (DISP_MED).
	Vars []string
}

// Counts is the fixed list of counts every profile holds, in column order.
var counts = []Count{
	{"pop", FromCensus, []string{"POP"}},
	{"pop_0_14", FromCensus, []string{"POP0014"}},
	{"pop_15_29", FromCensus, []string{"POP1529"}},
	{"pop_30_44", FromCensus, []string{"POP3044"}},
	{"pop_45_59", FromCensus, []string{"POP4559"}},
	{"pop_60_74", FromCensus, []string{"POP6074"}},
	{"pop_75p", FromCensus, []string{"POP75P"}},
	{"pop15p", FromCensus, []string{"C:POP15P"}},
	{"cs1_farmers", FromCensus, []string{"C:POP15P_CS1", "C:POP15P_STAT_GSEC11_21"}},
	{"cs2_craftsmen", FromCensus, []string{"C:POP15P_CS2", "C:POP15P_STAT_GSEC12_22"}},
	{"cs3_managers", FromCensus, []string{"C:POP15P_CS3", "C:POP15P_STAT_GSEC13_23"}},
	{"cs4_intermediate", FromCensus, []string{"C:POP15P_CS4", "C:POP15P_STAT_GSEC14_24"}},
	{"cs5_employees", FromCensus, []string{"C:POP15P_CS5", "C:POP15P_STAT_GSEC15_25"}},
	{"cs6_workers", FromCensus, []string{"C:POP15P_CS6", "C:POP15P_STAT_GSEC16_26"}},
	{"cs7_retirees", FromCensus, []string{"C:POP15P_CS7", "C:POP15P_STAT_GSEC32"}},
	{"cs8_other_inactive", FromCensus, []string{"C:POP15P_CS8", "C:POP15P_STAT_GSEC40"}},
	{"pop1564", FromCensus, []string{"POP1564"}},
	{"act1564", FromCensus, []string{"ACT1564"}},
	{"chom1564", FromCensus, []string{"CHOM1564"}},
	{"pmen", FromCensus, []string{"PMEN"}},
	{"rp", FromCensus, []string{"RP"}},
	{"rp_owners", FromCensus, []string{"RP_PROP"}},
	{"rp_social", FromCensus, []string{"RP_LOCHLMV"}},
	{"grid_ind", FromGrid, []string{"ind"}},
	{"grid_men", FromGrid, []string{"men"}},
	{"grid_men_pauv", FromGrid, []string{"men_pauv"}},
	{"grid_men_prop", FromGrid, []string{"men_prop"}},
	{"grid_men_1ind", FromGrid, []string{"men_1ind"}},
	{"grid_men_fmp", FromGrid, []string{"men_fmp"}},
	{"grid_ind_snv", FromGrid, []string{"ind_snv"}},
	{"grid_log_soc", FromGrid, []string{"log_soc"}},
	{"grid_ind_0_17", FromGrid, []string{"ind_0_3", "ind_4_5", "ind_6_10", "ind_11_17"}},
	{"grid_ind_18_24", FromGrid, []string{"ind_18_24"}},
	{"grid_ind_65p", FromGrid, []string{"ind_65_79", "ind_80p"}},
	{"grid_ind_imputed", FromGrid, []string{"ind"}}, // ind of cells flagged i_est_200
	{"disp_med_x_pop", FromIRISPW, []string{"DISP_MED"}},
	{"disp_tp60_x_pop", FromIRISPW, []string{"DISP_TP60"}},
}

// Counts returns the counts of a profile, in column order.
func Counts() []Count { return append([]Count(nil), counts...) }

// countIndex maps count keys to positions; built from the fixed list above, it saves
// a search per indicator per bureau in national crosstabs.
var countIndex = func() map[string]int {
	m := make(map[string]int, len(counts))
	for i, c := range counts {
		m[c.Key] = i
	}
	return m
}()

// CountIndex returns the position of a count key, or -1.
func CountIndex(key string) int {
	if i, ok := countIndex[key]; ok {
		return i
	}
	return -1
}

// Indicator is a rate of a bureau (or of a group of bureaux): Σ numerator counts over
// Σ denominator counts. Rates are never averaged: a group's rate is recomputed from its
// summed counts, which is what makes crosstabs reproducible from the exported counts.
type Indicator struct {
	Key   string   `json:"key"`
	Label string   `json:"label"` // French, for the web app
	Theme string   `json:"theme"`
	Num   []string `json:"num"`
	Den   []string `json:"den"`
	// PerCapita multiplies the ratio (1 for shares, expressed as fractions).
	Note string `json:"note,omitempty"`
}

var indicators = []Indicator{
	{"share_0_14", "Part des 0-14 ans", "âge", []string{"pop_0_14"}, []string{"pop"}, ""},
	{"share_15_29", "Part des 15-29 ans", "âge", []string{"pop_15_29"}, []string{"pop"}, ""},
	{"share_60p", "Part des 60 ans et plus", "âge", []string{"pop_60_74", "pop_75p"}, []string{"pop"}, ""},
	{"share_75p", "Part des 75 ans et plus", "âge", []string{"pop_75p"}, []string{"pop"}, ""},
	{"share_cs3_managers", "Cadres (part des 15 ans et plus)", "CSP", []string{"cs3_managers"}, []string{"pop15p"}, ""},
	{"share_cs4_intermediate", "Professions intermédiaires", "CSP", []string{"cs4_intermediate"}, []string{"pop15p"}, ""},
	{"share_cs5_employees", "Employés", "CSP", []string{"cs5_employees"}, []string{"pop15p"}, ""},
	{"share_cs6_workers", "Ouvriers", "CSP", []string{"cs6_workers"}, []string{"pop15p"}, ""},
	{"share_cs7_retirees", "Retraités", "retraités", []string{"cs7_retirees"}, []string{"pop15p"}, ""},
	{"activity_rate", "Taux d'activité des 15-64 ans", "activité", []string{"act1564"}, []string{"pop1564"}, ""},
	{"unemployment_rate", "Taux de chômage des 15-64 ans", "activité", []string{"chom1564"}, []string{"act1564"}, ""},
	{"household_size", "Personnes par ménage", "ménages", []string{"pmen"}, []string{"rp"}, ""},
	{"share_owners", "Ménages propriétaires", "logement", []string{"rp_owners"}, []string{"rp"}, ""},
	{"share_social_housing", "Ménages en HLM", "logement", []string{"rp_social"}, []string{"rp"}, ""},
	{"grid_share_owners", "Ménages propriétaires (carroyage)", "logement", []string{"grid_men_prop"}, []string{"grid_men"}, ""},
	{"grid_social_per_household", "Logements sociaux par ménage (carroyage)", "logement", []string{"grid_log_soc"}, []string{"grid_men"}, ""},
	{"grid_share_single", "Ménages d'une personne (carroyage)", "ménages", []string{"grid_men_1ind"}, []string{"grid_men"}, ""},
	{"grid_share_single_parent", "Familles monoparentales (carroyage)", "ménages", []string{"grid_men_fmp"}, []string{"grid_men"}, ""},
	{"grid_share_65p", "Part des 65 ans et plus (carroyage)", "âge", []string{"grid_ind_65p"}, []string{"grid_ind"}, ""},
	{"grid_mean_living_standard", "Niveau de vie moyen, €/an (carroyage)", "revenus", []string{"grid_ind_snv"}, []string{"grid_ind"}, ""},
	{"grid_poverty_rate", "Ménages pauvres (carroyage)", "pauvreté", []string{"grid_men_pauv"}, []string{"grid_men"}, ""},
	{"grid_imputed_share", "Part de la population de carreaux imputés", "qualité", []string{"grid_ind_imputed"}, []string{"grid_ind"}, "INSEE imputes cells under 11 households"},
	{"iris_median_income", "Revenu médian, moyenne des IRIS pondérée par la population", "revenus", []string{"disp_med_x_pop"}, []string{"pop"}, "approximation: medians cannot be aggregated"},
	{"iris_poverty_rate", "Taux de pauvreté, moyenne des IRIS pondérée par la population", "pauvreté", []string{"disp_tp60_x_pop"}, []string{"pop"}, "approximation of a rate published per IRIS"},
}

// Indicators returns the catalogue of indicators.
func Indicators() []Indicator { return append([]Indicator(nil), indicators...) }

// LookupIndicator returns the indicator named key, or an error wrapping errs.ErrInvalid.
func LookupIndicator(key string) (Indicator, error) {
	for _, in := range indicators {
		if in.Key == key {
			return in, nil
		}
	}
	return Indicator{}, fmt.Errorf("indicator %q: unknown (see /api/crosstab/indicators): %w", key, errs.ErrInvalid)
}

// Value computes the indicator from counts (by CountIndex); NaN when the denominator is
// zero or a count is missing.
func (in Indicator) Value(values []float64) float64 {
	num, den := in.Parts(values)
	if den == 0 || math.IsNaN(num) || math.IsNaN(den) {
		return math.NaN()
	}
	return num / den
}

// Parts returns Σ numerator and Σ denominator counts.
func (in Indicator) Parts(values []float64) (num, den float64) {
	for _, k := range in.Num {
		num += at(values, CountIndex(k))
	}
	for _, k := range in.Den {
		den += at(values, CountIndex(k))
	}
	return num, den
}

// indices returns the positions of the numerator and denominator counts.
func (in Indicator) indices() (num, den []int) {
	for _, k := range in.Num {
		num = append(num, CountIndex(k))
	}
	for _, k := range in.Den {
		den = append(den, CountIndex(k))
	}
	return num, den
}

// valueAt is Value with the counts' positions looked up once: the same sums in the
// same order.
func valueAt(num, den []int, values []float64) float64 {
	var n, d float64
	for _, i := range num {
		n += at(values, i)
	}
	for _, i := range den {
		d += at(values, i)
	}
	if d == 0 || math.IsNaN(n) || math.IsNaN(d) {
		return math.NaN()
	}
	return n / d
}

func at(v []float64, i int) float64 {
	if i < 0 || i >= len(v) {
		return math.NaN()
	}
	return v[i]
}

var censusName = regexp.MustCompile(`^([PC])([0-9]{2})_(.+)$`)
var dispName = regexp.MustCompile(`^(DISP_[A-Z0-9]+?)([0-9]{2})$`)

// CensusVar is a loaded census variable, as the matcher sees it.
type CensusVar struct {
	ID      int
	Name    string // P20_POP0014, DISP_MED18
	Vintage int
}

// MatchCensus picks, for each census or IRIS-pw count, the loaded variable feeding it:
// the latest vintage of the first suffix found. The result maps count index → variable id.
func MatchCensus(vars []CensusVar) map[int]int {
	best := map[int]CensusVar{}
	for ci, c := range counts {
		if c.Source != FromCensus && c.Source != FromIRISPW {
			continue
		}
	cands:
		for _, want := range c.Vars {
			for _, v := range vars {
				if !censusMatches(c.Source, want, v.Name) {
					continue
				}
				if b, ok := best[ci]; !ok || v.Vintage > b.Vintage {
					best[ci] = v
				}
			}
			if _, ok := best[ci]; ok {
				break cands
			}
		}
	}
	out := make(map[int]int, len(best))
	for ci, v := range best {
		out[ci] = v.ID
	}
	return out
}

func censusMatches(src CountSource, want, name string) bool {
	if src == FromIRISPW {
		m := dispName.FindStringSubmatch(name)
		return m != nil && m[1] == want
	}
	m := censusName.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	prefix := "P"
	if w, ok := strings.CutPrefix(want, "C:"); ok {
		prefix, want = "C", w
	}
	return m[1] == prefix && m[3] == want
}

// CensusShare is a share read from the variables of one census vintage: Σ numerator over
// Σ denominator, over IRIS, communes or bureaux. INSEE renames and regroups variables
// between vintages (no diploma, CEP and BEPC in 2010 became DIPLMIN in 2015), so each
// side lists alternatives, tried in order: the first whose variables a vintage all has
// is used, which lets one share be mapped for either vintage and compared between them.
type CensusShare struct {
	Key   string     `json:"key"`
	Label string     `json:"label"` // French, for the web app
	Theme string     `json:"theme"`
	Num   [][]string `json:"num"` // name suffixes after the prefix: NSCOL15P_DIPLMIN for P15_NSCOL15P_DIPLMIN
	Den   [][]string `json:"den"`
	Note  string     `json:"note,omitempty"`
}

var censusShares = []CensusShare{
	{"no_diploma", "Sans diplôme ou au plus le brevet (15 ans et plus non scolarisés)", "diplômes",
		[][]string{{"NSCOL15P_DIPLMIN"}, {"NSCOL15P_DIPL0", "NSCOL15P_CEP", "NSCOL15P_BEPC"}}, [][]string{{"NSCOL15P"}},
		"2010–2014: no diploma + CEP + BEPC, INSEE's DIPLMIN grouping from 2015"},
	{"higher_education", "Diplômés du supérieur (15 ans et plus non scolarisés)", "diplômes",
		[][]string{{"NSCOL15P_SUP2", "NSCOL15P_SUP34", "NSCOL15P_SUP5"}, {"NSCOL15P_BACP2", "NSCOL15P_SUP"}, {"NSCOL15P_SUP"}}, [][]string{{"NSCOL15P"}},
		"2010–2014: bac+2 + long higher education, one SUP column in 2015–2016"},
	{"unemployment", "Chômeurs parmi les actifs de 15-64 ans", "activité",
		[][]string{{"CHOM1564"}}, [][]string{{"ACT1564"}}, ""},
	{"activity", "Actifs parmi les 15-64 ans", "activité",
		[][]string{{"ACT1564"}}, [][]string{{"POP1564"}}, ""},
	{"owners", "Résidences principales occupées par leur propriétaire", "logement",
		[][]string{{"RP_PROP"}}, [][]string{{"RP"}}, ""},
	{"social_housing", "Résidences principales HLM louées vides", "logement",
		[][]string{{"RP_LOCHLMV"}}, [][]string{{"RP"}}, ""},
}

// CensusShares returns the catalogue of census shares.
func CensusShares() []CensusShare { return append([]CensusShare(nil), censusShares...) }

// LookupCensusShare returns the census share named key, or an error wrapping errs.ErrInvalid.
func LookupCensusShare(key string) (CensusShare, error) {
	for _, s := range censusShares {
		if s.Key == key {
			return s, nil
		}
	}
	return CensusShare{}, fmt.Errorf("census share %q: unknown (see /api/indicators): %w", key, errs.ErrInvalid)
}

// Resolve returns the variables of the share in a vintage (P15_NSCOL15P_DIPLMIN), given
// the names loaded for it; ok is false when the vintage lacks a side.
func (s CensusShare) Resolve(vintage int, loaded func(name string) bool) (num, den []string, ok bool) {
	num, okN := resolveSide(s.Num, vintage, loaded)
	den, okD := resolveSide(s.Den, vintage, loaded)
	return num, den, okN && okD
}

func resolveSide(alts [][]string, vintage int, loaded func(string) bool) ([]string, bool) {
	prefix := fmt.Sprintf("P%02d_", vintage%100)
alts:
	for _, alt := range alts {
		names := make([]string, len(alt))
		for i, suffix := range alt {
			names[i] = prefix + suffix
			if !loaded(names[i]) {
				continue alts
			}
		}
		return names, true
	}
	return nil, false
}

// Vintages returns the vintages, in increasing order, whose loaded variables resolve
// the share; loaded lists the variable names of each vintage.
func (s CensusShare) Vintages(loaded map[int]map[string]bool) []int {
	var out []int
	for v, names := range loaded {
		if _, _, ok := s.Resolve(v, func(n string) bool { return names[n] }); ok {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// ShareChange is the change of a share between two vintages in percentage points:
// 0.25 → 0.20 is -5. Shares are differenced, never their counts, since populations
// change too; NaN when either share is missing.
func ShareChange(from, to float64) float64 { return 100 * (to - from) }
