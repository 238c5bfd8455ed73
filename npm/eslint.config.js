// `npm run lint`: typescript-eslint's recommended rules and React's rules of hooks, both
// as errors, over src/ and test/ (`--max-warnings 0`: a warning fails the lint too).
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/", "pkg/", "node_modules/"] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ["**/*.{ts,tsx}"],
    plugins: { "react-hooks": reactHooks },
    rules: {
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "error",
    },
  },
  {
    // A directive that disables nothing is an error, not a warning left to pile up.
    linterOptions: { reportUnusedDisableDirectives: "error" },
  },
);
