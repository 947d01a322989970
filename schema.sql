-- keyward's whole database schema.
--
-- Each block that starts with a `-- version N` line upgrades a database from version N-1 to N.
-- A block is never edited once released: a change is a new block at the end. At start-up every
-- block newer than `PRAGMA user_version` runs in its own transaction, which also sets the version,
-- so an upgrade is all or nothing. Times are Unix milliseconds; ids are UUID strings.

-- version 1
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    username             TEXT NOT NULL COLLATE NOCASE UNIQUE,
    display_name         TEXT NOT NULL,
    email                TEXT,
    is_admin             INTEGER NOT NULL DEFAULT 0,
    is_blocked           INTEGER NOT NULL DEFAULT 0,
    revoke_tokens_before INTEGER,
    sequence             INTEGER NOT NULL DEFAULT 1,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE strategy_instances (
    id                      TEXT PRIMARY KEY,
    name                    TEXT UNIQUE,
    type                    TEXT NOT NULL,
    -- the instance config as JSON, sealed with the master key (it may hold client secrets)
    config                  BLOB NOT NULL,
    is_login_active         INTEGER NOT NULL,
    is_self_register_active INTEGER NOT NULL,
    is_sync_active          INTEGER NOT NULL,
    does_implicit_register  INTEGER NOT NULL,
    created_at              INTEGER NOT NULL
);

-- An identity ("login data"): one way for one user to log in.
CREATE TABLE identities (
    id            TEXT PRIMARY KEY,
    user_id       TEXT REFERENCES users(id) ON DELETE CASCADE,
    instance_id   TEXT NOT NULL REFERENCES strategy_instances(id) ON DELETE CASCADE,
    subject       TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('VALID', 'WAITING_FOR_REGISTER', 'BLOCKED')),
    expires       INTEGER,
    password_hash TEXT,
    profile       TEXT NOT NULL DEFAULT '{}',
    created_at    INTEGER NOT NULL,
    UNIQUE (instance_id, subject)
);
CREATE INDEX identities_user ON identities(user_id);

-- A session ("active login"). user_id is NULL while its identity waits for registration.
CREATE TABLE active_logins (
    id               TEXT PRIMARY KEY,
    user_id          TEXT REFERENCES users(id) ON DELETE CASCADE,
    identity_id      TEXT REFERENCES identities(id) ON DELETE CASCADE,
    client_id        TEXT,
    created_at       INTEGER NOT NULL,
    last_used_at     INTEGER NOT NULL,
    expires          INTEGER NOT NULL,
    absolute_expires INTEGER NOT NULL,
    ended_at         INTEGER,
    address          TEXT,
    user_agent       TEXT
);
CREATE INDEX active_logins_user ON active_logins(user_id);
CREATE INDEX active_logins_identity ON active_logins(identity_id);

CREATE TABLE refresh_tokens (
    digest          BLOB PRIMARY KEY,
    active_login_id TEXT NOT NULL REFERENCES active_logins(id) ON DELETE CASCADE,
    client_id       TEXT,
    scope           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires         INTEGER NOT NULL,
    used_at         INTEGER
);
CREATE INDEX refresh_tokens_login ON refresh_tokens(active_login_id);

CREATE TABLE oauth_clients (
    id                          TEXT PRIMARY KEY,
    name                        TEXT NOT NULL,
    redirect_urls               TEXT NOT NULL,
    is_valid                    INTEGER NOT NULL,
    requires_secret             INTEGER NOT NULL,
    valid_scopes                TEXT NOT NULL,
    client_credential_flow_user TEXT REFERENCES users(id) ON DELETE SET NULL,
    allow_password_grant        INTEGER NOT NULL DEFAULT 0,
    builtin                     INTEGER NOT NULL DEFAULT 0,
    created_at                  INTEGER NOT NULL
);

CREATE TABLE client_secrets (
    fingerprint TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    digest      BLOB NOT NULL,
    censored    TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX client_secrets_client ON client_secrets(client_id);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    -- the private key (DER), sealed with the master key
    private_key BLOB NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);

CREATE TABLE audit_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT,
    address TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);

-- version 2
-- Search of the user list by display name and e-mail stays an index lookup at a million users.
CREATE INDEX users_display_name ON users(display_name COLLATE NOCASE);
CREATE INDEX users_email ON users(email COLLATE NOCASE);
CREATE INDEX audit_events_at ON audit_events(at);

-- Access tokens revoked before their expiry (RFC 7009); rows go once the token has expired.
CREATE TABLE revoked_tokens (
    jti     TEXT PRIMARY KEY,
    expires INTEGER NOT NULL
);

CREATE TABLE authorization_codes (
    digest                BLOB PRIMARY KEY,
    client_id             TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    active_login_id       TEXT NOT NULL REFERENCES active_logins(id) ON DELETE CASCADE,
    redirect_uri          TEXT NOT NULL,
    scope                 TEXT NOT NULL,
    nonce                 TEXT,
    code_challenge        TEXT,
    created_at            INTEGER NOT NULL,
    expires               INTEGER NOT NULL,
    used_at               INTEGER
);

-- A browser session is an active login too: its cookie carries a secret whose digest is here.
ALTER TABLE active_logins ADD COLUMN cookie_digest BLOB;
CREATE INDEX active_logins_client ON active_logins(client_id, user_id) WHERE identity_id IS NULL;

-- When an identity joined its user, so a user's identities list in the order they were linked
-- (a merged account's identities follow the primary's own).
ALTER TABLE identities ADD COLUMN linked_at INTEGER;

-- version 3
-- The RFC 8707 resource a refresh token was granted for, so that its access tokens keep their
-- audience through every rotation (NULL: keyward's own public URL).
ALTER TABLE refresh_tokens ADD COLUMN resource TEXT;

-- version 4
-- The RFC 8707 resources (a JSON array of URIs) a client may ask tokens for, besides keyward's
-- own public URL.
ALTER TABLE oauth_clients ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';

-- version 5
-- Passkeys. A user's WebAuthn user handle, made at their first passkey ceremony; an
-- authenticator keeps it with a discoverable credential and hands it back at login.
ALTER TABLE users ADD COLUMN webauthn_handle TEXT;
CREATE UNIQUE INDEX users_webauthn_handle ON users(webauthn_handle) WHERE webauthn_handle IS NOT NULL;

-- A passkey is an identity of its user (subject: the credential id, base64url); this row holds
-- its public key. A credential id belongs to one user only.
CREATE TABLE passkeys (
    identity_id   TEXT PRIMARY KEY REFERENCES identities(id) ON DELETE CASCADE,
    credential_id BLOB NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    -- webauthn-rs's Passkey as JSON: the public key, the signature counter, the backup flags
    credential    TEXT NOT NULL,
    last_used_at  INTEGER
);

-- One-time codes of passkey links, stored as their SHA-256 digest. A code is used up only when
-- a registration started with it saves a passkey; 3 wrong tries void it.
CREATE TABLE passkey_link_codes (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    digest       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    expires      INTEGER NOT NULL,
    failed_tries INTEGER NOT NULL DEFAULT 0,
    used_at      INTEGER
);
CREATE INDEX passkey_link_codes_expires ON passkey_link_codes(expires);

-- WebAuthn ceremonies in progress: webauthn-rs's state, single use, for 5 minutes.
CREATE TABLE webauthn_ceremonies (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('register', 'login')),
    user_id      TEXT REFERENCES users(id) ON DELETE CASCADE,
    link_code_id TEXT REFERENCES passkey_link_codes(id) ON DELETE CASCADE,
    state        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires      INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies(expires);

-- version 6
-- Upstream logins (GitHub, GitLab, OIDC) in progress: found by the SHA-256 of their `state`,
-- bound to the browser (the SHA-256 of its kw_browser cookie), single use, for 10 minutes.
-- `flow` is the sealed authorization request the login serves; `user_id` the user a link
-- attaches to.
CREATE TABLE upstream_flows (
    digest      BLOB PRIMARY KEY,
    instance_id TEXT NOT NULL REFERENCES strategy_instances(id) ON DELETE CASCADE,
    mode        TEXT NOT NULL CHECK (mode IN ('login', 'register', 'link')),
    flow        TEXT,
    user_id     TEXT REFERENCES users(id) ON DELETE CASCADE,
    browser     BLOB NOT NULL,
    verifier    TEXT NOT NULL,
    nonce       TEXT,
    created_at  INTEGER NOT NULL,
    expires     INTEGER NOT NULL
);
CREATE INDEX upstream_flows_expires ON upstream_flows(expires);

-- A provider's tokens for an identity whose instance syncs: access and refresh token sealed
-- with the master key; `needs_login` once the provider refused a refresh.
CREATE TABLE provider_tokens (
    identity_id TEXT PRIMARY KEY REFERENCES identities(id) ON DELETE CASCADE,
    sealed      BLOB NOT NULL,
    expires_at  INTEGER,
    scopes      TEXT NOT NULL DEFAULT '',
    needs_login INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
);

-- version 7
-- The admin console. Audit log filters are index ranges at a million events: by actor, by
-- target, by action, each in id order (newest first by walking the index backwards).
CREATE INDEX audit_events_actor ON audit_events(actor, id);
CREATE INDEX audit_events_target ON audit_events(target, id);
CREATE INDEX audit_events_action ON audit_events(action, id);
-- The dashboard's counts: admins and blocked users are few, so a partial index each counts
-- them without reading the user table; live sessions are counted from an index that holds
-- only sessions that have not ended (with every column the count reads).
CREATE INDEX users_admins ON users(id) WHERE is_admin = 1;
CREATE INDEX users_blocked ON users(id) WHERE is_blocked = 1;
CREATE INDEX active_logins_live ON active_logins(expires, absolute_expires, ended_at)
    WHERE ended_at IS NULL;

-- version 8
-- Sign-up with a passkey: a ceremony of kind `signup` has no user yet (its state holds the
-- profile of the account to be and a fresh user handle) and is bound to the browser that began
-- it (`browser`: the SHA-256 of its kw_browser cookie). SQLite cannot change a CHECK in place:
-- the table is made anew, with the ceremonies in progress.
CREATE TABLE webauthn_ceremonies_v8 (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('register', 'login', 'signup')),
    user_id      TEXT REFERENCES users(id) ON DELETE CASCADE,
    link_code_id TEXT REFERENCES passkey_link_codes(id) ON DELETE CASCADE,
    state        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires      INTEGER NOT NULL,
    browser      BLOB
);
INSERT INTO webauthn_ceremonies_v8 (id, kind, user_id, link_code_id, state, created_at, expires)
    SELECT id, kind, user_id, link_code_id, state, created_at, expires FROM webauthn_ceremonies;
DROP TABLE webauthn_ceremonies;
ALTER TABLE webauthn_ceremonies_v8 RENAME TO webauthn_ceremonies;
CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies(expires);

-- The built-in passkey instance is named `passkey` (it was `passkeys`), unless an admin has
-- already given that name to another instance.
UPDATE strategy_instances SET name = 'passkey'
    WHERE name = 'passkeys' AND type = 'passkey'
    AND NOT EXISTS (SELECT 1 FROM strategy_instances WHERE name = 'passkey');
