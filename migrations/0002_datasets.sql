-- Provenance of every load: one row per file loaded. A load replaces the previous
-- current load of the same kind and scope (an election and round, a vintage), which
-- stays here as history with superseded_at set.
CREATE TABLE datasets (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL,          -- results, contours, iris, census, grid, filosofi_iris, communes, addresses
    scope         text NOT NULL,          -- what a later load replaces: 'lg2024/1', '2022', …
    file_name     text NOT NULL,
    sha256        text NOT NULL,
    params        jsonb NOT NULL DEFAULT '{}',
    layout        text NOT NULL DEFAULT '',
    rows          bigint NOT NULL DEFAULT 0,
    report        jsonb NOT NULL DEFAULT '{}',
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    superseded_at timestamptz
);
CREATE UNIQUE INDEX datasets_current ON datasets (kind, scope) WHERE superseded_at IS NULL;

-- Inconsistencies found in real files, kept queryable: loaded data, listed problems.
CREATE TABLE dataset_warnings (
    dataset_id bigint NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    line       bigint,
    code       text NOT NULL,
    key        text,
    message    text NOT NULL
);
CREATE INDEX dataset_warnings_dataset ON dataset_warnings (dataset_id, code);
