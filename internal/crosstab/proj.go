package crosstab

import "math"

// GRS80, the ellipsoid of ETRS89 (EPSG:3035).
const (
	grs80A  = 6378137.0
	grs80F  = 1 / 298.257222101
	deg2rad = math.Pi / 180
)

// LAEA is the ellipsoidal Lambert Azimuthal Equal Area projection of EPSG:3035
// (ETRS89-LAEA: lat0 52°, lon0 10°, false easting 4,321,000 m, false northing
// 3,210,000 m), EPSG guidance note 7-2, method 9820. Equal-area everywhere, so it
// measures the overseas départements' areas right too, however distorted their shapes.
type LAEA struct {
	e, e2, qp, rq, d      float64
	lon0, sinB0, cosB0    float64
	falseEast, falseNorth float64
}

// NewLAEA3035 returns the projection of EPSG:3035.
func NewLAEA3035() *LAEA {
	p := &LAEA{lon0: 10 * deg2rad, falseEast: 4321000, falseNorth: 3210000}
	p.e2 = grs80F * (2 - grs80F)
	p.e = math.Sqrt(p.e2)
	p.qp = p.q(math.Pi / 2)
	p.rq = grs80A * math.Sqrt(p.qp/2)
	lat0 := 52 * deg2rad
	b0 := math.Asin(p.q(lat0) / p.qp)
	p.sinB0, p.cosB0 = math.Sincos(b0)
	p.d = grs80A * math.Cos(lat0) / (math.Sqrt(1-p.e2*math.Sin(lat0)*math.Sin(lat0)) * p.rq * p.cosB0)
	return p
}

// q is the authalic function of the latitude.
func (p *LAEA) q(lat float64) float64 {
	s := math.Sin(lat)
	return (1 - p.e2) * (s/(1-p.e2*s*s) - 1/(2*p.e)*math.Log((1-p.e*s)/(1+p.e*s)))
}

// Forward projects lon/lat degrees to EPSG:3035 easting/northing metres.
func (p *LAEA) Forward(lon, lat float64) (e, n float64) {
	b := math.Asin(p.q(lat*deg2rad) / p.qp)
	sinB, cosB := math.Sincos(b)
	sinL, cosL := math.Sincos(lon*deg2rad - p.lon0)
	bb := p.rq * math.Sqrt(2/(1+p.sinB0*sinB+p.cosB0*cosB*cosL))
	e = p.falseEast + bb*p.d*cosB*sinL
	n = p.falseNorth + bb/p.d*(p.cosB0*sinB-p.sinB0*cosB*cosL)
	return e, n
}
