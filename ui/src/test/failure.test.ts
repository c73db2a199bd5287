import { afterEach, describe, expect, it, vi } from "vitest";

import i18n from "../i18n";
import { type IpcError, toIpcError } from "../ipc";

afterEach(async () => {
  vi.restoreAllMocks();
  await i18n.changeLanguage("en");
});

describe("toIpcError", () => {
  it("keeps the backend's error as it is", () => {
    const refusal: IpcError = { code: "validation", message: "Initials may only contain letters." };
    expect(toIpcError(refusal)).toBe(refusal);
  });

  it("keeps the message of a bridge failure, an Error or an object with a message", () => {
    expect(toIpcError("command list_subjects not found")).toEqual({ code: "invalid_input", message: "command list_subjects not found" });
    expect(toIpcError(new TypeError("x is undefined")).message).toBe("x is undefined");
    expect(toIpcError({ code: "teapot", message: "short and stout" }).message).toBe("short and stout");
  });

  it("words any other value in the user's language, never as [object Object]", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    for (const value of [{ status: 500 }, null, undefined, 42, "", new Error("")]) {
      expect(toIpcError(value).message, String(value)).toBe("Something went wrong that SiteDesk did not expect.");
    }
    await i18n.changeLanguage("zh-CN");
    expect(toIpcError({}).message).toBe("SiteDesk 遇到了意外的错误。");
  });
});
