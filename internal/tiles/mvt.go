package tiles

import (
	"encoding/binary"
	"math"
	"sync"
)

// layerWriter encodes one MVT layer (protocol buffers written by hand: the Mapbox
// Vector Tile 2.1 schema has five messages) from stored features, without building
// an intermediate geometry or property map per feature.
type layerWriter struct {
	layer  Layer
	t      xform
	geom   geomEncoder
	keys   []string
	keyIdx map[string]uint32
	vals   []byte // encoded Value messages, each with its field tag
	nvals  uint32
	strIdx map[string]uint32
	fltIdx map[float64]uint32
	feats  []byte // encoded Feature messages, each with its field tag
	n      int
	tags   []byte // packed varints of the current feature's tags
}

// layerWriters keeps writers, their buffers and maps, from tile to tile: a render
// then allocates little beyond the tile itself.
var layerWriters = sync.Pool{New: func() any {
	return &layerWriter{keyIdx: map[string]uint32{}, strIdx: map[string]uint32{},
		fltIdx: map[float64]uint32{}}
}}

func newLayerWriter(l Layer, t xform) *layerWriter {
	w := layerWriters.Get().(*layerWriter)
	w.layer, w.t, w.n, w.nvals = l, t, 0, 0
	w.keys, w.vals, w.feats = w.keys[:0], w.vals[:0], w.feats[:0]
	clear(w.keyIdx)
	clear(w.strIdx)
	clear(w.fltIdx)
	return w
}

// release gives the writer back; it must not be used after.
func (w *layerWriter) release() {
	if cap(w.feats) > 4<<20 || len(w.strIdx) > 1<<16 {
		return // an outsized tile: let its memory go
	}
	layerWriters.Put(w)
}

func (w *layerWriter) tag(k, v uint32) {
	w.tags = appendSmall(appendSmall(w.tags, uint64(k)), uint64(v))
}

func (w *layerWriter) key(k string) uint32 {
	i, ok := w.keyIdx[k]
	if !ok {
		i = uint32(len(w.keys))
		w.keys = append(w.keys, k)
		w.keyIdx[k] = i
	}
	return i
}

// str tags the feature with a string value. Values repeated across features (a
// parent code, a type) are written once; ids and names, unique or nearly, are written
// as they come, which costs no lookup.
func (w *layerWriter) str(k string, v []byte, dedupe bool) {
	i, ok := uint32(0), false
	if dedupe {
		i, ok = w.strIdx[string(v)]
	}
	if !ok {
		i = w.nvals
		w.nvals++
		if dedupe {
			w.strIdx[string(v)] = i
		}
		w.vals = append(w.vals, 4<<3|2)
		w.vals = binary.AppendUvarint(w.vals, uint64(1+uvarintLen(uint64(len(v)))+len(v)))
		w.vals = append(w.vals, 1<<3|2)
		w.vals = binary.AppendUvarint(w.vals, uint64(len(v)))
		w.vals = append(w.vals, v...)
	}
	w.tag(w.key(k), i)
}

// sint tags the feature with an integer: registered voters, nearly unique, are written
// as they come.
func (w *layerWriter) sint(k string, v int64) {
	i := w.nvals
	w.nvals++
	z := uint64(v<<1) ^ uint64(v>>63)
	w.vals = append(w.vals, 4<<3|2, byte(1+uvarintLen(z)), 6<<3|0)
	w.vals = binary.AppendUvarint(w.vals, z)
	w.tag(w.key(k), i)
}

func (w *layerWriter) double(k string, v float64) {
	i, ok := w.fltIdx[v]
	if !ok {
		i = w.nvals
		w.nvals++
		w.fltIdx[v] = i
		w.vals = append(w.vals, 4<<3|2, 9, 3<<3|1)
		w.vals = binary.LittleEndian.AppendUint64(w.vals, math.Float64bits(v))
	}
	w.tag(w.key(k), i)
}

// add encodes a stored feature, unless its shape does not reach the tile.
func (w *layerWriter) add(f *Feature) {
	if !w.geom.encode(f.Geom, w.t) {
		return
	}
	w.tags = w.tags[:0]
	w.str("id", f.ID, false) // a feature is once in its layer
	if len(f.Name) > 0 {
		w.str("nom", f.Name, true) // homonyms are common
	}
	if w.layer.Parent != "" && len(f.Parent) > 0 {
		w.str(w.layer.Parent, f.Parent, true)
	}
	if len(f.Kind) > 0 {
		w.str("type", f.Kind, true)
	}
	if f.Inscrits >= 0 && w.layer.Name != "carreaux" && w.layer.Name != "iris" {
		w.sint("inscrits", f.Inscrits)
	}
	if w.layer.Name == "carreaux" {
		w.double("ind", math.Round(f.Ind*10)/10)
		w.double("men", math.Round(f.Men*10)/10)
	}
	tagsLen, geomLen := len(w.tags), len(w.geom.cmds)
	size := 1 + uvarintLen(uint64(tagsLen)) + tagsLen + 2 + 1 + uvarintLen(uint64(geomLen)) + geomLen
	b := append(w.feats, 2<<3|2)
	b = binary.AppendUvarint(b, uint64(size))
	b = append(b, 2<<3|2)
	b = binary.AppendUvarint(b, uint64(tagsLen))
	b = append(b, w.tags...)
	b = append(b, 3<<3|0, 3) // POLYGON
	b = append(b, 4<<3|2)
	b = binary.AppendUvarint(b, uint64(geomLen))
	w.feats = append(b, w.geom.cmds...)
	w.n++
}

// appendTo appends the layer, as a field of the Tile message, to b.
func (w *layerWriter) appendTo(b []byte) []byte {
	size := 2 + 1 + uvarintLen(uint64(len(w.layer.Name))) + len(w.layer.Name) + len(w.feats) + len(w.vals) + 1 + uvarintLen(Extent)
	for _, k := range w.keys {
		size += 1 + uvarintLen(uint64(len(k))) + len(k)
	}
	b = append(b, 3<<3|2)
	b = binary.AppendUvarint(b, uint64(size))
	b = append(b, 15<<3|0, 2) // version
	b = append(b, 1<<3|2)
	b = binary.AppendUvarint(b, uint64(len(w.layer.Name)))
	b = append(b, w.layer.Name...)
	b = append(b, w.feats...)
	for _, k := range w.keys {
		b = append(b, 3<<3|2)
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	b = append(b, w.vals...)
	b = append(b, 5<<3|0)
	return binary.AppendUvarint(b, Extent)
}

func (w *layerWriter) size() int { return len(w.feats) + len(w.vals) + 64 }

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
