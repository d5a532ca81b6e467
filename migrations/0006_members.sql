-- Members, roles and territories. Members' personal data and their political engagement
-- are a special category (GDPR art. 9, CNIL recommendation 2012-020): the application
-- reads the members table as coopol_app with coopol.member_id set, and row-level
-- security lets it see only the rows that member may see. Account operations that must
-- run before anyone is known (login, sign-up, password reset, erasure) run as
-- coopol_system. The application's own login role needs membership of both.

DO $$
BEGIN
    -- Roles are cluster-wide: several databases (test clones, staging) share them.
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'coopol_app') THEN
        CREATE ROLE coopol_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'coopol_system') THEN
        CREATE ROLE coopol_system NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- another database's migration created them at the same moment
END $$;
-- The migrating user is the one the server connects as; it switches with SET LOCAL ROLE.
DO $$
BEGIN
    EXECUTE format('GRANT coopol_app, coopol_system TO %I', current_user);
EXCEPTION WHEN others THEN
    NULL; -- already a member, or a superuser that needs no membership
END $$;
GRANT USAGE ON SCHEMA public TO coopol_app, coopol_system;

-- Territories: national → fédération (département) → section. ancestors lists the ids
-- from the root down to the territory itself, so "this territory and everything below"
-- is `X = ANY(ancestors)`, one indexable test.
CREATE TABLE territories (
    id        bigserial PRIMARY KEY,
    kind      text NOT NULL CHECK (kind IN ('national', 'federation', 'section')),
    code      text NOT NULL UNIQUE,    -- 'FR', département '92', section '92002' or '92050-nord'
    name      text NOT NULL,
    parent_id bigint REFERENCES territories (id),
    ancestors bigint[] NOT NULL DEFAULT '{}',
    CHECK ((kind = 'national') = (parent_id IS NULL))
);
CREATE UNIQUE INDEX territories_one_national ON territories ((true)) WHERE kind = 'national';
CREATE INDEX territories_ancestors ON territories USING gin (ancestors);

CREATE FUNCTION territories_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent territories%ROWTYPE;
BEGIN
    IF NEW.parent_id IS NULL THEN
        NEW.ancestors := ARRAY[NEW.id];
        RETURN NEW;
    END IF;
    SELECT * INTO parent FROM territories WHERE id = NEW.parent_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'territory parent % does not exist', NEW.parent_id USING ERRCODE = '23503';
    END IF;
    IF (NEW.kind = 'federation' AND parent.kind <> 'national')
       OR (NEW.kind = 'section' AND parent.kind <> 'federation') THEN
        RAISE EXCEPTION 'a % cannot be under a %', NEW.kind, parent.kind USING ERRCODE = '23514';
    END IF;
    NEW.ancestors := parent.ancestors || NEW.id;
    RETURN NEW;
END $$;
CREATE TRIGGER territories_before_insert BEFORE INSERT ON territories
    FOR EACH ROW EXECUTE FUNCTION territories_before_insert();
-- Moving a territory would have to rewrite its subtree and every grant's meaning:
-- refused; create a new one instead.
CREATE FUNCTION territories_no_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_id IS DISTINCT FROM OLD.parent_id OR NEW.ancestors <> OLD.ancestors
       OR NEW.kind <> OLD.kind THEN
        RAISE EXCEPTION 'territories cannot be moved' USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER territories_no_move BEFORE UPDATE ON territories
    FOR EACH ROW EXECUTE FUNCTION territories_no_move();

INSERT INTO territories (kind, code, name) VALUES ('national', 'FR', 'National');

-- What a section covers: whole communes (bureau NULL) or single bureaux of a commune
-- split between sections. A commune is either whole in one section or split by bureaux.
CREATE TABLE territory_areas (
    territory_id bigint NOT NULL REFERENCES territories (id) ON DELETE CASCADE,
    commune      text NOT NULL CHECK (commune ~ '^[0-9][0-9AB][0-9]{3}$'),
    bureau       text CHECK (bureau IS NULL OR bureau LIKE commune || '\_%')
);
CREATE UNIQUE INDEX territory_areas_commune ON territory_areas (commune) WHERE bureau IS NULL;
CREATE UNIQUE INDEX territory_areas_bureau ON territory_areas (bureau) WHERE bureau IS NOT NULL;
CREATE INDEX territory_areas_territory ON territory_areas (territory_id);

CREATE FUNCTION territory_areas_exclusive() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Serialise writers of one commune so the check below cannot race.
    PERFORM pg_advisory_xact_lock(7326006, hashtext(NEW.commune));
    IF (SELECT kind FROM territories WHERE id = NEW.territory_id) <> 'section' THEN
        RAISE EXCEPTION 'only sections cover communes and bureaux' USING ERRCODE = '23514';
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
CREATE TRIGGER territory_areas_exclusive BEFORE INSERT ON territory_areas
    FOR EACH ROW EXECUTE FUNCTION territory_areas_exclusive();

-- Which permission each role carries. The Go table auth.RolePermissions is the source;
-- a test checks that this copy agrees, because row-level security reads it.
CREATE TABLE role_permissions (
    role       text NOT NULL,
    permission text NOT NULL,
    PRIMARY KEY (role, permission)
);
INSERT INTO role_permissions (role, permission) VALUES
    ('adherent', 'field.record'),
    ('secretaire_section', 'field.record'),
    ('secretaire_section', 'member.list'),
    ('secretaire_section', 'member.contact'),
    ('secretaire_section', 'campaign.manage'),
    ('secretaire_section', 'role.grant'),
    ('secretaire_federal', 'field.record'),
    ('secretaire_federal', 'member.list'),
    ('secretaire_federal', 'member.contact'),
    ('secretaire_federal', 'campaign.manage'),
    ('secretaire_federal', 'role.grant'),
    ('secretaire_federal', 'territory.manage'),
    ('analyste', 'data.export'),
    ('admin_national', 'field.record'),
    ('admin_national', 'member.list'),
    ('admin_national', 'member.contact'),
    ('admin_national', 'member.export'),
    ('admin_national', 'campaign.manage'),
    ('admin_national', 'role.grant'),
    ('admin_national', 'territory.manage'),
    ('admin_national', 'audit.read'),
    ('admin_national', 'data.export');

-- Members' personal data. After erasure the row stays, emptied, so aggregates and the
-- audit log keep a pseudonymous id.
CREATE TABLE members (
    id            bigserial PRIMARY KEY,
    email         text,
    password_hash text,
    first_name    text NOT NULL DEFAULT '',
    last_name     text NOT NULL DEFAULT '',
    phone         text,
    address       text,
    territory_id  bigint NOT NULL REFERENCES territories (id),
    status        text NOT NULL DEFAULT 'sympathisant'
                  CHECK (status IN ('sympathisant', 'adherent', 'former')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    erased_at     timestamptz,
    CHECK (erased_at IS NULL OR (email IS NULL AND password_hash IS NULL AND phone IS NULL AND address IS NULL))
);
CREATE UNIQUE INDEX members_email ON members (lower(email));
CREATE INDEX members_territory ON members (territory_id);

-- Roles and single permissions granted on a territory: they apply to it and everything
-- below. A single permission grant gives, say, export to one secretary without
-- inventing a role for it.
CREATE TABLE grants (
    id           bigserial PRIMARY KEY,
    member_id    bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    territory_id bigint NOT NULL REFERENCES territories (id),
    role         text,
    permission   text,
    granted_by   bigint REFERENCES members (id),
    granted_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (num_nonnulls(role, permission) = 1)
);
CREATE UNIQUE INDEX grants_unique ON grants (member_id, territory_id, coalesce(role, ''), coalesce(permission, ''));
CREATE INDEX grants_territory ON grants (territory_id);

-- coopol_current_member is the member the transaction acts for, or NULL. After a SET
-- LOCAL ends the setting reads '' rather than NULL, hence NULLIF.
CREATE FUNCTION coopol_current_member() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('coopol.member_id', true), '')::bigint
$$;

-- coopol_visible_territories returns the territories whose members the current member
-- may list: every territory below a grant carrying member.list.
CREATE FUNCTION coopol_visible_territories() RETURNS SETOF bigint LANGUAGE sql STABLE AS $$
    SELECT t.id FROM territories t
    JOIN grants g ON g.territory_id = ANY (t.ancestors)
    WHERE g.member_id = coopol_current_member()
      AND (g.permission = 'member.list'
           OR g.role IN (SELECT role FROM role_permissions WHERE permission = 'member.list'))
$$;

ALTER TABLE members ENABLE ROW LEVEL SECURITY;
ALTER TABLE members FORCE ROW LEVEL SECURITY;
CREATE POLICY members_scoped ON members TO coopol_app
    USING (id = coopol_current_member()
           OR (erased_at IS NULL AND territory_id IN (SELECT coopol_visible_territories())))
    WITH CHECK (id = coopol_current_member());
CREATE POLICY members_system ON members TO coopol_system USING (true) WITH CHECK (true);
GRANT SELECT, UPDATE (first_name, last_name, phone, address) ON members TO coopol_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON members TO coopol_system;
GRANT USAGE ON SEQUENCE members_id_seq TO coopol_system;
GRANT SELECT ON territories, territory_areas, role_permissions, grants TO coopol_app, coopol_system;

-- Consents, as a history: the current answer per purpose is the latest row.
CREATE TABLE consents (
    id         bigserial PRIMARY KEY,
    member_id  bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    purpose    text NOT NULL,
    granted    boolean NOT NULL,
    source     text NOT NULL DEFAULT '',
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consents_member ON consents (member_id, purpose, at DESC);
ALTER TABLE consents ENABLE ROW LEVEL SECURITY;
ALTER TABLE consents FORCE ROW LEVEL SECURITY;
CREATE POLICY consents_self ON consents TO coopol_app
    USING (member_id = coopol_current_member()) WITH CHECK (member_id = coopol_current_member());
CREATE POLICY consents_system ON consents TO coopol_system USING (true) WITH CHECK (true);
GRANT SELECT, INSERT ON consents TO coopol_app;
GRANT SELECT, INSERT, DELETE ON consents TO coopol_system;
GRANT USAGE ON SEQUENCE consents_id_seq TO coopol_app, coopol_system;

-- Sessions and API tokens keep only a SHA-256 of the secret: a leaked table opens nothing.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    member_id  bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ip         text NOT NULL DEFAULT '',
    user_agent text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_member ON sessions (member_id);

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    member_id    bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    name         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_tokens_member ON api_tokens (member_id);

CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY,
    member_id  bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

-- Failed logins, keyed 'account:<email>' and 'ip:<address>': kept in PostgreSQL so a
-- restart or a second server does not reset the count.
CREATE TABLE login_failures (
    key text NOT NULL,
    at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_key ON login_failures (key, at);

-- Mail waiting to be sent; a relay in `coopol serve` sends it and empties the body, which
-- may hold a one-time secret.
CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    to_addr    text NOT NULL,
    subject    text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    attempts   int NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;

-- The audit log is append-only: no role may update, delete or truncate it, the owner
-- included (triggers), so a compromised account cannot cover its tracks. It names
-- members by id only, so erasing a member's personal data pseudonymises their entries.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor_id     bigint REFERENCES members (id),
    action       text NOT NULL,
    target_id    bigint REFERENCES members (id),
    territory_id bigint REFERENCES territories (id),
    ip           text NOT NULL DEFAULT '',
    details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX audit_log_target ON audit_log (target_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = '42501';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
GRANT SELECT, INSERT ON audit_log TO coopol_app, coopol_system;
GRANT USAGE ON SEQUENCE audit_log_id_seq TO coopol_app, coopol_system;

-- Account operations run as coopol_system and touch these tables in the same transaction.
GRANT SELECT, INSERT, UPDATE, DELETE ON sessions, api_tokens, password_resets, login_failures, outbox, grants
    TO coopol_system;
GRANT USAGE ON SEQUENCE api_tokens_id_seq, outbox_id_seq, grants_id_seq TO coopol_system;
