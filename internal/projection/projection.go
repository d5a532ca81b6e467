// Package projection holds the two map projections coopol computes itself: EPSG:3035
// (ETRS89-LAEA, the equal-area grid of INSEE's Filosofi cells, used for exact areas) and
// Lambert-93 (EPSG:2154, the legal projection of metropolitan addresses).
package projection

import "math"

// GRS80, the ellipsoid of ETRS89 (EPSG:3035) and RGF93 (Lambert-93).
const (
	grs80A  = 6378137.0
	grs80F  = 1 / 298.257222101
	deg2rad = math.Pi / 180
)

// LAEA is the ellipsoidal Lambert Azimuthal Equal Area projection of EPSG:3035
// (ETRS89-LAEA: lat0 52°, lon0 10°, false easting 4,321,000 m, false northing
// 3,210,000 m), following the EPSG guidance note 7-2, method 9820. The inverse
// iterates on the latitude instead of using the usual truncated series, so that a
// forward/inverse round trip stays far below a millimetre.
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

// Inverse returns the lon/lat degrees of an EPSG:3035 easting/northing.
func (p *LAEA) Inverse(e, n float64) (lon, lat float64) {
	x, y := e-p.falseEast, n-p.falseNorth
	rho := math.Hypot(x/p.d, p.d*y)
	if rho == 0 {
		return p.lon0 / deg2rad, 52
	}
	c := 2 * math.Asin(rho/(2*p.rq))
	sinC, cosC := math.Sincos(c)
	b := math.Asin(cosC*p.sinB0 + p.d*y*sinC*p.cosB0/rho)
	l := p.lon0 + math.Atan2(x*sinC, p.d*rho*p.cosB0*cosC-p.d*p.d*y*p.sinB0*sinC)
	// Invert q(φ) = qp·sin β by Newton-like iteration (Snyder 3-16).
	q := p.qp * math.Sin(b)
	phi := math.Asin(q / 2)
	for range 20 {
		s, co := math.Sincos(phi)
		es := 1 - p.e2*s*s
		dphi := es * es / (2 * co) * (q/(1-p.e2) - s/es + 1/(2*p.e)*math.Log((1-p.e*s)/(1+p.e*s)))
		phi += dphi
		if math.Abs(dphi) < 1e-15 {
			break
		}
	}
	return l / deg2rad, phi / deg2rad
}

// Lambert93 is the Lambert Conformal Conic projection of EPSG:2154 (RGF93 v1 /
// Lambert-93), used for the x/y columns of BAN addresses. RGF93 and ETRS89 are taken
// as equal, which is right to a few centimetres in metropolitan France.
type Lambert93 struct {
	e, n, f, rho0, lon0 float64
}

// NewLambert93 returns the projection of EPSG:2154.
func NewLambert93() *Lambert93 {
	e := math.Sqrt(grs80F * (2 - grs80F))
	m := func(lat float64) float64 { s := math.Sin(lat); return math.Cos(lat) / math.Sqrt(1-e*e*s*s) }
	t := func(lat float64) float64 {
		s := math.Sin(lat)
		return math.Tan(math.Pi/4-lat/2) / math.Pow((1-e*s)/(1+e*s), e/2)
	}
	lat1, lat2, lat0 := 49*deg2rad, 44*deg2rad, 46.5*deg2rad
	n := (math.Log(m(lat1)) - math.Log(m(lat2))) / (math.Log(t(lat1)) - math.Log(t(lat2)))
	f := m(lat1) / (n * math.Pow(t(lat1), n))
	return &Lambert93{e: e, n: n, f: f, rho0: grs80A * f * math.Pow(t(lat0), n), lon0: 3 * deg2rad}
}

// Forward projects lon/lat degrees to Lambert-93 x/y metres.
func (p *Lambert93) Forward(lon, lat float64) (x, y float64) {
	phi := lat * deg2rad
	s := math.Sin(phi)
	t := math.Tan(math.Pi/4-phi/2) / math.Pow((1-p.e*s)/(1+p.e*s), p.e/2)
	rho := grs80A * p.f * math.Pow(t, p.n)
	theta := p.n * (lon*deg2rad - p.lon0)
	return 700000 + rho*math.Sin(theta), 6600000 + p.rho0 - rho*math.Cos(theta)
}
