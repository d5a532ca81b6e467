package generate

import (
	"math"
	"math/rand/v2"
)

// Random streams. Sequential draws (seeds, names, candidates) come from a PCG per
// stream, so adding draws to one part of the generator never shifts another part;
// values attached to a place (vertex jitter, cell noise) come from a hash of the seed
// and the place, so they need no storage and no particular iteration order.
const (
	sJitterX uint64 = iota + 1
	sJitterY
	sCommuneSeeds
	sDeptSeeds
	sCities
	sPopulated
	sPopNoise
	sVillage
	sCell
	sCellAge
	sBureauSeeds
	sIRISSeeds
	sNames
	sIRISKind
	sCensus
	sFilo
	sAddress
	sCandidates
	sVote
	sInscrits
	sCommunes
	sParis
	sWealth
)

// rng returns the PCG generator of one stream.
func (g *generator) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.seed, stream*0x9e3779b97f4a7c15+0x632be59bd9b4e019))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hash mixes the seed, a stream and two coordinates.
func (g *generator) hash(stream, a, b uint64) uint64 {
	return splitmix(splitmix(splitmix(g.seed^stream<<56)^a) ^ b*0xd6e8feb86659fd93)
}

// unif returns a uniform value in [0, 1) attached to (stream, a, b).
func (g *generator) unif(stream, a, b uint64) float64 {
	return float64(g.hash(stream, a, b)>>11) / (1 << 53)
}

// norm returns a standard normal value attached to (stream, a, b).
func (g *generator) norm(stream, a, b uint64) float64 {
	u1 := g.unif(stream, a, b)
	u2 := g.unif(stream|1<<40, a, b)
	return math.Sqrt(-2*math.Log(1-u1)) * math.Cos(2*math.Pi*u2)
}
