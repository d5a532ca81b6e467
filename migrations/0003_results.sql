-- Election results by bureau de vote. One row per bureau, election and round; a load
-- replaces the rows of its election and round. Counts only: percentages are
-- recomputed on read (the files round them differently). A NULL count means the
-- source layout lacks it (municipal 2014 has no blancs nor nuls), never zero.
CREATE TABLE bureau_results (
    dataset_id      bigint NOT NULL REFERENCES datasets (id),
    election        text NOT NULL,      -- pres2022, lg2024, eu2024, mun2020, dep2021, …
    round           smallint NOT NULL,
    bureau          text NOT NULL,      -- canonical key 92002_0001
    commune         text NOT NULL,      -- INSEE code, city code for Paris/Lyon/Marseille
    bureau_code     text NOT NULL,      -- 4 characters, 0001; not always numeric
    arrondissement  text,               -- 75115 for a Paris bureau 1512, else NULL
    commune_name    text,
    circonscription text,               -- département + 2 digits, 9213, as in the contours
    canton          text,               -- département + 2 digits, 9201
    inscrits        integer,
    abstentions     integer,
    votants         integer,
    blancs          integer,
    nuls            integer,
    exprimes        integer,
    -- The bureau's votes as two parallel arrays: candidate numbers (see candidates) and
    -- their votes. 69,000 rows per round instead of 828,000 vote rows: the national
    -- load stays within seconds, and a nuance's share per bureau is one pass over the
    -- round's rows (see the candidate_results view). NULL when only totals are loaded.
    candidates      integer[],
    votes           integer[],
    PRIMARY KEY (election, round, bureau)
);
CREATE INDEX bureau_results_dataset ON bureau_results (dataset_id);
CREATE INDEX bureau_results_commune ON bureau_results (commune, election, round);

-- Candidates, binômes or lists of an election round, numbered per load. A candidate is
-- identified by all its fields (panel, names, nuance, labels): 2024 legislative files
-- carry no circonscription, so nothing narrower is reliable. The votes live in
-- bureau_results.candidates/votes.
CREATE TABLE candidates (
    dataset_id   bigint NOT NULL REFERENCES datasets (id),
    election     text NOT NULL,
    round        smallint NOT NULL,
    candidate    integer NOT NULL,      -- number within the load
    panel        integer NOT NULL,      -- ballot-board number, not the file's block index
    nuance       text,                  -- ENS, UG, RN, LFI, BC-RN, …
    name         text,                  -- surname, or the whole binôme in departmental files
    first_name   text,
    sex          char(1) CHECK (sex IN ('M', 'F')),
    list_short   text,
    list_label   text,
    head_of_list text,
    elected      boolean,               -- NULL when the layout does not say
    PRIMARY KEY (election, round, candidate)
);
-- "Share of nuance X per bureau" starts from the few candidates of that nuance, then
-- reads the round's bureaux by the primary key of bureau_results.
CREATE INDEX candidates_nuance ON candidates (election, round, nuance);
CREATE INDEX candidates_dataset ON candidates (dataset_id);

-- One row per bureau and candidate with every field, for readers that want them flat.
CREATE VIEW candidate_results AS
SELECT c.dataset_id, b.election, b.round, b.bureau, v.candidate, c.panel, c.nuance, c.name,
       c.first_name, c.sex, c.list_short, c.list_label, c.head_of_list, v.votes, c.elected
FROM bureau_results b
CROSS JOIN LATERAL unnest(b.candidates, b.votes) AS v (candidate, votes)
JOIN candidates c ON c.election = b.election AND c.round = b.round AND c.candidate = v.candidate;
