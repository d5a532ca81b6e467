package results_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/coopol/coopol/internal/electoral"
	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/results"
	"github.com/coopol/coopol/internal/realdata"
)

// FuzzParseResults checks that the parser never panics and that every failure is a
// ParseError, whatever the bytes. Seeds are the real fixtures (whole files: they are
// small) and the synthetic Windows-1252 file.
func FuzzParseResults(f *testing.F) {
	for _, name := range []string{"lg2024_t1_9213.csv", "lg2024_t2_9213.csv", "eu2024_9213.csv", "dep2021_t1_9213.csv",
		"mun2020_t1_antony.csv", "mun2014_t1_antony.csv", "lg2022_t2_9213_ods.csv"} {
		b, err := os.ReadFile(realdata.Path(f, "hds9213/"+name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
		// The header and two rows: short seeds let the fuzzer mutate rows faster.
		if lines := bytes.SplitAfterN(b, []byte("\n"), 4); len(lines) == 4 {
			f.Add(bytes.Join(lines[:3], nil), uint8(1))
		}
	}
	f.Add(cp1252(f, legacyPres), uint8(2))
	f.Add([]byte("id_election;id_brut_miom;no_panneau;voix;nom\n2024_legi_t1;92002_1;3;40;X\n"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, opt uint8) {
		var opts results.Options
		if opt%2 == 1 {
			opts.Election = electoral.Election{ID: "lg2024", Round: 1}
		}
		rd, err := results.NewReader("fuzz.csv", bytes.NewReader(data), opts)
		if err != nil {
			if _, ok := ingest.AsParseError(err); !ok {
				t.Fatalf("NewReader: %T %v, want a ParseError", err, err)
			}
			return
		}
		for range 1 << 20 {
			b, err := rd.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if _, ok := ingest.AsParseError(err); !ok {
					t.Fatalf("Next: %T %v, want a ParseError", err, err)
				}
				return
			}
			if len(b.Key) < 10 || b.Key[5] != '_' {
				t.Fatalf("malformed key %q", b.Key)
			}
		}
		t.Fatal("more rows than bytes")
	})
}
