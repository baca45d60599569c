import { createRoot } from "react-dom/client";
import { App } from "./App";
import { boardStore } from "./board-data/board-store";
import { loadSnapshot } from "./board-data/connect";
import { adminToken } from "./use-pipeline";
import "./styles.css";

/** The snapshot is usually here before this code is; past this, render without it. */
const SNAPSHOT_WAIT_MS = 1500;

// One render for the first view, with the columns in it, rather than an empty board first.
void Promise.race([loadSnapshot(boardStore, adminToken()), new Promise((r) => setTimeout(r, SNAPSHOT_WAIT_MS))]).then(() =>
  createRoot(document.getElementById("root")!).render(<App />),
);
