// The entry of the bundler apps (Vite, webpack, Rsbuild, Parcel, esbuild): the quick
// start in StrictMode (one client and one connection all the same).
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import App from "./App";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
