-- INSEE and COG sources: communes, census by IRIS, Filosofi grid and IRIS income, BAN.

-- Current communes and municipal arrondissements of one COG vintage (the last loaded).
-- Delegated and associated communes share codes with their parents, so they live apart
-- in commune_parts: here code is unique.
CREATE TABLE communes (
    dataset_id   bigint NOT NULL REFERENCES datasets (id),
    code         text PRIMARY KEY,   -- 5-character INSEE code of a current commune or arrondissement
    name         text NOT NULL,
    type         text NOT NULL DEFAULT 'COM' CHECK (type IN ('COM', 'ARM')), -- INSEE TYPECOM
    dept         text,
    region       text,
    zone         text,               -- metro, drom, com
    parent       text,               -- city of an arrondissement (75056, 69123, 13055)
    population   bigint,             -- legal population (COG JSON only)
    former_codes text[] NOT NULL DEFAULT '{}',
    postcodes    text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX communes_dept ON communes (dept);

-- Delegated (COMD) and associated (COMA) communes, with the current commune they belong to.
CREATE TABLE commune_parts (
    dataset_id   bigint NOT NULL REFERENCES datasets (id),
    code         text NOT NULL,
    type         text NOT NULL CHECK (type IN ('COMD', 'COMA')),
    name         text NOT NULL,
    parent       text NOT NULL,
    dept         text,
    region       text,
    former_codes text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (code, type)
);
CREATE INDEX commune_parts_parent ON commune_parts (parent);

CREATE TABLE departements (
    dataset_id bigint NOT NULL REFERENCES datasets (id),
    code       text PRIMARY KEY,     -- 01…95, 2A, 2B, 971…989
    name       text NOT NULL,
    region     text,
    zone       text,
    chef_lieu  text
);

-- IRIS reference, upserted by every census file: a later file updates COM and TYP_IRIS
-- of the IRIS it lists and leaves the others alone (geographies differ between vintages).
CREATE TABLE iris (
    dataset_id bigint NOT NULL REFERENCES datasets (id),
    code       text PRIMARY KEY,     -- 9 characters: commune or arrondissement code + 4 digits
    com        text NOT NULL,        -- arrondissement code in Paris, Lyon, Marseille
    typ_iris   text NOT NULL,        -- H habitat, A activité, D divers, Z non-split commune
    lab_iris   text NOT NULL DEFAULT ''
);
CREATE INDEX iris_com ON iris (com);

-- Census and Filosofi IRIS variables, stored generically: a new INSEE column needs no
-- migration. One row per column of a loaded file. The ids of one load are consecutive
-- (the loader allocates them under a lock), so its values form one partition.
CREATE TABLE census_variables (
    id         int PRIMARY KEY,      -- int4: census_values holds millions of references
    dataset_id bigint NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    theme      text NOT NULL,        -- evol-struct-pop, logement, filosofi-disp, …
    vintage    int NOT NULL,         -- from the column prefix (P20_ → 2020, DISP_MED18 → 2018)
    name       text NOT NULL,        -- the INSEE column name, P20_POP
    kind       text NOT NULL CHECK (kind IN ('extensive', 'intensive')), -- may it be summed?
    position   int NOT NULL,         -- column in the source file, to list variables in file order
    UNIQUE (theme, vintage, name)
);
CREATE INDEX census_variables_dataset ON census_variables (dataset_id);

-- One value per variable and IRIS; an empty field in the source is an absent row.
-- Keyed by (variable_id, iris): maps read one variable for every IRIS, and the planner
-- prunes to the one partition holding it. Each load gets its own partition (the range of
-- its variable ids): it is filled by COPY without an index, indexed once, attached, and
-- the partition of the load it replaces is dropped; deleting and re-indexing 3.6 M rows
-- one by one would take three times as long. No foreign key: its check would cost one
-- lookup per value.
CREATE TABLE census_values (
    variable_id int NOT NULL,
    iris        text NOT NULL,
    value       float8 NOT NULL,
    PRIMARY KEY (variable_id, iris)
) PARTITION BY RANGE (variable_id);

-- Filosofi 200 m (or 1 km) grid cells. The geometry is rebuilt from the cell id, the
-- authoritative corner in the grid's own CRS (EPSG:3035 in metropolitan France), and
-- PostGIS computes the WGS84 polygon as a generated column: the loader only copies
-- numbers, and the native square stays exact and cheap to rebuild with
-- ST_MakeEnvelope(easting, northing, easting + size, northing + size, srid).
-- One partition per vintage: a load fills a new table by COPY, indexes it once (a sorted
-- GiST build instead of 2.3 M incremental inserts), drops the partition it replaces and
-- attaches itself.
CREATE TABLE grid_cells (
    dataset_id bigint NOT NULL REFERENCES datasets (id),
    vintage    int NOT NULL,
    id         text NOT NULL,        -- CRS3035RES200mN2875800E3756000
    srid       int NOT NULL,         -- of the id: 3035
    size       int NOT NULL,         -- metres: 200 or 1000
    northing   int NOT NULL,
    easting    int NOT NULL,
    id_1km     text,
    id_nat     text,
    i_est_200  boolean,              -- values imputed (secrecy under 11 households)
    i_est_1km  boolean,
    lcog_geo   text NOT NULL,        -- raw: several commune codes concatenated on borders
    communes   text[] NOT NULL,      -- lcog_geo split into 5-character codes
    ind float8, men float8, men_pauv float8, men_1ind float8, men_5ind float8,
    men_prop float8, men_fmp float8, ind_snv float8, men_surf float8, men_coll float8,
    men_mais float8, log_av45 float8, log_45_70 float8, log_70_90 float8, log_ap90 float8,
    log_inc float8, log_soc float8, ind_0_3 float8, ind_4_5 float8, ind_6_10 float8,
    ind_11_17 float8, ind_18_24 float8, ind_25_39 float8, ind_40_54 float8,
    ind_55_64 float8, ind_65_79 float8, ind_80p float8, ind_inc float8,
    extra      jsonb,                -- columns outside the published list (2017 groupe, …)
    geom       geometry(Polygon, 4326) GENERATED ALWAYS AS
               (ST_Transform(ST_MakeEnvelope(easting, northing, easting + size, northing + size, srid), 4326)) STORED,
    PRIMARY KEY (vintage, id)
) PARTITION BY LIST (vintage);
CREATE INDEX grid_cells_geom ON grid_cells USING gist (geom);
CREATE INDEX grid_cells_communes ON grid_cells USING gin (communes);

-- BAN addresses, loaded one département at a time.
CREATE TABLE addresses (
    dataset_id    bigint NOT NULL REFERENCES datasets (id),
    dept          text NOT NULL,     -- scope of the load: adresses-92 never wipes adresses-75
    id            text NOT NULL,     -- BAN cle_interop, 01002_w4ld4h_00006
    numero        int,
    rep           text NOT NULL DEFAULT '',
    nom_voie      text NOT NULL,
    code_postal   text NOT NULL DEFAULT '',
    code_insee    text NOT NULL,     -- arrondissement code in Paris, Lyon, Marseille
    nom_commune   text NOT NULL DEFAULT '',
    lon           float8,
    lat           float8,
    certification boolean,
    geom          geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED
);
CREATE INDEX addresses_dept ON addresses (dept);
CREATE INDEX addresses_insee ON addresses (code_insee);
CREATE INDEX addresses_geom ON addresses USING gist (geom);
