-- Apportionment at France scale (docs/apportionment.md, "Performance").

-- grid_weights loses its foreign key: PostgreSQL checks one row at a time, which took
-- 15 of the 22 s of copying 3.8 million weights. Apportion deletes a run's weights
-- itself, in the transaction that replaces the run, and is their only writer.
ALTER TABLE grid_weights DROP CONSTRAINT grid_weights_run_id_fkey;

-- Weights are written, read and deleted by run; no query looks them up by bureau, and
-- an index on text keys filled row by row cost 4 s of the copy. Apportion rebuilds this
-- index after the copy when one run holds every weight.
DROP INDEX grid_weights_run;
CREATE INDEX grid_weights_run ON grid_weights (run_id);

-- The grid counts of each bureau (Σ value × weight over its cells), in the order of
-- the run's report.keys. A profile rebuilt after a census-only change reads these
-- 69,000 rows instead of joining 3.8 million weights with the cells.
CREATE TABLE grid_counts (
    run_id int NOT NULL REFERENCES apportion_runs (id) ON DELETE CASCADE,
    bureau text NOT NULL,
    counts float8[] NOT NULL,
    PRIMARY KEY (run_id, bureau)
);
