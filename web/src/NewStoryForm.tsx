import { useState, type FormEvent } from "react";
import { api } from "./use-pipeline";
import { STAGES } from "./types";

export function NewStoryForm() {
  const [name, setName] = useState("");
  const [type, setType] = useState("story");
  const [stage, setStage] = useState("backlog");
  const [body, setBody] = useState("");
  const [criteria, setCriteria] = useState("");
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const list = criteria
        .split("\n")
        .map((c) => c.trim())
        .filter(Boolean);
      await api("POST", "/api/stories", { name, type, stage, body: body || undefined, criteria: list.length ? list : undefined });
      setName("");
      setBody("");
      setCriteria("");
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <form className="new-story" onSubmit={submit} aria-label="file a story">
      <input name="name" placeholder="New story name" value={name} onChange={(e) => setName(e.target.value)} required />
      <select name="type" value={type} onChange={(e) => setType(e.target.value)}>
        {["story", "bug", "spike", "refactor"].map((t) => (
          <option key={t}>{t}</option>
        ))}
      </select>
      <select name="stage" value={stage} onChange={(e) => setStage(e.target.value)}>
        {STAGES.slice(0, 2).map((s) => (
          <option key={s}>{s}</option>
        ))}
      </select>
      <details>
        <summary>details</summary>
        <textarea name="body" placeholder="As a … I want … so that …" value={body} onChange={(e) => setBody(e.target.value)} />
        <textarea
          name="criteria"
          placeholder="Acceptance criteria, one per line"
          value={criteria}
          onChange={(e) => setCriteria(e.target.value)}
        />
      </details>
      <button type="submit">File story</button>
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
