import { describe, expect, it } from "vitest";

import { LANGS, catalogs } from "../i18n";

function leaves(o: object, prefix = ""): [string, string][] {
  return Object.entries(o).flatMap(([k, v]) =>
    typeof v === "string" ? [[prefix + k, v] as [string, string]] : leaves(v as object, `${prefix}${k}.`),
  );
}

// Texts that are the same in English and in another language: names,
// formats, punctuation and samples that need no translation.
const same = new Set([
  "app.title",
  "screening.dateHint",
  "language.en",
  "language.zh-CN",
  "core.list.comma",
  "core.forms.range.between",
  "core.forms.range.atLeast",
  "core.forms.range.atMost",
  "core.edc.valueError",
  "core.edc.valueErrorSeparator",
  // Samples of a value's expected form that the Chinese messages have
  // always shown in English; still to be translated.
  "core.metadata.value.example.zipcode",
  "core.metadata.value.example.alphaOnly",
  "core.metadata.value.example.mrn10d",
  "core.metadata.value.example.mrnGeneric",
]);

describe("catalogs", () => {
  it("are found by file name, English first", () => {
    expect(LANGS[0]).toBe("en");
    expect(LANGS).toContain("zh-CN");
  });

  for (const tag of LANGS.filter((l) => l !== "en")) {
    it(`${tag} has exactly the English keys`, () => {
      expect(leaves(catalogs[tag]!).map(([k]) => k).sort()).toEqual(leaves(catalogs.en!).map(([k]) => k).sort());
    });

    it(`${tag} translates every English string`, () => {
      const other = new Map(leaves(catalogs[tag]!));
      for (const [key, text] of leaves(catalogs.en!)) {
        if (!same.has(key)) expect(other.get(key), key).not.toEqual(text);
      }
    });
  }
});
