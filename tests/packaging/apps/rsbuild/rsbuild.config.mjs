// What `npm create rsbuild` gives for React: the React plugin, nothing for presence-client.
import { defineConfig } from "@rsbuild/core";
import { pluginReact } from "@rsbuild/plugin-react";

export default defineConfig({ plugins: [pluginReact()] });
