import type { ElementType } from "react";

/**
 * Renders label HTML that the core has already sanitized (an allowlist of
 * formatting tags, no attributes). This is the only place the UI renders
 * HTML; everything passed here must come from a `*_html` field of the IPC.
 */
export function SafeHtml({ html, component: C = "span", testId }: { html: string; component?: ElementType; testId?: string }) {
  return <C className="crf-html" data-testid={testId} dangerouslySetInnerHTML={{ __html: html }} />;
}

/** The text of sanitized HTML, for widgets that show plain text (a dropdown's options). */
export function htmlText(html: string): string {
  const doc = new DOMParser().parseFromString(html, "text/html");
  return (doc.body.textContent ?? "").trim();
}
