package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/ingest/results"
	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/postgres/pgtest"
)

const benchBureaux = 69_000 // France, data-formats.md §12

// benchBureau returns the département, commune number and bureau number of the i-th
// synthetic bureau: 96 départements of ~720 bureaux, 10 bureaux per commune.
func benchBureau(i int) (dept string, commune, bureau int) {
	d := i%96 + 1
	switch {
	case d == 20:
		dept = "2A"
	case d == 96:
		dept = "2B"
	default:
		dept = fmt.Sprintf("%02d", d)
	}
	j := i / 96
	return dept, j/10 + 1, j%10 + 1
}

// benchPresLegacy builds a national presidential round-1 file in the pre-2024 layout:
// 21 fixed fields then 12 blocks of 7, only the first named, comma decimals.
func benchPresLegacy() []byte {
	var b bytes.Buffer
	b.WriteString("Code du département;Libellé du département;Code de la circonscription;Libellé de la circonscription;Code de la commune;Libellé de la commune;Code du b.vote;Inscrits;Abstentions;% Abs/Ins;Votants;% Vot/Ins;Blancs;% Blancs/Ins;% Blancs/Vot;Nuls;% Nuls/Ins;% Nuls/Vot;Exprimés;% Exp/Ins;% Exp/Vot;N°Panneau;Sexe;Nom;Prénom;Voix;% Voix/Ins;% Voix/Exp\r\n")
	names := []string{"ARTHAUD", "ROUSSEL", "MACRON", "LASSALLE", "LE PEN", "ZEMMOUR", "MÉLENCHON", "HIDALGO", "JADOT", "PÉCRESSE", "POUTOU", "DUPONT-AIGNAN"}
	for i := range benchBureaux {
		dept, commune, bureau := benchBureau(i)
		inscrits := 600 + i%900
		votants := inscrits * 3 / 4
		blancs, nuls := votants/50, votants/200
		exprimes := votants - blancs - nuls
		fmt.Fprintf(&b, "%s;Département %s;%02d;%dème circonscription;%03d;Commune %d;%04d;%d;%d;25,00;%d;75,00;%d;1,50;2,00;%d;0,40;0,50;%d;72,00;97,50",
			dept, dept, commune%12+1, commune%12+1, commune, commune, bureau, inscrits, inscrits-votants, votants, blancs, nuls, exprimes)
		left := exprimes
		for k, n := range names {
			v := exprimes / 13
			if k == len(names)-1 {
				v = left
			}
			left -= v
			sex := "M"
			if k%3 == 0 {
				sex = "F"
			}
			fmt.Fprintf(&b, ";%d;%s;%s;Prénom;%d;7,10;8,33", k+1, sex, n, v)
		}
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// benchLeg2024 builds a national legislative 2024 round-1 file: 19 fixed fields, every
// row padded to 19 blocks of 9, 5 to 11 candidates per circonscription.
func benchLeg2024() []byte {
	var b bytes.Buffer
	b.WriteString("Code département;Libellé département;Code commune;Libellé commune;Code BV;Inscrits;Votants;% Votants;Abstentions;% Abstentions;Exprimés;% Exprimés/inscrits;% Exprimés/votants;Blancs;% Blancs/inscrits;% Blancs/votants;Nuls;% Nuls/inscrits;% Nuls/votants")
	for k := 1; k <= 19; k++ {
		fmt.Fprintf(&b, ";Numéro de panneau %[1]d;Nuance candidat %[1]d;Nom candidat %[1]d;Prénom candidat %[1]d;Sexe candidat %[1]d;Voix %[1]d;%% Voix/inscrits %[1]d;%% Voix/exprimés %[1]d;Elu %[1]d", k)
	}
	b.WriteString("\n")
	nuances := []string{"UG", "ENS", "RN", "LR", "REC", "DVC", "EXG", "ECO", "DIV", "DVD", "UXD"}
	for i := range benchBureaux {
		dept, commune, bureau := benchBureau(i)
		inscrits := 600 + i%900
		votants := inscrits * 2 / 3
		blancs, nuls := votants/50, votants/200
		exprimes := votants - blancs - nuls
		fmt.Fprintf(&b, "%s;Département %s;%s%03d;Commune %d;%04d;%d;%d;66,67%%;%d;33,33%%;%d;64,00%%;97,50%%;%d;1,50%%;2,00%%;%d;0,40%%;0,50%%",
			dept, dept, dept, commune, commune, bureau, inscrits, votants, inscrits-votants, exprimes, blancs, nuls)
		n := 5 + commune%7
		left := exprimes
		for k := range n {
			v := exprimes / (n + 1)
			if k == n-1 {
				v = left
			}
			left -= v
			fmt.Fprintf(&b, ";%d;%s;NOM%d;Prénom;FEMININ;%d;10,00%%;20,00%%;", k+1, nuances[k], k, v)
		}
		for range 19 - n {
			b.WriteString(";;;;;;;;;")
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

func benchmarkLoad(b *testing.B, e electoral.Election, data []byte) {
	db, _ := pgtest.New(b)
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	n := 0
	for b.Loop() {
		n++
		rd, err := results.NewReader("bench.csv", bytes.NewReader(data), results.Options{Election: e})
		if err != nil {
			b.Fatal(err)
		}
		// A new hash each time: the load must replace the previous one, not skip.
		l := postgres.Load{File: "bench.csv", SHA256: strconv.Itoa(n)}
		rep, err := db.LoadResults(ctx, l, e, rd)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Rows != benchBureaux {
			b.Fatalf("rows = %d", rep.Rows)
		}
	}
	b.ReportMetric(float64(benchBureaux)*float64(b.N)/b.Elapsed().Seconds(), "bureaux/s")
}

// BenchmarkLoadResults_PresLegacy loads 69,000 bureaux × 12 candidates (828,000 votes).
func BenchmarkLoadResults_PresLegacy(b *testing.B) {
	benchmarkLoad(b, electoral.Election{ID: "pres2022", Round: 1}, benchPresLegacy())
}

// BenchmarkLoadResults_Leg2024 loads 69,000 bureaux of the 2024 numbered-block layout.
func BenchmarkLoadResults_Leg2024(b *testing.B) {
	benchmarkLoad(b, electoral.Election{ID: "lg2024", Round: 1}, benchLeg2024())
}
