package projection

import (
	"math"
	"testing"
)

func TestLAEA(t *testing.T) {
	p := NewLAEA3035()
	// References from PROJ 9: echo 2880000 3760000 | cs2cs -f %.10f EPSG:3035 EPSG:4326
	// (EPSG:3035 has northing first), and echo 48.8 2.3 | cs2cs EPSG:4326 EPSG:3035.
	tests := []struct {
		name           string
		e, n, lon, lat float64
	}{
		{"near Paris", 3760000, 2880000, 2.3548454746, 48.7710897984},
		{"demo corner", 3752000, 2872000, 2.2577081465, 48.6920739778},
		{"48.8N 2.3E", 3756320.677913, 2883618.976206, 2.3, 48.8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lon, lat := p.Inverse(tc.e, tc.n)
			if math.Abs(lon-tc.lon) > 1e-8 || math.Abs(lat-tc.lat) > 1e-8 {
				t.Errorf("Inverse(%v, %v) = %.10f, %.10f, want %.10f, %.10f", tc.e, tc.n, lon, lat, tc.lon, tc.lat)
			}
			e, n := p.Forward(tc.lon, tc.lat)
			if math.Abs(e-tc.e) > 1e-3 || math.Abs(n-tc.n) > 1e-3 {
				t.Errorf("Forward(%v, %v) = %.4f, %.4f, want %.4f, %.4f", tc.lon, tc.lat, e, n, tc.e, tc.n)
			}
		})
	}
	// Round trip over metropolitan France and the overseas départements.
	for lat := -22.0; lat <= 52; lat += 0.73 {
		for lon := -62.0; lon <= 56; lon += 1.37 {
			e, n := p.Forward(lon, lat)
			lon2, lat2 := p.Inverse(e, n)
			e2, n2 := p.Forward(lon2, lat2)
			if d := math.Hypot(e2-e, n2-n); d > 1e-3 {
				t.Fatalf("round trip at %v, %v: %v m", lon, lat, d)
			}
		}
	}
}

func TestLambert93(t *testing.T) {
	// echo 48.8 2.3 | cs2cs -f %.6f EPSG:4326 EPSG:2154
	x, y := NewLambert93().Forward(2.3, 48.8)
	if math.Abs(x-648583.262125) > 0.01 || math.Abs(y-6855774.715697) > 0.01 {
		t.Errorf("Forward = %.6f, %.6f, want 648583.262125, 6855774.715697", x, y)
	}
}
