// read.mjs DIR: opens the exports the Go test wrote in DIR with readers that share no
// code with coopol: DuckDB reads bureaux.parquet and bureaux.geoparquet (and their "geo"
// metadata with parquet_kv_metadata), apache-arrow reads bureaux.arrow, and a WKB
// decoder written here reads the GeoParquet geometry. Prints one JSON object.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';

const dir = process.argv[2];
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();

const out = {};
const pq = join(dir, 'bureaux.parquet').replaceAll("'", "''");
out.parquet = await rows(`SELECT bureau, inscrits, share, note FROM read_parquet('${pq}') ORDER BY bureau`);
const gpq = join(dir, 'bureaux.geoparquet').replaceAll("'", "''");
const kv = await rows(`SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata('${gpq}')`);
out.geo = JSON.parse(kv.find((r) => r.key === 'geo').value);
const geoms = (await con.runAndReadAll(`SELECT bureau, geometry FROM read_parquet('${gpq}') ORDER BY bureau`)).getRowObjects();
out.wkb = geoms.map((r) => ({ bureau: r.bureau, geometry: r.geometry === null ? null : wkb(Buffer.from(r.geometry.bytes)) }));

const table = tableFromIPC(readFileSync(join(dir, 'bureaux.arrow')));
out.arrow = table.toArray().map((r) => ({ bureau: r.bureau, inscrits: r.inscrits === null ? null : Number(r.inscrits), share: r.share, note: r.note }));
console.log(JSON.stringify(out));

// wkb decodes (Multi)Polygon WKB, either byte order, into GeoJSON-like objects.
function wkb(buf) {
  let o = 0;
  const geom = () => {
    const le = buf.readUInt8(o) === 1; o += 1;
    const u32 = () => { const v = le ? buf.readUInt32LE(o) : buf.readUInt32BE(o); o += 4; return v; };
    const f64 = () => { const v = le ? buf.readDoubleLE(o) : buf.readDoubleBE(o); o += 8; return v; };
    const type = u32();
    const ring = () => Array.from({ length: u32() }, () => [f64(), f64()]);
    const poly = () => Array.from({ length: u32() }, ring);
    if (type === 3) return { type: 'Polygon', coordinates: poly() };
    if (type === 6) return { type: 'MultiPolygon', coordinates: Array.from({ length: u32() }, () => geom().coordinates) };
    throw new Error(`WKB type ${type}`);
  };
  return geom();
}
