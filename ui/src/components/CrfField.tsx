import { Alert, Anchor, Checkbox, Group, Radio, Select, Slider, Stack, Table, Text, TextInput, Textarea } from "@mantine/core";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

import type { FieldState, FieldView, Severity } from "../ipc";
import { SafeHtml, htmlText } from "./SafeHtml";

export type Values = Record<string, string>;
export type SetValue = (name: string, value: string) => void;

const SEVERITY_COLOR: Record<Severity, string> = { error: "red", confirm: "orange", missing: "dimmed" };

/** What a text field expects, shown as its placeholder. */
function hint(validation: string | null): string | undefined {
  if (!validation) return undefined;
  const order = validation.endsWith("_ymd") || validation.endsWith("_ymd_seconds") ? "YYYY-MM-DD"
    : validation.includes("_mdy") ? "MM-DD-YYYY"
    : validation.includes("_dmy") ? "DD-MM-YYYY"
    : null;
  if (validation.startsWith("datetime_seconds")) return `${order} HH:MM:SS`;
  if (validation.startsWith("datetime")) return `${order} HH:MM`;
  if (validation.startsWith("date")) return order ?? undefined;
  if (validation === "time") return "HH:MM";
  if (validation === "time_hh_mm_ss") return "HH:MM:SS";
  if (validation === "time_mm_ss") return "MM:SS";
  return undefined;
}

function Label({ field }: { field: FieldView }) {
  const { t } = useTranslation();
  return (
    <span>
      <SafeHtml html={field.label_html} />
      {field.required && (
        <Text span c="red" ml={4} aria-label={t("crf.required")} title={t("crf.required")}>
          *
        </Text>
      )}
    </span>
  );
}

/** The field note and the live message under a field. */
function Below({ field, state }: { field: FieldView; state?: FieldState }) {
  const msg = state?.message;
  return (
    <>
      {field.note_html && (
        <Text size="xs" c="dimmed">
          <SafeHtml html={field.note_html} />
        </Text>
      )}
      {field.logic_problem && (
        <Text size="xs" c="orange">
          {field.logic_problem}
        </Text>
      )}
      {msg && (
        <Text size="sm" c={SEVERITY_COLOR[msg.severity]} data-testid={`msg-${field.name}`} data-severity={msg.severity} role={msg.severity === "error" ? "alert" : undefined}>
          {msg.text}
        </Text>
      )}
    </>
  );
}

function ChoiceRadios({ field, value, onChange, choices }: { field: FieldView; value: string; onChange: (v: string) => void; choices: { code: string; label: ReactNode }[] }) {
  const { t } = useTranslation();
  return (
    <Radio.Group value={value} onChange={onChange} name={field.name} label={<Label field={field} />} data-testid={`field-${field.name}`}>
      {/* Delete or Backspace on a choice clears the answer, from the keyboard. */}
      <Group mt={4} onKeyDown={(e) => (e.key === "Delete" || e.key === "Backspace") && value !== "" && onChange("")}>
        {choices.map((c) => (
          <Radio key={c.code} value={c.code} label={c.label} data-testid={`choice-${field.name}-${c.code}`} />
        ))}
        {value !== "" && (
          <Anchor component="button" type="button" size="xs" onClick={() => onChange("")} tabIndex={-1}>
            {t("crf.clear")}
          </Anchor>
        )}
      </Group>
    </Radio.Group>
  );
}

/** One field of a case report form, by its type. */
export function CrfField({ field, state, values, onChange }: { field: FieldView; state?: FieldState; values: Values; onChange: SetValue }) {
  const { t } = useTranslation();
  const value = values[field.name] ?? "";
  const set = (v: string) => onChange(field.name, v);
  const error = state?.message?.severity === "error";
  let input: ReactNode;
  switch (field.field_type) {
    case "text":
      input = (
        <TextInput
          label={<Label field={field} />}
          value={value}
          placeholder={hint(field.validation)}
          onChange={(e) => set(e.currentTarget.value)}
          error={error}
          aria-required={field.required}
          data-testid={`field-${field.name}`}
        />
      );
      break;
    case "notes":
      input = <Textarea label={<Label field={field} />} value={value} autosize minRows={2} onChange={(e) => set(e.currentTarget.value)} error={error} data-testid={`field-${field.name}`} />;
      break;
    case "dropdown":
      input = (
        <Select
          label={<Label field={field} />}
          value={value || null}
          placeholder={t("crf.choose")}
          data={field.choices.map((c) => ({ value: c.code, label: htmlText(c.label_html) || c.code }))}
          onChange={(v) => set(v ?? "")}
          searchable
          clearable
          error={error}
          data-testid={`field-${field.name}`}
        />
      );
      break;
    case "radio":
      input = <ChoiceRadios field={field} value={value} onChange={set} choices={field.choices.map((c) => ({ code: c.code, label: <SafeHtml html={c.label_html} /> }))} />;
      break;
    case "yesno":
      input = <ChoiceRadios field={field} value={value} onChange={set} choices={[{ code: "1", label: t("crf.yes") }, { code: "0", label: t("crf.no") }]} />;
      break;
    case "truefalse":
      input = <ChoiceRadios field={field} value={value} onChange={set} choices={[{ code: "1", label: t("crf.true") }, { code: "0", label: t("crf.false") }]} />;
      break;
    case "checkbox":
      input = (
        <Stack gap={4} data-testid={`field-${field.name}`}>
          <Label field={field} />
          {field.choices.map((c) => {
            const name = c.stored ?? `${field.name}___${c.code}`;
            return (
              <Checkbox
                key={c.code}
                label={<SafeHtml html={c.label_html} />}
                checked={values[name] === "1"}
                onChange={(e) => onChange(name, e.currentTarget.checked ? "1" : "")}
                data-testid={`choice-${field.name}-${c.code}`}
              />
            );
          })}
        </Stack>
      );
      break;
    case "calc":
      input = <TextInput label={<Label field={field} />} value={state?.calc ?? ""} readOnly tabIndex={-1} variant="filled" data-testid={`calc-${field.name}`} />;
      break;
    case "slider": {
      const s = field.slider;
      input = (
        <Stack gap={4} data-testid={`field-${field.name}`}>
          <Label field={field} />
          <Slider
            value={value === "" ? Math.round(((s?.min ?? 0) + (s?.max ?? 100)) / 2) : Number(value)}
            onChange={(v) => set(String(v))}
            onKeyDown={(e) => (e.key === "Delete" || e.key === "Backspace") && set("")}
            min={s?.min ?? 0}
            max={s?.max ?? 100}
            label={s?.show_number ? (v) => v : null}
            opacity={value === "" ? 0.5 : 1}
            aria-label={htmlText(field.label_html)}
          />
          <Group justify="space-between">
            <Text size="xs">{s?.left}</Text>
            <Text size="xs">{s?.middle}</Text>
            <Text size="xs">{s?.right}</Text>
          </Group>
          {value !== "" && (
            <Anchor component="button" type="button" size="xs" onClick={() => set("")} tabIndex={-1}>
              {t("crf.clear")}
            </Anchor>
          )}
        </Stack>
      );
      break;
    }
    case "descriptive":
      input = <SafeHtml html={field.label_html} component="div" testId={`field-${field.name}`} />;
      break;
    case "file":
    case "sql":
      input = (
        <Stack gap={4}>
          <Label field={field} />
          <Alert color="gray" variant="light" data-testid={`unavailable-${field.name}`}>
            {t(`crf.unavailable.${field.unavailable ?? "file"}`)}
          </Alert>
        </Stack>
      );
      break;
  }
  return (
    <Stack gap={2} data-testid={`crf-${field.name}`}>
      {input}
      <Below field={field} state={state} />
    </Stack>
  );
}

/** A matrix group: fields sharing one set of choices, as a grid of radios or checkboxes. */
export function CrfMatrix({ fields, states, values, onChange }: { fields: FieldView[]; states: Map<string, FieldState>; values: Values; onChange: SetValue }) {
  const choices = fields[0]?.choices ?? [];
  return (
    <Table withTableBorder data-testid={`matrix-${fields[0]?.matrix_group ?? ""}`}>
      <Table.Thead>
        <Table.Tr>
          <Table.Th />
          {choices.map((c) => (
            <Table.Th key={c.code} ta="center">
              <SafeHtml html={c.label_html} />
            </Table.Th>
          ))}
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {fields.map((f) => (
          <Table.Tr key={f.name} data-testid={`field-${f.name}`}>
            <Table.Td>
              <Label field={f} />
              <Below field={f} state={states.get(f.name)} />
            </Table.Td>
            {choices.map((c) => {
              const label = `${htmlText(f.label_html)}: ${htmlText(c.label_html)}`;
              if (f.field_type === "checkbox") {
                const name = c.stored ?? `${f.name}___${c.code}`;
                return (
                  <Table.Td key={c.code} ta="center">
                    <Checkbox checked={values[name] === "1"} onChange={(e) => onChange(name, e.currentTarget.checked ? "1" : "")} aria-label={label} styles={{ body: { justifyContent: "center" } }} />
                  </Table.Td>
                );
              }
              return (
                <Table.Td key={c.code} ta="center">
                  <Radio
                    name={f.name}
                    value={c.code}
                    checked={values[f.name] === c.code}
                    onChange={() => onChange(f.name, c.code)}
                    aria-label={label}
                    data-testid={`choice-${f.name}-${c.code}`}
                    styles={{ body: { justifyContent: "center" } }}
                  />
                </Table.Td>
              );
            })}
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
