import * as Y from "yjs";
import { kindOfFailureText } from "../../pipeline/failure-kind.js";
import type { Migration } from "./migration.js";

/**
 * Schema 1 → 2: an item's `failure` was plain text; it becomes `{kind, message}` so that tools
 * can tell a failing gate from a refused push without parsing prose (issue 24, rule 10). The kind
 * is read from the wording the earlier releases used (`kindOfFailureText`).
 */
export const failureKind: Migration = {
  to: 2,
  name: "failure-kind",
  migrate(doc: Y.Doc): number {
    let changed = 0;
    doc.getMap("items").forEach((item) => {
      if (!(item instanceof Y.Map)) return;
      const failure = item.get("failure");
      if (typeof failure !== "string") return;
      item.set("failure", { kind: kindOfFailureText(failure), message: failure });
      changed += 1;
    });
    return changed;
  },
};
