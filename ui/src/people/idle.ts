import { useEffect, useRef } from "react";

/** The input that counts as someone at the desk. */
const ACTIVITY = ["keydown", "pointerdown", "pointermove", "wheel", "touchstart"] as const;

/**
 * Calls `onIdle` once after `seconds` without input, and `onShortcut` on
 * Ctrl+L (lock now). Off while `enabled` is false (signed out, locked).
 */
export function useIdleLock(enabled: boolean, seconds: number, onIdle: () => void) {
  const callback = useRef(onIdle);
  callback.current = onIdle;
  useEffect(() => {
    if (!enabled) return;
    let timer = window.setTimeout(() => callback.current(), seconds * 1000);
    const reset = () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => callback.current(), seconds * 1000);
    };
    const shortcut = (e: KeyboardEvent) => {
      if (e.ctrlKey && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "l") {
        e.preventDefault();
        callback.current();
      }
    };
    for (const name of ACTIVITY) window.addEventListener(name, reset, { passive: true });
    window.addEventListener("keydown", shortcut);
    return () => {
      window.clearTimeout(timer);
      for (const name of ACTIVITY) window.removeEventListener(name, reset);
      window.removeEventListener("keydown", shortcut);
    };
  }, [enabled, seconds]);
}
