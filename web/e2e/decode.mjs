// decode.mjs FILE: decodes a Mapbox Vector Tile with @mapbox/vector-tile (an independent
// decoder) and prints, per layer, the extent, the feature ids and the bounds of every
// coordinate, as JSON.
import {readFileSync} from 'node:fs';
import {VectorTile} from '@mapbox/vector-tile';
import {PbfReader} from 'pbf';

const tile = new VectorTile(new PbfReader(readFileSync(process.argv[2])));
const out = {};
for (const [name, layer] of Object.entries(tile.layers)) {
  const l = {extent: layer.extent, ids: [], types: [], minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity};
  for (let i = 0; i < layer.length; i++) {
    const f = layer.feature(i);
    l.ids.push(f.properties.id);
    l.types.push(f.type);
    for (const ring of f.loadGeometry()) {
      for (const p of ring) {
        l.minX = Math.min(l.minX, p.x); l.maxX = Math.max(l.maxX, p.x);
        l.minY = Math.min(l.minY, p.y); l.maxY = Math.max(l.maxY, p.y);
      }
    }
  }
  out[name] = l;
}
console.log(JSON.stringify(out));
