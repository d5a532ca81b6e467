-- Tile requests that do integer work only. The build stores, beside each generalised
-- geometry, the same geometry rounded to its band's tile grid and varint-encoded
-- (internal/tiles/geom.go, EncodeGeometry): a request reads a few bytes per vertex, shifts
-- them to the tile, clips only the features crossing its edge, and writes MVT commands.
-- NULL until the next build (coopol tiles build), which every layer needs after this
-- migration: the format is part of each layer's recorded sources.
ALTER TABLE tile_features ADD COLUMN enc bytea;

-- The carreaux layer: grid cells of the newest vintage, built from grid_cells by the same
-- build (a request used to read the wide grid_cells rows and reproject each cell). enc is
-- the cell's geometry at tiles.CellBand; bounds its Web Mercator bounds as a two-point WKB
-- line, indexed as a geometry: PostGIS sorts it for a one-pass GiST build (10 s for the
-- 2.6 M cells of France, where a gist index on a box column took 44 s). A build fills a
-- new table in load order (INSEE files come sorted by cell id: rows of neighbouring cells
-- together), indexes it once, and swaps it in.
CREATE TABLE tile_cells (
    id     text NOT NULL,
    ind    real NOT NULL,
    men    real NOT NULL,
    bounds bytea NOT NULL,
    enc    bytea NOT NULL
);
CREATE INDEX tile_cells_bounds ON tile_cells USING gist (ST_GeomFromWKB(bounds, 3857));
