import i18n from "i18next";
import { initReactI18next } from "react-i18next";

import type { Lang } from "../ipc";
import { en } from "./en";
import { zhCN } from "./zh-CN";

export const LANGS: readonly Lang[] = ["en", "zh-CN"];

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, "zh-CN": { translation: zhCN } },
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
