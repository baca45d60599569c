/**
 * The admin token, if the board was opened with `?token=…` (kept for the session). The board's live
 * view of the document is the sync worker's (board-data/); this file is its REST access.
 */
export function adminToken(): string | undefined {
  const fromUrl = new URLSearchParams(location.search).get("token");
  if (fromUrl) sessionStorage.setItem("huskies-token", fromUrl);
  return sessionStorage.getItem("huskies-token") ?? undefined;
}

/**
 * REST calls (writes go through it, so they are validated and the transition rules apply). Every
 * write is JSON, `{}` when empty: the server refuses other content types (no cross-site forms).
 */
export async function api(method: string, path: string, body?: unknown): Promise<unknown> {
  const token = adminToken();
  const write = method !== "GET" && method !== "HEAD";
  const res = await fetch(path, {
    method,
    headers: { ...(write ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: write ? JSON.stringify(body ?? {}) : undefined,
  });
  const text = await res.text();
  if (!res.ok)
    throw new Error(
      (() => {
        try {
          return JSON.parse(text).error as string;
        } catch {
          return text;
        }
      })(),
    );
  return text ? JSON.parse(text) : undefined;
}
