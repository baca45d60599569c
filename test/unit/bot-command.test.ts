import { describe, expect, it } from "vitest";
import { parseBotCommand, resolveRef } from "../../src/pipeline/bot-command.js";

describe("bot commands", () => {
  it("a message is a command only in a command's exact shape; sentences go to the assistant", () => {
    expect(parseBotCommand("help")).toEqual({ cmd: "help" });
    expect(parseBotCommand("  /Status ")).toEqual({ cmd: "status" });
    expect(parseBotCommand("show 3")).toEqual({ cmd: "show", ref: "3" });
    expect(parseBotCommand("show 12_story_add_login")).toEqual({ cmd: "show", ref: "12_story_add_login" });
    expect(parseBotCommand("move 3 qa")).toEqual({ cmd: "move", ref: "3", stage: "qa" });
    expect(parseBotCommand("log 3")).toEqual({ cmd: "log", ref: "3" });
    expect(parseBotCommand("pause laptop")).toEqual({ cmd: "pause", node: "laptop" });
    expect(parseBotCommand("pause laptop  going home now")).toEqual({ cmd: "pause", node: "laptop", reason: "going home now" });
    expect(parseBotCommand("resume 3f2a9c01")).toEqual({ cmd: "resume", node: "3f2a9c01" });
    for (const sentence of [
      "help me file a bug about the login page",
      "status of the login work?",
      "show me what is blocked",
      "move the login story to qa",
      "log in fails on Safari",
      "resume the laptop please",
      "file a story to add a health check",
      "",
      "show ../../etc/passwd",
      "pause",
    ])
      expect(parseBotCommand(sentence), sentence).toBeUndefined();
  });

  it("a story's number names the story with that number", () => {
    const ids = ["1_story_a", "12_bug_b", "2_spike_c"];
    expect(resolveRef("12", ids)).toBe("12_bug_b");
    expect(resolveRef("1", ids)).toBe("1_story_a");
    expect(resolveRef("7", ids)).toBeUndefined();
    expect(resolveRef("2_spike_c", ids)).toBe("2_spike_c");
  });
});
