// Generated from the Rust types by `src-tauri/src/bindings.rs`; do not edit.
// Regenerate: UPDATE_BINDINGS=1 cargo test -p sitedesk bindings

export type Lang = "en" | "zh-CN";

export type Actor = { 
/**
 * The account that is signed in to the desk computer.
 */
account: string, 
/**
 * The person's name on the desk; may be empty for the desk's own work.
 */
display_name: string, 
/**
 * The person's login on the desk; `None` for the desk's own work.
 */
login: string | null, };

export type Role = "crc" | "supervisor" | "admin";

export type Session = { login: string, display_name: string, role: Role, };

export type SessionView = { 
/**
 * No key file yet: the first start creates the administrator.
 */
first_start: boolean, user: Session | null, locked: boolean, 
/**
 * Seconds without input before the desk locks itself.
 */
lock_after_seconds: number, 
/**
 * The language of the desk (the system's until the desk has opened).
 */
language: Lang, };

export type DeskUser = { login: string, display_name: string, role: Role, created_at: string, 
/**
 * When an administrator disabled the account; it can no longer sign in.
 */
disabled_at: string | null, 
/**
 * Failed sign-ins since the last one that succeeded.
 */
failed_sign_ins: number, last_sign_in: string | null, };

export type UserChange = { "kind": "create", login: string, display_name: string, role: Role, } | { "kind": "update", login: string, display_name: string | null, role: Role | null, disabled: boolean | null, } | { "kind": "password_changed", login: string, };

export type FirstAdmin = { login: string, display_name: string, password: string, };

export type RecoveryKeyView = { recovery_key: string, };

export type SignIn = { login: string, password: string, };

export type Unlock = { password: string, };

export type SaveUser = { change: UserChange, password: string | null, };

export type ChangePassword = { old_password: string, new_password: string, };

export type BackupRequest = { folder: string | null, };

export type Meaning = "reviewed" | "approved";

export type SignOff = { id: number, record_id: string, event: string, instance: number, 
/**
 * The form signed; `None` for the whole visit.
 */
form: string | null, meaning: Meaning, signer_login: string, 
/**
 * The printed name, as it was when signing.
 */
signer_name: string, signed_at: string, voided_at: string | null, void_reason: string | null, };

export type SignOffForm = { subject_id: string, event: string, instance: number, form: string | null, meaning: Meaning, password: string, };

export type Study = { id: string, title: string, 
/**
 * How many subjects the study plans to enroll across all sites: the
 * screening instrument's `@SITEDESK-TARGET`, or this desk's own where a
 * person changed it (`StudySetup::targets` says which).
 */
enrollment_target: number, };

export type Site = { id: string, 
/**
 * Short code that prefixes subject ids, such as `S01`.
 */
code: string, name: string, };

export type CriterionKind = "inclusion" | "exclusion";

export type Criterion = { 
/**
 * Stable id such as `I1` or `E2`.
 */
id: string, kind: CriterionKind, text: string, };

export type Answer = "yes" | "no";

export type SubjectStatus = "screening" | "screen_failed" | "enrolled" | "completed" | "withdrawn";

export type Screening = { screening_date: string, 
/**
 * Initials or a short label; never a full name.
 */
label: string, consent_date: string | null, 
/**
 * Version of the informed-consent form the subject signed.
 */
consent_version: string | null, 
/**
 * Criterion id to answer; unanswered criteria are absent.
 */
eligibility: { [key in string]: Answer }, };

export type Subject = { id: string, site_id: string, status: SubjectStatus, screening: Screening, enrollment_date: string | null, 
/**
 * The day of the last status change after screening: screen failure,
 * completion or withdrawal.
 */
status_date: string | null, 
/**
 * Why the subject screen failed or withdrew: a code of the screening
 * instrument's reason choices.
 */
status_reason: string | null, 
/**
 * The "other, specify" text, for a reason code that asks for it.
 */
status_reason_other: string | null, created_at: string, updated_at: string, };

export type ScreeningInput = { 
/**
 * `YYYY-MM-DD`.
 */
screening_date: string, label: string, 
/**
 * `YYYY-MM-DD`, empty or absent when consent is not yet given.
 */
consent_date: string | null, consent_version: string | null, eligibility: { [key in string]: Answer }, };

export type ActionKind = "screen_fail" | "enroll" | "complete" | "withdraw";

export type Reason = { code: string, other: string | null, };

export type ReasonChoice = { code: string, label: string, };

export type Reasons = { choices: Array<ReasonChoice>, 
/**
 * Codes whose text must be given.
 */
other: Array<string>, };

export type ScreeningPlace = { form: string, event: string, in_dictionary: boolean, };

export type EnrollmentTarget = { value: number, 
/**
 * Set at this desk (audited), not the study's annotation.
 */
local: boolean, };

export type EnrollmentTargets = { study: EnrollmentTarget | null, sites: { [key in string]: EnrollmentTarget }, };

export type StudySetup = { study: Study, sites: Array<Site>, 
/**
 * The screening instrument's eligibility checklist.
 */
criteria: Array<Criterion>, 
/**
 * The screening instrument's coded reasons for a screen failure or a
 * withdrawal.
 */
reasons: Reasons, 
/**
 * Where the screening log is kept; `None` until a dictionary is in
 * force.
 */
screening: ScreeningPlace | null, 
/**
 * Enrollment targets: the screening instrument's `@SITEDESK-TARGET`
 * annotations, or this desk's own where a person changed one.
 */
targets: EnrollmentTargets, 
/**
 * The site this desk enrolls for.
 */
desk_site_id: string, desk_code: string, };

export type DeskInfo = { desk_code: string, schema_version: number, };

export type Settings = { display_name: string, language: Lang, 
/**
 * Whether the person chose how this desk starts (the demo, or the
 * study's REDCap); until then the first start offers the choice.
 */
setup_chosen: boolean, };

export type SubjectFilter = { 
/**
 * Matches the start or any part of the id or the initials.
 */
search: string | null, status: SubjectStatus | null, site_id: string | null, };

export type SubjectRow = { id: string, site_id: string, site_code: string, 
/**
 * The desk that registered the subject, read from its id; `None` for
 * an id not made by a desk (typed into the EDC).
 */
desk_code: string | null, label: string, status: SubjectStatus, screening_date: string, enrollment_date: string | null, updated_at: string, };

export type StatusCount = { site_id: string, status: SubjectStatus, count: number, };

export type AuditLabels = { field: string, old_value: string | null, new_value: string | null, };

export type AuditEntry = { id: number, at: string, user_account: string, user_name: string, 
/**
 * The person's login on the desk; none before sign-in and for the
 * desk's own work.
 */
user_login: string | null, entity: string, entity_id: string, field: string, old_value: string | null, new_value: string | null, reason: string | null, 
/**
 * For a form value: the event and repeat instance.
 */
event: string | null, instance: number | null, 
/**
 * For a form value: what the dictionary in force calls the field and
 * the choices of the old and new values, as plain text (filled by
 * `Desk::record_audit`; the store knows only the names).
 */
labels: AuditLabels | null, };

export type IdCollision = { record_id: string, detected_at: string, };

export type RefusedBy = "edc" | "export_rights";

export type RefusedValue = { cell: Cell, value: string, by: RefusedBy, 
/**
 * The EDC's words (blank when the desk held the value itself).
 */
message: string, refused_at: string, };

export type TaskId = number;

export type TaskKind = "writer" | "diagnostics" | "scheduler" | "sync_run" | "sync_job" | "sync_batch" | "profiler" | "export" | "maintenance" | "window";

export type TaskState = "queued" | "running" | "waiting" | "cancelling" | "done" | "failed" | "cancelled";

export type TaskSnapshot = { id: TaskId, parent: TaskId | null, name: string, kind: TaskKind, state: TaskState, started_at: string, 
/**
 * Milliseconds from start to now, or to the end for a finished task.
 */
elapsed_ms: number, 
/**
 * Work done and work known, when the task reports it.
 */
progress: [number, number] | null, 
/**
 * A message without patient data.
 */
last_error: string | null, 
/**
 * Whether the panel can cancel it (it holds a cancellation token).
 */
cancellable: boolean, 
/**
 * Milliseconds since its token was cancelled, while it still runs.
 */
cancelled_ms: number | null, 
/**
 * Failed attempts so far, for a task that retries.
 */
attempts: number, 
/**
 * When it tries again, while it waits to retry.
 */
retry_at: string | null, };

export type Lint = { "lint": "stuck_after_cancel", task: TaskId, name: string, seconds: number, } | { "lint": "no_progress", task: TaskId, name: string, seconds: number, } | { "lint": "tasks_outside_registry", 
/**
 * How many more untracked tasks run now than at the quietest
 * moment of the history.
 */
extra: number, minutes: number, } | { "lint": "writer_stalled", queued: number, seconds: number, };

export type TaskRef = { id: number, };

export type LogLine = { at: string, 
/**
 * `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
 */
level: string, target: string, message: string, };

export type Sample = { 
/**
 * Milliseconds since the Unix epoch.
 */
at_ms: number, rss_mb: number, 
/**
 * Of one core, since the previous sample.
 */
cpu_percent: number, threads: number, open_files: number, 
/**
 * Tokio's count of alive tasks.
 */
tokio_tasks: number, 
/**
 * Tokio's worker threads, and tasks waiting in its global queue (a
 * queue that stays long means the workers cannot keep up).
 */
tokio_workers: number, tokio_global_queue: number, 
/**
 * Tasks the registry knows to be alive.
 */
registry_tasks: number, commits_per_sec: number, rows_per_sec: number, interactive_p99_ms: number, 
/**
 * Edits waiting to be sent to the EDC (outbox rows).
 */
outbox: number, 
/**
 * Commands waiting in the writer's two lanes.
 */
writer_queued: number, 
/**
 * Calls to the EDC, and those that failed, per second.
 */
edc_calls_per_sec: number, edc_failures_per_sec: number, db_mb: number, wal_mb: number, };

export type LogQuery = { 
/**
 * `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`: this level and above.
 */
level: string, search: string, };

export type Percentiles = { p50: number, p99: number, max: number, };

export type LaneStats = { 
/**
 * Commands waiting in the channel now.
 */
queue_depth: number, queue_capacity: number, 
/**
 * Commands answered since the app started.
 */
answered: number, 
/**
 * From queued to answered (after COMMIT), in milliseconds, since start.
 */
ack_ms: Percentiles, };

export type WriterStats = { interactive: LaneStats, bulk: LaneStats, 
/**
 * Transactions committed since the app started.
 */
commits: number, 
/**
 * Commands that failed and were rolled back alone.
 */
failed_commands: number, 
/**
 * Rows written (data, audit and outbox) since the app started.
 */
rows: number, 
/**
 * Commands per transaction.
 */
batch_size: Percentiles, 
/**
 * Time of COMMIT itself (the fsync), in milliseconds.
 */
commit_ms: Percentiles, 
/**
 * Over the last second or so.
 */
commits_per_sec: number, rows_per_sec: number, };

export type ChainProblem = "content_changed" | "link_broken" | "not_hashed" | "end_missing" | "head_not_signed";

export type ChainBreak = { 
/**
 * The audit row id at which the break shows.
 */
audit_id: number, problem: ChainProblem, };

export type AuditVerification = { 
/**
 * Rows checked, up to the first break.
 */
rows_checked: number, 
/**
 * The hash of the last row, for IT staff to note down and compare later.
 */
head: string | null, 
/**
 * The first place the chain breaks; `None` when the trail is intact.
 */
broken: ChainBreak | null, 
/**
 * Form values compared with their last audited value (when the chain
 * is intact).
 */
values_checked: number, 
/**
 * The first form value that differs from its last audited value (or
 * is missing, or is there with no audit row): changed behind the
 * app's back. Names the cell, never its value.
 */
value_changed: Cell | null, 
/**
 * The first audit row stamped earlier than the row before it: the
 * desk's clock was set back (or the row was written elsewhere).
 */
clock_back: number | null, 
/**
 * A stored dictionary version whose content no longer gives its hash.
 */
dictionary_changed: string | null, };

export type FieldType = "text" | "notes" | "dropdown" | "radio" | "checkbox" | "yesno" | "truefalse" | "calc" | "slider" | "descriptive" | "file" | "sql";

export type Choice = { 
/**
 * The stored code (`1`, `a`, `-99`).
 */
code: string, 
/**
 * The label shown; may contain HTML.
 */
label: string, };

export type Aspect = "form" | "type" | "label" | "choices" | "calculation" | "validation" | "range" | "required" | "identifier" | "branching_logic" | "layout" | "annotation";

export type FieldChange = { "kind": "added", field: string, } | { "kind": "removed", field: string, } | { "kind": "changed", field: string, aspects: Array<Aspect>, 
/**
 * Choice codes the new version no longer has: saved values with
 * these codes need a look.
 */
removed_choices: Array<string>, };

export type LogicError = { "kind": "syntax", "detail": [number, string] } | { "kind": "unsupported", "detail": string } | { "kind": "eval", "detail": string } | { "kind": "too_deep", "detail": string };

export type LogicIssue = { field: string, 
/**
 * `branching_logic`, `calculation`, or the action tag that holds the
 * logic (`calctext`, `calcdate`).
 */
column: string, error: LogicError, };

export type TagIssue = { field: string, 
/**
 * The tag as written (`@MAXCHECKED=2`).
 */
tag: string, };

export type MissingCode = { code: string, label: string, };

export type DictionaryImport = { hash: string, 
/**
 * False when the same version was already in force.
 */
changed: boolean, 
/**
 * Against the version in force before (all fields at the first import).
 */
changes: Array<FieldChange>, };

export type DictionaryFile = { file_name: string, text: string, };

export type FormStatus = "incomplete" | "unverified" | "complete";

export type ChoiceView = { code: string, 
/**
 * Sanitized HTML.
 */
label_html: string, 
/**
 * For a checkbox, the name its value is stored and sent under.
 */
stored: string | null, };

export type SliderView = { left: string, middle: string, right: string, show_number: boolean, 
/**
 * The range the core accepts (0 to 100 unless the field says).
 */
min: number, max: number, };

export type Unavailable = "file" | "signature" | "sql";

export type FieldView = { name: string, field_type: FieldType, label_html: string, section_html: string | null, note_html: string | null, choices: Array<ChoiceView>, slider: SliderView | null, 
/**
 * The validation type, for the input's hint (`date_ymd`).
 */
validation: string | null, required: boolean, identifier: boolean, 
/**
 * Consecutive fields with the same group render as one grid.
 */
matrix_group: string | null, unavailable: Unavailable | null, 
/**
 * Branching logic or calculation SiteDesk cannot evaluate: the field
 * always shows, with this message.
 */
logic_problem: string | null, 
/**
 * The stored names a person enters values under here (a checkbox: one
 * per choice and one per missing-data code); none for calculations,
 * descriptive text, read-only and hidden fields and fields the desk
 * cannot fill.
 */
inputs: Array<string>, 
/**
 * `@READONLY`, `@CALCTEXT`, `@CALCDATE`: shown, never typed; its value
 * is the evaluation's `calc`.
 */
readonly: boolean, 
/**
 * `@HIDDEN`, `@HIDDEN-FORM`, `@HIDDEN-APP`: not shown at the desk; its
 * value is kept.
 */
hidden: boolean, 
/**
 * `@NONEOFTHEABOVE`: checkbox codes that stand alone.
 */
exclusive: Array<string>, 
/**
 * `@CHARLIMIT`, `@WORDLIMIT`.
 */
char_limit: number | null, word_limit: number | null, };

export type FormView = { record_id: string, form: string, form_label: string, event: string, event_label: string, instance: number, repeating: boolean, fields: Array<FieldView>, 
/**
 * Saved values as the fields show them, by stored name.
 */
values: { [key in string]: string }, 
/**
 * The saved status; `None` when the form was never saved.
 */
status: FormStatus | null, 
/**
 * The project's missing-data codes, which any field takes.
 */
missing_codes: Array<MissingCode>, 
/**
 * Stored names whose value in `values` is a default of this new
 * instance (`@DEFAULT`, `@NOW`, `@TODAY`), not saved: the UI sends them
 * back as entered, so that the time shown is the time saved.
 */
prefilled: Array<string>, };

export type Severity = "error" | "confirm" | "missing";

export type FieldMessage = { severity: Severity, text: string, };

export type FieldState = { name: string, visible: boolean, 
/**
 * The value of a field the CRC does not type (a calc, `@CALCTEXT`,
 * `@CALCDATE`, `@READONLY`), as shown; a checkbox's ticked codes
 * separated by commas.
 */
calc: string | null, message: FieldMessage | null, };

export type Evaluation = { fields: Array<FieldState>, 
/**
 * Fields whose saved value would change or be cleared: saving needs a
 * reason for change.
 */
changes_saved: Array<string>, 
/**
 * Fields outside their expected range: saving needs them confirmed.
 */
out_of_range: Array<string>, 
/**
 * Fields that would be written.
 */
changed: Array<string>, 
/**
 * Fields branching logic hides now that hold a value (typed or
 * saved): the form asks before such a value is erased.
 */
hidden_with_values: Array<string>, };

export type FormInput = { 
/**
 * Values as typed (dates in the field's order), by stored name; a
 * field left out keeps its saved value.
 */
values: { [key in string]: string }, status: FormStatus, 
/**
 * Out-of-range fields the CRC confirmed.
 */
confirmed: Array<string>, reason: string | null, };

export type EventColumn = { name: string, label: string, };

export type FormRow = { name: string, label: string, };

export type CellStatus = "empty" | "incomplete" | "unverified" | "complete";

export type InstanceStatus = { instance: number, status: CellStatus, };

export type GridCell = { event: string, form: string, repeating: boolean, instances: Array<InstanceStatus>, 
/**
 * The instance "add" opens: after the form's own, or in a repeating
 * event after the last instance of any of the event's forms.
 */
next_instance: number, };

export type VisitGrid = { events: Array<EventColumn>, forms: Array<FormRow>, cells: Array<GridCell>, };

export type FormRef = { subject_id: string, event: string, form: string, instance: number, };

export type EvaluateForm = { at: FormRef, values: { [key in string]: string }, };

export type SaveForm = { at: FormRef, input: FormInput, };

export type SavedForm = { 
/**
 * Values written (each with its audit and outbox row); 0 when nothing
 * changed.
 */
changed: number, };

export type OpenedForm = { view: FormView, evaluation: Evaluation, 
/**
 * The sign-offs of this form and of its visit, newest first (voided
 * ones too: the form says what was signed and what voided it).
 */
sign_offs: Array<SignOff>, };

export type EdcMode = "demo" | "real" | "none";

export type EdcSettings = { mode: EdcMode, 
/**
 * The API address in use (the simulator's in demo mode).
 */
url: string | null, 
/**
 * Whether a token is saved for a real EDC.
 */
token_saved: boolean, 
/**
 * Edited values waiting to be sent: in demo mode, what saving a real
 * EDC would send to it.
 */
pending_edits: number, };

export type SaveEdc = { url: string, token: string | null, };

export type ConnectionReport = { mode: EdcMode, url: string, version: string, project_title: string, longitudinal: boolean, };

export type ProbeProject = { url: string, token: string, };

export type Targets = { study: number | null, 
/**
 * By the data access group's unique name, in lower case.
 */
sites: { [key in string]: number }, };

export type ProjectSite = { 
/**
 * The group's unique name: the site's id at the desk.
 */
unique_name: string, label: string, 
/**
 * REDCap's number for the group.
 */
id: number, 
/**
 * The code that prefixes subject ids at this site.
 */
code: string, };

export type UnsupportedValidation = { field: string, validation: string, };

export type ScreeningStatus = { "status": "found", form: string, event: string, criteria: number, targets: Targets, } | { "status": "absent", snippet: string, } | { "status": "broken", message: string, };

export type ProjectSummary = { project_id: string, title: string, 
/**
 * The server, as `https://host[:port]`.
 */
origin: string, sites: Array<ProjectSite>, 
/**
 * The group the token is bound to: the desk's site, no choice.
 */
token_site: string | null, forms: Array<string>, events: Array<string>, 
/**
 * Branching logic and calculations that cannot be used offline.
 */
logic_issues: Array<LogicIssue>, 
/**
 * Action tags the desk's forms do not apply.
 */
unapplied_tags: Array<TagIssue>, unsupported_validation: Array<UnsupportedValidation>, screening: ScreeningStatus, 
/**
 * Practice records on this demo desk (0 on a desk not in the demo):
 * binding asks what becomes of them when there are any.
 */
practice_entries: number, };

export type Practice = "discard" | "carry_over";

export type BindProject = { url: string, token: string, site: string | null, practice: Practice | null, };

export type BindOutcome = { 
/**
 * Practice records discarded (their audit rows say so).
 */
discarded: number, 
/**
 * Practice records kept, waiting for the project's EDC.
 */
carried_over: number, };

export type Cell = { record_id: string, event: string, instance: number, 
/**
 * The stored name (`meds___2` for a checkbox choice).
 */
field: string, };

export type Conflict = { id: number, cell: Cell, base: string, mine: string, theirs: string, detected_at: string, };

export type Keep = { "keep": "mine" } | { "keep": "theirs" } | { "keep": "other", "value": string };

export type Phase = "idle" | "metadata" | "pulling" | "pushing";

export type ProgressView = { 
/**
 * `idle`, `metadata`, `pulling`, `pushing`.
 */
phase: Phase, batches_total: number, batches_done: number, records_total: number, records_done: number, cells_pushed: number, };

export type RunReport = { metadata_changed: boolean, pulled_cells: number, 
/**
 * Local values changed to the EDC's.
 */
taken: number, pushed_cells: number, batches: number, conflicts: number, };

export type BreakerState = "closed" | "open" | "half_open";

export type SyncSettings = { 
/**
 * Minutes between scheduled runs (1 to 1440).
 */
interval_minutes: number, 
/**
 * Push batches in flight at once (1 to 8).
 */
concurrency: number, };

export type SyncStatus = { mode: EdcMode, running: boolean, 
/**
 * The EDC could not be reached at the last try; sync resumes by itself.
 */
offline: boolean, progress: ProgressView, last_success_at: string | null, last_report: RunReport | null, 
/**
 * The last run's failure in plain words (not being offline).
 */
error: string | null, 
/**
 * Sync stopped until a person starts it (the EDC banned this
 * computer's address).
 */
stopped: boolean, breaker: BreakerState | null, 
/**
 * Edited values waiting to be sent.
 */
pending: number, conflicts: number, settings: SyncSettings, };

export type ConflictView = { conflict: Conflict, 
/**
 * The field's label, as plain text.
 */
label: string, event_label: string, };

export type RefusedView = { refused: RefusedValue, 
/**
 * The field's label, as plain text.
 */
label: string, event_label: string, 
/**
 * The form that holds the field (blank when the dictionary lacks it).
 */
form: string, };

export type ResolveConflict = { id: number, keep: Keep, reason: string, };

export type DictionaryPreview = { hash: string, 
/**
 * The version in force now, if any.
 */
current_hash: string | null, fields: number, instruments: Array<string>, 
/**
 * Against the version in force (every field when there is none).
 */
changes: Array<FieldChange>, 
/**
 * Branching logic and calculations that cannot be used offline.
 */
logic_issues: Array<LogicIssue>, 
/**
 * Action tags the desk's forms do not apply.
 */
unapplied_tags: Array<TagIssue>, };

export type AppInfo = { version: string, actor: Actor, settings: Settings, setup: StudySetup | null, desk: DeskInfo, 
/**
 * Where the database file lives, for IT staff.
 */
database_path: string, 
/**
 * Whether this desk runs the built-in demo study.
 */
demo: boolean, 
/**
 * Whether this platform can record CPU profiles.
 */
profiling: boolean, };

export type SubjectDetail = { subject: Subject, actions: Array<ActionKind>, audit: Array<AuditEntry>, };

export type EdcRecord = { record_id: string, 
/**
 * Events with at least one value.
 */
events: number, 
/**
 * Values held.
 */
values: number, 
/**
 * When a value last changed at this desk (pulled or edited).
 */
updated_at: string, };

export type RecordDetail = { record_id: string, audit: Array<AuditEntry>, };

export type SubjectRef = { id: string, };

export type EditScreening = { id: string, input: ScreeningInput, reason: string | null, };

export type ApplyAction = { id: string, kind: ActionKind, date: string | null, 
/**
 * A screen failure's or a withdrawal's coded reason.
 */
reason: Reason | null, };

export type Preferences = { display_name: string, language: Lang, };

export type SetTarget = { site_id: string | null, target: number | null, reason: string, };

export type EndpointStats = { 
/**
 * REDCap's `content`, with `import` or `export` for records.
 */
endpoint: string, calls: number, 
/**
 * Calls that got no 200 answer (refused, failed, timed out, cut).
 */
failures: number, 
/**
 * From sending the request to the whole answer, in milliseconds.
 */
latency_ms: Percentiles, bytes_sent: number, bytes_received: number, };

export type CallTotals = { calls: number, failures: number, 
/**
 * Calls sync tried again after a transient failure.
 */
retries: number, };

export type DiagnosticsSnapshot = { tasks: Array<TaskSnapshot>, 
/**
 * Tasks stuck after a cancel, or without progress for too long;
 * untracked tasks piling up; a stalled writer.
 */
lints: Array<Lint>, 
/**
 * The last 15 minutes, one sample a second (the event: the newest).
 */
metrics: Array<Sample>, writer: WriterStats, 
/**
 * Calls to the EDC since the app started, per endpoint.
 */
edc: Array<EndpointStats>, edc_totals: CallTotals, 
/**
 * The sync breaker: closed (calls go through), open (paused after
 * repeated failures), half-open (one probe allowed).
 */
breaker: BreakerState | null, };

export type FlameNode = { name: string, value: number, children: Array<FlameNode>, };

export type RecordProfile = { 
/**
 * 1 to 60.
 */
seconds: number, };

export type ProfileView = { started_at: string, duration_ms: number, samples: number, frequency_hz: number, root: FlameNode, };

export type ProfileFormat = "svg" | "pprof";

export type SaveProfile = { format: ProfileFormat, };

export type ErrorCode = "invalid_input" | "validation" | "illegal_transition" | "not_found" | "no_study" | "unavailable" | "cancelled" | "storage" | "no_forms" | "no_edc" | "edc" | "profile" | "signed_out" | "locked" | "forbidden" | "wrong_password";

export type IpcError = { code: ErrorCode, message: string, };

/** Every `ErrorCode`, as the backend declares them. */
export const ERROR_CODES: readonly ErrorCode[] = ["invalid_input", "validation", "illegal_transition", "not_found", "no_study", "unavailable", "cancelled", "storage", "no_forms", "no_edc", "edc", "profile", "signed_out", "locked", "forbidden", "wrong_password"];

/** How a command is called: its name and, when it takes one, its payload. */
export type Call = <T>(command: string, args?: { payload: unknown }) => Promise<T>;

/** One typed function per command of the backend's table. */
export function makeCommands(call: Call) {
  return {
    sessionStatus: () => call<SessionView>("session_status"),
    createAdministrator: (payload: FirstAdmin) => call<RecoveryKeyView>("create_administrator", { payload }),
    signIn: (payload: SignIn) => call<SessionView>("sign_in", { payload }),
    signOut: () => call<SessionView>("sign_out"),
    lockDesk: () => call<SessionView>("lock_desk"),
    unlockDesk: (payload: Unlock) => call<SessionView>("unlock_desk", { payload }),
    changePassword: (payload: ChangePassword) => call<null>("change_password", { payload }),
    listUsers: () => call<Array<DeskUser>>("list_users"),
    saveUser: (payload: SaveUser) => call<DeskUser>("save_user", { payload }),
    signOff: (payload: SignOffForm) => call<SignOff>("sign_off", { payload }),
    appInfo: () => call<AppInfo>("app_info"),
    listSubjects: (payload: SubjectFilter) => call<Array<SubjectRow>>("list_subjects", { payload }),
    statusCounts: () => call<Array<StatusCount>>("status_counts"),
    getSubject: (payload: SubjectRef) => call<SubjectDetail>("get_subject", { payload }),
    listEdcRecords: () => call<Array<EdcRecord>>("list_edc_records"),
    getRecord: (payload: SubjectRef) => call<RecordDetail>("get_record", { payload }),
    screenSubject: (payload: ScreeningInput) => call<Subject>("screen_subject", { payload }),
    editScreening: (payload: EditScreening) => call<Subject>("edit_screening", { payload }),
    applyAction: (payload: ApplyAction) => call<Subject>("apply_action", { payload }),
    savePreferences: (payload: Preferences) => call<Settings>("save_preferences", { payload }),
    setTarget: (payload: SetTarget) => call<AppInfo>("set_target", { payload }),
    verifyAudit: () => call<AuditVerification>("verify_audit"),
    previewDictionary: (payload: DictionaryFile) => call<DictionaryPreview>("preview_dictionary", { payload }),
    importDictionary: (payload: DictionaryFile) => call<DictionaryImport>("import_dictionary", { payload }),
    visitGrid: (payload: SubjectRef) => call<VisitGrid | null>("visit_grid", { payload }),
    openForm: (payload: FormRef) => call<OpenedForm>("open_form", { payload }),
    evaluateForm: (payload: EvaluateForm) => call<Evaluation>("evaluate_form", { payload }),
    saveForm: (payload: SaveForm) => call<SavedForm>("save_form", { payload }),
    edcSettings: () => call<EdcSettings>("edc_settings"),
    saveEdcSettings: (payload: SaveEdc) => call<EdcSettings>("save_edc_settings", { payload }),
    forgetEdcSettings: () => call<EdcSettings>("forget_edc_settings"),
    testConnection: () => call<ConnectionReport>("test_connection"),
    probeProject: (payload: ProbeProject) => call<ProjectSummary>("probe_project", { payload }),
    bindProject: (payload: BindProject) => call<BindOutcome>("bind_project", { payload }),
    chooseDemo: () => call<Settings>("choose_demo"),
    syncStatus: () => call<SyncStatus>("sync_status"),
    syncNow: () => call<null>("sync_now"),
    cancelSync: () => call<boolean>("cancel_sync"),
    listConflicts: () => call<Array<ConflictView>>("list_conflicts"),
    resolveConflict: (payload: ResolveConflict) => call<null>("resolve_conflict", { payload }),
    listIdCollisions: () => call<Array<IdCollision>>("list_id_collisions"),
    listRefusedValues: () => call<Array<RefusedView>>("list_refused_values"),
    renumberRecord: (payload: SubjectRef) => call<string>("renumber_record", { payload }),
    saveSyncSettings: (payload: SyncSettings) => call<SyncSettings>("save_sync_settings", { payload }),
    backupDesk: (payload: BackupRequest) => call<string>("backup_desk", { payload }),
    cancelTask: (payload: TaskRef) => call<number>("cancel_task", { payload }),
    recentLogs: (payload: LogQuery) => call<Array<LogLine>>("recent_logs", { payload }),
    saveDiagnosticsBundle: () => call<string>("save_diagnostics_bundle"),
    diagnosticsSnapshot: () => call<DiagnosticsSnapshot>("diagnostics_snapshot"),
    recordProfile: (payload: RecordProfile) => call<ProfileView>("record_profile", { payload }),
    saveProfile: (payload: SaveProfile) => call<string>("save_profile", { payload }),
  };
}
