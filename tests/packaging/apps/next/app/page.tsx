// A server component page that renders the quick start (a client component): rendered
// on the server first, then hydrated. No `dynamic(..., { ssr: false })`.
import App from "../src/App";

export default function Page() {
  return <App />;
}
