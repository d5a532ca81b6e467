-- Census values move to one row per IRIS and load, the values as an array in the order
-- of the load's variables. A national base-ic file is ~48,000 IRIS × 76 columns: as
-- 3.6 M (variable, iris, value) rows, its load was dominated by building a (variable_id,
-- iris) key over 3.6 M text-keyed rows (≈ 5 s); as 48,000 array rows it is one small
-- COPY. A variable for every IRIS is still one pass over its load's 48,000 rows, and
-- census_values stays as a view, so readers are unchanged and still see an empty source
-- field as an absent row.

-- The 1-based index of a variable in its load's arrays.
ALTER TABLE census_variables ADD COLUMN idx int;
UPDATE census_variables v SET idx = v.id - m.lo + 1
FROM (SELECT dataset_id, min(id) AS lo FROM census_variables GROUP BY dataset_id) m
WHERE m.dataset_id = v.dataset_id;
ALTER TABLE census_variables ALTER COLUMN idx SET NOT NULL;
ALTER TABLE census_variables ADD CONSTRAINT census_variables_idx UNIQUE (dataset_id, idx);

CREATE TABLE census_rows (
    dataset_id bigint NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    iris       text NOT NULL,
    vals       float8[] NOT NULL,  -- vals[idx] of each variable of the load; NULL: empty in the source
    PRIMARY KEY (dataset_id, iris)
);

-- Carry over what earlier loads stored.
INSERT INTO census_rows (dataset_id, iris, vals)
SELECT d.dataset_id, i.iris,
       ARRAY(SELECT cv.value FROM generate_series(1, d.n) AS g
             LEFT JOIN census_values cv ON cv.variable_id = d.lo + g - 1 AND cv.iris = i.iris
             ORDER BY g)
FROM (SELECT dataset_id, min(id) AS lo, count(*)::int AS n FROM census_variables GROUP BY dataset_id) d
CROSS JOIN LATERAL (SELECT DISTINCT iris FROM census_values
                    WHERE variable_id >= d.lo AND variable_id < d.lo + d.n) i;

DROP TABLE census_values;

CREATE VIEW census_values AS
SELECT v.id AS variable_id, r.iris, r.vals[v.idx] AS value
FROM census_variables v
JOIN census_rows r ON r.dataset_id = v.dataset_id
WHERE r.vals[v.idx] IS NOT NULL;
