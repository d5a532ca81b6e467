-- Polling-station contours, by vintage (the data.gouv file is the 2022 register). A load
-- replaces the rows of its vintage.
CREATE TABLE bureau_contours (
    dataset_id      bigint NOT NULL REFERENCES datasets (id),
    vintage         text NOT NULL,
    code            text NOT NULL,      -- canonical key 92002_0001
    commune         text NOT NULL,      -- INSEE code; the city code for Paris, Lyon, Marseille
    bureau          text NOT NULL,      -- 4 characters, 0001
    arrondissement  text,               -- 75115 for 75056_1512; NULL outside Paris, Lyon, Marseille
    circonscription text,               -- 9213 (dept + number) when the file says
    commune_name    text,
    name            text,               -- the bureau's name, when the file has one
    properties      jsonb NOT NULL DEFAULT '{}',  -- the feature's properties, as loaded
    geom            geometry(MultiPolygon, 4326) NOT NULL,
    PRIMARY KEY (vintage, code)
);
-- Stored uncompressed: float coordinates barely compress, and tiles read them often.
ALTER TABLE bureau_contours ALTER COLUMN geom SET STORAGE EXTERNAL;
CREATE INDEX bureau_contours_geom ON bureau_contours USING gist (geom);
CREATE INDEX bureau_contours_commune ON bureau_contours (commune);
CREATE INDEX bureau_contours_dataset ON bureau_contours (dataset_id);

-- IRIS contours (IGN CONTOURS-IRIS, OpenDataSoft georef exports), by vintage of the IRIS
-- geography: census and Filosofi data of year N use the IRIS of a given vintage. A load
-- replaces the rows of the vintages it holds, and no other.
CREATE TABLE iris_contours (
    dataset_id bigint NOT NULL REFERENCES datasets (id),
    vintage    text NOT NULL,          -- 2023
    code       text NOT NULL CHECK (code ~ '^(?:[0-9]{2}|2[AB])[0-9]{7}$'),
    commune    text NOT NULL,          -- the code's first 5 characters: arrondissement codes for PLM
    name       text NOT NULL DEFAULT '',
    type       text NOT NULL DEFAULT '',  -- H habitat, A activité, D divers, Z commune not split
    geom       geometry(MultiPolygon, 4326) NOT NULL,
    PRIMARY KEY (vintage, code)
);
ALTER TABLE iris_contours ALTER COLUMN geom SET STORAGE EXTERNAL;
CREATE INDEX iris_contours_geom ON iris_contours USING gist (geom);
CREATE INDEX iris_contours_commune ON iris_contours (commune);
CREATE INDEX iris_contours_dataset ON iris_contours (dataset_id);
