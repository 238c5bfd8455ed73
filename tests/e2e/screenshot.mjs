// Takes docs/react-chat.png: the built React example as Alice sees it, with Bob typing,
// Carol busy in a meeting and Dan gone offline a moment ago. Not a test; run it after
// building the example (scripts/test-npm.sh or scripts/demo.sh build it):
//
//   node tests/e2e/screenshot.mjs [out.png]
//
// The emoji need a colour emoji font: apt-get install fonts-noto-color-emoji.
import { join } from "node:path";

import { expectStatus, launchBrowser, openUser, reactChatDist, root, startServer } from "./lib/harness.mjs";

const out = process.argv[2] ?? join(root, "docs/react-chat.png");
const server = await startServer(["--dev", "--grace-ms", "500", "--coalesce-ms", "10", "--static-dir", reactChatDist]);
const browser = await launchBrowser();
try {
  const dan = await openUser(browser, server.url, "Dan Okafor");
  const carol = await openUser(browser, server.url, "Carol Diaz");
  const bob = await openUser(browser, server.url, "Bob Rivera");
  const erin = await openUser(browser, server.url, "Erin Walsh");
  const alice = await openUser(browser, server.url, "Alice Chen");
  await expectStatus(alice, "Bob Rivera", "online");

  // Carol: in a meeting, do not disturb.
  await carol.getByTestId("me").click();
  await carol.getByTestId("custom-status-open").click();
  await carol.getByRole("button", { name: "In a meeting" }).click();
  await carol.getByTestId("custom-save").click();
  await carol.getByTestId("me").click();
  await carol.getByTestId("status-busy").click();
  await expectStatus(alice, "Carol Diaz", "busy");

  // Erin: away.
  await erin.getByTestId("me").click();
  await erin.getByTestId("status-away").click();
  await expectStatus(alice, "Erin Walsh", "away");

  // Dan leaves: offline, last seen just now.
  await dan.context().close();
  await expectStatus(alice, "Dan Okafor", "offline");

  for (const text of ["Morning all! Release train leaves at 3pm 🚂", "Carol, can you review the changelog after your meeting?"]) {
    await alice.getByTestId("composer").fill(text);
    await alice.getByTestId("composer").press("Enter");
  }
  await bob.getByTestId("composer").pressSequentially("On it, the build is green", { delay: 20 });
  await alice.getByText("Bob Rivera is typing…").waitFor();
  await alice.mouse.move(640, 400);
  await alice.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.stop();
}
