-- Vector tiles: geometry generalised once per zoom band at build time (coopol tiles
-- build, or after an ingestion), so a tile request only reads a few small rows.
-- btree_gist lets one GiST index answer "this layer, this band, this box" together:
-- a plain geometry index would return every band of every layer under the box.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Every layer built, with a version bumped only when the built content changes: tile
-- caches and ETags key on it, so a rebuild that changes nothing invalidates nothing.
CREATE SEQUENCE tile_version_seq;
CREATE TABLE tile_layers (
    layer        text PRIMARY KEY,          -- departements, circonscriptions, communes, bureaux, iris
    version      bigint NOT NULL,
    content_hash text NOT NULL,             -- SHA-256 of the features, to tell real changes apart
    features     bigint NOT NULL,
    sources      jsonb NOT NULL DEFAULT '{}', -- current dataset ids it was built from
    built_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per feature and zoom band. band is the zoom whose half-pixel tolerance the
-- geometry was simplified with; a tile at zoom z reads the smallest band >= z. Geometry
-- is in Web Mercator, the tiles' own CRS, so nothing is reprojected per request.
CREATE TABLE tile_features (
    layer    text NOT NULL,
    band     smallint NOT NULL,
    id       text NOT NULL,                 -- canonical code: 92002_0001, 92002, 92, 9213, IRIS code
    name     text NOT NULL DEFAULT '',
    parent   text NOT NULL DEFAULT '',      -- commune of a bureau or IRIS, département of a commune or circonscription
    kind     text NOT NULL DEFAULT '',      -- IRIS type (H, A, D, Z)
    inscrits bigint,                        -- registered voters at the last loaded election
    geom     geometry(MultiPolygon, 3857) NOT NULL,
    PRIMARY KEY (layer, band, id)
);
CREATE INDEX tile_features_box ON tile_features USING gist (layer, band, geom);

-- Versions of sources that are not loaded files (later: leaflet runs recorded in the
-- field), bumped by the transaction that changes them; tile and indicator caches read
-- them with the current dataset ids.
CREATE TABLE data_versions (
    name       text PRIMARY KEY,
    version    bigint NOT NULL DEFAULT 1,
    changed_at timestamptz NOT NULL DEFAULT now()
);
