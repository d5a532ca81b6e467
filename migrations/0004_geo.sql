-- Polling-station contours, by vintage (the data.gouv file is the 2022 register).
CREATE TABLE bureau_contours (
    dataset_id bigint NOT NULL REFERENCES datasets (id),
    vintage    text NOT NULL,
    code       text NOT NULL,      -- canonical key 92002_0001
    commune    text NOT NULL,
    geom       geometry(MultiPolygon, 4326) NOT NULL,
    PRIMARY KEY (vintage, code)
);
CREATE INDEX bureau_contours_geom ON bureau_contours USING gist (geom);
