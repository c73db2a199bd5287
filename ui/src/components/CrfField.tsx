import { Alert, Anchor, Badge, Button, Checkbox, Group, Menu, Radio, Select, Slider, Stack, Table, Text, TextInput, Textarea } from "@mantine/core";
import { type ReactNode, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import type { FieldState, FieldView, MissingCode, Severity } from "../ipc";
import { SafeHtml, htmlText } from "./SafeHtml";

export type Values = Record<string, string>;
/** Sets values by stored name, together (a checkbox's exclusive choice clears the others in one change). */
export type SetValues = (changes: Values) => void;

/** The stored name of a checkbox choice or missing-data code: the core lists a checkbox's inputs as its choices, then the codes. */
function boxName(field: FieldView, codes: MissingCode[], code: string): string {
  const choice = field.choices.find((c) => c.code === code);
  if (choice) return choice.stored ?? `${field.name}___${code}`;
  return field.inputs[field.choices.length + codes.findIndex((m) => m.code === code)] ?? `${field.name}___${code}`;
}

/**
 * Ticking `code` of a checkbox: an exclusive choice (`@NONEOFTHEABOVE`, a missing-data code) clears the
 * others, and any other choice clears the exclusive ones, as REDCap does; the core refuses both together.
 */
function tick(field: FieldView, codes: MissingCode[], values: Values, code: string, on: boolean): Values {
  const changes: Values = { [boxName(field, codes, code)]: on ? "1" : "" };
  if (!on) return changes;
  const missing = codes.map((m) => m.code);
  const alone = (c: string) => field.exclusive.includes(c) || missing.includes(c);
  const all = [...field.choices.map((c) => c.code), ...missing];
  for (const other of all) {
    if (other === code) continue;
    const name = boxName(field, codes, other);
    if (values[name] === "1" && (alone(code) || alone(other))) changes[name] = "";
  }
  return changes;
}

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

function ChoiceRadios({ field, value, onChange, choices, disabled }: { field: FieldView; value: string; onChange: (v: string) => void; choices: { code: string; label: ReactNode }[]; disabled: boolean }) {
  const { t } = useTranslation();
  return (
    <Radio.Group value={value} onChange={onChange} name={field.name} label={<Label field={field} />} readOnly={disabled} data-testid={`field-${field.name}`}>
      {/* Delete or Backspace on a choice clears the answer, from the keyboard. */}
      <Group mt={4} onKeyDown={(e) => (e.key === "Delete" || e.key === "Backspace") && value !== "" && onChange("")}>
        {choices.map((c) => (
          <Radio key={c.code} value={c.code} label={c.label} disabled={disabled} data-testid={`choice-${field.name}-${c.code}`} />
        ))}
        {value !== "" && !disabled && (
          <Anchor component="button" type="button" size="xs" onClick={() => onChange("")} tabIndex={-1}>
            {t("crf.clear")}
          </Anchor>
        )}
      </Group>
    </Radio.Group>
  );
}

/** The missing-data code a field holds, if it holds one (a checkbox: its code's column is ticked). */
function heldCode(field: FieldView, codes: MissingCode[], values: Values, value: string): MissingCode | undefined {
  if (field.field_type === "checkbox") return codes.find((m) => values[boxName(field, codes, m.code)] === "1");
  return codes.find((m) => m.code === value);
}

/**
 * The menu beside a field that gives it a missing-data code, and the code it holds, with its label.
 * Out of the Tab order (Tab goes field to field): Alt+M opens it from the field, arrows choose, Enter
 * picks, Esc closes it without leaving the form.
 */
function MissingMenu({ field, codes, held, opened, setOpened, onPick }: { field: FieldView; codes: MissingCode[]; held?: MissingCode; opened: boolean; setOpened: (o: boolean) => void; onPick: (code: string | null) => void }) {
  const { t } = useTranslation();
  return (
    <Group gap="xs" justify="flex-end">
      {held && (
        <Badge variant="light" color="grape" data-testid={`missing-${field.name}`}>
          {t("crf.missing.held", { label: held.label, code: held.code })}
        </Badge>
      )}
      <Menu opened={opened} onChange={setOpened} position="bottom-end" withinPortal returnFocus={false}>
        <Menu.Target>
          <Button variant="subtle" size="compact-xs" tabIndex={-1} aria-label={t("crf.missing.menu")} title={t("crf.missing.keys")} data-testid={`missing-menu-${field.name}`}>
            {t("crf.missing.button")}
          </Button>
        </Menu.Target>
        <Menu.Dropdown
          onKeyDown={(e) => {
            // Esc closes the menu only; the form's own Esc (back) must not see it.
            if (e.key === "Escape") {
              e.stopPropagation();
              setOpened(false);
            }
          }}
        >
          <Menu.Label>{t("crf.missing.menu")}</Menu.Label>
          {codes.map((m) => (
            <Menu.Item key={m.code} onClick={() => onPick(m.code)} data-testid={`missing-${field.name}-${m.code}`}>
              {m.label} ({m.code})
            </Menu.Item>
          ))}
          {held && <Menu.Item onClick={() => onPick(null)}>{t("crf.clear")}</Menu.Item>}
        </Menu.Dropdown>
      </Menu>
    </Group>
  );
}

/** One field of a case report form, by its type. */
export function CrfField({ field, state, values, codes, onChange }: { field: FieldView; state?: FieldState; values: Values; codes: MissingCode[]; onChange: SetValues }) {
  const { t } = useTranslation();
  const [menu, setMenuOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  // Closing the menu gives the focus back to the field, so that Tab goes on from there.
  const setMenu = (open: boolean) => {
    setMenuOpen(open);
    if (!open) box.current?.querySelector<HTMLElement>("input:not([readonly]), textarea, [role=radio], button[role=switch]")?.focus();
  };
  // A read-only field (`@READONLY`, `@CALCTEXT`, `@CALCDATE`) shows the core's value and takes no input.
  const readOnly = field.readonly;
  const value = readOnly ? (state?.calc ?? "") : (values[field.name] ?? "");
  const set = (v: string) => !readOnly && onChange({ [field.name]: v });
  const error = state?.message?.severity === "error";
  const held = heldCode(field, codes, values, value);
  const ticked = (code: string) => (readOnly ? (state?.calc ?? "").split(",").includes(code) : values[boxName(field, codes, code)] === "1");
  const pick = (code: string | null) => {
    setMenu(false);
    if (field.field_type !== "checkbox") {
      set(code ?? "");
      return;
    }
    if (code === null) {
      if (held) onChange({ [boxName(field, codes, held.code)]: "" });
      return;
    }
    onChange(tick(field, codes, values, code, true));
  };
  const canCode = codes.length > 0 && !readOnly && field.inputs.length > 0;
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
          readOnly={readOnly}
          tabIndex={readOnly ? -1 : undefined}
          variant={readOnly ? "filled" : undefined}
          data-testid={`field-${field.name}`}
        />
      );
      break;
    case "notes":
      input = (
        <Textarea
          label={<Label field={field} />}
          value={value}
          autosize
          minRows={2}
          onChange={(e) => set(e.currentTarget.value)}
          error={error}
          readOnly={readOnly}
          variant={readOnly ? "filled" : undefined}
          data-testid={`field-${field.name}`}
        />
      );
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
          disabled={readOnly}
          error={error}
          data-testid={`field-${field.name}`}
        />
      );
      break;
    case "radio":
      input = <ChoiceRadios field={field} value={value} onChange={set} disabled={readOnly} choices={field.choices.map((c) => ({ code: c.code, label: <SafeHtml html={c.label_html} /> }))} />;
      break;
    case "yesno":
      input = <ChoiceRadios field={field} value={value} onChange={set} disabled={readOnly} choices={[{ code: "1", label: t("crf.yes") }, { code: "0", label: t("crf.no") }]} />;
      break;
    case "truefalse":
      input = <ChoiceRadios field={field} value={value} onChange={set} disabled={readOnly} choices={[{ code: "1", label: t("crf.true") }, { code: "0", label: t("crf.false") }]} />;
      break;
    case "checkbox":
      input = (
        <Stack gap={4} data-testid={`field-${field.name}`}>
          <Label field={field} />
          {field.choices.map((c) => (
            <Checkbox
              key={c.code}
              label={<SafeHtml html={c.label_html} />}
              checked={ticked(c.code)}
              disabled={readOnly}
              onChange={(e) => onChange(tick(field, codes, values, c.code, e.currentTarget.checked))}
              data-testid={`choice-${field.name}-${c.code}`}
            />
          ))}
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
            disabled={readOnly}
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
    <Stack
      ref={box}
      gap={2}
      data-testid={`crf-${field.name}`}
      onKeyDown={(e) => {
        if (canCode && e.altKey && e.code === "KeyM") {
          e.preventDefault();
          setMenu(true);
        }
      }}
    >
      {input}
      {canCode && <MissingMenu field={field} codes={codes} held={held} opened={menu} setOpened={setMenu} onPick={pick} />}
      <Below field={field} state={state} />
    </Stack>
  );
}

/** A matrix group: fields sharing one set of choices, as a grid of radios or checkboxes. */
export function CrfMatrix({ fields, states, values, codes, onChange }: { fields: FieldView[]; states: Map<string, FieldState>; values: Values; codes: MissingCode[]; onChange: SetValues }) {
  const choices = fields[0]?.choices ?? [];
  // The row whose missing-data menu is open.
  const [menu, setMenu] = useState<string | null>(null);
  const pick = (f: FieldView, code: string | null) => {
    setMenu(null);
    const held = heldCode(f, codes, values, values[f.name] ?? "");
    if (f.field_type !== "checkbox") onChange({ [f.name]: code ?? "" });
    else if (code !== null) onChange(tick(f, codes, values, code, true));
    else if (held) onChange({ [boxName(f, codes, held.code)]: "" });
  };
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
          <Table.Tr
            key={f.name}
            data-testid={`field-${f.name}`}
            onKeyDown={(e) => {
              if (codes.length > 0 && !f.readonly && f.inputs.length > 0 && e.altKey && e.code === "KeyM") {
                e.preventDefault();
                setMenu(f.name);
              }
            }}
          >
            <Table.Td>
              <Label field={f} />
              {codes.length > 0 && !f.readonly && f.inputs.length > 0 && (
                <MissingMenu
                  field={f}
                  codes={codes}
                  held={heldCode(f, codes, values, values[f.name] ?? "")}
                  opened={menu === f.name}
                  setOpened={(o) => setMenu(o ? f.name : null)}
                  onPick={(code) => pick(f, code)}
                />
              )}
              <Below field={f} state={states.get(f.name)} />
            </Table.Td>
            {choices.map((c) => {
              const label = `${htmlText(f.label_html)}: ${htmlText(c.label_html)}`;
              const readOnly = f.readonly;
              if (f.field_type === "checkbox") {
                const name = boxName(f, codes, c.code);
                const checked = readOnly ? (states.get(f.name)?.calc ?? "").split(",").includes(c.code) : values[name] === "1";
                return (
                  <Table.Td key={c.code} ta="center">
                    <Checkbox
                      checked={checked}
                      disabled={readOnly}
                      onChange={(e) => onChange(tick(f, codes, values, c.code, e.currentTarget.checked))}
                      aria-label={label}
                      styles={{ body: { justifyContent: "center" } }}
                    />
                  </Table.Td>
                );
              }
              const current = readOnly ? (states.get(f.name)?.calc ?? "") : values[f.name];
              return (
                <Table.Td key={c.code} ta="center">
                  <Radio
                    name={f.name}
                    value={c.code}
                    checked={current === c.code}
                    disabled={readOnly}
                    onChange={() => onChange({ [f.name]: c.code })}
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
