// Vitest global setup: starts a presence-server (development mode, short timings) on a
// free loopback port for the tests that use the real wasm client, and stops it by PID.
// The binary is $PRESENCE_SERVER_BIN, else ../target/debug/presence-server (cargo build
// -p presence-server). Without one, those tests are skipped, unless
// PRESENCE_REQUIRE_SERVER=1 (scripts/test-npm.sh) makes that a failure.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** `http://127.0.0.1:PORT`, or "" when no server binary was found. */
    presenceServer: string;
  }
}

let server: ChildProcess | undefined;

export async function setup(project: TestProject): Promise<void> {
  const bin =
    process.env.PRESENCE_SERVER_BIN ??
    fileURLToPath(new URL("../../target/debug/presence-server", import.meta.url));
  if (!existsSync(bin)) {
    if (process.env.PRESENCE_REQUIRE_SERVER === "1") {
      throw new Error(`no presence-server at ${bin}: cargo build -p presence-server`);
    }
    console.warn(`no presence-server at ${bin}: the tests with a real server are skipped`);
    project.provide("presenceServer", "");
    return;
  }
  const child = spawn(
    bin,
    ["--bind", "127.0.0.1:0", "--dev", "--grace-ms", "1000", "--typing-ttl-ms", "3000", "--coalesce-ms", "10"],
    { env: { ...process.env, RUST_LOG: "info" }, stdio: ["ignore", "ignore", "pipe"] },
  );
  server = child;
  const bound = await new Promise<string>((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`presence-server did not start:\n${log}`)), 20_000);
    child.stderr!.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      const m = /presence-server listening.*bound=([0-9.:]+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`presence-server exited (${code}):\n${log}`));
    });
  });
  child.stderr!.resume();
  project.provide("presenceServer", `http://${bound}`);
}

export async function teardown(): Promise<void> {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server!.once("exit", resolve));
  server.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  if (server.exitCode === null) server.kill("SIGKILL");
}
