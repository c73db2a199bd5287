import type { TFunction } from "i18next";

import type { AuditEntry } from "./ipc";

/** A UTC timestamp in the user's locale and time zone. */
export function formatTimestamp(iso: string, lang: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium" }).format(d);
}

/** Today in the desk's local calendar, as YYYY-MM-DD. */
export function localToday(): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h ${m}m ${sec}s` : m > 0 ? `${m}m ${sec}s` : `${sec}s`;
}

/** The name of an audited field, translated; a form value also names its event and instance. */
export function auditFieldName(t: TFunction, entry: AuditEntry): string {
  if (entry.entity !== "record") return fieldName(t, entry.field);
  const where = entry.event ? ` · ${entry.event}${entry.instance && entry.instance > 1 ? ` #${entry.instance}` : ""}` : "";
  const name = entry.labels ? `${entry.labels.field} (${entry.field})` : entry.field;
  return `${name}${where}`;
}

/** The name of an audited field, translated. */
export function fieldName(t: TFunction, field: string): string {
  if (field.startsWith("eligibility.")) return t("fields.eligibility", { id: field.slice("eligibility.".length) });
  return t(`fields.${field}`, { defaultValue: field });
}

/** An audited value, with statuses and answers translated. */
export function fieldValue(t: TFunction, entry: AuditEntry, which: "old" | "new"): string {
  const value = which === "old" ? entry.old_value : entry.new_value;
  if (value === null) return "—";
  const label = which === "old" ? entry.labels?.old_value : entry.labels?.new_value;
  if (label) return `${label} (${value})`;
  if (entry.field === "status") return t(`status.${value}`, { defaultValue: value });
  if (entry.field.startsWith("eligibility.")) return t(`screening.${value}`, { defaultValue: value });
  return value;
}
