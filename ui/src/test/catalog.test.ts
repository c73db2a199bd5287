import { describe, expect, it } from "vitest";

import { en } from "../i18n/en";
import { zhCN } from "../i18n/zh-CN";

function leaves(o: object, prefix = ""): [string, string][] {
  return Object.entries(o).flatMap(([k, v]) =>
    typeof v === "string" ? [[prefix + k, v] as [string, string]] : leaves(v as object, `${prefix}${k}.`),
  );
}

describe("catalogs", () => {
  it("translate every English string into Chinese", () => {
    const zh = new Map(leaves(zhCN));
    // Names that are the same in both languages.
    const same = new Set(["app.title", "screening.dateHint", "language.en", "language.zh-CN"]);
    for (const [key, text] of leaves(en)) {
      const other = zh.get(key);
      expect(other, key).toBeDefined();
      if (!same.has(key)) expect(other, key).not.toEqual(text);
    }
  });
});
