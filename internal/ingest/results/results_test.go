package results_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/text/encoding/charmap"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/results"
	"github.com/coopol/coopol/internal/realdata"
)

// readAll parses a whole file and returns copies of its results.
func readAll(t testing.TB, name string, r io.Reader, opts results.Options) (*results.Reader, []electoral.BureauResult, error) {
	t.Helper()
	rd, err := results.NewReader(name, r, opts)
	if err != nil {
		return nil, nil, err
	}
	var out []electoral.BureauResult
	for {
		b, err := rd.Next()
		if err == io.EOF {
			return rd, out, nil
		}
		if err != nil {
			return rd, out, err
		}
		c := *b
		c.Candidates = append([]electoral.CandidateResult(nil), b.Candidates...)
		out = append(out, c)
	}
}

// TestReader_Real parses every real results fixture and checks the figures of
// data-formats.md §14.4 on the parsed values (the database tests check them again
// after loading).
func TestReader_Real(t *testing.T) {
	tests := []struct {
		file        string
		layout      string
		long        bool
		rows, keys  int
		inscrits    int64 // one value per bureau
		votes       int64 // Σ of every candidate's votes
		blocks      map[int]int
		firstKey    string
		firstCircon string
		firstCanton string
	}{
		{"lg2024_t1_9213.csv", "2024-blocks", false, 92, 92, 89338, 65652, map[int]int{7: 92}, "92002_0001", "", ""},
		{"lg2024_t2_9213.csv", "2024-blocks", false, 92, 92, 89348, 59354, map[int]int{2: 92}, "92002_0001", "", ""},
		{"eu2024_9213.csv", "2024-blocks", false, 92, 92, 89932, 54376, map[int]int{38: 92}, "92002_0001", "", ""},
		{"dep2021_t1_9213.csv", "dep2021", false, 91, 91, 88744, 0, map[int]int{7: 44, 6: 14, 4: 33}, "92002_0001", "", "9201"},
		{"mun2020_t1_antony.csv", "mun2020", false, 44, 44, 41529, 0, map[int]int{4: 44}, "92002_0001", "", ""},
		{"mun2014_t1_antony.csv", "long-mun2014", true, 176, 44, 41242, 0, map[int]int{1: 176}, "92002_0001", "", ""},
		{"lg2022_t2_9213_ods.csv", "long-ods", true, 182, 91, 90066, 0, map[int]int{1: 182}, "92002_0019", "9213", ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(realdata.Path(t, "hds9213/"+tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rd, got, err := readAll(t, tc.file, f, results.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rd.Layout() != tc.layout || rd.Long() != tc.long {
				t.Errorf("layout = %s long %v, want %s %v", rd.Layout(), rd.Long(), tc.layout, tc.long)
			}
			keys := map[string]int64{}
			blocks := map[int]int{}
			var votes int64
			for _, b := range got {
				keys[b.Key] = b.Inscrits.N
				blocks[len(b.Candidates)]++
				for _, c := range b.Candidates {
					votes += c.Votes
				}
				if !tc.long {
					var sum int64
					for _, c := range b.Candidates {
						sum += c.Votes
					}
					if sum != b.Exprimes.N {
						t.Errorf("line %d %s: Σ votes %d ≠ exprimés %d", b.Line, b.Key, sum, b.Exprimes.N)
					}
				}
			}
			var inscrits int64
			for _, n := range keys {
				inscrits += n
			}
			if len(got) != tc.rows || len(keys) != tc.keys || inscrits != tc.inscrits {
				t.Errorf("rows %d, keys %d, Σ inscrits %d; want %d, %d, %d", len(got), len(keys), inscrits, tc.rows, tc.keys, tc.inscrits)
			}
			if tc.votes != 0 && votes != tc.votes {
				t.Errorf("Σ votes = %d, want %d", votes, tc.votes)
			}
			for n, want := range tc.blocks {
				if blocks[n] != want {
					t.Errorf("rows with %d blocks: %d, want %d (all: %v)", n, blocks[n], want, blocks)
				}
			}
			if b := got[0]; b.Key != tc.firstKey || b.Circonscription != tc.firstCircon || b.Canton != tc.firstCanton {
				t.Errorf("first row: key %s circ %q canton %q; want %s %q %q", b.Key, b.Circonscription, b.Canton, tc.firstKey, tc.firstCircon, tc.firstCanton)
			}
		})
	}
}

func TestReader_RealDetails(t *testing.T) {
	open := func(t *testing.T, name string) []electoral.BureauResult {
		f, err := os.Open(realdata.Path(t, "hds9213/"+name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, got, err := readAll(t, name, f, results.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	t.Run("lg2024_t2 panel is not the block index", func(t *testing.T) {
		b := open(t, "lg2024_t2_9213.csv")[0]
		want := []electoral.CandidateResult{
			{Panel: 2, Name: "GAILLARD", FirstName: "Brice", Sex: "M", Nuance: "UG", Votes: 236, Elected: electoral.No},
			{Panel: 4, Name: "BREGEON", FirstName: "Maud", Sex: "F", Nuance: "ENS", Votes: 458, Elected: electoral.Yes},
		}
		if len(b.Candidates) != 2 || b.Candidates[0] != want[0] || b.Candidates[1] != want[1] {
			t.Errorf("candidates = %+v\nwant %+v", b.Candidates, want)
		}
		if b.Inscrits.N != 965 || b.Votants.N != 718 || b.Abstentions.N != 247 || b.Exprimes.N != 694 || b.Blancs.N != 24 || b.Nuls.N != 0 {
			t.Errorf("totals = %+v", b)
		}
	})
	t.Run("eu2024 embedded quotes and no seats", func(t *testing.T) {
		found := false
		for _, c := range open(t, "eu2024_9213.csv")[0].Candidates {
			if strings.HasPrefix(c.ListLabel, `"POUR LE PAIN, LA PAIX, LA LIBERTÉ !" PRÉSENTÉE`) {
				found = true
			}
			if c.Name != "" || c.Sex != "" || c.Elected != electoral.Unknown {
				t.Errorf("list %d has candidate fields: %+v", c.Panel, c)
			}
		}
		if !found {
			t.Error(`list label with "" escapes not found`)
		}
	})
	t.Run("mun2014 has no blancs, derives abstentions", func(t *testing.T) {
		b := open(t, "mun2014_t1_antony.csv")[0]
		if b.Blancs.Valid || b.Nuls.Valid || !b.Abstentions.Valid || b.Abstentions.N != 1003-667 {
			t.Errorf("totals = %+v", b)
		}
		if c := b.Candidates[0]; c.Panel != 4 || c.Name != "SÉNANT" || c.Nuance != "LUMP" || c.Votes != 418 {
			t.Errorf("candidate = %+v", c)
		}
	})
	t.Run("dep2021 binôme", func(t *testing.T) {
		c := open(t, "dep2021_t1_9213.csv")[0].Candidates[0]
		if c.Name != "M. DOUMONT Luc et Mme LEMOINE Laetitia" || c.Nuance != "BC-RN" || c.Votes != 24 || c.Panel != 1 {
			t.Errorf("candidate = %+v", c)
		}
	})
	t.Run("mun2020 list", func(t *testing.T) {
		c := open(t, "mun2020_t1_antony.csv")[0].Candidates[0]
		want := electoral.CandidateResult{Panel: 1, Name: "SENANT", FirstName: "Jean-Yves", Sex: "M", Nuance: "LDVD", ListLabel: "ANTONY POUR TOUS AVEC JEAN-YVES SENANT", Votes: 327}
		if c != want {
			t.Errorf("candidate = %+v, want %+v", c, want)
		}
	})
}

// legacyPres is a synthetic presidential file in the Ministère's pre-2024 layout:
// Windows-1252, CRLF, only the first block named, ragged rows (the second row stops
// after 2 candidates, the third ends with an empty field).
const legacyPres = "Code du département;Libellé du département;Code de la circonscription;Libellé de la circonscription;Code de la commune;Libellé de la commune;Code du b.vote;Inscrits;Abstentions;% Abs/Ins;Votants;% Vot/Ins;Blancs;% Blancs/Ins;% Blancs/Vot;Nuls;% Nuls/Ins;% Nuls/Vot;Exprimés;% Exp/Ins;% Exp/Vot;N°Panneau;Sexe;Nom;Prénom;Voix;% Voix/Ins;% Voix/Exp\r\n" +
	"01;Ain;04;4ème circonscription;001;L'Abergement-Clémenciat;0001;645;108;16,74;537;83,26;16;2,48;2,98;1;0,16;0,19;520;80,62;96,83;1;F;ARTHAUD;Nathalie;3;0,47;0,58;7;M;MÉLENCHON;Jean-Luc;517;80,15;99,42\r\n" +
	"ZA;Guadeloupe;01;1ère circonscription;101;Les Abymes;12;100;40;40,00;60;60,00;5;5,00;8,33;5;5,00;8,33;50;50,00;83,33;1;F;ARTHAUD;Nathalie;20;20,00;40,00;2;M;CŒURDEROY;Benoît;30;30,00;60,00\r\n" +
	"75;Paris;15;15ème circonscription;056;Paris;1512;10;0;0,00;10;100,00;0;0,00;0,00;0;0,00;0,00;10;100,00;100,00;3;F;LE PEN;Marine;10;100,00;100,00;\r\n" +
	"92;Hauts-de-Seine;13;13ème circonscription;2;Antony;1;5;1;20,00;4;80,00;0;0,00;0,00;0;0,00;0,00;4;80,00;100,00;5;M;ZEMMOUR;Éric;4;80,00;100,00\r\n"

func cp1252(t testing.TB, s string) []byte {
	t.Helper()
	b, err := charmap.Windows1252.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReader_LegacyWindows1252(t *testing.T) {
	rd, got, err := readAll(t, "PR22_BVot_T1.txt", bytes.NewReader(cp1252(t, legacyPres)), results.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rd.Layout() != results.LayoutLegacyWide || len(got) != 4 {
		t.Fatalf("layout %s, %d rows", rd.Layout(), len(got))
	}
	tests := []struct {
		name                               string
		b                                  electoral.BureauResult
		key, arr, circ, communeName, cand0 string
		ncand                              int
	}{
		{"accents decoded", got[0], "01001_0001", "", "0104", "L'Abergement-Clémenciat", "ARTHAUD", 2},
		{"overseas letter code, œ", got[1], "97101_0012", "", "97101", "Les Abymes", "ARTHAUD", 2},
		{"PLM arrondissement, trailing empty field", got[2], "75056_1512", "75115", "7515", "Paris", "LE PEN", 1},
		{"lost zeros", got[3], "92002_0001", "", "9213", "Antony", "ZEMMOUR", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b
			if b.Key != tc.key || b.Arrondissement != tc.arr || b.Circonscription != tc.circ || b.CommuneName != tc.communeName {
				t.Errorf("got key %s arr %q circ %q name %q", b.Key, b.Arrondissement, b.Circonscription, b.CommuneName)
			}
			if len(b.Candidates) != tc.ncand || b.Candidates[0].Name != tc.cand0 {
				t.Errorf("candidates = %+v", b.Candidates)
			}
		})
	}
	if c := got[1].Candidates[1]; c.Name != "CŒURDEROY" || c.FirstName != "Benoît" || c.Votes != 30 || c.Sex != "M" || c.Panel != 2 {
		t.Errorf("Windows-1252 Œ: %+v", c)
	}
	if c := got[0].Candidates[1]; c.Name != "MÉLENCHON" || c.Panel != 7 || c.Elected != electoral.Unknown {
		t.Errorf("second block: %+v", c)
	}
}

func TestReader_Layouts(t *testing.T) {
	tests := []struct {
		name, in, layout string
		opts             results.Options
		keys             []string
		votes            []int64
	}{
		{
			name:   "legislative ragged blocks of 8",
			in:     "Code du département;Libellé du département;Code de la circonscription;Libellé de la circonscription;Code de la commune;Libellé de la commune;Code du b.vote;Inscrits;Abstentions;% Abs/Ins;Votants;% Vot/Ins;Blancs;% Blancs/Ins;% Blancs/Vot;Nuls;% Nuls/Ins;% Nuls/Vot;Exprimés;% Exp/Ins;% Exp/Vot;N°Panneau;Sexe;Nom;Prénom;Nuance;Voix;% Voix/Ins;% Voix/Exp\n92;H;13;13e;002;Antony;0001;10;2;;8;;0;;;0;;;8;;;1;M;A;B;ENS;5;;;2;F;C;D;RN;3;;\n92;H;13;13e;002;Antony;0002;10;2;;8;;0;;;0;;;8;;;1;M;A;B;ENS;8;;\n",
			layout: "legacy-wide", keys: []string{"92002_0001", "92002_0002"}, votes: []int64{5, 3, 8},
		},
		{
			name:   "european 2019 lists of 7",
			in:     "Code du département;Libellé du département;Code de la commune;Libellé de la commune;Code du b.vote;Inscrits;Abstentions;% Abs/Ins;Votants;% Vot/Ins;Blancs;% Blancs/Ins;% Blancs/Vot;Nuls;% Nuls/Ins;% Nuls/Vot;Exprimés;% Exp/Ins;% Exp/Vot;N°Liste;Libellé Abrégé Liste;Libellé Etendu Liste;Nom Tête de Liste;Voix;% Voix/Ins;% Voix/Exp\n2A;Corse;004;Ajaccio;0001;10;0;;10;;0;;;0;;;10;;;1;A;Liste A;X;6;;;2;B;Liste B;Y;4;;\n",
			layout: "legacy-wide", keys: []string{"2A004_0001"}, votes: []int64{6, 4},
		},
		{
			name:   "municipal 2020 tab separated, sector code",
			in:     "Code du département\tLibellé du département\tCode de la commune\tLibellé de la commune\tCode B.Vote\tInscrits\tAbstentions\t% Abs/Ins\tVotants\t% Vot/Ins\tBlancs\t% Blancs/Ins\t% Blancs/Vot\tNuls\t% Nuls/Ins\t% Nuls/Vot\tExprimés\t% Exp/Ins\t% Exp/Vot\tN.Pan.\tCode Nuance\tSexe\tNom\tPrénom\tListe\tVoix\t% Voix/Ins\t% Voix/Exp\n13\tBdR\t055SR01\tMarseille Secteur 1\t0101\t10\t0\t\t10\t\t0\t\t\t0\t\t\t10\t\t\t1\tLUG\tF\tX\tY\tPRINTEMPS\t10\t\t\n",
			layout: "mun2020", keys: []string{"13055_0101"}, votes: []int64{10},
		},
		{
			name:   "data.gouv general filtered on id_election",
			in:     "id_election;id_brut_miom;code_departement;code_commune;code_bv;inscrits;abstentions;votants;blancs;nuls;exprimes\n2022_pres_t1;92002_0001;92;92002;0001;10;2;8;0;0;8\n2022_pres_t2;92002_0001;92;92002;0001;10;3;7;0;0;7\n2022_legi_t1;92002_0001;92;92002;0001;10;5;5;0;0;5\n",
			layout: "datagouv-general", opts: results.Options{Election: electoral.Election{ID: "pres2022", Round: 2}},
			keys: []string{"92002_0001"},
		},
		{
			name:   "data.gouv candidats by id_brut_miom only",
			in:     "id_election;id_brut_miom;no_panneau;voix;nuance;sexe;nom;prenom\n2024_legi_t1;92002_1;3;40;ENS;FEMININ;BREGEON;Maud\n2024_euro_t1;92002_1;3;40;LENS;;;\n",
			layout: "datagouv-candidats", opts: results.Options{Election: electoral.Election{ID: "lg2024", Round: 1}},
			keys: []string{"92002_0001"}, votes: []int64{40},
		},
		{
			name:   "2024 quoted header, unpadded bureau",
			in:     "\"Code département\";\"Code commune\";\"Libellé commune\";\"Code BV\";Inscrits;Votants;Abstentions;Exprimés;Blancs;Nuls;\"Numéro de panneau 1\";\"Nuance candidat 1\";\"Nom candidat 1\";\"Voix 1\";\"Elu 1\";\"Numéro de panneau 2\";\"Nuance candidat 2\";\"Nom candidat 2\";\"Voix 2\";\"Elu 2\"\n1;01001;\"L'Abergement\";1;10;8;2;8;0;0;4;RN;X;8;élu;;;;;\n",
			layout: "2024-blocks", keys: []string{"01001_0001"}, votes: []int64{8},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rd, got, err := readAll(t, "f.csv", strings.NewReader(tc.in), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rd.Layout() != tc.layout {
				t.Errorf("layout = %s, want %s", rd.Layout(), tc.layout)
			}
			var keys []string
			var votes []int64
			for _, b := range got {
				keys = append(keys, b.Key)
				for _, c := range b.Candidates {
					votes = append(votes, c.Votes)
				}
			}
			if strings.Join(keys, ",") != strings.Join(tc.keys, ",") || len(votes) != len(tc.votes) {
				t.Fatalf("keys %v votes %v; want %v %v", keys, votes, tc.keys, tc.votes)
			}
			for i := range votes {
				if votes[i] != tc.votes[i] {
					t.Errorf("votes %v, want %v", votes, tc.votes)
				}
			}
			if tc.layout == "datagouv-general" && got[0].Votants.N != 7 {
				t.Errorf("round 2 row not selected: %+v", got[0])
			}
		})
	}
}

// errReader fails after the header, like a disk or network error mid-file.
func TestReader_Errors(t *testing.T) {
	const h2024 = "Code département;Libellé département;Code commune;Libellé commune;Code BV;Inscrits;Votants;% Votants;Abstentions;% Abstentions;Exprimés;% Exprimés/inscrits;% Exprimés/votants;Blancs;% Blancs/inscrits;% Blancs/votants;Nuls;% Nuls/inscrits;% Nuls/votants;Numéro de panneau 1;Nuance candidat 1;Nom candidat 1;Prénom candidat 1;Sexe candidat 1;Voix 1;% Voix/inscrits 1;% Voix/exprimés 1;Elu 1\n"
	const ok2024 = "92;H;92002;Antony;0001;965;718;;247;;694;;;24;;;0;;;2;UG;GAILLARD;Brice;MASCULIN;694;;;\n"
	pres := strings.SplitAfter(legacyPres, "\r\n")
	tests := []struct {
		name string
		in   io.Reader
		line int64
		col  int
		msg  string
	}{
		{"unknown layout", strings.NewReader("id_bv;names\n92002_1;x\n"), 1, 1, "unknown results layout"},
		{"empty file", strings.NewReader(""), 1, 0, "empty file"},
		{"header only", strings.NewReader(h2024), 0, 0, "no data rows"},
		{"fixed part too short", strings.NewReader(h2024 + ok2024 + "92;H;92002;Antony;0002;965\n"), 3, 7, "fixed part needs 19"},
		{"non-numeric count", strings.NewReader(h2024 + "92;H;92002;Antony;0001;abc;718;;247;;694;;;24;;;0;;;2;UG;G;B;M;694;;;\n"), 2, 6, "not a count"},
		{"non-numeric votes", strings.NewReader(h2024 + "92;H;92002;Antony;0001;965;718;;247;;694;;;24;;;0;;;2;UG;G;B;M;6x4;;;\n"), 2, 25, "votes"},
		{"non-numeric panel", strings.NewReader(h2024 + "92;H;92002;Antony;0001;965;718;;247;;694;;;24;;;0;;;B;UG;G;B;M;694;;;\n"), 2, 20, "panel"},
		{"truncated block", bytes.NewReader(cp1252(t, pres[0]+pres[1]+"92;H;13;13e;2;Antony;2;5;1;;4;;0;;;0;;;4;;;1;F;ARTHAUD;Nathalie;4;;;2;M;X\r\n")), 3, 32, "truncated block 2: 3 of 7"},
		{"bad commune code", strings.NewReader(h2024 + "92;H;ABCDEF;Antony;0001;965;718;;247;;694;;;24;;;0;;;2;UG;G;B;M;694;;;\n"), 2, 3, "commune code"},
		{"unreadable", iotest.ErrReader(errors.New("disk on fire")), 0, 0, "disk on fire"},
		{"unreadable mid-file", io.MultiReader(strings.NewReader(h2024+ok2024), iotest.ErrReader(errors.New("disk on fire"))), 0, 0, "disk on fire"},
		{"binary", bytes.NewReader([]byte{0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x00, 0x01, '\n', 'a'}), 1, 1, "unknown results layout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readAll(t, "bad.csv", tc.in, results.Options{})
			pe, ok := ingest.AsParseError(err)
			if !ok {
				t.Fatalf("err = %v, want a ParseError", err)
			}
			if pe.File != "bad.csv" || pe.Line != tc.line || pe.Col != tc.col || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %q (line %d col %d), want line %d col %d containing %q", err, pe.Line, pe.Col, tc.line, tc.col, tc.msg)
			}
			if !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("err does not wrap errs.ErrInvalid")
			}
		})
	}
}

func TestReader_NoRowForElection(t *testing.T) {
	in := "id_election;id_brut_miom;inscrits;votants;exprimes\n2022_pres_t1;92002_0001;10;8;8\n"
	_, _, err := readAll(t, "g.csv", strings.NewReader(in), results.Options{Election: electoral.Election{ID: "lg2024", Round: 1}})
	if _, ok := ingest.AsParseError(err); !ok || !strings.Contains(err.Error(), "no row of lg2024 round 1") {
		t.Fatalf("err = %v", err)
	}
}
