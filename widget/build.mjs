// Bundle src/widget.js (with socket.io-client) into one minified IIFE: dist/widget.js.
import { build } from "esbuild";
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));
const sio = JSON.parse(readFileSync(new URL("./node_modules/socket.io-client/package.json", import.meta.url), "utf8"));

await build({
  entryPoints: ["src/widget.js"],
  outfile: "dist/widget.js",
  bundle: true,
  minify: true,
  format: "iife",
  platform: "browser",
  target: "es2018",
  // ASCII output: the Vietnamese strings survive a portal page served in another charset.
  charset: "ascii",
  legalComments: "none",
  banner: {
    js: `/*! tthc-widget ${pkg.version} | bundles socket.io-client ${sio.version} (MIT License, (c) Guillermo Rauch and contributors) */`,
  },
  logLevel: "warning",
});
