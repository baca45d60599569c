// Lint: typescript-eslint's recommended rules on the code we ship and test; formatting is Prettier's.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import prettier from "eslint-config-prettier";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "test-results/", "web/dist/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    // Plain Node scripts (build helpers, probes).
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { globals: { URL: "readonly", process: "readonly", console: "readonly", Buffer: "readonly" } },
  },
  {
    rules: {
      // `catch {}` with a comment saying why is how this code base ignores an expected failure.
      "no-empty": ["error", { allowEmptyCatch: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      // Yjs events and a few library types are genuinely untyped.
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
);
