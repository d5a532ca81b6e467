package geo

import (
	"strings"
	"testing"
)

func wkbOf(t *testing.T, geom string) []byte {
	t.Helper()
	in := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":` + geom + `}]}`
	f, err := NewReader("t.geojson", strings.NewReader(in)).Next()
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), f.WKB...)
}

func TestValidityChecker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		geom string
		want bool
	}{
		{"square", `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}`, true},
		{"concave", `{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[2,1],[0,4],[0,0]]]}`, true},
		{"Lambert-93 coordinates", `{"type":"Polygon","coordinates":[[[651000.5,6852000.25],[651100,6852000],[651100,6852100],[651000,6852100],[651000.5,6852000.25]]]}`, true},
		{"bowtie", `{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}`, false},
		{"spike", `{"type":"Polygon","coordinates":[[[0,0],[2,0],[3,0],[2,0],[2,2],[0,2],[0,0]]]}`, false},
		{"repeated point", `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,0],[1,1],[0,1],[0,0]]]}`, false},
		{"collinear vertex (valid, left to GEOS)", `{"type":"Polygon","coordinates":[[[0,0],[1,0],[2,0],[2,2],[0,2],[0,0]]]}`, false},
		{"ring touching itself at a vertex", `{"type":"Polygon","coordinates":[[[0,0],[2,0],[1,1],[2,2],[0,2],[1,1],[0,0]]]}`, false},
		{"flat ring", `{"type":"Polygon","coordinates":[[[0,0],[1,0],[2,0],[0,0]]]}`, false},
		{"hole (left to GEOS)", `{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[2,1],[2,2],[1,1]]]}`, false},
		{"disjoint parts", `{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[2,0],[3,0],[3,1],[2,0]]]]}`, true},
		{"overlapping parts", `{"type":"MultiPolygon","coordinates":[[[[0,0],[2,0],[2,2],[0,0]]],[[[1,0],[3,0],[3,1],[1,0]]]]}`, false},
		{"nested parts", `{"type":"MultiPolygon","coordinates":[[[[0,0],[4,0],[4,4],[0,4],[0,0]]],[[[1,1],[2,1],[2,2],[1,1]]]]}`, false},
		{"parts with touching boxes", `{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[1,0],[2,0],[2,1],[1,0]]]]}`, false},
		{"empty", `{"type":"Polygon","coordinates":[]}`, false},
		{"nearly touching", `{"type":"Polygon","coordinates":[[[0,0],[2,0],[1,1e-17],[2,2],[0,2],[1,1e-17],[0,0]]]}`, false},
	}
	var v ValidityChecker
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := v.SurelyValid(wkbOf(t, tc.geom)); got != tc.want {
				t.Errorf("SurelyValid = %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range [][]byte{nil, {1}, {1, 3, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0}, {0, 0, 0, 0, 3}} {
		if v.SurelyValid(bad) {
			t.Errorf("SurelyValid(% x) = true", bad)
		}
	}
}
