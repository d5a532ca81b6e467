package electoral

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/coopol/coopol/internal/errs"
)

// Election identifies one round of one election: ID "lg2024", Round 1.
type Election struct {
	ID    string // letters then the year: pres2022, lg2024, eu2024, mun2020, dep2021
	Round int    // 1 or 2
}

var electionID = regexp.MustCompile(`^[a-z]+[0-9]{4}$`)

// ParseElection checks an election id ("lg2024") and a round (1 or 2).
func ParseElection(id string, round int) (Election, error) {
	if !electionID.MatchString(id) {
		return Election{}, fmt.Errorf("election %q: want letters then a year, like lg2024: %w", id, errs.ErrInvalid)
	}
	if round != 1 && round != 2 {
		return Election{}, fmt.Errorf("election %s: round %d: want 1 or 2: %w", id, round, errs.ErrInvalid)
	}
	return Election{ID: id, Round: round}, nil
}

// Scope is what a later load of the same election and round replaces: "lg2024/1".
func (e Election) Scope() string { return e.ID + "/" + strconv.Itoa(e.Round) }

// Kind returns the letters of the id: "lg" for lg2024.
func (e Election) Kind() string { return strings.TrimRight(e.ID, "0123456789") }

// Year returns the year of the id: 2024 for lg2024.
func (e Election) Year() string { return e.ID[len(e.Kind()):] }

// Our ids and data.gouv's aggregated files name election kinds differently
// (lg2024 vs 2024_legi_t1); both map to one family.
var electionFamilies = map[string]string{
	"pres": "pres", "pr": "pres",
	"lg": "legi", "leg": "legi", "legi": "legi",
	"eu": "euro", "euro": "euro", "er": "euro",
	"mun": "muni", "muni": "muni", "mn": "muni",
	"dep": "dpmt", "dpmt": "dpmt", "depa": "dpmt", "cant": "dpmt",
	"reg": "regi", "regi": "regi", "rg": "regi",
}

func family(kind string) string {
	if f, ok := electionFamilies[kind]; ok {
		return f
	}
	return kind
}

// MatchesDataGouvID reports whether an id_election of data.gouv's aggregated files
// ("2022_pres_t1") names this election and round.
func (e Election) MatchesDataGouvID(id string) bool {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(id)), "_")
	if len(parts) != 3 || parts[0] != e.Year() || parts[2] != "t"+strconv.Itoa(e.Round) {
		return false
	}
	return family(parts[1]) == family(e.Kind())
}

// Status says whether a results file holds provisional or final figures; both circulate
// under similar names.
type Status string

// The statuses a load may record.
const (
	StatusUnknown     Status = ""
	StatusProvisional Status = "provisional"
	StatusFinal       Status = "final"
)

// ParseStatus accepts "", "provisional" and "final".
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case StatusUnknown, StatusProvisional, StatusFinal:
		return st, nil
	}
	return "", fmt.Errorf("status %q: want provisional or final: %w", s, errs.ErrInvalid)
}

// Count is a bureau total that a layout may lack (municipal 2014 has no blancs nor
// nuls): Valid false stores NULL, not zero.
type Count struct {
	N     int64
	Valid bool
}

// Known returns a valid Count.
func Known(n int64) Count { return Count{N: n, Valid: true} }

// BureauResult is the result of one bureau de vote in one election round, as read from
// one row (wide layouts) or one of the rows of the bureau (long layouts). Percentages
// are never kept: they are derivable and rounded differently across files.
type BureauResult struct {
	Line            int64  // line of the source row, for warnings
	Key             string // canonical key 92002_0001
	Commune         string // INSEE code; the city code for Paris, Lyon and Marseille
	Bureau          string // 4-character bureau code
	Arrondissement  string // INSEE code of the PLM arrondissement, or ""
	CommuneName     string
	Circonscription string // département + 2 digits, "9213", as in the contours; "" when absent
	Canton          string // département + 2 digits, "9201"; "" when absent

	Inscrits, Abstentions, Votants, Blancs, Nuls, Exprimes Count

	Candidates []CandidateResult
}

// CandidateResult is the score of one candidate, binôme or list in one bureau.
type CandidateResult struct {
	Panel      int32  // ballot-board number; unique within a bureau, not the file's block index
	Name       string // surname, or the whole binôme "M. X et Mme Y" in departmental elections
	FirstName  string
	Sex        string // "M", "F" or ""
	Nuance     string
	ListShort  string // libellé abrégé
	ListLabel  string // libellé de la liste
	HeadOfList string
	Votes      int64
	Elected    Tristate
}

// Tristate is a flag that a layout may lack: only 2024 files say who was elected.
type Tristate int8

// The values of a Tristate.
const (
	Unknown Tristate = iota
	No
	Yes
)

// NormSex returns "M", "F" or "" for the ways sources write a sex: M, F, MASCULIN,
// FEMININ, Mme, M.
func NormSex(raw string) string {
	s := strings.ToUpper(strings.TrimSpace(raw))
	switch s {
	case "M", "M.", "MASCULIN", "H", "HOMME", "MR":
		return "M"
	case "F", "FEMININ", "FÉMININ", "MME", "FEMME":
		return "F"
	}
	return ""
}
