-- Apportionment of census (IRIS) and Filosofi grid counts onto bureaux de vote, and the
-- bureau profiles built from them. docs/apportionment.md describes the method.

-- One row per computed set of weights: a source (IRIS contours or grid cells) of one
-- vintage onto the bureau contours of one vintage. inputs lists the datasets they were
-- computed from; Apportion recomputes a run when the current datasets differ.
CREATE TABLE apportion_runs (
    id              serial PRIMARY KEY,
    source          text NOT NULL CHECK (source IN ('iris', 'grid', 'profile')),
    source_vintage  text NOT NULL,
    contour_vintage text NOT NULL,
    inputs          jsonb NOT NULL,
    report          jsonb NOT NULL DEFAULT '{}',
    computed_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, source_vintage, contour_vintage)
);

-- IRIS → bureau weights. area_weight is the share of the IRIS's area (the part covered
-- by bureaux) lying in the bureau; pop_weight the share of its grid population
-- (dasymetric), equal to area_weight for an IRIS without inhabited cells. Each sums to
-- 1 over the bureaux of an IRIS.
CREATE TABLE iris_weights (
    run_id      int NOT NULL REFERENCES apportion_runs (id) ON DELETE CASCADE,
    iris        text NOT NULL,
    bureau      text NOT NULL,
    area_weight float8 NOT NULL,
    pop_weight  float8 NOT NULL,
    area_m2     float8 NOT NULL,   -- of the overlap, in EPSG:3035
    pop         float8 NOT NULL,   -- grid population of the overlap
    PRIMARY KEY (run_id, iris, bureau)
);

-- Grid cell → bureau weights: the share of the cell's covered area lying in the bureau.
-- No primary key: 3 million rows are written by COPY in one go and read whole.
CREATE TABLE grid_weights (
    run_id  int NOT NULL REFERENCES apportion_runs (id) ON DELETE CASCADE,
    cell    text NOT NULL,
    bureau  text NOT NULL,
    weight  float8 NOT NULL,
    area_m2 float8 NOT NULL
);
CREATE INDEX grid_weights_run ON grid_weights (run_id, bureau);

-- Bureau profiles: the apportioned counts of every bureau of a contour vintage, as two
-- arrays aligned with profile_columns.keys (crosstab.Counts): counts through the grid
-- population (dasymetric, the default) and counts by area alone. NaN marks a count
-- without source. One array per bureau keeps a national export to one row per bureau.
CREATE TABLE bureau_profiles (
    contour_vintage text NOT NULL,
    bureau          text NOT NULL,
    area_m2         float8 NOT NULL,
    counts          float8[] NOT NULL,
    counts_area     float8[] NOT NULL,
    PRIMARY KEY (contour_vintage, bureau)
);

CREATE TABLE profile_columns (
    contour_vintage text PRIMARY KEY,
    keys            text[] NOT NULL,
    sources         jsonb NOT NULL,   -- which variable or column fed each count
    computed_at     timestamptz NOT NULL DEFAULT now()
);
