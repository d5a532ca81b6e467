-- Permissions and privacy: a data.read permission for bureau profiles, crosstabs and
-- targeting; areas of a section kept inside its fédération's département; consents
-- readable by those who may list the member; scoped API tokens; atomic throttling.

-- data.read: adhérents and above read aggregates within their territory; sympathisants do not.
INSERT INTO role_permissions (role, permission) VALUES
    ('adherent', 'data.read'),
    ('analyste', 'data.read'),
    ('secretaire_section', 'data.read'),
    ('secretaire_federal', 'data.read'),
    ('admin_national', 'data.read')
ON CONFLICT DO NOTHING;

-- The département of a commune code: "92002" → "92", "2A004" → "2A", "97101" → "971".
CREATE FUNCTION coopol_commune_dept(commune text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN commune LIKE '97%' OR commune LIKE '98%' THEN left(commune, 3) ELSE left(commune, 2) END
$$;

-- A section covers only communes of its fédération's département: otherwise a federal
-- secretary could attach another département's commune and read who signs up there.
CREATE OR REPLACE FUNCTION territory_areas_exclusive() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t territories%ROWTYPE;
    parent_code text;
BEGIN
    -- Serialise writers of one commune so the checks below cannot race.
    PERFORM pg_advisory_xact_lock(7326006, hashtext(NEW.commune));
    SELECT * INTO t FROM territories WHERE id = NEW.territory_id;
    IF t.kind <> 'section' THEN
        RAISE EXCEPTION 'only sections cover communes and bureaux' USING ERRCODE = '23514';
    END IF;
    SELECT code INTO parent_code FROM territories WHERE id = t.parent_id;
    IF parent_code IS DISTINCT FROM coopol_commune_dept(NEW.commune) THEN
        RAISE EXCEPTION 'commune % lies outside fédération %', NEW.commune, parent_code USING ERRCODE = '23514';
    END IF;
    IF NEW.bureau IS NULL AND EXISTS (
        SELECT 1 FROM territory_areas WHERE commune = NEW.commune AND bureau IS NOT NULL) THEN
        RAISE EXCEPTION 'commune % is split by bureaux', NEW.commune USING ERRCODE = '23505',
            CONSTRAINT = 'territory_areas_commune';
    END IF;
    IF NEW.bureau IS NOT NULL AND EXISTS (
        SELECT 1 FROM territory_areas WHERE commune = NEW.commune AND bureau IS NULL) THEN
        RAISE EXCEPTION 'commune % belongs whole to a section', NEW.commune USING ERRCODE = '23505',
            CONSTRAINT = 'territory_areas_bureau';
    END IF;
    RETURN NEW;
END $$;

-- Officers who may list a member may read that member's consents: contact details are
-- revealed only when the member agreed. members is itself row-level guarded, so the
-- subquery holds exactly the members the current one may see.
CREATE POLICY consents_visible ON consents FOR SELECT TO coopol_app
    USING (member_id IN (SELECT id FROM members));

-- API token scopes. Existing tokens keep what they could do; new ones read only unless
-- asked otherwise.
ALTER TABLE api_tokens ADD COLUMN scopes text[] NOT NULL DEFAULT '{read,write,export}'
    CHECK (scopes <@ '{read,write,export}'::text[] AND cardinality(scopes) > 0);
ALTER TABLE api_tokens ALTER COLUMN scopes SET DEFAULT '{read}';

-- Throttling: one row per key ('login-account:…', 'login-ip:…', 'reset-address:…', …)
-- counting attempts in the current window. An attempt is claimed by one INSERT … ON
-- CONFLICT before the password is checked, so concurrent attempts cannot all pass.
-- Beyond the limit each attempt must wait longer (next_at), rather than a lockout.
CREATE TABLE throttle (
    key          text PRIMARY KEY,
    attempts     int NOT NULL,
    window_start timestamptz NOT NULL,
    next_at      timestamptz NOT NULL
);
CREATE INDEX throttle_window ON throttle (window_start);
GRANT SELECT, INSERT, UPDATE, DELETE ON throttle TO coopol_system;

-- The wait after attempt n against limit lim: none up to lim - 1, then 2, 4, 8 … seconds,
-- at most cap.
CREATE FUNCTION coopol_throttle_next(n int, lim int, cap_seconds float8) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN n < lim THEN '-infinity'::timestamptz
        ELSE now() + make_interval(secs => least(cap_seconds, power(2, least(n - lim + 1, 30)))) END
$$;

-- Replaced by throttle.
DROP TABLE login_failures;
