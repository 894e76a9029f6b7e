#include "migrations.hpp"

#include <string>

namespace pvfleet::storage {
namespace {

// Each migration is written once for both engines; {ID} and {BLOB} are the only dialect differences, and lines
// that start "--postgres: " run on PostgreSQL only (on SQLite they stay comments).
// Times are epoch milliseconds (BIGINT); personal customer fields hold AES-256-GCM ciphertext (base64).
constexpr Migration kMigrations[] = {
    {1, "records, ingest, telemetry, tickets, work orders, users, audit", R"SQL(
CREATE TABLE customers (
  id {ID},
  name_enc TEXT NOT NULL,
  phone_enc TEXT,
  email_enc TEXT,
  address_enc TEXT,
  notes_enc TEXT,
  search_key TEXT NOT NULL DEFAULT '',
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  version BIGINT NOT NULL DEFAULT 1
);
CREATE TABLE sites (
  site_id TEXT PRIMARY KEY,
  customer_id BIGINT REFERENCES customers(id),
  name TEXT NOT NULL DEFAULT '',
  address TEXT NOT NULL DEFAULT '',
  latitude DOUBLE PRECISION,
  longitude DOUBLE PRECISION,
  time_zone TEXT NOT NULL DEFAULT 'UTC',
  arrays TEXT NOT NULL DEFAULT '[]',
  roof_type TEXT NOT NULL DEFAULT '',
  installed_on TEXT,
  grid_connected_on TEXT,
  warranty_end TEXT,
  inspection_interval_days BIGINT NOT NULL DEFAULT 365,
  first_seen_ms BIGINT,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX sites_by_customer ON sites(customer_id);
CREATE TABLE site_roles (
  site_id TEXT NOT NULL REFERENCES sites(site_id),
  role TEXT NOT NULL,
  party TEXT NOT NULL,
  PRIMARY KEY (site_id, role, party)
);
CREATE TABLE devices (
  site_id TEXT NOT NULL REFERENCES sites(site_id),
  device_id TEXT NOT NULL,
  vendor TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT '',
  serial TEXT NOT NULL DEFAULT '',
  firmware TEXT NOT NULL DEFAULT '',
  unit_id BIGINT,
  first_seen_ms BIGINT,
  last_seen_ms BIGINT,
  version BIGINT NOT NULL DEFAULT 1,
  PRIMARY KEY (site_id, device_id)
);
CREATE TABLE device_history (
  id {ID},
  site_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  at_ms BIGINT NOT NULL,
  old_serial TEXT NOT NULL,
  new_serial TEXT NOT NULL,
  work_order_id BIGINT,
  note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE site_seq (
  site_id TEXT PRIMARY KEY,
  contiguous_through BIGINT NOT NULL DEFAULT 0,
  max_seen BIGINT NOT NULL DEFAULT 0,
  edge_last_seq BIGINT NOT NULL DEFAULT 0,
  gap_since_ms BIGINT,
  resend_at_ms BIGINT,
  resend_attempts BIGINT NOT NULL DEFAULT 0,
  lost BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE received (
  site_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  kind TEXT NOT NULL,
  historical BIGINT NOT NULL,
  received_at_ms BIGINT NOT NULL,
  PRIMARY KEY (site_id, seq)
);
CREATE TABLE telemetry (
  site_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  t_ms BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  points TEXT NOT NULL,
  PRIMARY KEY (site_id, device_id, t_ms)
);
CREATE TABLE telemetry_5min (
  site_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  bucket_ms BIGINT NOT NULL,
  point TEXT NOT NULL,
  n BIGINT NOT NULL,
  sum DOUBLE PRECISION NOT NULL,
  min DOUBLE PRECISION NOT NULL,
  max DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (site_id, device_id, bucket_ms, point)
);
CREATE TABLE telemetry_daily (
  site_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  day TEXT NOT NULL,
  point TEXT NOT NULL,
  n BIGINT NOT NULL,
  sum DOUBLE PRECISION NOT NULL,
  min DOUBLE PRECISION NOT NULL,
  max DOUBLE PRECISION NOT NULL,
  first_t_ms BIGINT NOT NULL,
  first DOUBLE PRECISION NOT NULL,
  last_t_ms BIGINT NOT NULL,
  last DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (site_id, device_id, day, point)
);
CREATE TABLE tickets (
  site_id TEXT NOT NULL,
  ticket_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  severity TEXT NOT NULL,
  state TEXT NOT NULL,
  summary TEXT NOT NULL,
  opened_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  last_seq BIGINT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (site_id, ticket_id)
);
CREATE TABLE ticket_events (
  site_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  ticket_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  at_ms BIGINT NOT NULL,
  historical BIGINT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (site_id, seq)
);
CREATE TABLE site_status (
  site_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  sent_at_ms BIGINT NOT NULL,
  received_at_ms BIGINT NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE ingest_rejects (
  id {ID},
  at_ms BIGINT NOT NULL,
  topic TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  reason TEXT NOT NULL
);
CREATE TABLE commands (
  command_id TEXT PRIMARY KEY,
  site_id TEXT NOT NULL,
  command TEXT NOT NULL,
  issued_at_ms BIGINT NOT NULL,
  issued_by TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'sent',
  detail TEXT NOT NULL DEFAULT '',
  acked_at_ms BIGINT
);
CREATE INDEX commands_by_site ON commands(site_id, issued_at_ms);
CREATE TABLE work_orders (
  id {ID},
  site_id TEXT NOT NULL REFERENCES sites(site_id),
  device_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  severity TEXT NOT NULL,
  priority TEXT NOT NULL,
  state TEXT NOT NULL,
  is_open BIGINT NOT NULL,
  ticket_id TEXT NOT NULL DEFAULT '',
  summary TEXT NOT NULL DEFAULT '',
  assignee TEXT,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  due_at_ms BIGINT NOT NULL,
  closed_at_ms BIGINT,
  body TEXT NOT NULL,
  version BIGINT NOT NULL DEFAULT 1
);
-- One open work order per (site, device, fault kind): the database enforces what the rules promise, which
-- also keeps two server instances from creating two orders for one fault.
CREATE UNIQUE INDEX work_orders_one_open ON work_orders(site_id, device_id, kind) WHERE is_open = 1;
CREATE INDEX work_orders_by_state ON work_orders(state, priority, due_at_ms);
CREATE INDEX work_orders_by_assignee ON work_orders(assignee, state);
CREATE TABLE work_order_notes (
  id {ID},
  work_order_id BIGINT NOT NULL REFERENCES work_orders(id),
  at_ms BIGINT NOT NULL,
  author TEXT NOT NULL,
  text TEXT NOT NULL,
  parts TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE users (
  name TEXT PRIMARY KEY,
  display_name TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  disabled BIGINT NOT NULL DEFAULT 0,
  created_at_ms BIGINT NOT NULL,
  version BIGINT NOT NULL DEFAULT 1
);
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_name TEXT NOT NULL REFERENCES users(name),
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL
);
CREATE TABLE audit_log (
  id {ID},
  at_ms BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  entity TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  before_json TEXT,
  after_json TEXT
);
CREATE INDEX audit_by_entity ON audit_log(entity, entity_id, id);
)SQL"},
    {2, "work orders by site and fault kind", R"SQL(
-- The per-site questions (preventive schedule, a site's history, the list filtered by site) must not scan every
-- work order of the fleet.
CREATE INDEX work_orders_by_site ON work_orders(site_id, kind, closed_at_ms);
)SQL"},
    // (3 is left to another change in flight; versions are applied by number, a gap does no harm.)
    {4, "work-order list: indexes in the list's orders", R"SQL(
-- The work-order list (GET /api/work-orders) pages newest first (id, with a cursor on id) or by urgency
-- (open first, priority rank, due date, id). The broad filters get an index in that order, so a page reads
-- its rows instead of sorting every open order, every order of a state or every order of a technician. The
-- open orders' indexes are partial: a query that does not ask for open orders (by site, the preventive
-- check) cannot pick them over its own index.
CREATE INDEX work_orders_open_newest ON work_orders(id) WHERE is_open = 1;
CREATE INDEX work_orders_open_by_assignee ON work_orders(assignee, id) WHERE is_open = 1;
CREATE INDEX work_orders_state_newest ON work_orders(state, id);
CREATE INDEX work_orders_priority_newest ON work_orders(priority, id);
-- The urgency rank is the list's ORDER BY expression: SQLite uses an index on an expression only for that
-- expression.
CREATE INDEX work_orders_open_urgency ON work_orders(
  (CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END), due_at_ms, id)
  WHERE is_open = 1;
CREATE INDEX work_orders_state_urgency ON work_orders(state, is_open DESC,
  (CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END), due_at_ms, id);
)SQL"},
    {5, "raw telemetry: one row per device and batch", R"SQL(
-- A row per reading made raw telemetry the largest share of every group commit's writes. A row now holds one
-- device's readings from one batch (split so that no row spans more than an hour, which bounds the time-range
-- lookups below): samples is a JSON array of {"t": ms, "values": {...}, "arrays": {...}, "state": ...,
-- "events": [...]}, in time order. A reading (site, device, t) is still stored once: ingest checks the rows
-- whose span overlaps a new batch's before storing it.
CREATE TABLE telemetry_raw (
  site_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  t_first_ms BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  t_last_ms BIGINT NOT NULL,
  n BIGINT NOT NULL,
  samples TEXT NOT NULL,
  PRIMARY KEY (site_id, device_id, t_first_ms, seq)
);
INSERT INTO telemetry_raw (site_id, device_id, t_first_ms, seq, t_last_ms, n, samples)
  SELECT site_id, device_id, t_ms, seq, t_ms, 1,
         '[{"t":' || CAST(t_ms AS TEXT) ||
         CASE WHEN points = '{}' THEN '' ELSE ',' || substr(points, 2, length(points) - 2) END || '}]'
  FROM telemetry;
DROP TABLE telemetry;
)SQL"},
    {6, "PostgreSQL: room on each page for updated aggregate rows", R"SQL(
-- Every group commit updates the rows of the current 5-minute bucket and of the day, and each site's sequence
-- row and device rows. With full pages (the default) PostgreSQL writes each new row version to another page and
-- adds an entry to the primary-key index; with room left on the page the update stays on it (a HOT update) and
-- the index is not touched. The 5-minute rows take a few updates each, the day's and the sequence rows many.
--postgres: ALTER TABLE telemetry_5min SET (fillfactor = 80);
--postgres: ALTER TABLE telemetry_daily SET (fillfactor = 50);
--postgres: ALTER TABLE site_seq SET (fillfactor = 50);
--postgres: ALTER TABLE devices SET (fillfactor = 50);
)SQL"},
    {7, "failed logins per account, kept across restarts", R"SQL(
-- Failed logins of existing users (records::record_login_failure): a lockout holds for the account from every
-- address and outlives a restart. Unknown names are never stored, so the table has at most one row per user.
CREATE TABLE login_failures (
  user_name TEXT PRIMARY KEY,
  failures BIGINT NOT NULL,
  window_start_ms BIGINT NOT NULL
);
)SQL"},
    {8, "personal-data key check value", R"SQL(
-- HMAC-SHA256 of a fixed label under the key of the personal customer fields (hex), stored on first start: the
-- server refuses to start with another key, and never creates a new key for a database that holds one.
CREATE TABLE field_key_check (
  purpose TEXT PRIMARY KEY,
  check_value TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL
);
)SQL"},
    {9, "per-input tickets and work orders; devices' wired MPPT inputs", R"SQL(
-- A ticket about one input of a device (a string_fault on MPPT 2) is its own ticket at the edge, so it is its own
-- work order here: one open order per (site, device, fault kind, input), input 0 for whole-device orders (every
-- order before this change). The edge tickets' input is kept beside them for the back office's queries.
ALTER TABLE work_orders ADD COLUMN mppt_input BIGINT NOT NULL DEFAULT 0;
DROP INDEX work_orders_one_open;
CREATE UNIQUE INDEX work_orders_one_open ON work_orders(site_id, device_id, kind, mppt_input) WHERE is_open = 1;
ALTER TABLE tickets ADD COLUMN mppt_input BIGINT NOT NULL DEFAULT 0;
-- The MPPT inputs of each inverter with an array wired, as the gateway's site config says (a JSON array of input
-- numbers, e.g. [1,2]); NULL when the config does not say.
ALTER TABLE devices ADD COLUMN wired_inputs TEXT;
)SQL"},
    {10, "enrollment codes and the certificates issued to gateways", R"SQL(
-- One-time enrollment codes (server/enrollment, docs/fleet-enrollment.md): only the SHA-256 of a code is kept,
-- and its last group as a hint to tell codes apart. customer_id is the site's customer when the code was made:
-- a site moved to another customer since refuses the code.
CREATE TABLE enrollment_codes (
  id {ID},
  code_hash TEXT NOT NULL UNIQUE,
  hint TEXT NOT NULL,
  site_id TEXT NOT NULL REFERENCES sites(site_id),
  customer_id BIGINT,
  created_at_ms BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  used_at_ms BIGINT,
  used_from TEXT,
  revoked_at_ms BIGINT,
  revoked_by TEXT
);
CREATE INDEX enrollment_codes_by_site ON enrollment_codes(site_id, id);
-- Client certificates signed for gateways by the issuing CA. Renewal (renewed_from: the serial it replaces) and
-- revocation (the revoked_* columns, published as a CRL) are the certificate lifecycle's, still to come.
CREATE TABLE site_certificates (
  serial TEXT PRIMARY KEY,
  site_id TEXT NOT NULL REFERENCES sites(site_id),
  subject TEXT NOT NULL,
  public_key_sha256 TEXT NOT NULL,
  not_before_ms BIGINT NOT NULL,
  not_after_ms BIGINT NOT NULL,
  issued_at_ms BIGINT NOT NULL,
  enrollment_code_id BIGINT REFERENCES enrollment_codes(id),
  renewed_from TEXT,
  revoked_at_ms BIGINT,
  revoked_by TEXT,
  revocation_reason TEXT,
  pem TEXT NOT NULL
);
CREATE INDEX site_certificates_by_site ON site_certificates(site_id, issued_at_ms);
)SQL"},
    // ---- CRM: roles' supervisors and leads (server/leads, docs/crm.md). ----
    {11, "CRM: users' supervisors; leads, their contact keys, inquiries, touches and capture channels", R"SQL(
-- Whom a user's reminders escalate to (records::set_supervisor); NULL: nobody.
ALTER TABLE users ADD COLUMN supervisor TEXT REFERENCES users(name);
-- Capture channels of the public route (POST /api/public/leads): only the SHA-256 of a key is kept, and its
-- last characters as a hint.
CREATE TABLE lead_channels (
  id {ID},
  name TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL,
  region TEXT NOT NULL DEFAULT '',
  key_hash TEXT NOT NULL UNIQUE,
  key_hint TEXT NOT NULL,
  disabled BIGINT NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL
);
-- A lead's personal fields (name, phone, e-mail, address, notes) are AES-256-GCM ciphertext like customers'.
CREATE TABLE leads (
  id {ID},
  status TEXT NOT NULL,
  name_enc TEXT NOT NULL,
  phone_enc TEXT NOT NULL,
  email_enc TEXT NOT NULL,
  address_enc TEXT NOT NULL,
  notes_enc TEXT NOT NULL,
  postcode TEXT NOT NULL DEFAULT '',
  region TEXT NOT NULL DEFAULT '',
  roof_type TEXT NOT NULL DEFAULT 'unknown',
  monthly_bill DOUBLE PRECISION,
  annual_consumption_kwh DOUBLE PRECISION,
  desired_kwp DOUBLE PRECISION,
  budget DOUBLE PRECISION,
  source TEXT NOT NULL,
  channel_id BIGINT REFERENCES lead_channels(id),
  utm TEXT NOT NULL DEFAULT '{}',
  consent_contact BIGINT NOT NULL DEFAULT 0,
  consent_marketing BIGINT NOT NULL DEFAULT 0,
  score BIGINT NOT NULL DEFAULT 0,
  score_detail TEXT NOT NULL DEFAULT '{}',
  assignee TEXT REFERENCES users(name),
  assigned_at_ms BIGINT,
  first_touch_at_ms BIGINT,
  last_touch_at_ms BIGINT,
  next_step_on TEXT,
  customer_id BIGINT REFERENCES customers(id),
  created_by TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX leads_by_assignee ON leads(assignee, status, id);
CREATE INDEX leads_by_status ON leads(status, id);
-- De-duplication: the keyed hash (FieldCipher::blind_index) of each normalised phone number and e-mail address
-- of a lead. The primary key is what makes two captures of one person at the same moment one lead.
CREATE TABLE lead_keys (
  kind TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  lead_id BIGINT NOT NULL REFERENCES leads(id),
  PRIMARY KEY (kind, key_hash)
);
CREATE INDEX lead_keys_by_lead ON lead_keys(lead_id);
-- Every inquiry: the first one made the lead, repeats attach to it (or to the customer it matched).
CREATE TABLE lead_inquiries (
  id {ID},
  lead_id BIGINT REFERENCES leads(id),
  customer_id BIGINT REFERENCES customers(id),
  at_ms BIGINT NOT NULL,
  source TEXT NOT NULL,
  channel_id BIGINT REFERENCES lead_channels(id),
  utm TEXT NOT NULL DEFAULT '{}',
  message_enc TEXT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX lead_inquiries_by_lead ON lead_inquiries(lead_id, id);
CREATE INDEX lead_inquiries_by_customer ON lead_inquiries(customer_id, id);
-- What the reps did: a call, visit, message or e-mail, its outcome and the next step's date.
CREATE TABLE lead_touches (
  id {ID},
  lead_id BIGINT NOT NULL REFERENCES leads(id),
  kind TEXT NOT NULL,
  at_ms BIGINT NOT NULL,
  by_user TEXT NOT NULL,
  outcome TEXT NOT NULL,
  notes_enc TEXT NOT NULL,
  next_step_on TEXT,
  created_at_ms BIGINT NOT NULL
);
CREATE INDEX lead_touches_by_lead ON lead_touches(lead_id, at_ms);
)SQL"},
    {12, "CRM: customers' contact keys for de-duplication", R"SQL(
-- The keyed hashes of customers' normalised phone numbers and e-mail addresses (as lead_keys), kept by the lead
-- capture: a customer whose version (or the country code the keys were made with) differs from the one noted here
-- is decrypted once and its keys renewed, so a capture never decrypts every customer.
CREATE TABLE customer_contact_keys (
  customer_id BIGINT NOT NULL REFERENCES customers(id),
  kind TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  PRIMARY KEY (customer_id, kind)
);
CREATE INDEX customer_contact_keys_by_hash ON customer_contact_keys(kind, key_hash);
CREATE TABLE customer_contact_key_versions (
  customer_id BIGINT PRIMARY KEY REFERENCES customers(id),
  version BIGINT NOT NULL,
  country_code TEXT NOT NULL
);
)SQL"},
    {13, "CRM: projects, their milestones, reminders sent and the in-app inbox", R"SQL(
-- A project of a customer (server/projects, docs/projects.md): its stage follows its milestones.
CREATE TABLE projects (
  id {ID},
  name TEXT NOT NULL,
  customer_id BIGINT NOT NULL REFERENCES customers(id),
  site_id TEXT REFERENCES sites(site_id),
  lead_id BIGINT REFERENCES leads(id),
  template TEXT NOT NULL,
  stage TEXT NOT NULL,
  stage_since_ms BIGINT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active',
  manager TEXT REFERENCES users(name),
  sales_rep TEXT REFERENCES users(name),
  region TEXT NOT NULL DEFAULT '',
  started_on TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  version BIGINT NOT NULL DEFAULT 1
);
-- One project per lead: a second conversion of one lead fails on this index even when two race.
CREATE UNIQUE INDEX projects_one_per_lead ON projects(lead_id);
CREATE INDEX projects_by_manager ON projects(manager, id);
CREATE INDEX projects_by_customer ON projects(customer_id, id);
-- Milestones copied from the project's template; dates are calendar days (YYYY-MM-DD), done_on the actual one.
CREATE TABLE project_milestones (
  id {ID},
  project_id BIGINT NOT NULL REFERENCES projects(id),
  stage TEXT NOT NULL,
  mkey TEXT NOT NULL,
  title TEXT NOT NULL,
  position BIGINT NOT NULL,
  owner TEXT REFERENCES users(name),
  planned_on TEXT,
  done_on TEXT,
  checklist TEXT NOT NULL DEFAULT '[]',
  required_documents TEXT NOT NULL DEFAULT '[]',
  snoozed_until_ms BIGINT,
  updated_at_ms BIGINT NOT NULL,
  version BIGINT NOT NULL DEFAULT 1,
  UNIQUE (project_id, mkey)
);
CREATE INDEX project_milestones_by_key ON project_milestones(mkey, done_on);
-- Every reminder of a stall rule, once per rule, milestone and level: the unique key is what keeps two servers
-- (or a restart) from sending one twice.
CREATE TABLE reminders (
  id {ID},
  rule TEXT NOT NULL,
  milestone_id BIGINT NOT NULL REFERENCES project_milestones(id),
  level BIGINT NOT NULL,
  project_id BIGINT NOT NULL REFERENCES projects(id),
  recipients TEXT NOT NULL,
  sent_at_ms BIGINT NOT NULL,
  UNIQUE (rule, milestone_id, level)
);
CREATE INDEX reminders_by_project ON reminders(project_id, id);
-- The in-app inbox: one row per recipient.
CREATE TABLE notifications (
  id {ID},
  recipient TEXT NOT NULL REFERENCES users(name),
  event TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL DEFAULT '',
  project_id BIGINT REFERENCES projects(id),
  milestone_id BIGINT REFERENCES project_milestones(id),
  created_at_ms BIGINT NOT NULL,
  read_at_ms BIGINT
);
CREATE INDEX notifications_by_recipient ON notifications(recipient, id);
)SQL"},
    // ---- end of the CRM's block ----
    // ---- over-the-air updates (server/releases, docs/updates.md) ----
    {14, "over-the-air updates: releases, rollouts and their sites, sites' update channel", R"SQL(
-- Signed gateway packages, stored as <releases.dir>/<sha256>.deb.
CREATE TABLE releases (
  sha256 TEXT PRIMARY KEY,
  package TEXT NOT NULL,
  version TEXT NOT NULL,
  architecture TEXT NOT NULL,
  size_bytes BIGINT NOT NULL,
  signature TEXT NOT NULL,
  signed_by TEXT NOT NULL,
  uploaded_at_ms BIGINT NOT NULL,
  uploaded_by TEXT NOT NULL,
  UNIQUE (package, version, architecture)
);
-- A site's update channel (stable, candidate) and its gateway's architecture; no row: stable, unknown.
CREATE TABLE site_update_settings (
  site_id TEXT PRIMARY KEY REFERENCES sites(site_id),
  channel TEXT NOT NULL,
  architecture TEXT NOT NULL DEFAULT ''
);
CREATE TABLE rollouts (
  id {ID},
  version TEXT NOT NULL,
  channel TEXT NOT NULL,
  stages TEXT NOT NULL,
  max_failure_percent BIGINT NOT NULL,
  max_concurrent BIGINT NOT NULL,
  start_delay_max_s BIGINT NOT NULL,
  state TEXT NOT NULL,
  current_stage BIGINT NOT NULL DEFAULT 0,
  pause_reason TEXT NOT NULL DEFAULT '',
  -- failures of the current stage an admin resumed past (the auto-pause counts only newer ones)
  accepted_failures BIGINT NOT NULL DEFAULT 0,
  created_at_ms BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
-- Each site of a started stage: its state and reason, the update command sent to it.
CREATE TABLE rollout_sites (
  rollout_id BIGINT NOT NULL REFERENCES rollouts(id),
  site_id TEXT NOT NULL REFERENCES sites(site_id),
  stage BIGINT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  command_id TEXT,
  not_before_ms BIGINT NOT NULL,
  architecture TEXT NOT NULL DEFAULT '',
  from_version TEXT NOT NULL DEFAULT '',
  sent_at_ms BIGINT,
  updated_at_ms BIGINT NOT NULL,
  PRIMARY KEY (rollout_id, site_id)
);
CREATE INDEX rollout_sites_by_state ON rollout_sites(rollout_id, stage, state);
)SQL"},
    {15, "fleet config: rollouts of a config patch beside software ones", R"SQL(
-- software: `version`; config: the merge patch (a JSON object) and the config_version the patched configs get.
ALTER TABLE rollouts ADD COLUMN kind TEXT NOT NULL DEFAULT 'software';
ALTER TABLE rollouts ADD COLUMN patch TEXT NOT NULL DEFAULT '';
ALTER TABLE rollouts ADD COLUMN config_version TEXT NOT NULL DEFAULT '';
-- At most one running or paused rollout per channel and kind, also against two admins creating at once.
CREATE UNIQUE INDEX rollouts_one_active ON rollouts(channel, kind) WHERE state IN ('running', 'paused');
)SQL"},
    // ---- remote diagnostics (server/diagnostics, docs/updates.md) ----
    {16, "remote diagnostics: log bundles asked of gateways", R"SQL(
-- A bundle asked of a site's gateway; its file is <diagnostics.dir>/<id>.json once received. The id is also the
-- log_bundle command's id (the gateway's acks are in commands).
CREATE TABLE log_bundles (
  id TEXT PRIMARY KEY,
  site_id TEXT NOT NULL REFERENCES sites(site_id),
  state TEXT NOT NULL,
  hours BIGINT NOT NULL,
  max_bytes BIGINT NOT NULL,
  size_bytes BIGINT,
  detail TEXT NOT NULL DEFAULT '',
  requested_by TEXT NOT NULL,
  requested_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  received_at_ms BIGINT
);
CREATE INDEX log_bundles_by_site ON log_bundles(site_id, requested_at_ms);
CREATE INDEX log_bundles_by_time ON log_bundles(requested_at_ms);
)SQL"},
    // ---- CRM: contracts and payments (server/projects contracts.hpp, docs/projects.md) ----
    {17, "CRM: contracts of projects, change orders, payment plans, payments and their overdue reminders", R"SQL(
-- One contract per project. Money is integer minor units of an ISO 4217 currency (cents for EUR).
-- signed_document_id: the signed PDF, a document of the project (migration 19); the API checks it.
CREATE TABLE contracts (
  id {ID},
  project_id BIGINT NOT NULL UNIQUE REFERENCES projects(id),
  number TEXT NOT NULL UNIQUE,
  amount_minor BIGINT NOT NULL,
  currency TEXT NOT NULL,
  signed_on TEXT,
  status TEXT NOT NULL,
  signed_document_id BIGINT,
  created_by TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  version BIGINT NOT NULL DEFAULT 1
);
-- Approved changes of a signed contract's total (negative: a reduction).
CREATE TABLE contract_change_orders (
  id {ID},
  contract_id BIGINT NOT NULL REFERENCES contracts(id),
  number TEXT NOT NULL,
  amount_delta_minor BIGINT NOT NULL,
  reason TEXT NOT NULL,
  approved_on TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  UNIQUE (contract_id, number)
);
-- The payment plan: an amount or a percent of the contract's total; due on a fixed day or `after_days` after a
-- milestone of the project is done (resolved when read).
CREATE TABLE contract_instalments (
  id {ID},
  contract_id BIGINT NOT NULL REFERENCES contracts(id),
  label TEXT NOT NULL,
  amount_minor BIGINT,
  percent BIGINT,
  due_on TEXT,
  after_milestone TEXT,
  after_days BIGINT NOT NULL DEFAULT 0,
  snoozed_until_ms BIGINT,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX contract_instalments_by_contract ON contract_instalments(contract_id, id);
CREATE TABLE contract_payments (
  id {ID},
  contract_id BIGINT NOT NULL REFERENCES contracts(id),
  paid_on TEXT NOT NULL,
  amount_minor BIGINT NOT NULL,
  currency TEXT NOT NULL,
  method TEXT NOT NULL,
  reference TEXT NOT NULL DEFAULT '',
  recorded_by TEXT NOT NULL,
  recorded_at_ms BIGINT NOT NULL
);
CREATE INDEX contract_payments_by_contract ON contract_payments(contract_id, paid_on, id);
-- Reminders of `payment_overdue` rules, once per rule, instalment and level (as `reminders` for milestones).
CREATE TABLE payment_reminders (
  id {ID},
  rule TEXT NOT NULL,
  instalment_id BIGINT NOT NULL REFERENCES contract_instalments(id),
  level BIGINT NOT NULL,
  project_id BIGINT NOT NULL REFERENCES projects(id),
  recipients TEXT NOT NULL,
  sent_at_ms BIGINT NOT NULL,
  UNIQUE (rule, instalment_id, level)
);
CREATE INDEX payment_reminders_by_project ON payment_reminders(project_id, id);
)SQL"},
    {18, "the event log: what happened, for the inbox, e-mail and webhooks", R"SQL(
-- Appended in the producer's transaction; dispatched_at_ms set in the transaction that hands it to the consumers
-- (storage/events.hpp). data and recipients are JSON texts.
CREATE TABLE events (
  id {ID},
  name TEXT NOT NULL,
  occurred_at_ms BIGINT NOT NULL,
  data TEXT NOT NULL,
  recipients TEXT NOT NULL,
  dispatched_at_ms BIGINT
);
CREATE INDEX events_pending ON events(id) WHERE dispatched_at_ms IS NULL;
)SQL"},
    // ---- CRM: documents and photos (server/documents, docs/documents.md) ----
    {19, "CRM: documents and photos of customers, projects and work orders", R"SQL(
-- A file uploaded to an owner; the bytes are <documents.dir>/blobs/<sha256[0:2]>/<sha256>, shared by rows of
-- the same hash. media_type is sniffed from the bytes; file_name is for display only. Deleting sets deleted_at_ms.
CREATE TABLE documents (
  id {ID},
  owner_kind TEXT NOT NULL,
  owner_id BIGINT NOT NULL,
  category TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size_bytes BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  file_name TEXT NOT NULL,
  caption TEXT,
  uploaded_by TEXT NOT NULL,
  uploaded_at_ms BIGINT NOT NULL,
  deleted_at_ms BIGINT,
  deleted_by TEXT
);
CREATE INDEX documents_by_owner ON documents(owner_kind, owner_id, uploaded_at_ms);
CREATE INDEX documents_by_sha256 ON documents(sha256);
)SQL"},
    // ---- notifications: users' e-mail and preferences, the e-mail outbox (server/notifications) ----
    {20, "notifications: users' e-mail, language, time zone and quiet hours; per-event channels; the e-mail outbox",
     R"SQL(
-- A user's e-mail address (checked on input: no CR/LF, one '@'), the language of what they are sent (en, zh-CN),
-- the IANA time zone their quiet hours are read in and the quiet hours themselves ('HH:MM', both or neither).
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE users ADD COLUMN quiet_from TEXT;
ALTER TABLE users ADD COLUMN quiet_to TEXT;
-- A user's choice for one catalogue event; no row: the catalogue's default (docs/notifications.md).
CREATE TABLE notification_preferences (
  user_name TEXT NOT NULL REFERENCES users(name),
  event TEXT NOT NULL,
  inbox BIGINT NOT NULL,
  email BIGINT NOT NULL,
  PRIMARY KEY (user_name, event)
);
-- Inbox rows written by the event consumer name their event (one row per event and recipient) and the web
-- app's page of the thing ('#/projects/12').
ALTER TABLE notifications ADD COLUMN event_id BIGINT;
ALTER TABLE notifications ADD COLUMN link TEXT;
CREATE UNIQUE INDEX notifications_by_event ON notifications(event_id, recipient);
-- E-mails to send, rendered at consume time; the sender claims a due row by moving due_at_ms (a lease), sends,
-- then marks it sent or due again after a backoff. state: pending, sent, failed (attempts used up).
CREATE TABLE email_outbox (
  id {ID},
  event_id BIGINT NOT NULL,
  recipient TEXT NOT NULL REFERENCES users(name),
  address TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  message_id TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at_ms BIGINT NOT NULL,
  due_at_ms BIGINT NOT NULL,
  sent_at_ms BIGINT,
  UNIQUE (event_id, recipient)
);
CREATE INDEX email_outbox_due ON email_outbox(state, due_at_ms);
)SQL"},
    // ---- outbound webhooks (server/webhooks, docs/webhooks.md) ----
    {21, "outbound webhooks, their deliveries and every delivery attempt", R"SQL(
-- secret: AES-256-GCM ciphertext (records FieldCipher), never returned. events: JSON array of names ("*": all).
-- after_event_id: the last event of the log when the webhook was made; it is told of later events only.
CREATE TABLE webhooks (
  id {ID},
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  events TEXT NOT NULL,
  enabled BIGINT NOT NULL,
  disabled_reason TEXT NOT NULL DEFAULT '',
  failing_since_ms BIGINT,
  failed_attempts BIGINT NOT NULL DEFAULT 0,
  after_event_id BIGINT NOT NULL,
  version BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
-- One delivery per webhook and event (event_id NULL: a test ping); body fixed when it was made.
-- state: pending (next_attempt_at_ms due or leased), delivered, failed (gave up), cancelled (webhook disabled).
CREATE TABLE webhook_deliveries (
  id {ID},
  webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  event_id BIGINT,
  event_name TEXT NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at_ms BIGINT,
  created_at_ms BIGINT NOT NULL,
  finished_at_ms BIGINT,
  UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at_ms) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_of_webhook ON webhook_deliveries(webhook_id, id);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries(created_at_ms);
-- Every attempt: http_status NULL when no response came (error says why); the first KiB of the response.
CREATE TABLE webhook_attempts (
  id {ID},
  delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  attempted_at_ms BIGINT NOT NULL,
  http_status BIGINT,
  error TEXT NOT NULL,
  duration_ms BIGINT NOT NULL,
  response_excerpt TEXT NOT NULL
);
CREATE INDEX webhook_attempts_of_delivery ON webhook_attempts(delivery_id, id);
)SQL"},
    {22, "the handover to O&M: a site's commissioning day, a project's first production", R"SQL(
-- Set by a project's commissioning (the handover, docs/projects.md); the preventive schedule counts from it.
ALTER TABLE sites ADD COLUMN commissioned_on TEXT;
-- One row per project the plant itself handed over: when the site first produced, what, and the event told.
-- The primary key is the second guard (after the milestone's conditional update) against a double handover.
CREATE TABLE project_handovers (
  project_id BIGINT PRIMARY KEY REFERENCES projects(id),
  site_id TEXT NOT NULL,
  milestone_id BIGINT NOT NULL REFERENCES project_milestones(id),
  first_production_ms BIGINT NOT NULL,
  device_id TEXT NOT NULL,
  power_w DOUBLE PRECISION NOT NULL,
  energy_total_wh DOUBLE PRECISION,
  commissioned_on TEXT NOT NULL,
  event_id BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL
);
)SQL"},
};

std::string render(std::string_view sql, Engine engine) {
    std::string out(sql);
    const std::string id =
        engine == Engine::sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY";
    for (auto pos = out.find("{ID}"); pos != std::string::npos; pos = out.find("{ID}", pos))
        out.replace(pos, 4, id);
    if (engine == Engine::postgres) {
        constexpr std::string_view kOnly = "--postgres: ";
        for (auto pos = out.find(kOnly); pos != std::string::npos; pos = out.find(kOnly, pos))
            out.erase(pos, kOnly.size());
    }
    return out;
}

}  // namespace

std::span<const Migration> migrations() {
    return kMigrations;
}

Result<int> migrate(Db& db, TimePoint now) {
    if (auto s = db.run_script("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
                               "description TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)");
        !s)
        return s.error();
    int applied = 0;
    for (const Migration& m : kMigrations) {
        auto done = db.run("SELECT 1 FROM schema_migrations WHERE version = $1", {std::int64_t{m.version}});
        if (!done) return done.error();
        if (!done->rows.empty()) continue;
        auto r = in_transaction(db, [&]() -> Status {
            // PostgreSQL: two instances starting together must not both migrate.
            if (db.engine() == Engine::postgres)
                if (auto l = db.run("SELECT pg_advisory_xact_lock(727274)"); !l) return l.error();
            auto again =
                db.run("SELECT 1 FROM schema_migrations WHERE version = $1", {std::int64_t{m.version}});
            if (!again) return again.error();
            if (!again->rows.empty()) return {};
            if (auto s = db.run_script(render(m.sql, db.engine())); !s)
                return Error{"migration " + std::to_string(m.version) + ": " + s.error().message,
                             s.error().kind};
            if (auto s = db.run(
                    "INSERT INTO schema_migrations (version, description, applied_at_ms) VALUES ($1, $2, $3)",
                    {std::int64_t{m.version}, std::string(m.description), std::int64_t{to_epoch_ms(now)}});
                !s)
                return s.error();
            ++applied;
            return {};
        });
        if (!r) return r.error();
    }
    return applied;
}

Result<int> schema_version(Db& db) {
    auto r = db.run("SELECT MAX(version) FROM schema_migrations");
    if (!r) return r.error();
    return r->rows.empty() ? 0 : static_cast<int>(r->rows[0].integer(0));
}

}  // namespace pvfleet::storage
