import i18n from "i18next";
import { initReactI18next } from "react-i18next";

import type { Lang } from "../ipc/bindings";
import type en from "../../../locales/en.json";

// The catalogs are the repository's `locales/*.json`, one per language,
// shared with the Rust core (which embeds them at build time): a language
// is a file there, and nothing here names one.
const files = import.meta.glob<Catalog>("../../../locales/*.json", { eager: true, import: "default" });

/** The English catalog's shape; every other catalog has the same keys (tested). */
export type Catalog = typeof en;

/** Every catalog by its language tag, the file's name. */
export const catalogs: Record<string, Catalog> = Object.fromEntries(
  Object.entries(files).map(([path, catalog]) => [path.replace(/^.*\/|\.json$/g, ""), catalog]),
);

/** The languages the UI offers, English first. */
export const LANGS = Object.keys(catalogs).sort((a, b) =>
  a === "en" ? -1 : b === "en" ? 1 : a.localeCompare(b),
) as Lang[];

void i18n.use(initReactI18next).init({
  resources: Object.fromEntries(Object.entries(catalogs).map(([tag, c]) => [tag, { translation: c }])),
  lng: "en",
  fallbackLng: "en",
  interpolation: { escapeValue: false },
  returnNull: false,
});

export function setLanguage(lang: Lang): void {
  void i18n.changeLanguage(lang);
  document.documentElement.lang = lang;
}

export default i18n;
