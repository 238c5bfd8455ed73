// What `npm create vite` gives for React: the React plugin, nothing for presence-client.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({ plugins: [react()] });
