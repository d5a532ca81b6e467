-- Election results by bureau de vote. One row per bureau, election and round; a load
-- replaces the rows of its election and round.
CREATE TABLE bureau_results (
    dataset_id bigint NOT NULL REFERENCES datasets (id),
    election   text NOT NULL,      -- pres2022, lg2024, eu2024, mun2020, dep2021, …
    round      smallint NOT NULL,
    bureau     text NOT NULL,      -- canonical key 92002_0001
    commune    text NOT NULL,      -- INSEE code, city code for Paris/Lyon/Marseille
    PRIMARY KEY (election, round, bureau)
);
CREATE INDEX bureau_results_dataset ON bureau_results (dataset_id);
