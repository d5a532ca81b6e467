-- INSEE and COG sources: communes, census by IRIS, Filosofi grid and IRIS income, BAN.
CREATE TABLE communes (
    dataset_id bigint NOT NULL REFERENCES datasets (id),
    code       text PRIMARY KEY,   -- 5-character INSEE code of a current commune or arrondissement
    name       text NOT NULL
);
